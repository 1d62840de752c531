// Dense (fully connected) layer: forward and backward side by side.
//   forward : out (B,OUT) = act(inp (B,IN) . weight (IN,OUT) + bias (OUT))
//   backward: dweight (IN,OUT) = inp^T . dout  + wd * weight   (written, =)
//             dbias (OUT)      = sum over rows of dout            (written, =)
//             dinp (B,IN)      = dout . weight^T                  (written, =)
// Each *_naive kernel is the textbook triple loop, kept as the reference the fast kernels are
// tested against. The fast kernels work on a slice of the output (a column block, a row block)
// so a backend can split the work over threads; every output element is computed by the same
// sequence of operations whatever the split, which keeps results bitwise identical for any
// thread count.
#pragma once

#include <algorithm>

#include "mnistmlp/common.hpp"
#include "mnistmlp/kernels/activation.hpp"

namespace mnistmlp::kernels {

// ---- naive reference ------------------------------------------------------------------

template <typename T>
void dense_forward_naive(T* out, const T* inp, const T* weight, const T* bias, index_t B,
                         index_t IN, index_t OUT, Activation act) {
  for (index_t i = 0; i < B; ++i)
    for (index_t j = 0; j < OUT; ++j) {
      T z = bias ? bias[j] : T(0);
      for (index_t k = 0; k < IN; ++k) z += inp[i * IN + k] * weight[k * OUT + j];
      out[i * OUT + j] = activate(act, z);
    }
}

template <typename T>
void dense_backward_naive(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp,
                          const T* weight, index_t B, index_t IN, index_t OUT, T weight_decay) {
  for (index_t k = 0; k < IN; ++k)
    for (index_t j = 0; j < OUT; ++j) {
      T g = 0;
      for (index_t i = 0; i < B; ++i) g += inp[i * IN + k] * dout[i * OUT + j];
      dweight[k * OUT + j] = g + weight_decay * weight[k * OUT + j];
    }
  for (index_t j = 0; j < OUT; ++j) {
    T g = 0;
    for (index_t i = 0; i < B; ++i) g += dout[i * OUT + j];
    dbias[j] = g;
  }
  if (!dinp) return;
  for (index_t i = 0; i < B; ++i)
    for (index_t k = 0; k < IN; ++k) {
      T g = 0;
      for (index_t j = 0; j < OUT; ++j) g += dout[i * OUT + j] * weight[k * OUT + j];
      dinp[i * IN + k] = g;
    }
}

// ---- fast kernels: one slice each ------------------------------------------------------

// Columns per forward block: the block's accumulators for a few rows stay in registers and
// its weight panel (IN x kForwardBlock) stays in L2 while every row streams past it.
template <typename T>
inline constexpr index_t kForwardBlock = 64 / sizeof(T) * 4;  // 64 floats, 32 doubles
inline constexpr index_t kForwardRows = 4;

// out[:, j0:j0+width] for all B rows. Zero inputs are skipped: MNIST pixels are mostly zero
// and 0*w adds nothing, so skipping is exact for finite weights. The bias comes last, as in
// the sparse path and gemm's epilogue: every path gives the same bits.
template <typename T>
void dense_forward_block(T* out, const T* inp, const T* weight, const T* bias, index_t B,
                         index_t IN, index_t OUT, index_t j0, index_t width, Activation act) {
  constexpr index_t JB = kForwardBlock<T>;
  alignas(64) T acc[kForwardRows][JB];
  for (index_t i0 = 0; i0 < B; i0 += kForwardRows) {
    const index_t rows = std::min(kForwardRows, B - i0);
    for (index_t r = 0; r < rows; ++r)
      for (index_t j = 0; j < width; ++j) acc[r][j] = T(0);
    for (index_t k = 0; k < IN; ++k) {
      const T* w = weight + k * OUT + j0;
      for (index_t r = 0; r < rows; ++r) {
        const T x = inp[(i0 + r) * IN + k];
        if (x == T(0)) continue;
        T* a = acc[r];
#pragma omp simd
        for (index_t j = 0; j < width; ++j) a[j] += x * w[j];
      }
    }
    for (index_t r = 0; r < rows; ++r) {
      T* o = out + (i0 + r) * OUT + j0;
      for (index_t j = 0; j < width; ++j) o[j] = bias ? acc[r][j] + bias[j0 + j] : acc[r][j];
      activation_forward(o, width, act);
    }
  }
}

// Rows k in [k0, k1) of dweight = inp^T . dout + wd * weight.
template <typename T>
void dense_backward_weight_rows(T* dweight, const T* dout, const T* inp, const T* weight,
                                index_t B, index_t IN, index_t OUT, T weight_decay, index_t k0,
                                index_t k1) {
  for (index_t k = k0; k < k1; ++k) {
    T* dw = dweight + k * OUT;
    std::fill(dw, dw + OUT, T(0));
    for (index_t i = 0; i < B; ++i) {
      const T x = inp[i * IN + k];
      if (x == T(0)) continue;
      const T* g = dout + i * OUT;
#pragma omp simd
      for (index_t j = 0; j < OUT; ++j) dw[j] += x * g[j];
    }
    if (weight_decay != T(0)) {
      const T* w = weight + k * OUT;
#pragma omp simd
      for (index_t j = 0; j < OUT; ++j) dw[j] += weight_decay * w[j];
    }
  }
}

// Columns j in [j0, j1) of dbias = sum over rows of dout.
template <typename T>
void dense_backward_bias_columns(T* dbias, const T* dout, index_t B, index_t OUT, index_t j0,
                                 index_t j1) {
  for (index_t j = j0; j < j1; ++j) dbias[j] = T(0);
  for (index_t i = 0; i < B; ++i) {
    const T* g = dout + i * OUT;
#pragma omp simd
    for (index_t j = j0; j < j1; ++j) dbias[j] += g[j];
  }
}

// Columns k in [k0, k1) of dinp = dout . weight^T, multiplied on the way out by the previous
// layer's activation derivative (taken from its outputs prev_act) and by its dropout
// multipliers (null when there is no dropout).
template <typename T>
void dense_backward_input_columns(T* dinp, const T* dout, const T* weight, const T* prev_act,
                                  const T* dropout_scale, Activation prev_activation, index_t B,
                                  index_t IN, index_t OUT, index_t k0, index_t k1) {
  for (index_t i = 0; i < B; ++i) {
    const T* g = dout + i * OUT;
    for (index_t k = k0; k < k1; ++k) {
      const T* w = weight + k * OUT;
      T s = 0;
#pragma omp simd reduction(+ : s)
      for (index_t j = 0; j < OUT; ++j) s += g[j] * w[j];
      const index_t at = i * IN + k;
      if (dropout_scale) s *= dropout_scale[at];
      dinp[at] = s * activation_derivative(prev_activation, prev_act[at]);
    }
  }
}

}  // namespace mnistmlp::kernels
