// The first layer on sparse inputs (MNIST pixels are about 80% zeros): each batch row is kept
// as its nonzero (column, value) pairs, in column order, and only those are multiplied.
//   sparse_forward : out (B,OUT) = act(x (B,IN) . weight (IN,OUT) + bias)
//   sparse_weight_gradient_row: dweight[k, :] = sum_i x_ik dout[i, :], from column k's
//                   nonzeros (none: a zero row).
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "mnistmlp/common.hpp"
#include "mnistmlp/kernels/activation.hpp"
#include "mnistmlp/kernels/dense.hpp"

namespace mnistmlp::kernels {

// Padded CSR: row i's nonzeros are column[i * stride + t], value[...], t < count[i].
template <typename T>
struct SparseRows {
  const std::int32_t* column = nullptr;
  const T* value = nullptr;
  const std::int32_t* count = nullptr;
  index_t stride = 0;
};

#if defined(__AVX512F__)
// float32 on AVX-512: up to 8 vectors (128 columns) of accumulators in registers.
template <int NV>
void sparse_forward_row_avx512(float* out, const std::int32_t* column, const float* value,
                               index_t nonzeros, const float* weight, const float* bias,
                               index_t OUT, index_t j0, index_t width, Activation act) {
  const __mmask16 tail = static_cast<__mmask16>((1u << (width - 16 * (NV - 1))) - 1u);
  __m512 acc[NV];
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) {
    const __mmask16 m = v == NV - 1 ? tail : __mmask16(0xffff);
    acc[v] = bias ? _mm512_maskz_loadu_ps(m, bias + j0 + 16 * v) : _mm512_setzero_ps();
  }
  for (index_t t = 0; t < nonzeros; ++t) {
    const __m512 x = _mm512_set1_ps(value[t]);
    const float* w = weight + index_t(column[t]) * OUT + j0;
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) {
      const __mmask16 m = v == NV - 1 ? tail : __mmask16(0xffff);
      acc[v] = _mm512_fmadd_ps(x, _mm512_maskz_loadu_ps(m, w + 16 * v), acc[v]);
    }
  }
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) {
    const __mmask16 m = v == NV - 1 ? tail : __mmask16(0xffff);
    _mm512_mask_storeu_ps(out + j0 + 16 * v, m, acc[v]);
  }
  activation_forward(out + j0, width, act);
}
#endif

// Output columns per sparse-forward task: all 100 of the tutorial's hidden layer in one pass
// over each row's nonzeros.
inline constexpr index_t kSparseBlock = 128;

// Rows [i0, i1), output columns [j0, j0 + width), width <= kSparseBlock.
template <typename T>
void sparse_forward_block(T* out, const SparseRows<T>& x, const T* weight, const T* bias,
                          index_t OUT, index_t i0, index_t i1, index_t j0, index_t width,
                          Activation act) {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float>) {
    using Row = void (*)(float*, const std::int32_t*, const float*, index_t, const float*,
                         const float*, index_t, index_t, index_t, Activation);
    static constexpr Row rows[] = {sparse_forward_row_avx512<1>, sparse_forward_row_avx512<2>,
                                   sparse_forward_row_avx512<3>, sparse_forward_row_avx512<4>,
                                   sparse_forward_row_avx512<5>, sparse_forward_row_avx512<6>,
                                   sparse_forward_row_avx512<7>, sparse_forward_row_avx512<8>};
    const Row row = rows[(width + 15) / 16 - 1];
    for (index_t i = i0; i < i1; ++i)
      row(out + i * OUT, x.column + i * x.stride, x.value + i * x.stride, x.count[i], weight, bias,
          OUT, j0, width, act);
    return;
  }
#endif
  alignas(64) T acc[kSparseBlock];
  for (index_t i = i0; i < i1; ++i) {
    for (index_t j = 0; j < width; ++j) acc[j] = bias ? bias[j0 + j] : T(0);
    const std::int32_t* column = x.column + i * x.stride;
    const T* value = x.value + i * x.stride;
    for (index_t t = 0; t < x.count[i]; ++t) {
      const T v = value[t];
      const T* w = weight + index_t(column[t]) * OUT + j0;
#pragma omp simd
      for (index_t j = 0; j < width; ++j) acc[j] += v * w[j];
    }
    T* o = out + i * OUT + j0;
    for (index_t j = 0; j < width; ++j) o[j] = acc[j];
    activation_forward(o, width, act);
  }
}

#if defined(__AVX512F__)
// float32 on AVX-512, NV vectors of accumulators (a compile-time count: no per-vector tests in
// the inner loop).
template <int NV>
void sparse_weight_gradient_row_avx512(float* out, const std::int32_t* rows, const float* values,
                                       index_t n, const float* dout, index_t OUT, index_t j0,
                                       index_t width) {
  const __mmask16 tail = static_cast<__mmask16>((1u << (width - 16 * (NV - 1))) - 1u);
  __m512 acc[NV];
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) acc[v] = _mm512_setzero_ps();
  for (index_t t = 0; t < n; ++t) {
    const __m512 s = _mm512_set1_ps(values[t]);
    const float* g = dout + index_t(rows[t]) * OUT + j0;
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v)
      acc[v] = _mm512_fmadd_ps(s, _mm512_maskz_loadu_ps(v == NV - 1 ? tail : __mmask16(0xffff), g + 16 * v), acc[v]);
  }
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) _mm512_mask_storeu_ps(out + 16 * v, v == NV - 1 ? tail : __mmask16(0xffff), acc[v]);
}
#endif

// Row k of the weight gradient, columns [j0, j0 + width) with width <= 128, from column k of
// the batch (its nonzeros (row i, value v), rows ascending):
// out[0, width) = sum_i v * dout[i, j0:j0 + width].
template <typename T>
void sparse_weight_gradient_row(T* out, const std::int32_t* rows, const T* values, index_t n,
                                const T* dout, index_t OUT, index_t j0, index_t width) {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float>) {
    using Row = void (*)(float*, const std::int32_t*, const float*, index_t, const float*, index_t,
                         index_t, index_t);
    static constexpr Row by_vectors[] = {
        sparse_weight_gradient_row_avx512<1>, sparse_weight_gradient_row_avx512<2>,
        sparse_weight_gradient_row_avx512<3>, sparse_weight_gradient_row_avx512<4>,
        sparse_weight_gradient_row_avx512<5>, sparse_weight_gradient_row_avx512<6>,
        sparse_weight_gradient_row_avx512<7>, sparse_weight_gradient_row_avx512<8>};
    by_vectors[(width + 15) / 16 - 1](out, rows, values, n, dout, OUT, j0, width);
    return;
  }
#endif
  alignas(64) T acc[128];
  for (index_t j = 0; j < width; ++j) acc[j] = T(0);
  for (index_t t = 0; t < n; ++t) {
    const T s = values[t];
    const T* g = dout + index_t(rows[t]) * OUT + j0;
#pragma omp simd
    for (index_t j = 0; j < width; ++j) acc[j] += s * g[j];
  }
  for (index_t j = 0; j < width; ++j) out[j] = acc[j];
}

}  // namespace mnistmlp::kernels
