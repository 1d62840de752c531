// Hidden-layer activations and their derivatives, written in terms of the activation's
// output a = f(z) so the backward pass needs no copy of z.
#pragma once

#include <cmath>

#include "mnistmlp/common.hpp"

namespace mnistmlp::kernels {

template <typename T>
inline T activate(Activation act, T z) {
  switch (act) {
    case Activation::relu: return z > T(0) ? z : T(0);
    case Activation::sigmoid: return T(1) / (T(1) + std::exp(-z));
    case Activation::tanh: return std::tanh(z);
    default: return z;  // linear; softmax is applied by the loss kernels, per row
  }
}

// f'(z) expressed through a = f(z).
template <typename T>
inline T activation_derivative(Activation act, T a) {
  switch (act) {
    case Activation::relu: return a > T(0) ? T(1) : T(0);
    case Activation::sigmoid: return a * (T(1) - a);
    case Activation::tanh: return T(1) - a * a;
    default: return T(1);
  }
}

// x[0..n) = f(x[0..n)), in place.
template <typename T>
inline void activation_forward(T* x, index_t n, Activation act) {
  switch (act) {
    case Activation::relu:
#pragma omp simd
      for (index_t i = 0; i < n; ++i) x[i] = x[i] > T(0) ? x[i] : T(0);
      break;
    case Activation::sigmoid:
    case Activation::tanh:
      for (index_t i = 0; i < n; ++i) x[i] = activate(act, x[i]);
      break;
    default: break;
  }
}

// dz[0..n) = da[0..n) * f'(z), with f'(z) taken from the activations a = f(z).
template <typename T>
inline void activation_backward(T* dz, const T* da, const T* a, index_t n, Activation act) {
  switch (act) {
    case Activation::relu:
#pragma omp simd
      for (index_t i = 0; i < n; ++i) dz[i] = a[i] > T(0) ? da[i] : T(0);
      break;
    case Activation::sigmoid:
#pragma omp simd
      for (index_t i = 0; i < n; ++i) dz[i] = da[i] * (a[i] * (T(1) - a[i]));
      break;
    case Activation::tanh:
#pragma omp simd
      for (index_t i = 0; i < n; ++i) dz[i] = da[i] * (T(1) - a[i] * a[i]);
      break;
    default:
      for (index_t i = 0; i < n; ++i) dz[i] = da[i];
      break;
  }
}

}  // namespace mnistmlp::kernels
