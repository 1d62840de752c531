#include "mnistmlp/simd_level.hpp"

#include <atomic>
#include <cstdlib>

#include "mnistmlp/common.hpp"

namespace mnistmlp {

namespace {

Simd detect() {
#if defined(MNISTMLP_SIMD_DISPATCH)
  __builtin_cpu_init();
  // The checks include the operating system's support for the wider registers.
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("fma") && __builtin_cpu_supports("popcnt"))
    return Simd::avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
      __builtin_cpu_supports("popcnt"))
    return Simd::avx2;
#endif
  return Simd::generic;
}

// The starting level: the best supported, or MNISTMLP_SIMD's if that is lower.
Simd initial() {
  const Simd best = simd_supported();
  const char* asked = std::getenv("MNISTMLP_SIMD");
  if (!asked || !*asked) return best;
  try {
    const Simd level = parse_simd(asked);
    return level < best ? level : best;
  } catch (const std::invalid_argument&) {
    return best;  // a bad value must not stop the import; show_config() shows the level used
  }
}

std::atomic<Simd>& current() {
  static std::atomic<Simd> level{initial()};
  return level;
}

}  // namespace

Simd simd_supported() {
  static const Simd best = detect();
  return best;
}

Simd simd_level() { return current().load(std::memory_order_relaxed); }

bool set_simd_level(Simd level) {
  if (level > simd_supported()) return false;
  current().store(level, std::memory_order_relaxed);
  return true;
}

const char* name_of(Simd level) {
  switch (level) {
    case Simd::avx512: return "avx512";
    case Simd::avx2: return "avx2";
    case Simd::generic: break;
  }
  return "generic";
}

Simd parse_simd(const std::string& name) {
  for (Simd level : {Simd::generic, Simd::avx2, Simd::avx512})
    if (name == name_of(level)) return level;
  fail("unknown SIMD level '", name, "' (expected generic, avx2 or avx512)");
}

}  // namespace mnistmlp
