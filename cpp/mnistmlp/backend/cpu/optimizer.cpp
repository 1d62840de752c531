#include <algorithm>
#include <cmath>

#include "mnistmlp/backend/cpu/ops.hpp"
#include "mnistmlp/kernels/optimizer.hpp"

namespace mnistmlp::cpu {

namespace {
constexpr index_t kChunk = 4096;
}

index_t norm_chunks(index_t n) { return (n + kChunk - 1) / kChunk; }

double sgd_learning_rate(const OptimizerConfig& config, std::int64_t step) {
  double exponent = static_cast<double>(step) / config.decay_steps;
  if (config.staircase) exponent = std::floor(exponent);
  return config.learning_rate * std::pow(config.decay_rate, exponent);
}

double adam_learning_rate(const OptimizerConfig& config, std::int64_t step) {
  const double t = static_cast<double>(step + 1);
  return config.learning_rate * std::sqrt(1.0 - std::pow(config.beta2, t)) /
         (1.0 - std::pow(config.beta1, t));
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
    const T lr_t = static_cast<T>(adam_learning_rate(config, step));
#pragma omp for schedule(static)
    for (index_t c = 0; c < chunks; ++c)
      kernels::adam_update(params, state0, state1, grads, c * kChunk, std::min(n, (c + 1) * kChunk),
                           lr_t, T(config.beta1), T(config.beta2), T(config.epsilon), clip);
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
