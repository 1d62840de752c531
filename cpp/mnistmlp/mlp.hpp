// A multilayer perceptron: its configuration, its parameter arena, its training counters and
// the backend that runs it.
//
// Concurrency. Readers (predict, evaluate, reading parameters and counters) share the data
// lock; writers (setting parameters or counters, loading, gradients) hold it alone. A writer
// first takes the writer lock, which an epoch holds from start to end while it takes the
// data lock only for its runs of batches: between runs, while it reports progress, readers
// (its own progress callback among them) see the model as of the last finished batch, and no
// other writer can change the model under the epoch. A writer called from the thread that
// runs an epoch would wait for itself: lock_for_writing refuses it instead.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>

#include "mnistmlp/arena.hpp"
#include "mnistmlp/backend/backend.hpp"
#include "mnistmlp/common.hpp"

namespace mnistmlp {

// Training counters stay within [0, kCounterLimit]: exact as doubles (in model files' JSON and
// in the learning-rate arithmetic) and far from overflowing; 2^53 steps would take centuries.
constexpr std::int64_t kCounterLimit = std::int64_t{1} << 53;

// Counters that make training resumable: saved with the model.
struct TrainingState {
  std::int64_t step = 0;   // optimizer updates applied
  // Epochs trained, one cut short by a stop (a callback, Ctrl-C) included: its updates were
  // applied, and the next epoch takes a new shuffle. Keys each epoch's shuffle.
  std::int64_t epoch = 0;
  // TFLearn's displayed running averages of the batch loss and accuracy (see trainer.hpp).
  double loss_average = 0;
  double accuracy_average = 0;
};

// Exclusive use of a model: the writer lock, then the data lock.
struct WriteLock {
  std::unique_lock<std::mutex> writer;
  std::unique_lock<std::shared_mutex> data;
};

// A numerical failure the caller can act on: training that diverged, outputs that overflowed.
// Python sees FloatingPointError.
struct NumericalError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <typename T>
class Model {
 public:
  Model(ModelConfig config, int threads, Placement where = {});
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const ModelConfig& config() const { return config_; }
  ParameterArena<T>& arena() { return arena_; }
  const ParameterArena<T>& arena() const { return arena_; }
  TrainingState& state() { return state_; }
  const TrainingState& state() const { return state_; }
  Backend<T>& backend() { return *backend_; }
  const Backend<T>& backend() const { return *backend_; }
  Device device() const { return where_.device; }
  const Placement& placement() const { return where_; }

  std::shared_lock<std::shared_mutex> lock_for_reading() const {
    return std::shared_lock<std::shared_mutex>(data_mutex_);
  }
  // Waits until no epoch runs; throws when called from the thread running one.
  WriteLock lock_for_writing();
  // Marks the calling thread as the one running an epoch, while the object lives.
  class EpochThread {
   public:
    explicit EpochThread(Model& model) : model_(model) {
      model_.epoch_thread_ = std::this_thread::get_id();
    }
    ~EpochThread() { model_.epoch_thread_ = std::thread::id(); }
    EpochThread(const EpochThread&) = delete;
    EpochThread& operator=(const EpochThread&) = delete;

   private:
    Model& model_;
  };

  // Counts writes to the arena made on the host (initializing or setting weights, loading a
  // file, rolling back): a backend that keeps its own copy of the arena uploads it again when
  // this moves.
  std::uint64_t host_version() const { return host_version_; }
  void host_changed() { ++host_version_; }

  // The threads set, or default_threads() of the calling thread when none were (0).
  int threads() const;
  // The seed keys shuffles and dropout; restored with a saved model so training resumes exactly.
  void set_seed(std::uint64_t seed) {
    config_.seed = seed;
    ++config_version_;
  }
  // New optimizer settings between epochs (a learning-rate schedule's): the state slots, and
  // so the arena's layout, must stay the same.
  void set_optimizer(const OptimizerConfig& optimizer);
  // Counts changes of the configuration after construction: a backend that records work with
  // the configuration baked in (the CUDA graph) records it again when this moves.
  std::uint64_t config_version() const { return config_version_; }
  void set_threads(int threads);

  // Weights of `layer` drawn from `init` (scale: the stddev of normal and truncated_normal,
  // the bound of uniform; ignored by the others), bias zero. Seeded: same seed, same values.
  void initialize_layer(index_t layer, WeightInit init, double scale, std::uint64_t seed);

  // The model's parameters and optimizer state as every writer must leave them, or why not:
  // parameters finite and small enough that squaring them (weight decay, gradient norms,
  // mean squared error) cannot overflow T, optimizer state finite (Adam's v >= 0). "" if so.
  std::string state_problem() const;

  // Output activations of every row of x into out (rows, outputs), and the summed metrics of
  // x against y. Throw for NaN or Inf in x, and NumericalError when the outputs
  // overflow (weights or inputs too large): never a NaN returned without a word.
  void predict(T* out, const InputView& x) const;
  BatchMetrics evaluate(const InputView& x, const TargetView<T>& y) const;

  // Check x and y against the network before any work.
  void check_inputs(const InputView& x) const;
  void check_targets(const InputView& x, const TargetView<T>& y) const;
  // Throws naming the first NaN or Inf (as T) in rows [first, first + count) of x, if any.
  void check_finite(const InputView& x, index_t first, index_t count) const;
  // The same, for rows known to hold one: always throws.
  [[noreturn]] void fail_nonfinite(const InputView& x, index_t first, index_t count) const;

  // Remembers the parameters, optimizer state and counters, for roll_back() to restore (an
  // epoch that meets a NaN in its inputs or diverges is undone; a write that would leave a
  // bad state is refused). The copy's memory is kept for reuse.
  void keep_restore_point();
  void roll_back();

 private:
  ModelConfig config_;
  ParameterArena<T> arena_;
  TrainingState state_;
  AlignedArray<T> restore_arena_;  // a copy of arena_.memory
  TrainingState restore_state_;
  int threads_ = 0;  // as set: 0 asks for default_threads() at each call
  Placement where_;
  std::uint64_t host_version_ = 0;
  std::uint64_t config_version_ = 0;
  std::unique_ptr<Backend<T>> backend_;
  mutable std::shared_mutex data_mutex_;
  std::mutex writer_mutex_;
  std::atomic<std::thread::id> epoch_thread_{};
};

}  // namespace mnistmlp
