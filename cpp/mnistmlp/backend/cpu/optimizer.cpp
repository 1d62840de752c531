#include <algorithm>
#include <cmath>

#include "mnistmlp/backend/cpu/cpu_ops.hpp"
#include "mnistmlp/kernels/optimizer.hpp"

namespace mnistmlp::cpu {

namespace {
constexpr index_t kChunk = 4096;
}

index_t norm_chunks(index_t n) { return tiles(n, kChunk); }

LearningRate sgd_learning_rate(const OptimizerConfig& config, std::int64_t step) {
  LearningRate rate;
  double exponent = static_cast<double>(step) / config.decay_steps;
  if (config.staircase) exponent = std::floor(exponent);
  rate.float64 = config.learning_rate * std::pow(config.decay_rate, exponent);
  float p = static_cast<float>(step) / static_cast<float>(config.decay_steps);
  if (config.staircase) p = std::floor(p);
  rate.float32 = static_cast<float>(config.learning_rate) *
                 std::pow(static_cast<float>(config.decay_rate), p);  // powf, as TensorFlow's Pow
  return rate;
}

LearningRate adam_learning_rate(const OptimizerConfig& config, std::int64_t step) {
  LearningRate rate;
  const double t = static_cast<double>(step + 1);
  rate.float64 = config.learning_rate * std::sqrt(1.0 - std::pow(config.beta2, t)) /
                 (1.0 - std::pow(config.beta1, t));
  const float correction2 = float32_one_minus_power(static_cast<float>(config.beta2), step + 1);
  const float correction1 = float32_one_minus_power(static_cast<float>(config.beta1), step + 1);
  rate.float32 = static_cast<float>(config.learning_rate) * std::sqrt(correction2) / correction1;
  return rate;
}

float float32_one_minus_power(float beta, std::int64_t t) {
  // The product only falls, so once 1 - product rounds to 1 it stays 1: it stops there (at
  // t = 165 for 0.9, 17,321 for 0.999), which bounds the work of computing it afresh. And
  // each thread keeps the last products it computed (Adam's two betas), from which the next
  // step's take one more multiplication; another beta, or an earlier t, starts over. The
  // result depends on (beta, t) alone.
  struct Product {
    float beta = 0;
    std::int64_t t = 0;  // factors multiplied in, or any later t once 1 - value rounds to 1
    float value = 1;
  };
  thread_local Product products[2];
  Product* p = products[0].beta == beta   ? &products[0]
               : products[1].beta == beta ? &products[1]
                                          : nullptr;
  if (!p) {  // the product used less recently gives way
    products[1] = products[0];
    p = &products[0];
    *p = Product{beta, 0, 1.0f};
  }
  if (t < p->t) *p = Product{beta, 0, 1.0f};
  for (; p->t < t && 1.0f - p->value != 1.0f; ++p->t) p->value *= beta;
  p->t = std::max(p->t, t);
  return 1.0f - p->value;
}

template <typename T>
double sum_of_squares(const T* x, index_t n, double* partials) {
  const index_t chunks = norm_chunks(n);
#pragma omp for schedule(static)
  for (index_t c = 0; c < chunks; ++c)
    partials[c] = kernels::sum_of_squares(x, c * kChunk, std::min(n, (c + 1) * kChunk));
  double total = 0;  // every thread adds the same partials in the same order
  for (index_t c = 0; c < chunks; ++c) total += partials[c];
#pragma omp barrier
  return total;
}

template <typename T>
void optimizer_update(T* params, T* grads, T* state0, T* state1, index_t n,
                      const OptimizerConfig& config, std::int64_t step, T clip) {
  const index_t chunks = norm_chunks(n);
  if (config.kind == OptimizerKind::adam) {
    const T rate = static_cast<T>(adam_learning_rate(config, step));
#pragma omp for schedule(static)
    for (index_t c = 0; c < chunks; ++c)
      kernels::adam_update(params, state0, state1, grads, c * kChunk, std::min(n, (c + 1) * kChunk),
                           rate, T(config.beta1), T(config.beta2), T(config.epsilon), clip);
    return;
  }
  if (config.kind == OptimizerKind::rmsprop) {
    const T lr = static_cast<T>(config.learning_rate);
#pragma omp for schedule(static)
    for (index_t c = 0; c < chunks; ++c)
      kernels::rmsprop_update(params, state0, state1, grads, c * kChunk, std::min(n, (c + 1) * kChunk),
                              lr, T(config.decay), T(config.momentum), T(config.epsilon), clip);
    return;
  }
  if (config.kind == OptimizerKind::adagrad) {
    const T lr = static_cast<T>(config.learning_rate);
#pragma omp for schedule(static)
    for (index_t c = 0; c < chunks; ++c)
      kernels::adagrad_update(params, state0, grads, c * kChunk, std::min(n, (c + 1) * kChunk), lr,
                              clip);
    return;
  }
  const T lr_t = static_cast<T>(sgd_learning_rate(config, step));
#pragma omp for schedule(static)
  for (index_t c = 0; c < chunks; ++c) {
    const index_t begin = c * kChunk, end = std::min(n, (c + 1) * kChunk);
    if (config.momentum != 0.0)
      kernels::momentum_update(params, state0, grads, begin, end, lr_t, T(config.momentum),
                               config.nesterov, clip);
    else
      kernels::sgd_update(params, grads, begin, end, lr_t, clip);
  }
}

#define MNISTMLP_INSTANTIATE(T)                                                  \
  template double sum_of_squares<T>(const T*, index_t, double*);                \
  template void optimizer_update<T>(T*, T*, T*, T*, index_t, const OptimizerConfig&, \
                                    std::int64_t, T);
MNISTMLP_INSTANTIATE(float)
MNISTMLP_INSTANTIATE(double)
#undef MNISTMLP_INSTANTIATE

}  // namespace mnistmlp::cpu
