// AVX-512 kernels (declared in kernels/simd.hpp). Compiled for AVX-512 whatever the build's
// target, by the pragma below, which applies only to the functions defined after it: headers
// come first, so no shared inline function is ever built for AVX-512.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "mnistmlp/kernels/activation.hpp"
#include "mnistmlp/kernels/simd.hpp"
#include "mnistmlp/kernels/sparse.hpp"

#if defined(MNISTMLP_SIMD_DISPATCH)

#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,popcnt")

namespace mnistmlp::kernels::avx512 {

namespace {

inline __mmask16 lanes_below(index_t n) { return static_cast<__mmask16>((1u << n) - 1u); }

// Rows [i, i + R) at once, each with NV vectors (up to 128 columns) of accumulators in
// registers. Each row still adds its nonzeros in column order, as one row alone would;
// interleaving R rows gives the core R independent chains of loads and multiply-adds
// (measured: 30% faster for R = 3 than one row at a time). The bias comes last, as in the
// dense product's epilogue: both paths give the same bits.
template <int NV, int R>
void sparse_forward_rows(float* out, const SparseRows<float>& x, index_t i, const float* weight,
                         const float* bias, index_t OUT, index_t j0, index_t width, Activation act) {
  const __mmask16 tail = lanes_below(width - 16 * (NV - 1));
  __m512 acc[R][NV];
  index_t shared = x.count[i];  // nonzeros that every row of the group has
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
    shared = std::min<index_t>(shared, x.count[i + r]);
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  }
  auto add = [&](int r, index_t t) {
    const index_t at = (i + r) * x.stride + t;
    const __m512 value = _mm512_set1_ps(x.value[at]);
    const float* w = weight + index_t(x.column[at]) * OUT + j0;
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v)
      acc[r][v] = _mm512_fmadd_ps(value, _mm512_maskz_loadu_ps(v == NV - 1 ? tail : 0xffff, w + 16 * v),
                                  acc[r][v]);
  };
  for (index_t t = 0; t < shared; ++t) {
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) add(r, t);
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
    for (index_t t = shared; t < x.count[i + r]; ++t) add(r, t);
    float* o = out + (i + r) * OUT + j0;
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) {
      const __mmask16 m = v == NV - 1 ? tail : 0xffff;
      if (bias) acc[r][v] = _mm512_add_ps(acc[r][v], _mm512_maskz_loadu_ps(m, bias + j0 + 16 * v));
      _mm512_mask_storeu_ps(o + 16 * v, m, acc[r][v]);
    }
    activation_forward(o, width, act);
  }
}

// Rows interleaved per group: as many as 24 accumulator registers allow, at most 4.
template <int NV>
void sparse_forward_rows_of(float* out, const SparseRows<float>& x, const float* weight,
                            const float* bias, index_t OUT, index_t i0, index_t i1, index_t j0,
                            index_t width, Activation act) {
  constexpr int R = NV <= 6 ? 4 : 3;
  index_t i = i0;
  for (; i + R <= i1; i += R) sparse_forward_rows<NV, R>(out, x, i, weight, bias, OUT, j0, width, act);
  for (; i < i1; ++i) sparse_forward_rows<NV, 1>(out, x, i, weight, bias, OUT, j0, width, act);
}

// NV vectors of accumulators (a compile-time count: no per-vector tests in the inner loop).
template <int NV>
void sparse_weight_gradient_row_of(float* out, const std::int32_t* rows, const float* values,
                                   index_t n, const float* dout, index_t OUT, index_t j0,
                                   index_t width) {
  const __mmask16 tail = lanes_below(width - 16 * (NV - 1));
  __m512 acc[NV];
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) acc[v] = _mm512_setzero_ps();
  for (index_t t = 0; t < n; ++t) {
    const __m512 s = _mm512_set1_ps(values[t]);
    const float* g = dout + index_t(rows[t]) * OUT + j0;
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v)
      acc[v] = _mm512_fmadd_ps(s, _mm512_maskz_loadu_ps(v == NV - 1 ? tail : 0xffff, g + 16 * v), acc[v]);
  }
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) _mm512_mask_storeu_ps(out + 16 * v, v == NV - 1 ? tail : 0xffff, acc[v]);
}

// Sixteen at a time: compare with zero, then compress the survivors and their columns in
// registers and store all 16 lanes (n + 16 <= c + 16 <= cols stays in the row):
// compress-to-memory is microcoded and slow on some CPUs.
template <typename Load>
std::int32_t compress_16s(std::int32_t* column, float* value, index_t cols, index_t& done,
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

void gemm_micro_kernel(index_t kc, const float* a, const float* b, float* c, index_t ldc,
                       bool accumulate) {
  constexpr index_t MR = kGemmRows;
  __m512 acc[MR][2];  // 24 accumulators of 16 floats: the zmm file, nearly full
#pragma GCC unroll 12
  for (index_t r = 0; r < MR; ++r) {
    acc[r][0] = accumulate ? _mm512_loadu_ps(c + r * ldc) : _mm512_setzero_ps();
    acc[r][1] = accumulate ? _mm512_loadu_ps(c + r * ldc + 16) : _mm512_setzero_ps();
  }
  for (index_t k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 12
    for (index_t r = 0; r < MR; ++r) {
      const __m512 ar = _mm512_set1_ps(a[r]);
      acc[r][0] = _mm512_fmadd_ps(ar, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(ar, b1, acc[r][1]);
    }
    a += MR;
    b += kGemmCols;
  }
#pragma GCC unroll 12
  for (index_t r = 0; r < MR; ++r) {
    _mm512_storeu_ps(c + r * ldc, acc[r][0]);
    _mm512_storeu_ps(c + r * ldc + 16, acc[r][1]);
  }
}

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

void sparse_forward_block(float* out, const SparseRows<float>& x, const float* weight,
                          const float* bias, index_t OUT, index_t i0, index_t i1, index_t j0,
                          index_t width, Activation act) {
  using Rows = void (*)(float*, const SparseRows<float>&, const float*, const float*, index_t,
                        index_t, index_t, index_t, index_t, Activation);
  static constexpr Rows by_vectors[] = {
      sparse_forward_rows_of<1>, sparse_forward_rows_of<2>, sparse_forward_rows_of<3>,
      sparse_forward_rows_of<4>, sparse_forward_rows_of<5>, sparse_forward_rows_of<6>,
      sparse_forward_rows_of<7>, sparse_forward_rows_of<8>};
  by_vectors[(width + 15) / 16 - 1](out, x, weight, bias, OUT, i0, i1, j0, width, act);
}

void sparse_weight_gradient_row(float* out, const std::int32_t* rows, const float* values,
                                index_t n, const float* dout, index_t OUT, index_t j0,
                                index_t width) {
  using Row = void (*)(float*, const std::int32_t*, const float*, index_t, const float*, index_t,
                       index_t, index_t);
  static constexpr Row by_vectors[] = {
      sparse_weight_gradient_row_of<1>, sparse_weight_gradient_row_of<2>,
      sparse_weight_gradient_row_of<3>, sparse_weight_gradient_row_of<4>,
      sparse_weight_gradient_row_of<5>, sparse_weight_gradient_row_of<6>,
      sparse_weight_gradient_row_of<7>, sparse_weight_gradient_row_of<8>};
  by_vectors[(width + 15) / 16 - 1](out, rows, values, n, dout, OUT, j0, width);
}

std::int32_t compress_row(std::int32_t* column, float* value, const float* src, index_t cols,
                          index_t& done) {
  return compress_16s(column, value, cols, done, [src](index_t c) { return _mm512_loadu_ps(src + c); });
}

std::int32_t compress_row(std::int32_t* column, float* value, const std::uint8_t* src,
                          index_t cols, index_t& done) {
  // x / 255, as the portable path divides: the same value. (The zero-masked conversions
  // are the plain ones; the plain ones trip GCC 12's -Wmaybe-uninitialized in its headers.)
  return compress_16s(column, value, cols, done, [src](index_t c) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + c));
    return _mm512_div_ps(_mm512_maskz_cvtepi32_ps(0xffff, _mm512_maskz_cvtepu8_epi32(0xffff, bytes)),
                         _mm512_set1_ps(255.0f));
  });
}

}  // namespace mnistmlp::kernels::avx512

#pragma GCC pop_options

#endif
