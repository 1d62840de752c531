// The CPU backend: one OpenMP parallel region per batch (or per inference call), inside which
// the ops of ops.hpp share out their work. Buffers are planned once per batch size; nothing
// is allocated per batch.
#include <omp.h>

#include <algorithm>
#include <vector>

#include "mnistmlp/backend/cpu/ops.hpp"
#include "mnistmlp/kernels/loss.hpp"
#include "mnistmlp/mlp.hpp"

namespace mnistmlp {

namespace {

// Activation buffers for up to `capacity` rows, carved from one allocation.
template <typename T>
struct Workspace {
  index_t capacity = 0;
  AlignedArray<T> memory;
  T* inputs = nullptr;                 // (rows, n0)
  std::vector<T*> outputs;             // per layer: activations; the last layer's logits
  std::vector<T*> dropped, dropout;    // per layer with dropout, for training batches only
  T* probabilities = nullptr;          // (rows, K): output activations
  T* gradient[2] = {nullptr, nullptr};  // dz ping-pong, (rows, widest layer)
  T* targets = nullptr;                // (rows, K) dense targets
  T* row_loss = nullptr;
  AlignedArray<std::int32_t> labels;
  AlignedArray<std::uint8_t> correct;
  AlignedArray<double> norm_partials;

  // gradients: room for backpropagation; with_dropout: for training batches with dropout.
  void plan(const ModelConfig& config, index_t rows, bool gradients, bool with_dropout,
            index_t parameter_count) {
    const auto& n = config.sizes;
    const index_t L = config.layers(), K = config.outputs();
    const index_t widest = *std::max_element(n.begin() + 1, n.end());
    index_t total = padded<T>(rows * n[0]) + 2 * padded<T>(rows * K) + padded<T>(rows);
    auto drops = [&](index_t l) { return with_dropout && config.dropout[l] > 0; };
    for (index_t l = 0; l < L; ++l) total += padded<T>(rows * n[l + 1]) * (drops(l) ? 3 : 1);
    if (gradients) total += 2 * padded<T>(rows * widest);
    memory.reset(total);
    T* at = memory.data();
    auto take = [&at](index_t count) {
      T* view = at;
      at += padded<T>(count);
      return view;
    };
    inputs = take(rows * n[0]);
    outputs.assign(L, nullptr);
    dropped.assign(L, nullptr);
    dropout.assign(L, nullptr);
    for (index_t l = 0; l < L; ++l) {
      outputs[l] = take(rows * n[l + 1]);
      if (drops(l)) {
        dropped[l] = take(rows * n[l + 1]);
        dropout[l] = take(rows * n[l + 1]);
      }
    }
    probabilities = take(rows * K);
    targets = take(rows * K);
    row_loss = take(rows);
    gradient[0] = gradients ? take(rows * widest) : nullptr;
    gradient[1] = gradients ? take(rows * widest) : nullptr;
    labels.reset(rows);
    correct.reset(rows);
    norm_partials.reset(std::max<index_t>(cpu::norm_chunks(parameter_count), 1));
    capacity = rows;
  }
};

// Rows per inference chunk: large enough to share out, small enough to stay in cache.
constexpr index_t kInferenceRows = 1024;

template <typename T>
class CpuBackend final : public Backend<T> {
 public:
  explicit CpuBackend(Model<T>& model) : model_(model) {}

  void begin_epoch(const InputView& x, const TargetView<T>& y, const index_t* order,
                   index_t batch_size) override {
    batch_size_ = batch_size;
    x_ = x;
    y_ = y;
    order_ = order;
    const index_t rows = std::max<index_t>(std::min(batch_size, x.rows), 1);
    if (training_.capacity != rows)
      training_.plan(model_.config(), rows, true, true, model_.arena().size());
    metrics_.assign((x.rows + batch_size - 1) / batch_size, BatchMetrics{});
  }

  index_t train_batches(index_t begin, index_t end, std::int64_t step,
                        typename Backend<T>::Clock::time_point deadline) override {
    for (index_t batch = begin; batch < end;) {
      const index_t first = batch * batch_size_;
      train_batch(batch, first, std::min(batch_size_, x_.rows - first), step++);
      ++batch;
      if (Backend<T>::Clock::now() >= deadline) return batch;
    }
    return end;
  }

  void read_metrics(index_t begin, index_t end, BatchMetrics* out) override {
    std::copy(metrics_.begin() + begin, metrics_.begin() + end, out);
  }

  void end_epoch() override {
    x_ = InputView{};
    y_ = TargetView<T>{};
    order_ = nullptr;
  }

  void predict(T* out, const InputView& x) const override {
    const index_t K = model_.config().outputs();
    for_each_chunk(x, [&](Workspace<T>& ws, index_t first, index_t count) {
      cpu::gather_inputs(ws.inputs, x, nullptr, first, count);
      forward(ws, count, -1);
      output_forward(ws, count);
#pragma omp for schedule(static)
      for (index_t i = 0; i < count * K; ++i) out[first * K + i] = ws.probabilities[i];
    });
  }

  BatchMetrics evaluate(const InputView& x, const TargetView<T>& y) const override {
    BatchMetrics total;
    for_each_chunk(x, [&](Workspace<T>& ws, index_t first, index_t count) {
      cpu::gather_inputs(ws.inputs, x, nullptr, first, count);
      cpu::gather_targets(ws.labels.data(), ws.targets, y, nullptr, first, count);
      forward(ws, count, -1);
      const index_t K = model_.config().outputs();
      cpu::output_loss<T>(nullptr, ws.probabilities, ws.row_loss, ws.correct.data(),
                          ws.outputs.back(), y.labels ? ws.labels.data() : nullptr,
                          y.labels ? nullptr : ws.targets, model_.config().output_activation(),
                          model_.config().loss, count, K, T(1));
#pragma omp master
      for (index_t i = 0; i < count; ++i) {
        total.loss_sum += ws.row_loss[i];
        total.correct += ws.correct[i];
      }
#pragma omp barrier
    });
    total.rows = x.rows;
    return total;
  }

  double loss_and_gradients(const InputView& x, const TargetView<T>& y) override {
    Workspace<T> ws;
    ws.plan(model_.config(), std::max<index_t>(x.rows, 1), true, false, model_.arena().size());
    BatchMetrics metrics;
    double loss = 0;
#pragma omp parallel num_threads(model_.threads())
    {
      cpu::gather_inputs(ws.inputs, x, nullptr, 0, x.rows);
      cpu::gather_targets(ws.labels.data(), ws.targets, y, nullptr, 0, x.rows);
      forward(ws, x.rows, -1);
      const double value = loss_and_backward(ws, x.rows, metrics, &y);
#pragma omp master
      loss = value;
    }
    return loss;
  }

 private:
  const ModelConfig& config() const { return model_.config(); }

  void train_batch(index_t batch, index_t first, index_t count, std::int64_t step) {
    Workspace<T>& ws = training_;
    BatchMetrics metrics;
#pragma omp parallel num_threads(model_.threads())
    {
      cpu::gather_inputs(ws.inputs, x_, order_, first, count);
      cpu::gather_targets(ws.labels.data(), ws.targets, y_, order_, first, count);
      forward(ws, count, step);
      const double loss = loss_and_backward(ws, count, metrics);
      update(ws, step);
#pragma omp master
      metrics.loss = loss;
    }
    metrics_[batch] = metrics;
  }

  // Runs body(ws, first, count) inside one parallel region over chunks of x's rows, with a
  // workspace of its own so concurrent callers never share buffers.
  template <typename Body>
  void for_each_chunk(const InputView& x, Body&& body) const {
    if (x.rows == 0) return;
    Workspace<T> ws;
    ws.plan(config(), std::min(x.rows, kInferenceRows), false, false, 0);
#pragma omp parallel num_threads(model_.threads())
    for (index_t first = 0; first < x.rows; first += kInferenceRows)
      body(ws, first, std::min(kInferenceRows, x.rows - first));
  }

  // Layers forward from ws.inputs; `step` >= 0 trains (dropout on), -1 infers.
  void forward(Workspace<T>& ws, index_t rows, std::int64_t step) const {
    const ModelConfig& c = config();
    const ParameterArena<T>& arena = model_.arena();
    const index_t L = c.layers();
    const T* in = ws.inputs;
    for (index_t l = 0; l < L; ++l) {
      const bool hidden = l + 1 < L;
      cpu::dense_forward(ws.outputs[l], in, arena.weight(arena.params(), l),
                         arena.bias(arena.params(), l), rows, c.sizes[l], c.sizes[l + 1],
                         hidden ? c.activations[l] : Activation::linear);
      in = ws.outputs[l];
      if (step >= 0 && ws.dropped[l]) {
        cpu::dropout_forward(ws.dropped[l], ws.dropout[l], ws.outputs[l], rows * c.sizes[l + 1],
                             c.dropout[l], c.seed, step, l);
        in = ws.dropped[l];
      }
    }
  }

  // ws.probabilities = output activation of the logits.
  void output_forward(Workspace<T>& ws, index_t rows) const {
    const index_t K = config().outputs();
    const Activation output = config().output_activation();
#pragma omp for schedule(static)
    for (index_t i = 0; i < rows; ++i) {
      const T* z = ws.outputs.back() + i * K;
      T* a = ws.probabilities + i * K;
      if (output == Activation::softmax)
        kernels::softmax_row(a, z, K);
      else
        for (index_t k = 0; k < K; ++k) a[k] = kernels::activate(output, z[k]);
    }
  }

  // Loss of the batch (mean, L2 penalty included) and the gradient of every parameter into
  // the arena's gradient section. Every thread returns the same value.
  double loss_and_backward(Workspace<T>& ws, index_t rows, BatchMetrics& metrics,
                           const TargetView<T>* targets = nullptr) {
    const ModelConfig& c = config();
    ParameterArena<T>& arena = model_.arena();
    const index_t L = c.layers(), K = c.outputs();
    const bool labelled = targets ? targets->labels != nullptr : y_.labels != nullptr;
    const double scale =
        c.loss == Loss::categorical_crossentropy ? 1.0 / rows : 1.0 / (double(rows) * K);
    T* dz = ws.gradient[0];
    cpu::output_loss(dz, ws.probabilities, ws.row_loss, ws.correct.data(), ws.outputs.back(),
                     labelled ? ws.labels.data() : nullptr, labelled ? nullptr : ws.targets,
                     c.output_activation(), c.loss, rows, K, T(scale));
    double loss_sum = 0;
    index_t correct = 0;
    for (index_t i = 0; i < rows; ++i) {  // every thread, same order: same bits
      loss_sum += ws.row_loss[i];
      correct += ws.correct[i];
    }
    double penalty = 0;
    for (index_t l = 0; l < L; ++l)
      if (c.weight_decay[l] > 0)
        penalty += 0.5 * c.weight_decay[l] *
                   cpu::sum_of_squares(arena.weight(arena.params(), l),
                                       c.sizes[l] * c.sizes[l + 1], ws.norm_partials.data());
    for (index_t l = L - 1; l >= 0; --l) {
      const bool first = l == 0;
      const T* in = first ? ws.inputs : (ws.dropped[l - 1] ? ws.dropped[l - 1] : ws.outputs[l - 1]);
      T* dinp = first ? nullptr : ws.gradient[(L - l) % 2];
      cpu::dense_backward(dinp, arena.weight(arena.grads(), l), arena.bias(arena.grads(), l), dz,
                          in, arena.weight(arena.params(), l), first ? nullptr : ws.outputs[l - 1],
                          first ? nullptr : ws.dropout[l - 1],
                          first ? Activation::linear : c.activations[l - 1], rows, c.sizes[l],
                          c.sizes[l + 1], T(c.weight_decay[l]));
      dz = dinp;
    }
#pragma omp master
    {
      metrics.loss_sum = loss_sum;
      metrics.correct = correct;
      metrics.rows = rows;
    }
    return loss_sum * scale + penalty;
  }

  void update(Workspace<T>& ws, std::int64_t step) {
    const ModelConfig& c = config();
    ParameterArena<T>& arena = model_.arena();
    T clip = T(1);
    if (c.clip_norm > 0) {
      const double norm = std::sqrt(cpu::sum_of_squares(arena.grads(), arena.size(),
                                                        ws.norm_partials.data()));
      clip = static_cast<T>(c.clip_norm / std::max(norm, c.clip_norm));
    }
    cpu::optimizer_update(arena.params(), arena.grads(),
                          arena.state_slots > 0 ? arena.state(0) : nullptr,
                          arena.state_slots > 1 ? arena.state(1) : nullptr, arena.size(),
                          c.optimizer, step, clip);
  }

  Model<T>& model_;
  Workspace<T> training_;
  InputView x_;
  TargetView<T> y_;
  const index_t* order_ = nullptr;
  index_t batch_size_ = 1;
  std::vector<BatchMetrics> metrics_;
};

}  // namespace

template <typename T>
std::unique_ptr<Backend<T>> make_cpu_backend(Model<T>& model) {
  return std::make_unique<CpuBackend<T>>(model);
}

template std::unique_ptr<Backend<float>> make_cpu_backend(Model<float>&);
template std::unique_ptr<Backend<double>> make_cpu_backend(Model<double>&);

}  // namespace mnistmlp
