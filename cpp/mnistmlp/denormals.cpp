#include "mnistmlp/denormals.hpp"

#include <atomic>

#if defined(__SSE__) || defined(_M_X64)
#include <xmmintrin.h>
#define MNISTMLP_HAS_MXCSR 1
#endif

namespace mnistmlp {

namespace {
std::atomic<bool> flush_enabled{true};
#if defined(MNISTMLP_HAS_MXCSR)
constexpr unsigned kFlushToZero = 0x8000, kDenormalsAreZero = 0x0040;  // MXCSR bits
#endif
}  // namespace

bool flush_denormals_supported() {
#if defined(MNISTMLP_HAS_MXCSR)
  return true;
#else
  return false;
#endif
}

bool set_flush_denormals(bool enabled) {
  if (!flush_denormals_supported()) return false;
  flush_enabled = enabled;
  return true;
}

bool flush_denormals() { return flush_denormals_supported() && flush_enabled; }

ScopedDenormalMode::ScopedDenormalMode() {
#if defined(MNISTMLP_HAS_MXCSR)
  if (!flush_denormals()) return;
  saved_ = _mm_getcsr();
  _mm_setcsr(saved_ | kFlushToZero | kDenormalsAreZero);
  active_ = true;
#endif
}

ScopedDenormalMode::~ScopedDenormalMode() {
#if defined(MNISTMLP_HAS_MXCSR)
  if (active_) _mm_setcsr(saved_);
#endif
}

}  // namespace mnistmlp
