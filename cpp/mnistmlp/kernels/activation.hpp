// Hidden-layer activations and their derivatives, written in terms of the activation's
// output a = f(z) so the backward pass needs no copy of z.
#pragma once

#include <cmath>

#include "mnistmlp/common.hpp"

namespace mnistmlp::kernels {

// leaky_relu's slope for negative inputs: TFLearn's default (mnistmlp/_spec.py says so too).
template <typename T>
inline constexpr T kLeakyReluAlpha = T(0.1);

// Shared by the CPU and the CUDA engine (MNISTMLP_HOST_DEVICE): one definition of each
// activation for both. The formulas are TensorFlow's: leaky_relu as TFLearn writes it,
// relu(z) - alpha * relu(-z); elu as tf.nn.elu, exp(z) - 1 below zero.
template <typename T>
MNISTMLP_HOST_DEVICE inline T activate(Activation act, T z) {
  switch (act) {
    case Activation::relu: return z > T(0) ? z : T(0);
    case Activation::sigmoid: return T(1) / (T(1) + std::exp(-z));
    case Activation::tanh: return std::tanh(z);
    case Activation::leaky_relu: return z > T(0) ? z : kLeakyReluAlpha<T> * z;
    case Activation::elu: return z < T(0) ? std::exp(z) - T(1) : z;
    default: return z;  // linear; softmax is applied by the loss kernels, per row
  }
}

// f'(z) expressed through a = f(z), as TensorFlow's gradients take it (relu's and leaky_relu's
// is 0 at z = 0).
template <typename T>
MNISTMLP_HOST_DEVICE inline T activation_derivative(Activation act, T a) {
  switch (act) {
    case Activation::relu: return a > T(0) ? T(1) : T(0);
    case Activation::sigmoid: return a * (T(1) - a);
    case Activation::tanh: return T(1) - a * a;
    case Activation::leaky_relu: return a > T(0) ? T(1) : a < T(0) ? kLeakyReluAlpha<T> : T(0);
    case Activation::elu: return a < T(0) ? a + T(1) : T(1);
    default: return T(1);
  }
}

#ifndef __CUDACC__
// The CPU's loop over an array: CUDA sources, compiled without OpenMP, take only the
// per-element functions above (their host compiler would warn about the simd pragmas).

// x[0..n) = f(x[0..n)), in place.
template <typename T>
inline void activation_forward(T* x, index_t n, Activation act) {
  switch (act) {
    case Activation::relu:
#pragma omp simd
      for (index_t i = 0; i < n; ++i) x[i] = x[i] > T(0) ? x[i] : T(0);
      break;
    case Activation::leaky_relu:
#pragma omp simd
      for (index_t i = 0; i < n; ++i) x[i] = x[i] > T(0) ? x[i] : kLeakyReluAlpha<T> * x[i];
      break;
    case Activation::sigmoid:
    case Activation::tanh:
    case Activation::elu:
      for (index_t i = 0; i < n; ++i) x[i] = activate(act, x[i]);
      break;
    default: break;
  }
}
#endif  // __CUDACC__

}  // namespace mnistmlp::kernels
