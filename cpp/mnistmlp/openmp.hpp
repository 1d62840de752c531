// OpenMP's runtime functions, or, in a build without OpenMP (a compiler without it, such as
// Apple's clang without libomp), what they return in a program of one thread. The pragmas are
// then ignored: every parallel region runs on the calling thread alone.
#pragma once

#if defined(_OPENMP)
#include <omp.h>
#else
inline int omp_get_thread_num() { return 0; }
inline int omp_get_num_threads() { return 1; }
inline int omp_get_max_threads() { return 1; }
inline int omp_get_num_procs() { return 1; }
#endif
