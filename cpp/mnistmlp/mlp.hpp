// A multilayer perceptron: its configuration, its parameter arena, its training counters and
// the backend that runs it. Reads (predict, evaluate, reading weights) may run from several
// threads at once; writes (training, setting weights) take the model exclusively.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>

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
  std::int64_t epoch = 0;  // epochs completed; keys each epoch's shuffle
  // TFLearn's displayed running averages of the batch loss and accuracy (see trainer.hpp).
  double loss_average = 0;
  double accuracy_average = 0;
};

template <typename T>
class Model {
 public:
  Model(ModelConfig config, int threads, Device device = Device::cpu);
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const ModelConfig& config() const { return config_; }
  ParameterArena<T>& arena() { return arena_; }
  const ParameterArena<T>& arena() const { return arena_; }
  TrainingState& state() { return state_; }
  const TrainingState& state() const { return state_; }
  Backend<T>& backend() { return *backend_; }
  const Backend<T>& backend() const { return *backend_; }
  std::shared_mutex& mutex() const { return mutex_; }
  Device device() const { return device_; }

  // Counts writes to the arena made on the host (initialize_layer, set_layer, loading a
  // file): a backend that keeps its own copy of the arena uploads it again when this moves.
  std::uint64_t host_version() const { return host_version_; }
  void host_changed() { ++host_version_; }

  int threads() const { return threads_; }
  // The seed keys shuffles and dropout; restored with a saved model so training resumes exactly.
  void set_seed(std::uint64_t seed) { config_.seed = seed; }
  void set_threads(int threads);

  // Weights of `layer` drawn from `init` (scale: the stddev of normal and truncated_normal,
  // the bound of uniform; ignored by the others), bias zero. Seeded: same seed, same values.
  void initialize_layer(index_t layer, WeightInit init, double scale, std::uint64_t seed);

  // Check x and y against the network before any work; throws naming the operation.
  void check_inputs(const char* op, const InputView& x) const;
  void check_targets(const char* op, const InputView& x, const TargetView<T>& y) const;
  // Throws naming the first NaN or Inf (as T) in rows [first, first + count) of x, if any.
  void check_finite(const char* op, const InputView& x, index_t first, index_t count) const;
  // The same, for rows known to hold one: always throws.
  [[noreturn]] void fail_nonfinite(const char* op, const InputView& x, index_t first,
                                   index_t count) const;

  // Remembers the parameters, optimizer state and counters, for roll_back() to restore (an
  // epoch that meets a NaN in its inputs is undone). The copy's memory is kept for reuse.
  void keep_restore_point();
  void roll_back();

 private:
  ModelConfig config_;
  ParameterArena<T> arena_;
  TrainingState state_;
  AlignedArray<T> restore_arena_;  // a copy of arena_.memory
  TrainingState restore_state_;
  int threads_ = 1;
  Device device_;
  std::uint64_t host_version_ = 0;
  std::unique_ptr<Backend<T>> backend_;
  mutable std::shared_mutex mutex_;
};

}  // namespace mnistmlp
