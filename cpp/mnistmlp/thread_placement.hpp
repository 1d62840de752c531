// After an idle pause, a thread of the OpenMP team wakes where the scheduler puts it, which is
// often the CPU of the thread that woke it: the two then share one core until the load
// balancer moves one of them, milliseconds later. Measured on a 2-core machine: a 10,000-image
// prediction after 0.2 s idle took 11-12 ms with both threads on one CPU and 7 ms on two, and
// half of such calls started on one CPU. So, at the start of a parallel region, a worker that
// finds itself on the calling thread's CPU moves to another one. It is not pinned there: its
// CPU set is restored at once, and a worker that spins between barriers stays put anyway.
#pragma once

namespace mnistmlp {

// The threads a model (or an op) uses when none are asked for: the smaller of OpenMP's setting
// for the calling thread (omp_get_max_threads(), which OMP_NUM_THREADS, omp_set_num_threads and
// threadpoolctl's limits set) and the CPUs it may run on (omp_get_num_procs(), its affinity), as
// scikit-learn's _openmp_effective_n_threads decides. It is read at each call rather than when a
// model is made, so that a limit set later applies too, and so that parallel runs in worker
// processes given OMP_NUM_THREADS (joblib's loky workers, Dask's) do not oversubscribe the cores.
int default_threads();

// The calling thread's CPU, taken before a parallel region opens (-1 where unknown).
int current_cpu();

// Called by every thread of a team at the start of a parallel region, with current_cpu() of
// the thread that opened it. Does nothing for that thread, in a team of one, off Linux, or
// when the worker already runs elsewhere.
void leave_callers_cpu(int caller_cpu);

}  // namespace mnistmlp
