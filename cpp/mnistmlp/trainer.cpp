#include "mnistmlp/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <numeric>

#include "mnistmlp/rng.hpp"

namespace mnistmlp {

std::vector<index_t> epoch_order(std::uint64_t seed, std::int64_t epoch, index_t rows,
                                 bool shuffle) {
  std::vector<index_t> order(static_cast<std::size_t>(rows));
  std::iota(order.begin(), order.end(), index_t(0));
  if (!shuffle) return order;
  CounterRng rng(seed, RngStream::shuffle, static_cast<std::uint64_t>(epoch));
  for (index_t i = rows - 1; i > 0; --i)  // Fisher-Yates
    std::swap(order[i], order[rng.below(static_cast<std::uint64_t>(i) + 1)]);
  return order;
}

template <typename T>
EpochResult train_epoch(Model<T>& model, const InputView& x, const TargetView<T>& y,
                        index_t batch_size, bool shuffle, const ProgressCallback& progress,
                        double report_interval) {
  using clock = std::chrono::steady_clock;
  const char* op = "fit_epoch";
  MNISTMLP_CHECK(batch_size >= 1, op, "batch_size must be at least 1, got ", batch_size);
  MNISTMLP_CHECK(x.rows >= 1, op, "no training rows");
  std::unique_lock lock(model.mutex());
  model.check_targets(op, x, y);

  TrainingState& state = model.state();
  const std::vector<index_t> order = epoch_order(model.config().seed, state.epoch, x.rows, shuffle);
  const index_t batches = tiles(x.rows, batch_size);

  EpochResult result;
  result.batch_loss.resize(batches);
  result.batch_accuracy.resize(batches);
  EpochProgress& p = result.progress;
  p.samples_total = x.rows;
  p.batches_total = batches;
  std::vector<BatchMetrics> metrics(batches);
  double loss_total = 0;
  index_t correct_total = 0;

  // Folds the metrics of batches [p.batches_done, done) into the running figures.
  auto account = [&](index_t done) {
    model.backend().read_metrics(p.batches_done, done, metrics.data() + p.batches_done);
    for (index_t b = p.batches_done; b < done; ++b) {
      const BatchMetrics& m = metrics[b];
      const double accuracy = double(m.correct) / double(m.rows);
      const double t = double(p.step);
      const double decay = std::min(0.9, (1.0 + t) / (10.0 + t));
      state.loss_average = decay * state.loss_average + (1 - decay) * m.loss;
      state.accuracy_average = decay * state.accuracy_average + (1 - decay) * accuracy;
      result.batch_loss[b] = static_cast<float>(m.loss);
      result.batch_accuracy[b] = static_cast<float>(accuracy);
      loss_total += m.loss;
      correct_total += m.correct;
      p.samples_done += m.rows;
      ++p.step;
    }
    p.batches_done = done;
    p.loss_average = state.loss_average;
    p.accuracy_average = state.accuracy_average;
    p.epoch_loss = done ? loss_total / double(done) : 0;
    p.epoch_accuracy = p.samples_done ? double(correct_total) / double(p.samples_done) : 0;
  };

  const auto start = clock::now();
  const auto interval = std::chrono::duration_cast<clock::duration>(
      std::chrono::duration<double>(progress ? report_interval : 1e9));
  p.step = state.step;
  Backend<T>& backend = model.backend();
  if (backend.checks_inputs()) model.keep_restore_point();
  backend.begin_epoch(x, y, order.data(), batch_size);
  index_t launched = 0;
  while (launched < batches) {
    const index_t next = backend.train_batches(launched, batches, state.step, clock::now() + interval);
    state.step += next - launched;
    launched = next;
    if (backend.nonfinite_row() >= 0) {  // undo the epoch, then name the value
      backend.end_epoch();
      model.roll_back();
      model.fail_nonfinite(op, x, 0, x.rows);
    }
    if (progress && launched < batches) {
      account(launched);
      p.seconds = std::chrono::duration<double>(clock::now() - start).count();
      if (!progress(p)) {
        result.stopped = true;
        break;
      }
    }
  }
  account(launched);
  backend.end_epoch();
  p.seconds = std::chrono::duration<double>(clock::now() - start).count();
  if (!result.stopped) ++state.epoch;
  result.batch_loss.resize(launched);
  result.batch_accuracy.resize(launched);
  if (progress && !result.stopped) progress(p);
  return result;
}

template EpochResult train_epoch<float>(Model<float>&, const InputView&, const TargetView<float>&,
                                        index_t, bool, const ProgressCallback&, double);
template EpochResult train_epoch<double>(Model<double>&, const InputView&,
                                         const TargetView<double>&, index_t, bool,
                                         const ProgressCallback&, double);

}  // namespace mnistmlp
