// Optimizer updates over a flat slice [begin, end) of the parameter arena. The gradient g is
// scaled by `clip` first (1 when not clipping): TensorFlow's clip_by_global_norm factor.
//   SGD            : w -= g * lr
//   SGD + momentum : v = v * mu + g;  w -= v * lr             (tf.train.MomentumOptimizer)
//   ... + Nesterov : v = v * mu + g;  w -= g * lr + v * mu * lr
//   Adam (TF 1)    : m += (g - m) * (1 - b1);  v += (g * g - v) * (1 - b2);
//                    w -= (m * alpha) / (sqrt(v) + eps)
//                    with alpha = lr * sqrt(1 - b2^t) / (1 - b1^t): epsilon sits outside the
//                    bias correction, as in TensorFlow 1's AdamOptimizer that TFLearn used.
//   RMSProp (TF 1) : ms += (g * g - ms) * (1 - rho);  mom = mom * mu + (g * lr) / sqrt(ms + eps);
//                    w -= mom          (ms starts at 1, as TensorFlow's RMSPropOptimizer's)
//   AdaGrad (TF 1) : acc += g * g;  w -= (g * lr) * (1 / sqrt(acc))   (acc starts at its
//                    initial_accumulator_value; no epsilon)
// float32 (TFLearn's precision): TensorFlow 1's float32 kernels (training_ops.cc), every
// operation rounded to float32 in the order written, none fused into a multiply-add (its CPU
// builds fuse none): the same bits at every SIMD level and as mnistmlp.reference's float32
// steps. The rates lr and alpha come from backend/cpu/optimizer.cpp, also in TensorFlow's
// float32 arithmetic. float64: the same formulas in their textbook form,
// m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2, w -= lr (g + mu v) for Nesterov, with the
// multiply-adds the compiler forms.
#pragma once

#include <cmath>

#include "mnistmlp/common.hpp"
#include "mnistmlp/kernels/simd_kernels.hpp"

namespace mnistmlp::kernels {

MNISTMLP_ROUND_EACH_OPERATION inline void sgd_update(float* w, const float* g, index_t begin,
                                                     index_t end, float lr, float clip) {
  if (const SimdKernels* simd = simd_kernels()) return simd->sgd_update(w, g, begin, end, lr, clip);
#pragma omp simd
  for (index_t i = begin; i < end; ++i) {
    const float step = (g[i] * clip) * lr;
    w[i] -= step;
  }
}

inline void sgd_update(double* w, const double* g, index_t begin, index_t end, double lr,
                       double clip) {
#pragma omp simd
  for (index_t i = begin; i < end; ++i) w[i] -= lr * (g[i] * clip);
}

MNISTMLP_ROUND_EACH_OPERATION inline void momentum_update(float* w, float* velocity,
                                                          const float* g, index_t begin,
                                                          index_t end, float lr, float mu,
                                                          bool nesterov, float clip) {
  if (nesterov) {
#pragma omp simd
    for (index_t i = begin; i < end; ++i) {
      const float gi = g[i] * clip;
      const float kept = velocity[i] * mu;
      velocity[i] = kept + gi;
      const float now = gi * lr;
      const float ahead = (velocity[i] * mu) * lr;
      w[i] -= now + ahead;
    }
  } else {
#pragma omp simd
    for (index_t i = begin; i < end; ++i) {
      const float gi = g[i] * clip;
      const float kept = velocity[i] * mu;
      velocity[i] = kept + gi;
      const float step = velocity[i] * lr;
      w[i] -= step;
    }
  }
}

inline void momentum_update(double* w, double* velocity, const double* g, index_t begin,
                            index_t end, double lr, double mu, bool nesterov, double clip) {
  if (nesterov) {
#pragma omp simd
    for (index_t i = begin; i < end; ++i) {
      const double gi = g[i] * clip;
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

// alpha: lr * sqrt(1 - b2^t) / (1 - b1^t) for update t.
MNISTMLP_ROUND_EACH_OPERATION inline void adam_update(float* w, float* m, float* v,
                                                      const float* g, index_t begin,
                                                      index_t end, float alpha, float beta1,
                                                      float beta2, float epsilon, float clip) {
  index_t i = begin;
#if defined(MNISTMLP_SIMD_DISPATCH)
  if (simd_level() >= Simd::avx2)
    i = avx2::adam_update(w, m, v, g, begin, end, alpha, beta1, beta2, epsilon, clip);
#endif
  const float one_b1 = 1.0f - beta1, one_b2 = 1.0f - beta2;
#pragma omp simd
  for (index_t j = i; j < end; ++j) {
    const float gj = g[j] * clip;
    const float dm = (gj - m[j]) * one_b1;
    m[j] += dm;
    const float g2 = gj * gj;
    const float dv = (g2 - v[j]) * one_b2;
    v[j] += dv;
    const float step = (m[j] * alpha) / (std::sqrt(v[j]) + epsilon);
    w[j] -= step;
  }
}

// lr_t: lr * sqrt(1 - b2^t) / (1 - b1^t) for update t.
inline void adam_update(double* w, double* m, double* v, const double* g, index_t begin,
                        index_t end, double lr_t, double beta1, double beta2, double epsilon,
                        double clip) {
#pragma omp simd
  for (index_t j = begin; j < end; ++j) {
    const double gj = g[j] * clip;
    m[j] = beta1 * m[j] + (1.0 - beta1) * gj;
    v[j] = beta2 * v[j] + (1.0 - beta2) * gj * gj;
    w[j] -= lr_t * m[j] / (std::sqrt(v[j]) + epsilon);
  }
}

// rho: RMSProp's decay; mu: its momentum.
MNISTMLP_ROUND_EACH_OPERATION inline void rmsprop_update(float* w, float* ms, float* mom,
                                                         const float* g, index_t begin,
                                                         index_t end, float lr, float rho,
                                                         float mu, float epsilon, float clip) {
  const float one_rho = 1.0f - rho;
#pragma omp simd
  for (index_t i = begin; i < end; ++i) {
    const float gi = g[i] * clip;
    const float g2 = gi * gi;
    const float dms = (g2 - ms[i]) * one_rho;
    ms[i] += dms;
    const float kept = mom[i] * mu;
    const float step = (gi * lr) / std::sqrt(ms[i] + epsilon);
    mom[i] = kept + step;
    w[i] -= mom[i];
  }
}

inline void rmsprop_update(double* w, double* ms, double* mom, const double* g, index_t begin,
                           index_t end, double lr, double rho, double mu, double epsilon,
                           double clip) {
#pragma omp simd
  for (index_t i = begin; i < end; ++i) {
    const double gi = g[i] * clip;
    ms[i] = rho * ms[i] + (1.0 - rho) * gi * gi;
    mom[i] = mu * mom[i] + lr * gi / std::sqrt(ms[i] + epsilon);
    w[i] -= mom[i];
  }
}

MNISTMLP_ROUND_EACH_OPERATION inline void adagrad_update(float* w, float* accumulator,
                                                         const float* g, index_t begin,
                                                         index_t end, float lr, float clip) {
#pragma omp simd
  for (index_t i = begin; i < end; ++i) {
    const float gi = g[i] * clip;
    const float g2 = gi * gi;
    accumulator[i] += g2;
    const float scale = 1.0f / std::sqrt(accumulator[i]);
    const float step = (gi * lr) * scale;
    w[i] -= step;
  }
}

inline void adagrad_update(double* w, double* accumulator, const double* g, index_t begin,
                           index_t end, double lr, double clip) {
#pragma omp simd
  for (index_t i = begin; i < end; ++i) {
    const double gi = g[i] * clip;
    accumulator[i] += gi * gi;
    w[i] -= lr * gi / std::sqrt(accumulator[i]);
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
