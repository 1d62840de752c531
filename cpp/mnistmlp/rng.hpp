// Counter-based random numbers: every draw is a pure function of (seed, stream, counter), so
// results never depend on thread count or evaluation order, and the GPU draws the same numbers
// from these same functions (MNISTMLP_HOST_DEVICE) without sharing state.
#pragma once

#include <cmath>
#include <cstdint>

#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#endif

#include "mnistmlp/common.hpp"

namespace mnistmlp {

// The 128-bit product a * b: its high 64 bits, and its low ones in `low`. Exact on every
// compiler, so a seed shuffles alike everywhere: MSVC has no unsigned __int128.
inline std::uint64_t multiply_wide(std::uint64_t a, std::uint64_t b, std::uint64_t& low) {
#if defined(__SIZEOF_INT128__)
  const unsigned __int128 product = static_cast<unsigned __int128>(a) * b;
  low = static_cast<std::uint64_t>(product);
  return static_cast<std::uint64_t>(product >> 64);
#elif defined(_MSC_VER) && defined(_M_X64)
  std::uint64_t high;
  low = _umul128(a, b, &high);
  return high;
#else
#error "mnistmlp needs a 64 x 64 -> 128-bit multiplication (unsigned __int128 or _umul128)"
#endif
}

// Streams keep unrelated uses of one seed apart.
enum class RngStream : std::uint64_t { init = 1, shuffle = 2, dropout = 3 };

// SplitMix64 finaliser: a bijective 64-bit mix with good avalanche behaviour.
MNISTMLP_HOST_DEVICE inline std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

MNISTMLP_HOST_DEVICE inline std::uint64_t random_bits(std::uint64_t seed, RngStream stream,
                                                      std::uint64_t key, std::uint64_t counter) {
  std::uint64_t h = mix64(seed + 0x9e3779b97f4a7c15ULL * static_cast<std::uint64_t>(stream));
  h = mix64(h ^ (key + 0x632be59bd9b4e019ULL));
  return mix64(h ^ (counter * 0x9e3779b97f4a7c15ULL + 0x2545f4914f6cdd1dULL));
}

// Uniform in [0, 1) with 53 random bits.
MNISTMLP_HOST_DEVICE inline double to_unit(std::uint64_t bits) {
  return static_cast<double>(bits >> 11) * (1.0 / 9007199254740992.0);
}

// Inverted dropout's multiplier for element i of layer `layer`'s outputs at optimizer step
// `step`: 0 (dropped, with probability `rate`) or 1 / (1 - rate) (kept). The same mask on the
// CPU and the GPU, for any thread count.
template <typename T>
MNISTMLP_HOST_DEVICE inline T dropout_multiplier(double rate, std::uint64_t seed, std::int64_t step,
                                                 index_t layer, index_t i) {
  const std::uint64_t key = static_cast<std::uint64_t>(step) * 1024u + static_cast<std::uint64_t>(layer);
  const bool keep = to_unit(random_bits(seed, RngStream::dropout, key, static_cast<std::uint64_t>(i))) >= rate;
  return keep ? T(1.0 / (1.0 - rate)) : T(0);
}

// A sequential generator over one (seed, stream, key), for shuffles and initialisers.
class CounterRng {
 public:
  CounterRng(std::uint64_t seed, RngStream stream, std::uint64_t key)
      : seed_(seed), stream_(stream), key_(key) {}

  std::uint64_t next_bits() { return random_bits(seed_, stream_, key_, counter_++); }
  double uniform() { return to_unit(next_bits()); }

  // Uniform integer in [0, bound), unbiased (Lemire's rejection on 64-bit products).
  std::uint64_t below(std::uint64_t bound) {
    for (;;) {
      std::uint64_t low;
      const std::uint64_t high = multiply_wide(next_bits(), bound, low);
      if (low >= (0 - bound) % bound) return high;
    }
  }

  // Standard normal by Box-Muller (one value per call; simplicity over speed, init only).
  double normal() {
    const double u1 = 1.0 - uniform();  // (0, 1]: log stays finite
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  std::uint64_t seed_;
  RngStream stream_;
  std::uint64_t key_;
  std::uint64_t counter_ = 0;
};

}  // namespace mnistmlp
