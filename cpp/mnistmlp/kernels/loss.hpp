// Output layer + loss, fused: from the logits z (B,K) to the loss of each row, the output
// activations a (B,K) and dz = d(mean loss)/dz (B,K), one row at a time.
//   categorical_crossentropy: loss_i = -sum_k y_ik log softmax(z_i)_k, through log-sum-exp so
//     logits of +-1e4 stay finite; dz_i = (softmax(z_i) * sum_k y_ik - y_i) * scale.
//   mean_square (TFLearn's): loss_i = sum_k (a_ik - y_ik)^2, a = f(z) for any output
//     activation f (softmax included); dz = 2 (a - y) f'(z) * scale.
// scale is 1/B for cross-entropy and 1/(B*K) for mean_square, so row losses sum to the
// batch loss once multiplied by it. Targets are either class labels (one per row) or dense
// rows (one-hot or soft); exactly one of labels / targets is non-null.
#pragma once

#include <cmath>

#include "mnistmlp/common.hpp"
#include "mnistmlp/kernels/activation.hpp"

namespace mnistmlp::kernels {

template <typename T>
inline index_t argmax_row(const T* x, index_t K) {
  index_t best = 0;
  for (index_t k = 1; k < K; ++k)
    if (x[k] > x[best]) best = k;
  return best;
}

// Label of row i: its class index, or the argmax of its dense target row.
template <typename T>
inline index_t target_class(const std::int32_t* labels, const T* targets, index_t i, index_t K) {
  return labels ? labels[i] : argmax_row(targets + i * K, K);
}

// a_i = softmax(z_i); returns log sum_k exp(z_ik).
template <typename T>
inline T softmax_row(T* a, const T* z, index_t K) {
  T m = z[0];
  for (index_t k = 1; k < K; ++k) m = z[k] > m ? z[k] : m;
  T s = 0;
  for (index_t k = 0; k < K; ++k) {
    a[k] = std::exp(z[k] - m);
    s += a[k];
  }
  const T inv = T(1) / s;
  for (index_t k = 0; k < K; ++k) a[k] *= inv;
  return m + std::log(s);
}

// Rows [i0, i1): row_loss (unscaled), correct (1 when argmax a == target class), a, and dz
// (when dz is not null: evaluation needs no gradient).
template <typename T>
void softmax_cross_entropy_rows(T* dz, T* a, T* row_loss, std::uint8_t* correct, const T* z,
                                const std::int32_t* labels, const T* targets, index_t K, T scale,
                                index_t i0, index_t i1) {
  for (index_t i = i0; i < i1; ++i) {
    const T* zi = z + i * K;
    T* ai = a + i * K;
    const T log_sum = softmax_row(ai, zi, K);
    T loss = 0;
    if (labels) {
      loss = log_sum - zi[labels[i]];
      if (dz) {
        T* g = dz + i * K;
        for (index_t k = 0; k < K; ++k) g[k] = ai[k] * scale;
        g[labels[i]] -= scale;
      }
    } else {
      const T* yi = targets + i * K;
      T y_sum = 0;
      for (index_t k = 0; k < K; ++k) {
        if (yi[k] != T(0)) loss += yi[k] * (log_sum - zi[k]);
        y_sum += yi[k];
      }
      if (dz) {
        T* g = dz + i * K;
        for (index_t k = 0; k < K; ++k) g[k] = (ai[k] * y_sum - yi[k]) * scale;
      }
    }
    row_loss[i] = loss;
    correct[i] = argmax_row(zi, K) == target_class(labels, targets, i, K);
  }
}

template <typename T>
void mean_square_rows(T* dz, T* a, T* row_loss, std::uint8_t* correct, const T* z,
                      const std::int32_t* labels, const T* targets, Activation output, index_t K,
                      T scale, index_t i0, index_t i1) {
  for (index_t i = i0; i < i1; ++i) {
    const T* zi = z + i * K;
    T* ai = a + i * K;
    if (output == Activation::softmax) {
      softmax_row(ai, zi, K);
    } else {
      for (index_t k = 0; k < K; ++k) ai[k] = activate(output, zi[k]);
    }
    T loss = 0;
    for (index_t k = 0; k < K; ++k) {
      const T y = labels ? T(labels[i] == k) : targets[i * K + k];
      const T diff = ai[k] - y;
      loss += diff * diff;
      if (dz) dz[i * K + k] = T(2) * diff * scale;  // d loss / d a, turned into d/dz below
    }
    if (dz) {
      T* g = dz + i * K;
      if (output == Activation::softmax) {
        T dot = 0;
        for (index_t k = 0; k < K; ++k) dot += g[k] * ai[k];
        for (index_t k = 0; k < K; ++k) g[k] = ai[k] * (g[k] - dot);
      } else {
        for (index_t k = 0; k < K; ++k) g[k] *= activation_derivative(output, ai[k]);
      }
    }
    row_loss[i] = loss;
    correct[i] = argmax_row(ai, K) == target_class(labels, targets, i, K);
  }
}

}  // namespace mnistmlp::kernels
