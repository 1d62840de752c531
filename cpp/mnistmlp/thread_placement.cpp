#include "mnistmlp/thread_placement.hpp"

#include <algorithm>

#include "mnistmlp/openmp.hpp"

#if defined(__linux__)
#include <sched.h>
#endif

namespace mnistmlp {

int default_threads() { return std::max(1, std::min(omp_get_max_threads(), omp_get_num_procs())); }

int current_cpu() {
#if defined(__linux__)
  return sched_getcpu();
#else
  return -1;
#endif
}

void leave_callers_cpu(int caller_cpu) {
#if defined(__linux__)
  const int worker = omp_get_thread_num();
  if (worker == 0 || omp_get_num_threads() == 1 || caller_cpu < 0 || sched_getcpu() != caller_cpu)
    return;
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0 || CPU_COUNT(&allowed) < 2) return;
  // The worker-th allowed CPU after the caller's: workers of one team spread out, and teams
  // of different processes (their callers on different CPUs) pick different ones.
  const int others = CPU_COUNT(&allowed) - 1;
  int target = caller_cpu, skip = (worker - 1) % others;
  do {
    target = (target + 1) % CPU_SETSIZE;
    if (CPU_ISSET(target, &allowed) && skip-- == 0) break;
  } while (true);
  cpu_set_t move;
  CPU_ZERO(&move);
  CPU_SET(target, &move);
  if (sched_setaffinity(0, sizeof(move), &move) == 0)  // migrates this thread now
    sched_setaffinity(0, sizeof(allowed), &allowed);
#else
  (void)caller_cpu;
#endif
}

}  // namespace mnistmlp
