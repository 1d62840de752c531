// Checks that ThreadSanitizer, as .ci/sanitizers.sh arranges it (a module loaded into an
// uninstrumented Python, LLVM's libomp, Archer), sees OpenMP's synchronisation: built with the
// module's compiler and flags into a shared library and called through ctypes, selftest_racy
// must be reported and selftest_clean must not. selftest_clean uses the engine's patterns:
// work shared by `omp for` (implicit barriers), a master's write published by a barrier,
// buffers written by the caller before a region and read after it, regions forked again and
// again from different stack depths, and one-thread teams nested in a dynamically scheduled
// loop (CpuBackend::for_each_chunk).
#include <omp.h>

#include <cstdlib>
#include <vector>

namespace {

int shared_counter = 0;

__attribute__((noinline)) int chunks(int n) {
  std::vector<unsigned char> finite(n, 0);
  std::vector<double> sums(n, 0.0);
#pragma omp parallel num_threads(2)
  {
#pragma omp for schedule(dynamic, 1)
    for (int c = 0; c < n; ++c) {
      const int first = c * 7;
#pragma omp parallel num_threads(1)
      {
        finite[c] = first >= 0;
        if (finite[c]) sums[c] = first * 0.5;
      }
    }
  }
  int bad = 0;
  for (int c = 0; c < n; ++c) bad += !finite[c] || sums[c] != c * 3.5;
  return bad;
}

__attribute__((noinline)) int at_depth(int depth) {
  volatile char pad[256];
  pad[0] = static_cast<char>(depth);
  const int bad = depth > 0 ? at_depth(depth - 1) : chunks(13);
  return bad + (pad[0] != static_cast<char>(depth));
}

int barriers() {
  const int n = 1 << 12;
  std::vector<float> a(n), b(n);
  double total = 0;
  int bad = 0;
#pragma omp parallel num_threads(2)
  for (int round = 0; round < 8; ++round) {
#pragma omp for schedule(static)
    for (int i = 0; i < n; ++i) a[i] = static_cast<float>(i + round);
#pragma omp for schedule(static)
    for (int i = 0; i < n; ++i) b[i] = a[n - 1 - i];  // the other thread's half of a
#pragma omp master
    total = b[0] + b[n - 1];
#pragma omp barrier
    if (total != (n - 1 + round) + round) {
#pragma omp atomic
      ++bad;
    }
#pragma omp barrier
  }
  return bad;
}

}  // namespace

extern "C" int selftest_clean() {
  int bad = 0;
  for (int i = 0; i < 20; ++i) bad += at_depth(i % 5);
  for (int i = 0; i < 4; ++i) {
    std::vector<float>* data = new std::vector<float>(4096, 1.0f);  // fresh memory each time
    bad += barriers();
#pragma omp parallel for num_threads(2)
    for (int j = 0; j < 4096; ++j) (*data)[j] += 1.0f;
    for (float v : *data) bad += v != 2.0f;
    delete data;
  }
  return bad;
}

extern "C" int selftest_racy() {
#pragma omp parallel num_threads(2)
  for (int i = 0; i < 1000; ++i) shared_counter += omp_get_thread_num() + 1;
  return shared_counter > 0 ? 0 : 1;
}
