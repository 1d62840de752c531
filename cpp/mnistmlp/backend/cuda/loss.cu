// The output layer's activation and loss, one thread per row (kernels/loss.hpp's rows), and
// each block's sums in a fixed-order tree.
#include "mnistmlp/backend/cuda/cuda.hpp"
#include "mnistmlp/backend/cuda/device_math.cuh"
#include "mnistmlp/backend/cuda/cuda_ops.cuh"

namespace mnistmlp::cuda {

namespace {

template <typename T>
__global__ void __launch_bounds__(kLossThreads)
    output_loss_kernel(T* dz, T* a, T* row_loss, std::uint8_t* correct, LossPartial* partials,
                       const T* logits, const Targets<T> y, Activation output, Loss loss,
                       index_t B, index_t K, T scale) {
  __shared__ double loss_sums[kLossThreads];
  __shared__ index_t right_answers[kLossThreads];
  await_previous_kernel();
  const index_t i = index_t(blockIdx.x) * kLossThreads + threadIdx.x;
  double value = 0;
  bool right = false;
  if (i < B) {
    const index_t source = y.select.source(i, y.select.first());
    RowTarget<T> target;
    if (y.labels)
      target.label = y.labels[source];
    else
      target.y = y.dense + source * K;
    T* g = dz ? dz + i * K : nullptr;
    const T row = loss == Loss::categorical_crossentropy
                      ? softmax_cross_entropy_row(g, a + i * K, right, logits + i * K, target, K, scale)
                      : mean_square_row(g, a + i * K, right, logits + i * K, target, output, K, scale);
    if (row_loss) row_loss[i] = row;
    if (correct) correct[i] = right;
    value = row;
  }
  if (!partials) return;
  loss_sums[threadIdx.x] = value;
  right_answers[threadIdx.x] = right;
  __syncthreads();
  for (int stride = kLossThreads / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) {
      loss_sums[threadIdx.x] += loss_sums[threadIdx.x + stride];
      right_answers[threadIdx.x] += right_answers[threadIdx.x + stride];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) partials[blockIdx.x] = LossPartial{loss_sums[0], right_answers[0]};
}

template <typename T>
__global__ void output_activation_kernel(T* a, const T* logits, Activation output, index_t B,
                                         index_t K) {
  await_previous_kernel();
  const index_t i = index_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= B) return;
  const T* z = logits + i * K;
  T* row = a + i * K;
  if (output == Activation::softmax)
    softmax_row(row, z, K);
  else
    for (index_t k = 0; k < K; ++k) row[k] = activate(output, z[k]);
}

}  // namespace

template <typename T>
void output_loss(const Gpu& gpu, T* dz, T* a, T* row_loss, std::uint8_t* correct,
                 LossPartial* partials, const T* logits, const Targets<T>& y, Activation output,
                 Loss loss, index_t B, index_t K, T scale) {
  if (B == 0) return;
  launch(gpu, output_loss_kernel<T>, static_cast<unsigned>(loss_partials(B)), kLossThreads, dz, a,
         row_loss, correct, partials, logits, y, output, loss, B, K, scale);
}

template <typename T>
void output_activation(const Gpu& gpu, T* a, const T* logits, Activation output, index_t B,
                       index_t K) {
  if (B == 0) return;
  constexpr int threads = 256;
  launch(gpu, output_activation_kernel<T>, blocks_for(B, threads), threads, a, logits, output, B,
         K);
}

#define MNISTMLP_INSTANTIATE(T)                                                                \
  template void output_loss<T>(const Gpu&, T*, T*, T*, std::uint8_t*, LossPartial*, const T*,   \
                               const Targets<T>&, Activation, Loss, index_t, index_t, T);      \
  template void output_activation<T>(const Gpu&, T*, const T*, Activation, index_t, index_t);
MNISTMLP_INSTANTIATE(float)
MNISTMLP_INSTANTIATE(double)
#undef MNISTMLP_INSTANTIATE

}  // namespace mnistmlp::cuda

namespace mnistmlp::cuda_ops {

template <typename T>
void output_loss(T* dz, T* out, T* row_loss, std::uint8_t* correct, const T* logits,
                 const std::int32_t* labels, const T* targets, Activation output, Loss loss,
                 index_t B, index_t K, T scale) {
  using namespace cuda;
  naming_errors("output_loss", [&] {
    Stream stream;
    const Gpu gpu = current_gpu(stream.get());
    DeviceBuffer<T> d_logits = to_device(logits, B * K, stream.get());
    DeviceBuffer<std::int32_t> d_labels = to_device(labels, B, stream.get());
    DeviceBuffer<T> d_targets = to_device(targets, B * K, stream.get());
    DeviceBuffer<T> d_dz(dz ? B * K : 0), d_out(B * K), d_row_loss(B);
    DeviceBuffer<std::uint8_t> d_correct(B);
    Targets<T> y;
    y.labels = d_labels.get();
    y.dense = d_targets.get();
    y.classes = K;
    cuda::output_loss(gpu, d_dz.get(), d_out.get(), d_row_loss.get(), d_correct.get(),
                      nullptr, d_logits.get(), y, output, loss, B, K, scale);
    if (dz) copy_to_host(dz, d_dz.get(), B * K, stream.get());
    copy_to_host(out, d_out.get(), B * K, stream.get());
    copy_to_host(row_loss, d_row_loss.get(), B, stream.get());
    copy_to_host(correct, d_correct.get(), B, stream.get());
    stream.synchronize();
  });
}

#define MNISTMLP_INSTANTIATE(T)                                                               \
  template void output_loss<T>(T*, T*, T*, std::uint8_t*, const T*, const std::int32_t*,      \
                               const T*, Activation, Loss, index_t, index_t, T);
MNISTMLP_INSTANTIATE(float)
MNISTMLP_INSTANTIATE(double)
#undef MNISTMLP_INSTANTIATE

}  // namespace mnistmlp::cuda_ops
