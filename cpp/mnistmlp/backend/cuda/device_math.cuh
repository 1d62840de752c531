// Device twins of the CPU engine's per-element formulas. The CPU headers are host-only, so
// each function here repeats the one named above it operation for operation, in the same
// order and precision; tests/test_cuda.py checks every GPU kernel against its CPU twin and
// dropout masks bit for bit.
#pragma once

#include <cstdint>

#include "mnistmlp/common.hpp"
#include "mnistmlp/rng.hpp"

namespace mnistmlp::cuda {

__device__ inline float exp_(float x) { return expf(x); }
__device__ inline double exp_(double x) { return exp(x); }
__device__ inline float log_(float x) { return logf(x); }
__device__ inline double log_(double x) { return log(x); }
__device__ inline float tanh_(float x) { return tanhf(x); }
__device__ inline double tanh_(double x) { return tanh(x); }
__device__ inline float sqrt_(float x) { return sqrtf(x); }
__device__ inline double sqrt_(double x) { return sqrt(x); }

// kernels/activation.hpp: activate
template <typename T>
__device__ inline T activate(Activation act, T z) {
  switch (act) {
    case Activation::relu: return z > T(0) ? z : T(0);
    case Activation::sigmoid: return T(1) / (T(1) + exp_(-z));
    case Activation::tanh: return tanh_(z);
    default: return z;
  }
}

// kernels/activation.hpp: activation_derivative (f'(z) through a = f(z))
template <typename T>
__device__ inline T activation_derivative(Activation act, T a) {
  switch (act) {
    case Activation::relu: return a > T(0) ? T(1) : T(0);
    case Activation::sigmoid: return a * (T(1) - a);
    case Activation::tanh: return T(1) - a * a;
    default: return T(1);
  }
}

// rng.hpp: mix64
__device__ inline std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// rng.hpp: random_bits
__device__ inline std::uint64_t random_bits(std::uint64_t seed, RngStream stream,
                                            std::uint64_t key, std::uint64_t counter) {
  std::uint64_t h = mix64(seed + 0x9e3779b97f4a7c15ULL * static_cast<std::uint64_t>(stream));
  h = mix64(h ^ (key + 0x632be59bd9b4e019ULL));
  return mix64(h ^ (counter * 0x9e3779b97f4a7c15ULL + 0x2545f4914f6cdd1dULL));
}

// rng.hpp: to_unit
__device__ inline double to_unit(std::uint64_t bits) {
  return static_cast<double>(bits >> 11) * (1.0 / 9007199254740992.0);
}

// backend/cpu/data.cpp: dropout_forward's multiplier for element i of layer `layer`'s
// outputs at optimizer step `step`: 0 (dropped) or 1 / (1 - rate) (kept).
template <typename T>
__device__ inline T dropout_multiplier(double rate, std::uint64_t seed, std::int64_t step,
                                       index_t layer, index_t i) {
  const std::uint64_t key =
      static_cast<std::uint64_t>(step) * 1024u + static_cast<std::uint64_t>(layer);
  const bool keep =
      cuda::to_unit(cuda::random_bits(seed, RngStream::dropout, key, static_cast<std::uint64_t>(i))) >=
      rate;
  return keep ? T(1.0 / (1.0 - rate)) : T(0);
}

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
