// Sums of squares (gradient clipping, L2 penalty) and the optimizer update as one pass over
// the arena (kernels/optimizer.hpp, backend/cpu/optimizer.cpp). Each ends with a tail run by
// the last of its blocks to finish, which reads every block's result in a fixed order: a
// ticket instead of another launch.
#include <algorithm>
#include <type_traits>

#include "mnistmlp/backend/cuda/cuda.hpp"
#include "mnistmlp/backend/cuda/device_math.cuh"
#include "mnistmlp/backend/cuda/cuda_ops.cuh"

namespace mnistmlp::cuda {

namespace {

constexpr int kThreads = 256;

// Fixed-order tree sum of one value per thread; thread 0 gets the total.
__device__ double block_sum(double value, double* shared) {
  shared[threadIdx.x] = value;
  __syncthreads();
  for (int stride = kThreads / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) shared[threadIdx.x] += shared[threadIdx.x + stride];
    __syncthreads();
  }
  const double total = shared[0];
  __syncthreads();
  return total;
}

// True in the one block that finishes last; its reads of the other blocks' results then see
// them. Every thread of the block gets the answer.
__device__ bool last_block(int* ticket) {
  __shared__ bool last;
  __syncthreads();
  if (threadIdx.x == 0) {
    __threadfence();
    last = atomicAdd(ticket, 1) == static_cast<int>(gridDim.x) - 1;
  }
  __syncthreads();
  return last;
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    squares_kernel(const SquareSegment<T>* segments, int count, double* partials, int* ticket,
                   double clip_norm, StepScalars<T>* scalars) {
  __shared__ double shared[kThreads];
  await_previous_kernel();
  const index_t chunk = blockIdx.x;
  int s = 0;
  while (s + 1 < count && segments[s + 1].first_chunk <= chunk) ++s;
  const SquareSegment<T> segment = segments[s];
  const index_t begin = (chunk - segment.first_chunk) * kSquareChunk;
  const index_t end = min(segment.n, begin + kSquareChunk);
  double sum = 0;
  for (index_t i = begin + threadIdx.x; i < end; i += kThreads) {
    const double v = segment.x[i];
    sum += v * v;
  }
  sum = block_sum(sum, shared);
  if (threadIdx.x == 0) partials[chunk] = sum;
  if (!last_block(ticket)) return;

  double norm2 = 0, penalty = 0;
  for (int k = 0; k < count; ++k) {
    const SquareSegment<T> seg = segments[k];
    double part = 0;
    const index_t chunks = square_chunks(seg.n);
    for (index_t c = threadIdx.x; c < chunks; c += kThreads) part += __ldcg(partials + seg.first_chunk + c);
    part = block_sum(part, shared);
    if (seg.group == 0)
      norm2 += part;
    else
      penalty += seg.weight * part;
  }
  if (threadIdx.x != 0) return;
  scalars->clip = clip_norm > 0 ? static_cast<T>(clip_norm / max(sqrt(norm2), clip_norm)) : T(1);
  scalars->penalty = penalty;
  *ticket = 0;
}

// kernels/optimizer.hpp's float32 steps, operation for operation: the _rn intrinsics round
// each operation to float32 and are never fused into a multiply-add (nvcc fuses a * b + c
// written plainly). The float64 steps keep the formulas as written there.
__device__ inline void sgd_step(float& w, float g, float lr) { w = __fsub_rn(w, __fmul_rn(g, lr)); }
__device__ inline void sgd_step(double& w, double g, double lr) { w -= lr * g; }

__device__ inline void momentum_step(float& w, float& velocity, float g, float lr, float mu,
                                     bool nesterov) {
  velocity = __fadd_rn(__fmul_rn(velocity, mu), g);
  const float step = nesterov ? __fadd_rn(__fmul_rn(g, lr), __fmul_rn(__fmul_rn(velocity, mu), lr))
                              : __fmul_rn(velocity, lr);
  w = __fsub_rn(w, step);
}
__device__ inline void momentum_step(double& w, double& velocity, double g, double lr, double mu,
                                     bool nesterov) {
  velocity = mu * velocity + g;
  w -= nesterov ? lr * (g + mu * velocity) : lr * velocity;
}

__device__ inline void adam_step(float& w, float& m, float& v, float g, float alpha, float beta1,
                                 float beta2, float epsilon) {
  m = __fadd_rn(m, __fmul_rn(__fsub_rn(g, m), __fsub_rn(1.0f, beta1)));
  v = __fadd_rn(v, __fmul_rn(__fsub_rn(__fmul_rn(g, g), v), __fsub_rn(1.0f, beta2)));
  w = __fsub_rn(w, __fdiv_rn(__fmul_rn(m, alpha), __fadd_rn(__fsqrt_rn(v), epsilon)));
}
__device__ inline void adam_step(double& w, double& m, double& v, double g, double lr_t,
                                 double beta1, double beta2, double epsilon) {
  m = beta1 * m + (1.0 - beta1) * g;
  v = beta2 * v + (1.0 - beta2) * g * g;
  w -= lr_t * m / (sqrt(v) + epsilon);
}

__device__ inline void rmsprop_step(float& w, float& ms, float& mom, float g, float lr, float rho,
                                    float mu, float epsilon) {
  ms = __fadd_rn(ms, __fmul_rn(__fsub_rn(__fmul_rn(g, g), ms), __fsub_rn(1.0f, rho)));
  mom = __fadd_rn(__fmul_rn(mom, mu), __fdiv_rn(__fmul_rn(g, lr), __fsqrt_rn(__fadd_rn(ms, epsilon))));
  w = __fsub_rn(w, mom);
}
__device__ inline void rmsprop_step(double& w, double& ms, double& mom, double g, double lr,
                                    double rho, double mu, double epsilon) {
  ms = rho * ms + (1.0 - rho) * g * g;
  mom = mu * mom + lr * g / sqrt(ms + epsilon);
  w -= mom;
}

__device__ inline void adagrad_step(float& w, float& accumulator, float g, float lr) {
  accumulator = __fadd_rn(accumulator, __fmul_rn(g, g));
  w = __fsub_rn(w, __fmul_rn(__fmul_rn(g, lr), __fdiv_rn(1.0f, __fsqrt_rn(accumulator))));
}
__device__ inline void adagrad_step(double& w, double& accumulator, double g, double lr) {
  accumulator += g * g;
  w -= lr * g / sqrt(accumulator);
}

__device__ inline float clipped(float g, float clip) { return __fmul_rn(g, clip); }
__device__ inline double clipped(double g, double clip) { return g * clip; }

// backend/cpu/optimizer.cpp: sgd_learning_rate. float32: powf there (glibc's, as
// TensorFlow's); CUDA's powf is less exact, and the power in double rounded once to float
// agrees with glibc's but for the last bit of about 1 in 1,000 values.
template <typename T>
__device__ T sgd_learning_rate(const OptimizerConfig& config, std::int64_t step) {
  if constexpr (std::is_same_v<T, float>) {
    float p = __fdiv_rn(static_cast<float>(step), static_cast<float>(config.decay_steps));
    if (config.staircase) p = floorf(p);
    const double decay_rate = static_cast<float>(config.decay_rate);
    const float power = static_cast<float>(pow(decay_rate, double(p)));
    return __fmul_rn(static_cast<float>(config.learning_rate), power);
  } else {
    double exponent = static_cast<double>(step) / config.decay_steps;
    if (config.staircase) exponent = floor(exponent);
    return config.learning_rate * pow(config.decay_rate, exponent);
  }
}

// beta^t as backend/cpu/optimizer.cpp's float32_one_minus_power forms it (without its
// memory of earlier steps: the counters carry the powers from one step to the next), stopped
// once 1 - beta^t rounds to 1.
__device__ float float32_power(float beta, std::int64_t t) {
  float value = 1.0f;
  for (std::int64_t k = 0; k < t && __fsub_rn(1.0f, value) != 1.0f; ++k)
    value = __fmul_rn(value, beta);
  return value;
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    optimizer_kernel(T* w, const T* g, T* s0, T* s1, index_t n, const OptimizerConfig config,
                     const Counters* counters, const StepScalars<T>* scalars, const StepTail tail) {
  await_previous_kernel();
  const std::int64_t step = counters->step;
  const T clip = scalars ? scalars->clip : T(1);
  const index_t stride = index_t(gridDim.x) * kThreads;
  const index_t first = index_t(blockIdx.x) * kThreads + threadIdx.x;
  float powers[2] = {1, 1};  // float32 Adam's beta1^t and beta2^t, t = step + 1
  if (config.kind == OptimizerKind::adam) {
    const T beta1 = T(config.beta1), beta2 = T(config.beta2), epsilon = T(config.epsilon);
    T rate;  // float32: TensorFlow's alpha from its running float32 powers
    if constexpr (std::is_same_v<T, float>) {
      const bool carried = counters->powers_step == step;
      powers[0] = carried ? counters->beta_power[0] : float32_power(beta1, step + 1);
      powers[1] = carried ? counters->beta_power[1] : float32_power(beta2, step + 1);
      const float lr = static_cast<float>(config.learning_rate);
      rate = __fdiv_rn(__fmul_rn(lr, __fsqrt_rn(__fsub_rn(1.0f, powers[1]))), __fsub_rn(1.0f, powers[0]));
    } else {
      const double t = static_cast<double>(step + 1);
      rate = config.learning_rate * sqrt(1.0 - pow(config.beta2, t)) / (1.0 - pow(config.beta1, t));
    }
    for (index_t i = first; i < n; i += stride)
      adam_step(w[i], s0[i], s1[i], clipped(g[i], clip), rate, beta1, beta2, epsilon);
  } else if (config.kind == OptimizerKind::rmsprop) {
    const T lr = T(config.learning_rate), rho = T(config.decay), mu = T(config.momentum);
    const T epsilon = T(config.epsilon);
    for (index_t i = first; i < n; i += stride)
      rmsprop_step(w[i], s0[i], s1[i], clipped(g[i], clip), lr, rho, mu, epsilon);
  } else if (config.kind == OptimizerKind::adagrad) {
    const T lr = T(config.learning_rate);
    for (index_t i = first; i < n; i += stride) adagrad_step(w[i], s0[i], clipped(g[i], clip), lr);
  } else {
    const T lr_t = sgd_learning_rate<T>(config, step);
    const T mu = T(config.momentum);
    for (index_t i = first; i < n; i += stride) {
      if (config.momentum == 0.0)
        sgd_step(w[i], clipped(g[i], clip), lr_t);
      else
        momentum_step(w[i], s0[i], clipped(g[i], clip), lr_t, mu, config.nesterov);
    }
  }
  if (!tail.metrics || !last_block(tail.ticket) || threadIdx.x != 0) return;
  BatchMetrics m;
  for (index_t p = 0; p < tail.partial_count; ++p) {
    m.loss_sum += tail.partials[p].loss_sum;
    m.correct += tail.partials[p].correct;
  }
  m.loss = m.loss_sum * tail.scale + (scalars ? scalars->penalty : 0.0);
  m.rows = tail.rows;
  tail.metrics[tail.counters->batch] = m;
  if (std::is_same_v<T, float> && config.kind == OptimizerKind::adam) {  // TensorFlow's _finish
    tail.counters->beta_power[0] = __fmul_rn(powers[0], static_cast<float>(config.beta1));
    tail.counters->beta_power[1] = __fmul_rn(powers[1], static_cast<float>(config.beta2));
    tail.counters->powers_step = step + 1;
  }
  ++tail.counters->batch;
  ++tail.counters->step;
  *tail.ticket = 0;
}

}  // namespace

template <typename T>
void sums_of_squares(const Gpu& gpu, const SquareSegment<T>* segments, int count,
                     index_t chunks, double* partials, int* ticket, double clip_norm,
                     StepScalars<T>* scalars) {
  if (chunks == 0) return;
  launch(gpu, squares_kernel<T>, static_cast<unsigned>(chunks), kThreads, segments, count,
         partials, ticket, clip_norm, scalars);
}

template <typename T>
void optimizer_update(const Gpu& gpu, T* params, const T* grads, T* state0, T* state1,
                      index_t n, const OptimizerConfig& config, const Counters* counters,
                      const StepScalars<T>* scalars, const StepTail& tail) {
  // A few blocks per multiprocessor, each striding over the arena: fewer tickets to count.
  const unsigned blocks =
      std::max(1u, std::min(blocks_for(n, kThreads), 8u * static_cast<unsigned>(gpu.sms)));
  launch(gpu, optimizer_kernel<T>, blocks, kThreads, params, grads, state0, state1, n, config,
         counters, scalars, tail);
}

#define MNISTMLP_INSTANTIATE(T)                                                              \
  template void sums_of_squares<T>(const Gpu&, const SquareSegment<T>*, int, index_t,       \
                                   double*, int*, double, StepScalars<T>*);                  \
  template void optimizer_update<T>(const Gpu&, T*, const T*, T*, T*, index_t,              \
                                    const OptimizerConfig&, const Counters*,                 \
                                    const StepScalars<T>*, const StepTail&);
MNISTMLP_INSTANTIATE(float)
MNISTMLP_INSTANTIATE(double)
#undef MNISTMLP_INSTANTIATE

}  // namespace mnistmlp::cuda

namespace mnistmlp::cuda_ops {

template <typename T>
double sum_of_squares(const T* x, index_t n) {
  using namespace cuda;
  return naming_errors("sum_of_squares", [&] {
    Stream stream;
    const Gpu gpu = current_gpu(stream.get());
    DeviceBuffer<T> d_x = to_device(x, n, stream.get());
    SquareSegment<T> segment;
    segment.x = d_x.get();
    segment.n = n;
    segment.group = 1;
    DeviceBuffer<SquareSegment<T>> d_segment = to_device(&segment, 1, stream.get());
    const index_t chunks = square_chunks(n);
    DeviceBuffer<double> partials(chunks);
    DeviceBuffer<int> ticket(1);
    DeviceBuffer<StepScalars<T>> scalars(1);
    MNISTMLP_CUDA_CHECK(cudaMemsetAsync(ticket.get(), 0, sizeof(int), stream.get()));
    MNISTMLP_CUDA_CHECK(cudaMemsetAsync(scalars.get(), 0, sizeof(StepScalars<T>), stream.get()));
    sums_of_squares(gpu, d_segment.get(), 1, chunks, partials.get(), ticket.get(), 0.0,
                    scalars.get());
    StepScalars<T> result;
    copy_to_host(&result, scalars.get(), 1, stream.get());
    stream.synchronize();
    return result.penalty;
  });
}

template <typename T>
void optimizer_update(T* params, T* grads, T* state0, T* state1, index_t n,
                      const OptimizerConfig& config, std::int64_t step, T clip) {
  using namespace cuda;
  naming_errors("optimizer_update", [&] {
    Stream stream;
    const Gpu gpu = current_gpu(stream.get());
    DeviceBuffer<T> d_params = to_device(params, n, stream.get());
    DeviceBuffer<T> d_grads = to_device(grads, n, stream.get());
    DeviceBuffer<T> d_state0 = to_device(state0, n, stream.get());
    DeviceBuffer<T> d_state1 = to_device(state1, n, stream.get());
    Counters counters;
    counters.step = step;
    StepScalars<T> scalars;
    scalars.clip = clip;
    DeviceBuffer<Counters> d_counters = to_device(&counters, 1, stream.get());
    DeviceBuffer<StepScalars<T>> d_scalars = to_device(&scalars, 1, stream.get());
    cuda::optimizer_update(gpu, d_params.get(), d_grads.get(), d_state0.get(),
                           d_state1.get(), n, config, d_counters.get(), d_scalars.get(),
                           StepTail{});
    copy_to_host(params, d_params.get(), n, stream.get());
    if (state0) copy_to_host(state0, d_state0.get(), n, stream.get());
    if (state1) copy_to_host(state1, d_state1.get(), n, stream.get());
    stream.synchronize();
  });
}

#define MNISTMLP_INSTANTIATE(T)                                                              \
  template double sum_of_squares<T>(const T*, index_t);                                     \
  template void optimizer_update<T>(T*, T*, T*, T*, index_t, const OptimizerConfig&,        \
                                    std::int64_t, T);
MNISTMLP_INSTANTIATE(float)
MNISTMLP_INSTANTIATE(double)
#undef MNISTMLP_INSTANTIATE

}  // namespace mnistmlp::cuda_ops
