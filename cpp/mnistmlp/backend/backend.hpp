// The seam between the trainer and the hardware. The trainer (trainer.cpp) decides the order
// of rows, keeps the running averages and reports progress; a backend runs batches and
// inference. A backend may run asynchronously (a GPU queues work): train_batches may return
// before its batches are done, and read_metrics waits for the batches it reads.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "mnistmlp/common.hpp"

namespace mnistmlp {

template <typename T>
class Model;

// Rows of input features, as the caller holds them: uint8 pixels (scaled by 1/255 when
// gathered), float32 or float64; C-contiguous (rows, cols).
struct InputView {
  const void* data = nullptr;
  ElementType type = ElementType::float32;
  index_t rows = 0, cols = 0;
  // The caller's number of row 0, when these rows are a block of a bigger array: errors name
  // rows as the caller counts them.
  index_t first_row = 0;
  // Nonzero: the caller promises that training data (x and its targets) seen again with the
  // same token, pointers and shapes is unchanged, so a backend may keep its own copy across
  // epochs (the CUDA backend keeps the training set on the GPU for a whole fit). 0: no promise.
  std::uint64_t token = 0;
};

// Targets for the same rows: class labels (rows,) or dense rows (rows, classes) in the
// model's precision. Exactly one of labels / dense is set.
template <typename T>
struct TargetView {
  const std::int32_t* labels = nullptr;
  const T* dense = nullptr;
  index_t rows = 0, classes = 0;
};

// What one batch (or a whole evaluation) measured in its forward pass: the loss summed over
// rows before the per-row scale (so batches of different sizes add up), the count of rows
// whose predicted class was right, and the mean loss of the batch including any L2 penalty.
struct BatchMetrics {
  double loss = 0;        // mean loss of the batch, L2 penalty included (training batches)
  double loss_sum = 0;    // sum of per-row losses
  index_t correct = 0;
  index_t rows = 0;
};

template <typename T>
class Backend {
 public:
  virtual ~Backend() = default;

  using Clock = std::chrono::steady_clock;

  // The epoch trains the rows of x in `order` (size x.rows), in batches of batch_size: batch
  // b covers order[b * batch_size, min(rows, (b + 1) * batch_size)).
  virtual void begin_epoch(const InputView& x, const TargetView<T>& y, const index_t* order,
                           index_t batch_size) = 0;
  // Trains batches [begin, end) in order; `step` counts the updates done before batch
  // `begin` (it drives learning-rate decay, Adam's bias correction and dropout masks). May
  // stop after any batch once `deadline` has passed, so the trainer can report progress;
  // returns the number of the next batch to train (end when all were trained or queued).
  virtual index_t train_batches(index_t begin, index_t end, std::int64_t step,
                                Clock::time_point deadline) = 0;
  // Every backend refuses NaN and Inf in what it reads of x, in training as in inference. One
  // that finds such a value as it gathers a batch stops train_batches before that batch and
  // names its row of x in nonfinite_row() (-1: none found this epoch); one that copies x
  // whole (to a GPU) throws Model::check_finite's error in begin_epoch instead.
  virtual index_t nonfinite_row() const { return -1; }
  // Metrics of batches [begin, end) of the current epoch, waiting for them if needed.
  virtual void read_metrics(index_t begin, index_t end, BatchMetrics* out) = 0;
  // Brings the model's host arena up to the batches read so far, for readers between runs of
  // batches (a backend that trains on a copy of its own copies it back).
  virtual void sync_host_arena() {}
  // Ends the epoch; the host arena then holds its result.
  virtual void end_epoch() = 0;

  // Output activations (rows, classes) for every row of x. Safe to call from several threads.
  // Predict and evaluate refuse inputs with NaN or Inf (Model::check_finite's error).
  virtual void predict(T* out, const InputView& x) const = 0;
  // Loss sum and correct count over every row of x; no gradient. Thread-safe like predict.
  virtual BatchMetrics evaluate(const InputView& x, const TargetView<T>& y) const = 0;
  // Mean loss over all rows of x (L2 penalty included) and its gradient, written to the
  // gradient section of the model's arena. Parameters are not changed.
  virtual double loss_and_gradients(const InputView& x, const TargetView<T>& y) = 0;
};

template <typename T>
std::unique_ptr<Backend<T>> make_cpu_backend(Model<T>& model);
// Throws std::runtime_error naming the reason when this build has no CUDA backend or no GPU
// is usable (backend/cuda/cuda.hpp: cuda_status).
template <typename T>
std::unique_ptr<Backend<T>> make_cuda_backend(Model<T>& model);

}  // namespace mnistmlp
