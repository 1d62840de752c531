#include "mnistmlp/backend/cuda/cuda.hpp"
#include "mnistmlp/backend/cuda/device_math.cuh"
#include "mnistmlp/backend/cuda/cuda_ops.cuh"

namespace mnistmlp::cuda {

namespace {

__global__ void set_counters_kernel(Counters* counters, index_t batch, std::int64_t step) {
  await_previous_kernel();
  counters->batch = batch;
  counters->step = step;
  counters->powers_step = -1;  // the powers of another step, or none yet
}

template <typename T>
__global__ void dropout_kernel(T* dropped, T* scale, const T* act, index_t count, double rate,
                               std::uint64_t seed, std::int64_t step, index_t layer) {
  await_previous_kernel();
  const index_t i = index_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= count) return;
  scale[i] = dropout_multiplier<T>(rate, seed, step, layer, i);
  dropped[i] = act[i] * scale[i];
}

}  // namespace

void set_counters(const Gpu& gpu, Counters* counters, index_t batch, std::int64_t step) {
  launch(gpu, set_counters_kernel, 1, 1, counters, batch, step);
}

}  // namespace mnistmlp::cuda

namespace mnistmlp::cuda_ops {

template <typename T>
void dropout_forward(T* dropped, T* scale, const T* act, index_t count, double rate,
                     std::uint64_t seed, std::int64_t step, index_t layer) {
  using namespace cuda;
  naming_errors("dropout_forward", [&] {
    Stream stream;
    const Gpu gpu = current_gpu(stream.get());
    DeviceBuffer<T> d_act = to_device(act, count, stream.get());
    DeviceBuffer<T> d_dropped(count), d_scale(count);
    // Training draws its masks in the dense forward epilogue with the same dropout_multiplier.
    constexpr int threads = 256;
    if (count > 0)
      launch(gpu, dropout_kernel<T>, blocks_for(count, threads), threads, d_dropped.get(),
             d_scale.get(), static_cast<const T*>(d_act.get()), count, rate, seed, step, layer);
    copy_to_host(dropped, d_dropped.get(), count, stream.get());
    copy_to_host(scale, d_scale.get(), count, stream.get());
    stream.synchronize();
  });
}

template void dropout_forward<float>(float*, float*, const float*, index_t, double, std::uint64_t,
                                     std::int64_t, index_t);
template void dropout_forward<double>(double*, double*, const double*, index_t, double,
                                      std::uint64_t, std::int64_t, index_t);

}  // namespace mnistmlp::cuda_ops
