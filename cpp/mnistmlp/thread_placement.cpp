#include "mnistmlp/thread_placement.hpp"

#include <omp.h>

#include <cstring>
#include <vector>

#if defined(__linux__)
#include <sched.h>
static_assert(sizeof(cpu_set_t) <= 128, "ScopedDistinctCpu::saved_ holds a cpu_set_t");
#endif

namespace mnistmlp {

int current_cpu() {
#if defined(__linux__)
  return sched_getcpu();
#else
  return -1;
#endif
}

ScopedDistinctCpu::ScopedDistinctCpu(int caller_cpu) {
#if defined(__linux__)
  const int worker = omp_get_thread_num(), team = omp_get_num_threads();
  if (worker == 0 || team == 1 || caller_cpu < 0) return;
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) return;
  std::vector<int> others;  // the CPUs this thread may use, but the caller's
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
    if (CPU_ISSET(cpu, &allowed) && cpu != caller_cpu) others.push_back(cpu);
  if (others.empty() || CPU_COUNT(&allowed) == 1) return;
  cpu_set_t own;
  CPU_ZERO(&own);
  CPU_SET(others[(worker - 1) % others.size()], &own);
  if (sched_setaffinity(0, sizeof(own), &own) != 0) return;
  std::memcpy(saved_, &allowed, sizeof(allowed));
  pinned_ = true;
#else
  (void)caller_cpu;
#endif
}

ScopedDistinctCpu::~ScopedDistinctCpu() {
#if defined(__linux__)
  if (!pinned_) return;
  cpu_set_t allowed;
  std::memcpy(&allowed, saved_, sizeof(allowed));
  sched_setaffinity(0, sizeof(allowed), &allowed);
#endif
}

}  // namespace mnistmlp
