// The CUDA backend's operations, one or two kernel launches each, queued on a stream without
// any host synchronisation. They mirror backend/cpu/cpu_ops.hpp; what a training step needs to
// know at run time (which batch, which step) is read from Counters in device memory, so the
// launches of one step can be captured once in a CUDA graph and replayed for every batch.
// Every reduction adds its terms in an order fixed by the shapes alone: results repeat
// exactly from run to run on the same GPU.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "mnistmlp/backend/backend.hpp"
#include "mnistmlp/backend/cuda/runtime.cuh"
#include "mnistmlp/common.hpp"

namespace mnistmlp::cuda {

// Where training stands: the batch of the epoch being trained and the optimizer step. For
// float32 Adam also TensorFlow's running float32 powers beta1^t and beta2^t of update
// t = step + 1 (backend/cpu/optimizer.cpp: float32_one_minus_power), valid when
// powers_step == step: each step's tail advances them; set_counters leaves them unset (-1),
// and the step after it computes them afresh.
struct Counters {
  index_t batch = 0;
  std::int64_t step = 0;
  std::int64_t powers_step = -1;
  float beta_power[2] = {1, 1};
};

// data.cu -----------------------------------------------------------------------------------

// Which stored row is row r of a batch: order[first + r] (or first + r without an order),
// first = batch * batch_size with the batch read from `counters` (0 without counters).
struct RowSelection {
  const index_t* order = nullptr;
  const Counters* counters = nullptr;
  index_t batch_size = 0;

  __device__ index_t first() const { return counters ? counters->batch * batch_size : 0; }
  __device__ index_t source(index_t r, index_t first) const {
    return order ? order[first + r] : first + r;
  }
};

// A row-major matrix as the kernels read it: rows picked by a RowSelection, elements stored
// as uint8 (read as value / 255, like the CPU's gather_inputs), float32 or float64. Column
// `cols` reads as 1 when ones_column is set: with it the bias gradient is one more row of
// the weight gradient.
template <typename T>
struct Rows {
  const void* data = nullptr;
  ElementType type = ElementType::float32;
  index_t ld = 0;    // elements from one stored row to the next
  index_t cols = 0;
  RowSelection select;
  bool ones_column = false;

  // A plain (rows, cols) matrix of T.
  static Rows matrix(const T* data, index_t cols) {
    Rows rows;
    rows.data = data;
    rows.type = sizeof(T) == sizeof(float) ? ElementType::float32 : ElementType::float64;
    rows.ld = rows.cols = cols;
    return rows;
  }

  // The stored row that is row r, first = select.first() (read once per block).
  __device__ const unsigned char* row(index_t r, index_t first) const {
    const index_t bytes = type == ElementType::uint8 ? 1 : type == ElementType::float32 ? 4 : 8;
    return static_cast<const unsigned char*>(data) + select.source(r, first) * ld * bytes;
  }
  // Element c (< cols) of a row from row().
  __device__ T at(const unsigned char* row, index_t c) const {
    switch (type) {
      case ElementType::uint8: return T(row[c]) / T(255);
      case ElementType::float32: return T(reinterpret_cast<const float*>(row)[c]);
      default: return T(reinterpret_cast<const double*>(row)[c]);
    }
  }
};

// Targets of the rows of a batch: class labels or dense rows (rows, classes), selected like Rows.
template <typename T>
struct Targets {
  const std::int32_t* labels = nullptr;
  const T* dense = nullptr;
  index_t classes = 0;
  RowSelection select;
};

void set_counters(const Gpu& gpu, Counters* counters, index_t batch, std::int64_t step);

// dense.cu ----------------------------------------------------------------------------------

// Device memory for the split-K partial sums and completion tickets of one dense operation
// (two matrix products at most: the weight and the input gradient). Tickets start at zero
// and every kernel leaves them at zero.
struct DenseScratch {
  static constexpr int kSlots = 2;
  void* partial[kSlots] = {nullptr, nullptr};
  int* tickets[kSlots] = {nullptr, nullptr};
  std::size_t partial_bytes[kSlots] = {0, 0};
  index_t ticket_count[kSlots] = {0, 0};

  // Room for `need` as well (sizes only; the pointers are set by whoever allocates).
  void grow(const DenseScratch& need);
  bool covers(const DenseScratch& need) const;
  std::size_t bytes() const;
  // Points into `memory` (bytes() long, 256-byte aligned).
  void place(unsigned char* memory);
};

// A DenseScratch with device memory of its own, tickets zeroed.
class DenseScratchBuffer {
 public:
  void allocate(DenseScratch sizes, cudaStream_t stream);
  const DenseScratch& get() const { return scratch_; }

 private:
  DeviceBuffer<unsigned char> memory_;
  DenseScratch scratch_;
};

// Dropout on a hidden layer's outputs while training: dropped = out * scale.
template <typename T>
struct Dropout {
  T* dropped = nullptr;  // null: no dropout
  T* scale = nullptr;
  double rate = 0;
  std::uint64_t seed = 0;
  const Counters* counters = nullptr;  // its step keys the mask
  index_t layer = 0;
};

// Sizes of the scratch the calls below need for these shapes.
template <typename T>
DenseScratch dense_forward_scratch(const Gpu& gpu, index_t B, index_t IN, index_t OUT);
template <typename T>
DenseScratch dense_backward_scratch(const Gpu& gpu, index_t B, index_t IN, index_t OUT,
                                    bool input_gradient);

// out (B,OUT) = act(inp (B,IN) . weight (IN,OUT) + bias), then dropout when given.
template <typename T>
void dense_forward(const Gpu& gpu, const DenseScratch& scratch, T* out, const Rows<T>& inp,
                   const T* weight, const T* bias, index_t B, index_t IN, index_t OUT,
                   Activation act, const Dropout<T>& dropout);
// dweight = inp^T . dout + wd * weight; dbias = sum_rows dout;
// dinp = (dout . weight^T) * prev_scale * f'(prev_act)  (dinp null: not wanted; prev_scale
// null: no dropout). One launch.
template <typename T>
void dense_backward(const Gpu& gpu, const DenseScratch& scratch, T* dinp, T* dweight, T* dbias,
                    const T* dout, const Rows<T>& inp, const T* weight, const T* prev_act,
                    const T* prev_scale, Activation prev_activation, index_t B, index_t IN,
                    index_t OUT, T weight_decay);

// loss.cu -----------------------------------------------------------------------------------

// One block's share of a batch's loss: the sum of its rows' losses and right answers.
struct LossPartial {
  double loss_sum = 0;
  index_t correct = 0;
};
constexpr int kLossThreads = 256;  // rows per block, so partials = ceil(B / kLossThreads)
inline index_t loss_partials(index_t B) { return tiles(B, kLossThreads); }

// The fused output activation + loss of kernels/loss.hpp over rows [0, B) of the logits:
// a = output activations, dz (may be null) = d(mean loss)/dz with `scale`, per-block
// partials (may be null), and per-row losses and right answers (both may be null).
template <typename T>
void output_loss(const Gpu& gpu, T* dz, T* a, T* row_loss, std::uint8_t* correct,
                 LossPartial* partials, const T* logits, const Targets<T>& y, Activation output,
                 Loss loss, index_t B, index_t K, T scale);
// a = output activation of the logits (softmax per row), for inference.
template <typename T>
void output_activation(const Gpu& gpu, T* a, const T* logits, Activation output, index_t B,
                       index_t K);

// optimizer.cu ------------------------------------------------------------------------------

// A range of the arena whose sum of squares a step needs: the whole gradient section
// (group 0, for clipping) or one layer's weights (group 1, for its L2 penalty, weighted by
// 0.5 * weight_decay).
template <typename T>
struct SquareSegment {
  const T* x = nullptr;
  index_t n = 0;
  index_t first_chunk = 0;  // its chunks' place among all segments' chunks
  int group = 0;
  double weight = 1;
};

// What the norms of a step give the update: the gradient's clipping factor and the penalty.
template <typename T>
struct StepScalars {
  T clip = T(1);
  double penalty = 0;
};

// Sums of squares add up chunks of this many elements (backend/cpu/optimizer.cpp's chunk).
constexpr index_t kSquareChunk = 4096;
__host__ __device__ inline index_t square_chunks(index_t n) {
  return (n + kSquareChunk - 1) / kSquareChunk;
}

// partials[c] = sum of squares of chunk c of the segments; then the last block to finish
// adds them up in chunk order into scalars: clip = clip_norm / max(norm, clip_norm) over
// group 0 (1 without clipping), penalty = sum over group 1 of weight * its sum of squares.
template <typename T>
void sums_of_squares(const Gpu& gpu, const SquareSegment<T>* segments, int count,
                     index_t chunks, double* partials, int* ticket, double clip_norm,
                     StepScalars<T>* scalars);

// After the update, the last block to finish records the batch's metrics (from the loss
// partials and the penalty) at metrics[counters->batch] and advances the counters.
struct StepTail {
  BatchMetrics* metrics = nullptr;  // null: no tail
  const LossPartial* partials = nullptr;
  index_t partial_count = 0;
  double scale = 1;  // the batch loss is loss_sum * scale + penalty
  index_t rows = 0;
  int* ticket = nullptr;
  Counters* counters = nullptr;
};

// The optimizer step of kernels/optimizer.hpp over the whole arena section [0, n), with the
// step (and float32 Adam's powers) from `counters` and the clipping factor from `scalars` (1
// when null).
template <typename T>
void optimizer_update(const Gpu& gpu, T* params, const T* grads, T* state0, T* state1,
                      index_t n, const OptimizerConfig& config, const Counters* counters,
                      const StepScalars<T>* scalars, const StepTail& tail);

}  // namespace mnistmlp::cuda
