#include "mnistmlp/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

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

namespace {

// The hint that ends a divergence message: what to change, with the setting's present value.
std::string divergence_hint(const ModelConfig& config) {
  return "Lower the learning rate (now " + to_text(config.optimizer.learning_rate) + ")" +
         (config.clip_norm > 0 ? "" : " or clip the gradients (clip_norm)") +
         "; with linear or mean_square outputs, also check the scale of the targets.";
}

}  // namespace

template <typename T>
EpochResult train_epoch(Model<T>& model, const InputView& x, const TargetView<T>& y,
                        index_t batch_size, bool shuffle, const ProgressCallback& progress,
                        double report_interval) {
  using clock = std::chrono::steady_clock;
  MNISTMLP_CHECK(batch_size >= 1, "batch_size must be at least 1, got ", batch_size);
  MNISTMLP_CHECK(x.rows >= 1, "no training rows");
  WriteLock lock = model.lock_for_writing();
  const typename Model<T>::EpochThread training_thread(model);
  model.check_targets(x, y);

  TrainingState& state = model.state();
  const index_t batches = tiles(x.rows, batch_size);
  if (state.step > kCounterLimit - batches || state.epoch >= kCounterLimit)
    throw std::overflow_error(error_message("the model has trained ", state.epoch, " epochs and ",
                                            state.step,
                                            " steps: another epoch would take its counters past 2**53"));
  const std::vector<index_t> order = epoch_order(model.config().seed, state.epoch, x.rows, shuffle);

  EpochResult result;
  result.batch_loss.resize(batches);
  result.batch_accuracy.resize(batches);
  EpochProgress& p = result.progress;
  p.samples_total = x.rows;
  p.batches_total = batches;
  std::vector<BatchMetrics> metrics(batches);
  double loss_total = 0;
  index_t correct_total = 0;

  Backend<T>& backend = model.backend();
  // Undoes the ended epoch, then raises NumericalError saying what diverged.
  auto diverged = [&](const std::string& what) {
    const std::int64_t epoch = state.epoch + 1;
    model.roll_back();
    throw NumericalError(error_message("training diverged in epoch ", epoch, ": ", what,
                                       ". The model is back as it was before this epoch. ",
                                       divergence_hint(model.config())));
  };
  // Folds the metrics of batches [p.batches_done, done) into the running figures; a batch
  // whose loss is NaN or Inf ends the epoch as diverged.
  auto account = [&](index_t done) {
    backend.read_metrics(p.batches_done, done, metrics.data() + p.batches_done);
    for (index_t b = p.batches_done; b < done; ++b) {
      const BatchMetrics& m = metrics[b];
      if (!std::isfinite(m.loss)) {
        backend.end_epoch();
        diverged("the loss of batch " + to_text(b + 1) + " (step " + to_text(p.step + 1) +
                 ") is " + to_text(m.loss));
      }
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
  // Reports progress with the data lock released, so the callback (and other threads) can
  // read the model meanwhile.
  auto report = [&] {
    lock.data.unlock();
    const bool keep_going = progress(p);
    lock.data.lock();
    return keep_going;
  };

  const auto start = clock::now();
  const auto interval = std::chrono::duration_cast<clock::duration>(
      std::chrono::duration<double>(progress ? report_interval : 1e9));
  p.step = state.step;
  model.keep_restore_point();
  backend.begin_epoch(x, y, order.data(), batch_size);
  index_t launched = 0;
  while (launched < batches) {
    const index_t next = backend.train_batches(launched, batches, state.step, clock::now() + interval);
    state.step += next - launched;
    launched = next;
    if (backend.nonfinite_row() >= 0) {  // undo the epoch, then name the value
      backend.end_epoch();
      model.roll_back();
      model.fail_nonfinite(x, 0, x.rows);
    }
    if (progress && launched < batches) {
      account(launched);
      p.seconds = std::chrono::duration<double>(clock::now() - start).count();
      backend.sync_host_arena();
      if (!report()) {
        result.stopped = true;
        break;
      }
    }
  }
  account(launched);
  backend.end_epoch();
  if (const std::string problem = model.state_problem(); !problem.empty()) diverged(problem);
  p.seconds = std::chrono::duration<double>(clock::now() - start).count();
  ++state.epoch;
  result.batch_loss.resize(launched);
  result.batch_accuracy.resize(launched);
  if (progress && !result.stopped) report();
  return result;
}

template EpochResult train_epoch<float>(Model<float>&, const InputView&, const TargetView<float>&,
                                        index_t, bool, const ProgressCallback&, double);
template EpochResult train_epoch<double>(Model<double>&, const InputView&,
                                         const TargetView<double>&, index_t, bool,
                                         const ProgressCallback&, double);

}  // namespace mnistmlp
