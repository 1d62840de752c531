// The first layer on sparse inputs (MNIST pixels are about 80% zeros): each batch row is kept
// as its nonzero (column, value) pairs, in column order, and only those are multiplied.
//   sparse_forward : out (B,OUT) = act(x (B,IN) . weight (IN,OUT) + bias)
//   sparse_backward_weight: dweight[k, :] = sum_i x_ik dout[i, :] for every k in `active`
//                   (written, =); rows of no nonzero x are left alone (their gradient is 0).
// Both add the products in the same order as the dense kernels of dense.hpp, which also skip
// zero inputs, so the two paths give the same bits.
#pragma once

#include <algorithm>
#include <cstdint>

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

// Rows [i0, i1), output columns [j0, j0 + width), width <= kForwardBlock<T>.
template <typename T>
void sparse_forward_block(T* out, const SparseRows<T>& x, const T* weight, const T* bias,
                          index_t OUT, index_t i0, index_t i1, index_t j0, index_t width,
                          Activation act) {
  alignas(64) T acc[kForwardBlock<T>];
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

// Columns [j0, j1) of the rows of dweight listed in active[0, n_active).
template <typename T>
void sparse_backward_weight_columns(T* dweight, const SparseRows<T>& x, const T* dout, index_t B,
                                    index_t OUT, const std::int32_t* active, index_t n_active,
                                    index_t j0, index_t j1) {
  for (index_t a = 0; a < n_active; ++a)
    std::fill(dweight + index_t(active[a]) * OUT + j0, dweight + index_t(active[a]) * OUT + j1, T(0));
  for (index_t i = 0; i < B; ++i) {
    const std::int32_t* column = x.column + i * x.stride;
    const T* value = x.value + i * x.stride;
    const T* g = dout + i * OUT;
    for (index_t t = 0; t < x.count[i]; ++t) {
      const T v = value[t];
      T* dw = dweight + index_t(column[t]) * OUT;
#pragma omp simd
      for (index_t j = j0; j < j1; ++j) dw[j] += v * g[j];
    }
  }
}

}  // namespace mnistmlp::kernels
