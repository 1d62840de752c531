#include "mnistmlp/mlp.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "mnistmlp/rng.hpp"
#include "mnistmlp/thread_placement.hpp"

namespace mnistmlp {

template <typename T>
Model<T>::Model(ModelConfig config, int threads, Placement where)
    : config_(std::move(config)), where_(where) {
  config_.validate();
  arena_.allocate(config_.sizes, config_.optimizer.state_slots());
  for (int slot = 0; slot < arena_.state_slots; ++slot)  // padding included: no NaN anywhere
    std::fill(arena_.state(slot), arena_.state(slot) + arena_.size(),
              static_cast<T>(config_.optimizer.initial_state(slot)));
  set_threads(threads);
  backend_ = where.device == Device::cuda ? make_cuda_backend(*this) : make_cpu_backend(*this);
}

template <typename T>
WriteLock Model<T>::lock_for_writing() {
  if (epoch_thread_.load() == std::this_thread::get_id())
    throw std::logic_error(
        "the model is training on this thread: a progress callback may read the model "
        "(predict, get_weights, save) but change it only after the epoch");
  WriteLock lock{std::unique_lock<std::mutex>(writer_mutex_),
                 std::unique_lock<std::shared_mutex>(data_mutex_)};
  return lock;
}

template <typename T>
std::string Model<T>::state_problem() const {
  // Parameters are squared (weight decay, gradient norms, mean squared error on linear
  // outputs): beyond sqrt(max) that overflows, and a file holding such weights predicts NaN.
  const double largest = std::sqrt(double(std::numeric_limits<T>::max()));
  const char* type = sizeof(T) == 4 ? "float32" : "float64";
  const ModelConfig& c = config_;
  const std::vector<std::string> slots = c.optimizer.state_slot_names();
  for (int section = -1; section < arena_.state_slots; ++section) {
    const T* base = section < 0 ? arena_.params() : arena_.state(section);
    const auto sign = section < 0 ? OptimizerConfig::Sign::any : c.optimizer.state_sign(section);
    for (index_t l = 0; l < c.layers(); ++l) {
      const index_t counts[2] = {c.sizes[l] * c.sizes[l + 1], c.sizes[l + 1]};
      const T* values[2] = {arena_.weight(base, l), arena_.bias(base, l)};
      for (int part = 0; part < 2; ++part) {
        const std::string what =
            section < 0 ? std::string(part ? "the biases" : "the weights") + " of layer " + to_text(l)
                        : "the optimizer state '" + slots[section] + "' of layer " + to_text(l) +
                              (part ? "'s biases" : "'s weights");
        for (index_t i = 0; i < counts[part]; ++i) {
          const double v = values[part][i];
          if (!std::isfinite(v)) return what + " hold NaN or Inf";
          if (section < 0 && std::fabs(v) > largest)
            return what + " hold " + to_text(v) + ", too large for " + type + " (at most " +
                   to_text(largest) + " in magnitude, whose square is still finite)";
          if (sign == OptimizerConfig::Sign::non_negative && v < 0)
            return what + " hold " + to_text(v) + " (a sum of squares, which must be >= 0)";
          if (sign == OptimizerConfig::Sign::positive && !(v > 0))
            return what + " hold " + to_text(v) + " (an accumulator of squares, which must be > 0)";
        }
      }
    }
  }
  return "";
}

template <typename T>
void Model<T>::predict(T* out, const InputView& x) const {
  check_inputs(x);
  backend_->predict(out, x);
  const index_t K = config_.outputs();
  for (index_t i = 0; i < x.rows * K; ++i)
    if (!std::isfinite(out[i]))
      throw NumericalError(error_message("the model's outputs overflow to NaN or Inf (first at row ",
                                         x.first_row + i / K,
                                         "): its weights, or these inputs, are too large"));
}

template <typename T>
BatchMetrics Model<T>::evaluate(const InputView& x, const TargetView<T>& y) const {
  check_targets(x, y);
  const BatchMetrics total = backend_->evaluate(x, y);
  if (!std::isfinite(total.loss_sum))
    throw NumericalError(
        "the loss overflows to NaN or Inf: the model's weights, or these inputs or targets, are "
        "too large");
  return total;
}

template <typename T>
int Model<T>::threads() const {
  return threads_ > 0 ? threads_ : default_threads();
}

template <typename T>
void Model<T>::set_threads(int threads) {
  MNISTMLP_CHECK(threads >= 0,
                 "thread count must be >= 0 (0 = OpenMP's setting, at most the usable cores), got ",
                 threads);
  threads_ = threads;
}

template <typename T>
void Model<T>::set_optimizer(const OptimizerConfig& optimizer) {
  optimizer.validate();
  const std::vector<std::string> slots = optimizer.state_slot_names();
  const std::vector<std::string> current = config_.optimizer.state_slot_names();
  MNISTMLP_CHECK(slots == current, "the optimizer's new settings need the state slots ", slots,
                 " but the model holds ", current,
                 ": build a new model for another kind of optimizer");
  config_.optimizer = optimizer;
  ++config_version_;
}

template <typename T>
void Model<T>::initialize_layer(index_t layer, WeightInit init, double scale,
                                std::uint64_t seed) {
  MNISTMLP_CHECK(layer >= 0 && layer < config_.layers(), "layer ", layer,
                 " out of range for ", config_.layers(), " layers");
  MNISTMLP_CHECK(scale > 0 && std::isfinite(scale),
                 "scale must be a finite number > 0, got ", scale);
  const index_t fan_in = config_.sizes[layer], fan_out = config_.sizes[layer + 1];
  T* w = arena_.weight(arena_.params(), layer);
  T* b = arena_.bias(arena_.params(), layer);
  CounterRng rng(seed, RngStream::init, static_cast<std::uint64_t>(layer));
  for (index_t i = 0; i < fan_in * fan_out; ++i) {
    double value = 0;
    switch (init) {
      case WeightInit::truncated_normal:
        do value = rng.normal(); while (std::fabs(value) > 2.0);  // TF redraws beyond 2 stddev
        value *= scale;
        break;
      case WeightInit::normal: value = rng.normal() * scale; break;
      case WeightInit::uniform:  // std of U(-a, a) is a / sqrt(3): scale is the std
        value = (2 * rng.uniform() - 1) * std::sqrt(3.0) * scale;
        break;
      case WeightInit::glorot_uniform:
        value = (2 * rng.uniform() - 1) * std::sqrt(6.0 / double(fan_in + fan_out));
        break;
      case WeightInit::he_normal: value = rng.normal() * std::sqrt(2.0 / double(fan_in)); break;
      case WeightInit::zeros: value = 0; break;
    }
    w[i] = static_cast<T>(value);
  }
  for (index_t j = 0; j < fan_out; ++j) b[j] = T(0);
  host_changed();
}

template <typename T>
void Model<T>::check_inputs(const InputView& x) const {
  MNISTMLP_CHECK(x.data != nullptr || x.rows == 0, "no input data");
  MNISTMLP_CHECK(x.cols == config_.inputs(), "expected ", config_.inputs(),
                 " input features per row, got ", x.cols);
}

template <typename T>
void Model<T>::check_targets(const InputView& x, const TargetView<T>& y) const {
  check_inputs(x);
  MNISTMLP_CHECK((y.labels != nullptr) != (y.dense != nullptr) || x.rows == 0,
                 "give either class labels or dense targets");
  MNISTMLP_CHECK(y.rows == x.rows, "inputs have ", x.rows, " rows but targets have ",
                 y.rows);
  const index_t K = config_.outputs();
  if (y.labels) {
    for (index_t i = 0; i < y.rows; ++i)
      MNISTMLP_CHECK(y.labels[i] >= 0 && y.labels[i] < K, "label ", y.labels[i], " at row ",
                     i, " is outside 0..", K - 1);
  } else {
    MNISTMLP_CHECK(y.classes == K, "expected targets of width ", K, ", got ", y.classes);
  }
}

template <typename T>
void Model<T>::check_finite(const InputView& x, index_t first, index_t count) const {
  auto scan = [&](const auto* data) {
    for (index_t r = first; r < first + count; ++r)
      for (index_t c = 0; c < x.cols; ++c)
        MNISTMLP_CHECK(std::isfinite(static_cast<T>(data[r * x.cols + c])),
                       "X contains NaN or Inf (first at row ", x.first_row + r, ", column ", c, ")");
  };
  if (x.type == ElementType::float32) scan(static_cast<const float*>(x.data));
  if (x.type == ElementType::float64) scan(static_cast<const double*>(x.data));
}

template <typename T>
void Model<T>::fail_nonfinite(const InputView& x, index_t first, index_t count) const {
  check_finite(x, first, count);
  fail("X contains NaN or Inf");  // not reached when the rows hold one, as callers know
}

template <typename T>
void Model<T>::keep_restore_point() {
  // The whole arena in one copy: its gradient section comes along, which the next step
  // overwrites anyway.
  const AlignedArray<T>& arena = arena_.memory;
  if (restore_arena_.size() != arena.size()) restore_arena_.reset(arena.size(), false);
  std::copy(arena.data(), arena.data() + arena.size(), restore_arena_.data());
  restore_state_ = state_;
}

template <typename T>
void Model<T>::roll_back() {
  std::copy(restore_arena_.data(), restore_arena_.data() + restore_arena_.size(), arena_.memory.data());
  state_ = restore_state_;
  host_changed();
}

template class Model<float>;
template class Model<double>;

}  // namespace mnistmlp
