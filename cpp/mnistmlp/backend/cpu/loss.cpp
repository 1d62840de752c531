#include "mnistmlp/backend/cpu/cpu_ops.hpp"
#include "mnistmlp/kernels/loss.hpp"

namespace mnistmlp::cpu {

template <typename T>
void output_loss(T* dz, T* out, T* row_loss, std::uint8_t* correct, const T* logits,
                 const std::int32_t* labels, const T* targets, Activation output, Loss loss,
                 index_t B, index_t K, T scale) {
#pragma omp for schedule(static)
  for (index_t i = 0; i < B; ++i) {
    if (loss == Loss::categorical_crossentropy)
      kernels::softmax_cross_entropy_rows(dz, out, row_loss, correct, logits, labels, targets, K,
                                          scale, i, i + 1);
    else
      kernels::mean_square_rows(dz, out, row_loss, correct, logits, labels, targets, output, K,
                                scale, i, i + 1);
  }
}

#define MNISTMLP_INSTANTIATE(T)                                                                \
  template void output_loss<T>(T*, T*, T*, std::uint8_t*, const T*, const std::int32_t*,      \
                               const T*, Activation, Loss, index_t, index_t, T);
MNISTMLP_INSTANTIATE(float)
MNISTMLP_INSTANTIATE(double)
#undef MNISTMLP_INSTANTIATE

}  // namespace mnistmlp::cpu
