// The CPU backend's operations, parallelised with OpenMP. Each is called by every thread of an
// enclosing parallel region and shares the work out with orphaned `omp for` loops over
// fixed-size tiles, so the arithmetic behind each output element, and so the result, does not
// depend on the number of threads. Each ends with the implicit barrier of its last loop.
#pragma once

#include <cstdint>

#include "mnistmlp/backend/backend.hpp"
#include "mnistmlp/common.hpp"
#include "mnistmlp/kernels/gemm.hpp"
#include "mnistmlp/kernels/sparse.hpp"

namespace mnistmlp::cpu {

// dense.cpp ---------------------------------------------------------------------------------
// out (B,OUT) = act(inp (B,IN) . weight (IN,OUT) + bias)
// float32 goes through gemm() with `scratch` (gemm_scratch_floats() per thread); float64,
// which serves gradient checks, through the simple kernels of kernels/dense.hpp.
template <typename T>
void dense_forward(T* out, const T* inp, const T* weight, const T* bias, index_t B, index_t IN,
                   index_t OUT, Activation act, float* scratch);
// dweight = inp^T . dout + wd * weight; dbias = sum_rows dout;
// dinp = (dout . weight^T) * prev_dropout * f'(prev_act)   (dinp null for the first layer)
template <typename T>
void dense_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp, const T* weight,
                    const T* prev_act, const T* prev_dropout, Activation prev_activation,
                    index_t B, index_t IN, index_t OUT, T weight_decay, float* scratch);

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
// kernels/optimizer.hpp's update of params[0, n) by the gradients, after `step` updates, with
// the gradients scaled by `clip`; state0 / state1: the velocity, or Adam's m and v.
template <typename T>
void optimizer_update(T* params, T* grads, T* state0, T* state1, index_t n,
                      const OptimizerConfig& config, std::int64_t step, T clip);
// The rate of one update in each precision; static_cast<T> takes the one for parameters of
// type T. float32 follows TensorFlow 1's float32 graph (TFLearn's models were float32), so
// its roundings are TensorFlow's; float64 is the formula in double.
struct LearningRate {
  double float64 = 0;
  float float32 = 0;
  explicit operator double() const { return float64; }
  explicit operator float() const { return float32; }
};
// SGD's learning rate after `step` updates: lr * decay_rate^(step / decay_steps), the
// exponent floored if staircase (lr without decay). float32: tf.train.exponential_decay's
// float32 operations, lr * powf(decay_rate, float(step) / decay_steps).
LearningRate sgd_learning_rate(const OptimizerConfig& config, std::int64_t step);
// Adam's bias-corrected rate for update t = step + 1: lr * sqrt(1 - beta2^t) / (1 - beta1^t).
// float32: TensorFlow's alpha, in float32 from its running float32 powers
// (float32_one_minus_power).
LearningRate adam_learning_rate(const OptimizerConfig& config, std::int64_t step);
// 1 - beta^t in float32, beta^t as TensorFlow 1's AdamOptimizer keeps it for float32
// variables: a variable that starts at beta and is multiplied by beta after every update, so
// update t sees t factors, the product rounded to float32 after each multiplication.
float float32_one_minus_power(float beta, std::int64_t t);

// data.cpp ----------------------------------------------------------------------------------
// out (count, cols) = rows order[first, first+count) of x, converted to T (uint8 / 255).
template <typename T>
void gather_inputs(T* out, const InputView& x, const index_t* order, index_t first,
                   index_t count);
// Starts loading rows order[first, first+count) of x into the cache (no barrier): the next
// batch's rows are scattered over the whole training set, and without this each batch
// waited for them from memory.
void prefetch_rows(const InputView& x, const index_t* order, index_t first, index_t count);
template <typename T>
void gather_targets(std::int32_t* labels, T* dense, const TargetView<T>& y, const index_t* order,
                    index_t first, index_t count);
// dropped = act * scale, scale = 0 (dropped) or 1/(1-rate) (kept), drawn from the
// counter-based generator keyed by (seed, step, layer) so masks never depend on threads.
template <typename T>
void dropout_forward(T* dropped, T* scale, const T* act, index_t count, double rate,
                     std::uint64_t seed, std::int64_t step, index_t layer);

}  // namespace mnistmlp::cpu

namespace mnistmlp::cpu {

// sparse.cpp --------------------------------------------------------------------------------
// The first layer on sparse batches (kernels/sparse.hpp). Buffers of the padded CSR rows.
template <typename T>
struct SparseBatch {
  std::int32_t* column = nullptr;  // (rows, cols)
  T* value = nullptr;              // (rows, cols)
  std::int32_t* count = nullptr;   // (rows,)
  std::uint8_t* is_active = nullptr;  // (cols,): some row has a nonzero in this column
  std::int32_t* active = nullptr;     // (cols,): the active columns, ascending
  // The same nonzeros by column (CSC), rows ascending: column c's are at
  // [column_start[c], column_start[c + 1]) of by_column_row / by_column_value.
  index_t* column_start = nullptr;    // (cols + 1,)
  index_t* column_fill = nullptr;     // (cols,): scratch of by_columns
  std::int32_t* by_column_row = nullptr;
  T* by_column_value = nullptr;
  index_t stride = 0;
  index_t n_active = 0;
  kernels::SparseRows<T> rows() const { return {column, value, count, stride}; }
  kernels::SparseColumn<T> by_column(index_t k) const {
    const index_t first = column_start[k];
    return {by_column_row + first, by_column_value + first, column_start[k + 1] - first};
  }
};

// Gathers rows order[first, first+count) of x as sparse rows; returns the number of nonzeros
// (every thread gets it). row_finite[r]: whether row r is free of NaN and Inf (as T); a check
// of the few values kept, while they are in cache. The by-column copy and `active` lists come
// from by_columns.
template <typename T>
index_t gather_sparse(SparseBatch<T>& out, const InputView& x, const index_t* order, index_t first,
                      index_t count, std::uint8_t* row_finite);
template <typename T>
void by_columns(SparseBatch<T>& batch, index_t rows, index_t cols);
template <typename T>
void sparse_forward(T* out, const SparseBatch<T>& x, const T* weight, const T* bias, index_t B,
                    index_t OUT, Activation act);
// An optimizer step that the sparse backward pass applies to each row of the first weight as
// soon as its gradient is known, instead of writing the gradient: the row's update then reads
// the gradient from registers and the row itself while it is in cache. Only for steps that
// need nothing but the row's own gradient (no clipping, momentum or weight decay).
template <typename T>
struct RowStep {
  T* weight = nullptr;  // null: no fused step, the gradient is written
  OptimizerKind kind = OptimizerKind::sgd;
  T learning_rate = 0;  // SGD's decayed rate, or Adam's bias-corrected lr_t
  T* m = nullptr;       // Adam's moments, laid out as weight
  T* v = nullptr;
  T beta1 = 0, beta2 = 0, epsilon = 0;
};
// dweight rows of the active columns (the others untouched); dbias as dense_backward. With
// step.weight, the rows take that step instead: SGD the active rows only (the others have a
// zero gradient), Adam every row (its moments move even where the gradient is zero).
template <typename T>
void sparse_backward(T* dweight, T* dbias, const T* dout, const SparseBatch<T>& x, index_t B,
                     index_t IN, index_t OUT, const RowStep<T>& step);
// Rows of `matrix` (rows, cols) not listed as active set to zero.
template <typename T>
void zero_inactive_rows(T* matrix, const SparseBatch<T>& x, index_t rows, index_t cols);
// Sum of squares of the active rows of matrix (rows, cols), in a fixed order.
template <typename T>
double sum_of_squares_active_rows(const T* matrix, const SparseBatch<T>& x, index_t cols,
                                  double* partials);
// dweight (rows, cols) += weight_decay * weight, every row.
template <typename T>
void add_weight_decay(T* dweight, const T* weight, index_t rows, index_t cols, T weight_decay);
// Plain SGD on the active rows only: the other rows' gradient is zero.
template <typename T>
void sgd_update_active_rows(T* params, const T* grads, const SparseBatch<T>& x, index_t cols,
                            T lr, T clip);

}  // namespace mnistmlp::cpu

namespace mnistmlp::cpu {

// gemm.cpp ----------------------------------------------------------------------------------
// kernels/gemm.hpp's product, shared out over the team; scratch holds gemm_scratch_floats()
// per thread of the team.
index_t gemm_scratch_floats();
void gemm(float* C, index_t ldc, index_t M, index_t N, index_t K, kernels::GemmOperand A,
          kernels::GemmOperand B, const kernels::GemmEpilogue& epilogue, float* scratch);

}  // namespace mnistmlp::cpu
