#include "mnistmlp/mlp.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>

#include "mnistmlp/rng.hpp"

namespace mnistmlp {

template <typename T>
Model<T>::Model(ModelConfig config, int threads, Device device)
    : config_(std::move(config)), device_(device) {
  config_.validate();
  arena_.allocate(config_.sizes, config_.optimizer.state_slots());
  set_threads(threads);
  backend_ = device == Device::cuda ? make_cuda_backend(*this) : make_cpu_backend(*this);
}

template <typename T>
void Model<T>::set_threads(int threads) {
  MNISTMLP_CHECK(threads >= 0, "threads", "thread count must be >= 0 (0 = all cores), got ",
                 threads);
  threads_ = threads == 0 ? omp_get_num_procs() : threads;
}

template <typename T>
void Model<T>::initialize_layer(index_t layer, WeightInit init, double scale,
                                std::uint64_t seed) {
  MNISTMLP_CHECK(layer >= 0 && layer < config_.layers(), "initialize_layer", "layer ", layer,
                 " out of range for ", config_.layers(), " layers");
  MNISTMLP_CHECK(scale > 0 && std::isfinite(scale), "initialize_layer",
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
void Model<T>::check_inputs(const char* op, const InputView& x) const {
  MNISTMLP_CHECK(x.data != nullptr || x.rows == 0, op, "no input data");
  MNISTMLP_CHECK(x.cols == config_.inputs(), op, "expected ", config_.inputs(),
                 " input features per row, got ", x.cols);
}

template <typename T>
void Model<T>::check_targets(const char* op, const InputView& x, const TargetView<T>& y) const {
  check_inputs(op, x);
  MNISTMLP_CHECK((y.labels != nullptr) != (y.dense != nullptr) || x.rows == 0, op,
                 "give either class labels or dense targets");
  MNISTMLP_CHECK(y.rows == x.rows, op, "inputs have ", x.rows, " rows but targets have ",
                 y.rows);
  const index_t K = config_.outputs();
  if (y.labels) {
    for (index_t i = 0; i < y.rows; ++i)
      MNISTMLP_CHECK(y.labels[i] >= 0 && y.labels[i] < K, op, "label ", y.labels[i], " at row ",
                     i, " is outside 0..", K - 1);
  } else {
    MNISTMLP_CHECK(y.classes == K, op, "expected targets of width ", K, ", got ", y.classes);
  }
}

template <typename T>
void Model<T>::check_finite(const char* op, const InputView& x, index_t first,
                            index_t count) const {
  auto scan = [&](const auto* data) {
    for (index_t r = first; r < first + count; ++r)
      for (index_t c = 0; c < x.cols; ++c)
        MNISTMLP_CHECK(std::isfinite(static_cast<T>(data[r * x.cols + c])), op,
                       "X contains NaN or Inf (first at row ", r, ", column ", c, ")");
  };
  if (x.type == ElementType::float32) scan(static_cast<const float*>(x.data));
  if (x.type == ElementType::float64) scan(static_cast<const double*>(x.data));
}

template <typename T>
void Model<T>::fail_nonfinite(const char* op, const InputView& x, index_t first,
                              index_t count) const {
  check_finite(op, x, first, count);
  fail(op, "X contains NaN or Inf");  // not reached when the rows hold one, as callers know
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
