// Optimizer updates over a flat slice [begin, end) of the parameter arena. The gradient g is
// scaled by `clip` first (1 when not clipping): TensorFlow's clip_by_global_norm factor.
//   SGD            : w -= lr_t * g
//   SGD + momentum : v = mu * v + g;  w -= lr_t * v          (tf.train.MomentumOptimizer)
//   ... + Nesterov : v = mu * v + g;  w -= lr_t * (g + mu * v)
//   Adam (TF 1)    : m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  w -= lr_t * m / (sqrt(v) + eps)
//                    with lr_t = lr * sqrt(1 - b2^t) / (1 - b1^t): epsilon sits outside the bias
//                    correction, as in TensorFlow 1's AdamOptimizer that TFLearn used.
#pragma once

#include <cmath>
#include <type_traits>

#include "mnistmlp/common.hpp"
#include "mnistmlp/kernels/simd.hpp"

namespace mnistmlp::kernels {

template <typename T>
void sgd_update(T* w, const T* g, index_t begin, index_t end, T lr, T clip) {
#pragma omp simd
  for (index_t i = begin; i < end; ++i) w[i] -= lr * (g[i] * clip);
}

template <typename T>
void momentum_update(T* w, T* velocity, const T* g, index_t begin, index_t end, T lr, T mu,
                     bool nesterov, T clip) {
  if (nesterov) {
#pragma omp simd
    for (index_t i = begin; i < end; ++i) {
      const T gi = g[i] * clip;
      velocity[i] = mu * velocity[i] + gi;
      w[i] -= lr * (gi + mu * velocity[i]);
    }
  } else {
#pragma omp simd
    for (index_t i = begin; i < end; ++i) {
      velocity[i] = mu * velocity[i] + g[i] * clip;
      w[i] -= lr * velocity[i];
    }
  }
}

template <typename T>
void adam_update(T* w, T* m, T* v, const T* g, index_t begin, index_t end, T lr_t, T beta1,
                 T beta2, T epsilon, T clip) {
  index_t i = begin;
#if defined(MNISTMLP_SIMD_DISPATCH)
  if constexpr (std::is_same_v<T, float>)
    if (simd_level() >= Simd::avx2)
      i = avx2::adam_update(w, m, v, g, begin, end, lr_t, beta1, beta2, epsilon, clip);
#endif
#pragma omp simd
  for (index_t j = i; j < end; ++j) {
    const T gj = g[j] * clip;
    m[j] = beta1 * m[j] + (T(1) - beta1) * gj;
    v[j] = beta2 * v[j] + (T(1) - beta2) * gj * gj;
    w[j] -= lr_t * m[j] / (std::sqrt(v[j]) + epsilon);
  }
}

// Sum of squares of x[begin, end), accumulated in double.
template <typename T>
double sum_of_squares(const T* x, index_t begin, index_t end) {
  double s = 0;
#pragma omp simd reduction(+ : s)
  for (index_t i = begin; i < end; ++i) s += double(x[i]) * double(x[i]);
  return s;
}

}  // namespace mnistmlp::kernels
