// The CPU backend's operations, parallelised with OpenMP. Each is called by every thread of an
// enclosing parallel region and shares the work out with orphaned `omp for` loops over
// fixed-size tiles, so the arithmetic behind each output element, and so the result, does not
// depend on the number of threads. Each ends with the implicit barrier of its last loop.
#pragma once

#include <cstdint>

#include "mnistmlp/backend/backend.hpp"
#include "mnistmlp/common.hpp"

namespace mnistmlp::cpu {

// dense.cpp ---------------------------------------------------------------------------------
// out (B,OUT) = act(inp (B,IN) . weight (IN,OUT) + bias)
template <typename T>
void dense_forward(T* out, const T* inp, const T* weight, const T* bias, index_t B, index_t IN,
                   index_t OUT, Activation act);
// dweight = inp^T . dout + wd * weight; dbias = sum_rows dout;
// dinp = (dout . weight^T) * prev_dropout * f'(prev_act)   (dinp null for the first layer)
template <typename T>
void dense_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp, const T* weight,
                    const T* prev_act, const T* prev_dropout, Activation prev_activation,
                    index_t B, index_t IN, index_t OUT, T weight_decay);

// loss.cpp ----------------------------------------------------------------------------------
// The fused output activation + loss of kernels/loss.hpp over rows [0, B); dz may be null.
template <typename T>
void output_loss(T* dz, T* out, T* row_loss, std::uint8_t* correct, const T* logits,
                 const std::int32_t* labels, const T* targets, Activation output, Loss loss,
                 index_t B, index_t K, T scale);

// optimizer.cpp -----------------------------------------------------------------------------
// Sum of squares of x[0, n), in fixed chunks whose partial sums (partials, sized by
// norm_chunks(n)) are added in order: the same bits for any thread count.
index_t norm_chunks(index_t n);
template <typename T>
double sum_of_squares(const T* x, index_t n, double* partials);
template <typename T>
void optimizer_update(T* params, T* grads, T* state0, T* state1, index_t n,
                      const OptimizerConfig& config, std::int64_t step, T clip);

// data.cpp ----------------------------------------------------------------------------------
// out (count, cols) = rows order[first, first+count) of x, converted to T (uint8 / 255).
template <typename T>
void gather_inputs(T* out, const InputView& x, const index_t* order, index_t first,
                   index_t count);
template <typename T>
void gather_targets(std::int32_t* labels, T* dense, const TargetView<T>& y, const index_t* order,
                    index_t first, index_t count);
// dropped = act * scale, scale = 0 (dropped) or 1/(1-rate) (kept), drawn from the
// counter-based generator keyed by (seed, step, layer) so masks never depend on threads.
template <typename T>
void dropout_forward(T* dropped, T* scale, const T* act, index_t count, double rate,
                     std::uint64_t seed, std::int64_t step, index_t layer);

}  // namespace mnistmlp::cpu
