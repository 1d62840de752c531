// AVX2 + FMA kernels (declared in kernels/simd_kernels.hpp) for CPUs without AVX-512:
// kernels/simd_kernels.inc over 8-float vectors, a compress built from a permutation table,
// and Adam's update (used on AVX-512 CPUs too). Compiled for AVX2 by the pragma below, after
// every header (see avx512.cpp).
#if defined(__x86_64__)  // elsewhere (aarch64) this file compiles to nothing
#include <immintrin.h>
#endif

#include <algorithm>
#include <cstdint>

#include "mnistmlp/kernels/activation.hpp"
#include "mnistmlp/kernels/simd_kernels.hpp"
#include "mnistmlp/kernels/sparse.hpp"

#if defined(MNISTMLP_SIMD_DISPATCH)

// Clang has no GCC target pragma; its attribute push gives every function that follows the
// same target.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,popcnt"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,popcnt")
#endif

namespace mnistmlp::kernels::avx2 {

namespace {

struct Vec {
  using F = __m256;
  using Mask = __m256i;  // all-ones lanes are loaded and stored
  static constexpr index_t kWidth = 8;
  static constexpr int kAccumulators = 12;  // of the 16 ymm registers
  static Mask lanes_below(index_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static F zero() { return _mm256_setzero_ps(); }
  static F broadcast(float x) { return _mm256_set1_ps(x); }
  static F loadu(const float* p) { return _mm256_loadu_ps(p); }
  static F load(const float* p, Mask m) { return _mm256_maskload_ps(p, m); }
  static void storeu(float* p, F x) { _mm256_storeu_ps(p, x); }
  static void store(float* p, Mask m, F x) { _mm256_maskstore_ps(p, m, x); }
  static F add(F a, F b) { return _mm256_add_ps(a, b); }
  static F sub(F a, F b) { return _mm256_sub_ps(a, b); }
  static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F div(F a, float b) { return _mm256_div_ps(a, _mm256_set1_ps(b)); }
  static F fmadd(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  static F bytes(const std::uint8_t* p) {  // kWidth bytes as floats
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
  }
};

// For each 8-bit mask of nonzero lanes, the lanes in order, then zeros: AVX2 has no
// compress instruction, so a permutation from this table packs the survivors to the front.
// Built by the compiler (constexpr): no start-up code compiled for AVX2 runs on other CPUs.
struct CompressTable {
  alignas(32) std::int32_t lanes[256][8];
  constexpr CompressTable() : lanes{} {
    for (int mask = 0; mask < 256; ++mask) {
      int n = 0;
      for (int lane = 0; lane < 8; ++lane)
        if (mask >> lane & 1) lanes[mask][n++] = lane;
    }
  }
};
constexpr CompressTable compress_table;

// Eight at a time: compare with zero, then pack the survivors and their columns to the front
// and store all 8 lanes (n + 8 <= c + 8 <= cols stays in the row).
template <typename Load>
std::int32_t compress_vectors(std::int32_t* column, float* value, index_t cols, index_t& done, Load load) {
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  std::int32_t n = 0;
  index_t c = 0;
  for (; c + 8 <= cols; c += 8) {
    const __m256 v = load(c);
    const int nonzero = _mm256_movemask_ps(_mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_NEQ_UQ));
    const __m256i order = _mm256_load_si256(reinterpret_cast<const __m256i*>(compress_table.lanes[nonzero]));
    _mm256_storeu_ps(value + n, _mm256_permutevar8x32_ps(v, order));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(column + n),
                        _mm256_permutevar8x32_epi32(_mm256_add_epi32(lanes, _mm256_set1_epi32(static_cast<int>(c))), order));
    n += __builtin_popcount(static_cast<unsigned>(nonzero));
  }
  done = c;
  return n;
}

}  // namespace

#include "mnistmlp/kernels/simd_kernels.inc"

MNISTMLP_ROUND_EACH_OPERATION index_t adam_update(float* w, float* m, float* v, const float* g,
                                                index_t begin, index_t end, float alpha,
                                                float beta1, float beta2, float epsilon,
                                                float clip) {
  // Adam's cost is its memory traffic and its square root and division: explicitly 256-bit,
  // also on AVX-512 CPUs, since on AMD Zen 4 512-bit ones deliver fewer elements per cycle
  // (78,400 updates: 35 us with 512-bit vectors, 24 us with 256-bit ones). TensorFlow's
  // float32 operations in its order, each rounded (no multiply-add), as the caller's loop.
  const __m256 one_b1 = _mm256_set1_ps(1.0f - beta1), one_b2 = _mm256_set1_ps(1.0f - beta2);
  const __m256 a = _mm256_set1_ps(alpha), eps = _mm256_set1_ps(epsilon), c = _mm256_set1_ps(clip);
  index_t i = begin;
  for (; i + 8 <= end; i += 8) {
    const __m256 gi = _mm256_mul_ps(_mm256_loadu_ps(g + i), c);
    __m256 mi = _mm256_loadu_ps(m + i), vi = _mm256_loadu_ps(v + i);
    mi = _mm256_add_ps(mi, _mm256_mul_ps(_mm256_sub_ps(gi, mi), one_b1));
    vi = _mm256_add_ps(vi, _mm256_mul_ps(_mm256_sub_ps(_mm256_mul_ps(gi, gi), vi), one_b2));
    const __m256 step = _mm256_div_ps(_mm256_mul_ps(mi, a), _mm256_add_ps(_mm256_sqrt_ps(vi), eps));
    _mm256_storeu_ps(m + i, mi);
    _mm256_storeu_ps(v + i, vi);
    _mm256_storeu_ps(w + i, _mm256_sub_ps(_mm256_loadu_ps(w + i), step));
  }
  return i;
}

}  // namespace mnistmlp::kernels::avx2

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#endif
