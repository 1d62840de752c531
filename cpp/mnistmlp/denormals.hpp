// Subnormal floats (below 1.2e-38 in float32) cost an x86 core on the order of a hundred
// cycles per operation. Adam's first moment decays by beta1 every step for weights whose
// inputs stay zero (MNIST's border pixels) and passes through the subnormal range: on the
// tutorial's network that made an epoch 1.5 times slower. Like TensorFlow (and so TFLearn) on
// CPU, training therefore flushes subnormal results to zero and reads subnormal inputs as
// zero (the FTZ and DAZ modes), unless set_flush_denormals(false). A flushed value's effect
// on any weight is far below float32's resolution.
#pragma once

namespace mnistmlp {

// Whether training flushes subnormals; process-wide, read when a run of batches starts.
// Returns false (and changes nothing) where the CPU has no such mode (non-x86 builds).
bool set_flush_denormals(bool enabled);
bool flush_denormals();
bool flush_denormals_supported();

// Puts this thread in the flushing mode while it lives (when enabled), then restores the
// thread's previous mode: the caller's own code never runs with it.
class ScopedDenormalMode {
 public:
  ScopedDenormalMode();
  ~ScopedDenormalMode();
  ScopedDenormalMode(const ScopedDenormalMode&) = delete;
  ScopedDenormalMode& operator=(const ScopedDenormalMode&) = delete;

 private:
  unsigned saved_ = 0;
  bool active_ = false;
};

}  // namespace mnistmlp
