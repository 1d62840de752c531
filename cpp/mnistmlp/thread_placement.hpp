// After an idle pause, a thread of the OpenMP team wakes where the scheduler puts it, which is
// often the CPU of the thread that woke it: the two then share one core until the load
// balancer moves one of them, milliseconds later. Measured on a 2-core machine: a 10,000-image
// prediction after 0.2 s idle took 11-12 ms with both threads on one CPU and 7 ms on two, and
// half of such calls started on one CPU. While a team works, each worker therefore keeps to a
// CPU of its own, away from the calling thread's; the calling thread is never pinned, and each
// worker gets its former CPU set back when the work is done.
#pragma once

namespace mnistmlp {

// The calling thread's CPU, taken before a parallel region opens (-1 where unknown).
int current_cpu();

// Built by every thread of a team at the start of a parallel region, given current_cpu() of
// the thread that opened it. Does nothing for the calling thread, in a team of one, where the
// calling thread's CPU is unknown, or where the thread may run on only one CPU.
class ScopedDistinctCpu {
 public:
  explicit ScopedDistinctCpu(int caller_cpu);
  ~ScopedDistinctCpu();
  ScopedDistinctCpu(const ScopedDistinctCpu&) = delete;
  ScopedDistinctCpu& operator=(const ScopedDistinctCpu&) = delete;

 private:
  alignas(8) unsigned char saved_[128];  // the thread's cpu_set_t before
  bool pinned_ = false;
};

}  // namespace mnistmlp
