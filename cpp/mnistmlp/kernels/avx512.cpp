// AVX-512 kernels (declared in kernels/simd_kernels.hpp): kernels/simd_kernels.inc over
// 16-float vectors, and what only AVX-512 has (compress, gather). Compiled for AVX-512 whatever
// the build's target, by the pragma below, which applies only to the functions defined after
// it: headers come first, so no shared inline function is ever built for AVX-512.
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
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,popcnt"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,popcnt")
#endif

namespace mnistmlp::kernels::avx512 {

namespace {

inline __mmask16 lanes_below(index_t n) { return static_cast<__mmask16>((1u << n) - 1u); }

struct Vec {
  using F = __m512;
  using Mask = __mmask16;
  static constexpr index_t kWidth = 16;
  static constexpr int kAccumulators = 24;  // of the 32 zmm registers
  static Mask lanes_below(index_t n) { return avx512::lanes_below(n); }
  static F zero() { return _mm512_setzero_ps(); }
  static F broadcast(float x) { return _mm512_set1_ps(x); }
  static F loadu(const float* p) { return _mm512_loadu_ps(p); }
  static F load(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
  static void storeu(float* p, F x) { _mm512_storeu_ps(p, x); }
  static void store(float* p, Mask m, F x) { _mm512_mask_storeu_ps(p, m, x); }
  static F add(F a, F b) { return _mm512_add_ps(a, b); }
  static F sub(F a, F b) { return _mm512_sub_ps(a, b); }
  static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static F div(F a, float b) { return _mm512_div_ps(a, _mm512_set1_ps(b)); }
  static F fmadd(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  // kWidth bytes as floats. (The zero-masked conversions are the plain ones; the plain ones
  // trip GCC 12's -Wmaybe-uninitialized in its own headers.)
  static F bytes(const std::uint8_t* p) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm512_maskz_cvtepi32_ps(0xffff, _mm512_maskz_cvtepu8_epi32(0xffff, x));
  }
};

// Sixteen at a time: compare with zero, then compress the survivors and their columns in
// registers and store all 16 lanes (n + 16 <= c + 16 <= cols stays in the row):
// compress-to-memory is microcoded and slow on some CPUs.
template <typename Load>
std::int32_t compress_vectors(std::int32_t* column, float* value, index_t cols, index_t& done,
                          Load load) {
  const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  std::int32_t n = 0;
  index_t c = 0;
  for (; c + 16 <= cols; c += 16) {
    const __m512 v = load(c);
    const __mmask16 nonzero = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_NEQ_UQ);
    _mm512_storeu_ps(value + n, _mm512_maskz_compress_ps(nonzero, v));
    _mm512_storeu_si512(column + n, _mm512_maskz_compress_epi32(
                                        nonzero, _mm512_add_epi32(lanes, _mm512_set1_epi32(static_cast<int>(c)))));
    n += __builtin_popcount(nonzero);
  }
  done = c;
  return n;
}

}  // namespace

#include "mnistmlp/kernels/simd_kernels.inc"

void gather_transposed(float* out, index_t stride, const float* src, index_t step, int lanes,
                       index_t kc) {
  const __mmask16 mask = lanes_below(lanes);
  const __m512i offsets = _mm512_mullo_epi32(
      _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
      _mm512_set1_epi32(static_cast<int>(step)));
  for (index_t k = 0; k < kc; ++k)
    _mm512_mask_storeu_ps(out + k * stride, mask,
                          _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mask, offsets, src + k, 4));
}

}  // namespace mnistmlp::kernels::avx512

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#endif
