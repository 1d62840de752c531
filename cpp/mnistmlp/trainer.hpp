// The epoch loop, shared by every backend: shuffle, cut batches, run them, keep TFLearn's
// running averages, report progress at most every `report_interval` seconds, stop cleanly
// between batches when asked.
#pragma once

#include <functional>
#include <vector>

#include "mnistmlp/mlp.hpp"

namespace mnistmlp {

struct EpochProgress {
  index_t samples_done = 0, samples_total = 0;
  index_t batches_done = 0, batches_total = 0;
  std::int64_t step = 0;         // optimizer updates so far, all epochs
  double loss_average = 0;       // TFLearn's moving averages of batch loss and accuracy
  double accuracy_average = 0;
  double epoch_loss = 0;         // mean batch loss over this epoch's batches so far
  double epoch_accuracy = 0;     // correct / samples over this epoch's batches so far
  double seconds = 0;
};

// Return false to stop training after the current batch.
using ProgressCallback = std::function<bool(const EpochProgress&)>;

struct EpochResult {
  EpochProgress progress;  // as at the end (or the stop)
  bool stopped = false;
  // Per batch, measured in its forward pass before its update: loss and accuracy.
  std::vector<float> batch_loss, batch_accuracy;
};

// One epoch over x (rows in a seeded shuffle when `shuffle`, keyed by the model's seed and
// epoch counter). TFLearn's averages: after batch t (t = model step before it), with decay
// d = min(0.9, (1 + t) / (10 + t)), average = d * average + (1 - d) * batch value, starting
// from 0 (tf.train.ExponentialMovingAverage on a tensor, as TFLearn's display uses it).
template <typename T>
EpochResult train_epoch(Model<T>& model, const InputView& x, const TargetView<T>& y,
                        index_t batch_size, bool shuffle, const ProgressCallback& progress,
                        double report_interval);

// The row order of the model's next epoch; the same for every backend.
std::vector<index_t> epoch_order(std::uint64_t seed, std::int64_t epoch, index_t rows,
                                 bool shuffle);

}  // namespace mnistmlp
