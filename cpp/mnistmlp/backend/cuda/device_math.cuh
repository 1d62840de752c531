// Device twins of the CPU engine's per-row loss formulas, each repeating the one named above it
// operation for operation, in the same order and precision; tests/test_cuda.py checks every GPU
// kernel against its CPU twin. The activations and the random numbers (dropout masks) are not
// twins but the CPU's own definitions, compiled for both (MNISTMLP_HOST_DEVICE).
#pragma once

#include <cstdint>

#include "mnistmlp/common.hpp"
#include "mnistmlp/kernels/activation.hpp"
#include "mnistmlp/rng.hpp"

namespace mnistmlp::cuda {

__device__ inline float exp_(float x) { return expf(x); }
__device__ inline double exp_(double x) { return exp(x); }
__device__ inline float log_(float x) { return logf(x); }
__device__ inline double log_(double x) { return log(x); }

// One definition for both engines (kernels/activation.hpp, rng.hpp).
using kernels::activate;
using kernels::activation_derivative;
using mnistmlp::dropout_multiplier;

// kernels/loss.hpp: argmax_row
template <typename T>
__device__ inline index_t argmax_row(const T* x, index_t K) {
  index_t best = 0;
  for (index_t k = 1; k < K; ++k)
    if (x[k] > x[best]) best = k;
  return best;
}

// kernels/loss.hpp: softmax_row
template <typename T>
__device__ inline T softmax_row(T* a, const T* z, index_t K) {
  T m = z[0];
  for (index_t k = 1; k < K; ++k) m = z[k] > m ? z[k] : m;
  T s = 0;
  for (index_t k = 0; k < K; ++k) {
    a[k] = exp_(z[k] - m);
    s += a[k];
  }
  const T inv = T(1) / s;
  for (index_t k = 0; k < K; ++k) a[k] *= inv;
  return m + log_(s);
}

// One row's targets: a class label, or (label < 0) a dense row y.
template <typename T>
struct RowTarget {
  std::int32_t label = -1;
  const T* y = nullptr;

  __device__ T at(index_t k) const { return y ? y[k] : T(label == k); }
  __device__ index_t target_class(index_t K) const { return y ? argmax_row(y, K) : label; }
};

// kernels/loss.hpp: softmax_cross_entropy_rows, for one row; g (the row of dz) may be null.
template <typename T>
__device__ inline T softmax_cross_entropy_row(T* g, T* a, bool& correct, const T* z,
                                              const RowTarget<T>& t, index_t K, T scale) {
  const T log_sum = softmax_row(a, z, K);
  T loss = 0;
  if (!t.y) {
    loss = log_sum - z[t.label];
    if (g) {
      for (index_t k = 0; k < K; ++k) g[k] = a[k] * scale;
      g[t.label] -= scale;
    }
  } else {
    T y_sum = 0;
    for (index_t k = 0; k < K; ++k) {
      if (t.y[k] != T(0)) loss += t.y[k] * (log_sum - z[k]);
      y_sum += t.y[k];
    }
    if (g)
      for (index_t k = 0; k < K; ++k) g[k] = (a[k] * y_sum - t.y[k]) * scale;
  }
  correct = argmax_row(z, K) == t.target_class(K);
  return loss;
}

// kernels/loss.hpp: mean_square_rows, for one row; g may be null.
template <typename T>
__device__ inline T mean_square_row(T* g, T* a, bool& correct, const T* z, const RowTarget<T>& t,
                                    Activation output, index_t K, T scale) {
  if (output == Activation::softmax) {
    softmax_row(a, z, K);
  } else {
    for (index_t k = 0; k < K; ++k) a[k] = activate(output, z[k]);
  }
  T loss = 0;
  for (index_t k = 0; k < K; ++k) {
    const T diff = a[k] - t.at(k);
    loss += diff * diff;
    if (g) g[k] = T(2) * diff * scale;
  }
  if (g) {
    if (output == Activation::softmax) {
      T dot = 0;
      for (index_t k = 0; k < K; ++k) dot += g[k] * a[k];
      for (index_t k = 0; k < K; ++k) g[k] = a[k] * (g[k] - dot);
    } else {
      for (index_t k = 0; k < K; ++k) g[k] *= activation_derivative(output, a[k]);
    }
  }
  correct = argmax_row(a, K) == t.target_class(K);
  return loss;
}

}  // namespace mnistmlp::cuda
