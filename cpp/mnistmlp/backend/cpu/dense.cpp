#include <algorithm>
#include <type_traits>

#include "mnistmlp/backend/cpu/cpu_ops.hpp"
#include "mnistmlp/kernels/dense.hpp"

namespace mnistmlp::cpu {

namespace {

// Row chunk of a tile: a multiple of kernels::kForwardRows, small enough that a batch of a
// few dozen rows still splits over two cores.
constexpr index_t kRowTile = 16;
constexpr index_t kColumnTile = 64;

}  // namespace

template <typename T>
void dense_forward(T* out, const T* inp, const T* weight, const T* bias, index_t B, index_t IN,
                   index_t OUT, Activation act, float* scratch) {
  if constexpr (std::is_same_v<T, float>) {
    kernels::GemmEpilogue epilogue;
    epilogue.bias = bias;
    epilogue.activation = act;
    gemm(out, OUT, B, OUT, IN, {inp, IN, 1}, {weight, OUT, 1}, epilogue, scratch);
    return;
  }
  constexpr index_t JB = kernels::kForwardBlock<T>;
  const index_t row_tiles = tiles(B, kRowTile), col_tiles = tiles(OUT, JB);
#pragma omp for collapse(2) schedule(static)
  for (index_t rt = 0; rt < row_tiles; ++rt)
    for (index_t ct = 0; ct < col_tiles; ++ct) {
      const index_t i0 = rt * kRowTile, j0 = ct * JB;
      const index_t rows = std::min(kRowTile, B - i0);
      kernels::dense_forward_block(out + i0 * OUT, inp + i0 * IN, weight, bias, rows, IN, OUT,
                                   j0, std::min(JB, OUT - j0), act);
    }
}

template <typename T>
void dense_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp, const T* weight,
                    const T* prev_act, const T* prev_dropout, Activation prev_activation,
                    index_t B, index_t IN, index_t OUT, T weight_decay, float* scratch) {
  if constexpr (std::is_same_v<T, float>) {
    kernels::GemmEpilogue weight_epilogue;
    if (weight_decay != 0.0f) {
      weight_epilogue.decayed = weight;
      weight_epilogue.weight_decay = weight_decay;
    }
    gemm(dweight, OUT, IN, OUT, B, {inp, 1, IN}, {dout, OUT, 1}, weight_epilogue, scratch);
    const index_t bias_tiles = tiles(OUT, kColumnTile);
#pragma omp for schedule(static)
    for (index_t t = 0; t < bias_tiles; ++t) {
      const index_t j0 = t * kColumnTile;
      kernels::dense_backward_bias_columns(dbias, dout, B, OUT, j0, std::min(OUT, j0 + kColumnTile));
    }
    if (dinp) {
      kernels::GemmEpilogue input_epilogue;
      input_epilogue.dropout = prev_dropout;
      input_epilogue.derivative_of = prev_act;
      input_epilogue.derivative = prev_activation;
      gemm(dinp, IN, B, IN, OUT, {dout, OUT, 1}, {weight, 1, OUT}, input_epilogue, scratch);
    }
    return;
  }
  const index_t weight_tiles = tiles(IN, kRowTile);
#pragma omp for schedule(static) nowait
  for (index_t t = 0; t < weight_tiles; ++t) {
    const index_t k0 = t * kRowTile;
    kernels::dense_backward_weight_rows(dweight, dout, inp, weight, B, IN, OUT, weight_decay, k0,
                                        std::min(IN, k0 + kRowTile));
  }
  const index_t bias_tiles = tiles(OUT, kColumnTile);
#pragma omp for schedule(static) nowait
  for (index_t t = 0; t < bias_tiles; ++t) {
    const index_t j0 = t * kColumnTile;
    kernels::dense_backward_bias_columns(dbias, dout, B, OUT, j0, std::min(OUT, j0 + kColumnTile));
  }
  if (dinp) {
    const index_t row_tiles = tiles(B, kRowTile), col_tiles = tiles(IN, kColumnTile);
#pragma omp for collapse(2) schedule(static) nowait
    for (index_t rt = 0; rt < row_tiles; ++rt)
      for (index_t ct = 0; ct < col_tiles; ++ct) {
        const index_t i0 = rt * kRowTile, k0 = ct * kColumnTile;
        const index_t at = i0 * IN;
        kernels::dense_backward_input_columns(
            dinp + at, dout + i0 * OUT, weight, prev_act + at,
            prev_dropout ? prev_dropout + at : nullptr, prev_activation,
            std::min(kRowTile, B - i0), IN, OUT, k0, std::min(IN, k0 + kColumnTile));
      }
  }
#pragma omp barrier
}

#define MNISTMLP_INSTANTIATE(T)                                                                \
  template void dense_forward<T>(T*, const T*, const T*, const T*, index_t, index_t, index_t, \
                                 Activation, float*);                                          \
  template void dense_backward<T>(T*, T*, T*, const T*, const T*, const T*, const T*,          \
                                  const T*, Activation, index_t, index_t, index_t, T, float*);
MNISTMLP_INSTANTIATE(float)
MNISTMLP_INSTANTIATE(double)
#undef MNISTMLP_INSTANTIATE

}  // namespace mnistmlp::cpu
