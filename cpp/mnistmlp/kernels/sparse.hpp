// The first layer on sparse inputs (MNIST pixels are about 80% zeros): each batch row is kept
// as its nonzero (column, value) pairs, in column order, and only those are multiplied.
//   sparse_forward : out (B,OUT) = act(x (B,IN) . weight (IN,OUT) + bias)
//   sparse_weight_gradient_rows: dweight[k, :] = sum_i x_ik dout[i, :], from column k's
//                   nonzeros (none: a zero row), for several k at once.
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "mnistmlp/common.hpp"
#include "mnistmlp/kernels/activation.hpp"
#include "mnistmlp/kernels/dense.hpp"
#include "mnistmlp/kernels/simd_kernels.hpp"

namespace mnistmlp::kernels {

// Column k of a batch: its nonzeros (row i, value v), rows ascending.
template <typename T>
struct SparseColumn {
  const std::int32_t* rows = nullptr;
  const T* values = nullptr;
  index_t n = 0;
};

// Padded CSR: row i's nonzeros are column[i * stride + t], value[...], t < count[i].
template <typename T>
struct SparseRows {
  const std::int32_t* column = nullptr;
  const T* value = nullptr;
  const std::int32_t* count = nullptr;
  index_t stride = 0;
};

// Output columns per sparse-forward task: all 100 of the tutorial's hidden layer in one pass
// over each row's nonzeros.
inline constexpr index_t kSparseBlock = 128;

// Rows [i0, i1), output columns [j0, j0 + width), width <= kSparseBlock.
template <typename T>
void sparse_forward_block(T* out, const SparseRows<T>& x, const T* weight, const T* bias,
                          index_t OUT, index_t i0, index_t i1, index_t j0, index_t width,
                          Activation act) {
  if constexpr (std::is_same_v<T, float>)
    if (const SimdKernels* simd = simd_kernels())
      return simd->sparse_forward_block(out, x, weight, bias, OUT, i0, i1, j0, width, act);
  alignas(64) T acc[kSparseBlock];
  for (index_t i = i0; i < i1; ++i) {
    for (index_t j = 0; j < width; ++j) acc[j] = T(0);
    const std::int32_t* column = x.column + i * x.stride;
    const T* value = x.value + i * x.stride;
    for (index_t t = 0; t < x.count[i]; ++t) {
      const T v = value[t];
      const T* w = weight + index_t(column[t]) * OUT + j0;
#pragma omp simd
      for (index_t j = 0; j < width; ++j) acc[j] = multiply_add(v, w[j], acc[j]);
    }
    T* o = out + i * OUT + j0;
    for (index_t j = 0; j < width; ++j) o[j] = bias ? acc[j] + bias[j0 + j] : acc[j];
    activation_forward(o, width, act);
  }
}

// Rows of the weight gradient for `count` columns of the batch at once (any number; the SIMD
// kernels interleave up to four), row c into out + c * out_stride, columns
// [j0, j0 + width) with width <= 128: out_c[0, width) = sum_i v * dout[i, j0:j0 + width]
// over column c's nonzeros (none: zeros). Each row's sum runs over its nonzeros in order,
// whatever the grouping.
template <typename T>
void sparse_weight_gradient_rows(T* out, index_t out_stride, const SparseColumn<T>* columns,
                                 index_t count, const T* dout, index_t OUT, index_t j0,
                                 index_t width) {
  if constexpr (std::is_same_v<T, float>)
    if (const SimdKernels* simd = simd_kernels())
      return simd->sparse_weight_gradient_rows(out, out_stride, columns, count, dout, OUT, j0, width);
  for (index_t c = 0; c < count; ++c) {
    alignas(64) T acc[128];
    for (index_t j = 0; j < width; ++j) acc[j] = T(0);
    for (index_t t = 0; t < columns[c].n; ++t) {
      const T s = columns[c].values[t];
      const T* g = dout + index_t(columns[c].rows[t]) * OUT + j0;
#pragma omp simd
      for (index_t j = 0; j < width; ++j) acc[j] = multiply_add(s, g[j], acc[j]);
    }
    std::copy(acc, acc + width, out + c * out_stride);
  }
}

}  // namespace mnistmlp::kernels
