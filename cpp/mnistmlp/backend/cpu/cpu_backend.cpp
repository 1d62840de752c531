// The CPU backend: one OpenMP parallel region per run of batches (or per inference call),
// inside which the ops of cpu_ops.hpp share out their work. Buffers are planned once per batch
// size; nothing is allocated per batch. Inputs that are mostly zeros (MNIST pixels) take the
// sparse first-layer path of kernels/sparse.hpp.
#include <algorithm>
#include <memory>
#include <mutex>
#include <type_traits>
#include <vector>

#include "mnistmlp/backend/cpu/cpu_ops.hpp"
#include "mnistmlp/denormals.hpp"
#include "mnistmlp/kernels/loss.hpp"
#include "mnistmlp/mlp.hpp"
#include "mnistmlp/openmp.hpp"
#include "mnistmlp/thread_placement.hpp"

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
  AlignedArray<std::uint8_t> correct, row_finite;
  AlignedArray<double> norm_partials;
  // The batch's inputs as sparse rows, and whether this batch uses them.
  cpu::SparseBatch<T> sparse;
  bool sparse_input = false;
  AlignedArray<std::int32_t> sparse_columns, sparse_counts, active_columns, by_column_rows;
  AlignedArray<T> sparse_values, by_column_values;
  AlignedArray<index_t> column_starts, column_fill;
  AlignedArray<std::uint8_t> active_marks;
  AlignedArray<float> gemm_scratch;  // packing buffers of cpu::gemm, one set per thread
  int threads = 0;

  // gradients: room for backpropagation; with_dropout: for training batches with dropout.
  void plan(const ModelConfig& config, index_t rows, bool gradients, bool with_dropout,
            index_t parameter_count, int team) {
    const auto& n = config.sizes;
    const index_t L = config.layers(), K = config.outputs();
    const index_t widest = *std::max_element(n.begin() + 1, n.end());
    index_t total = padded<T>(rows * n[0]) + 2 * padded<T>(rows * K) + padded<T>(rows);
    auto drops = [&](index_t l) { return with_dropout && config.dropout[l] > 0; };
    for (index_t l = 0; l < L; ++l) total += padded<T>(rows * n[l + 1]) * (drops(l) ? 3 : 1);
    if (gradients) total += 2 * padded<T>(rows * widest);
    memory.reset(total, false);
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
    row_finite.reset(rows, false);
    // Room for the dense norm's chunks, or the sparse one's active-row chunks plus the rest.
    norm_partials.reset(std::max<index_t>(cpu::norm_chunks(parameter_count), 1) + n[0]);
    // Scratch, always written before read: left uninitialised (zeroing megabytes per
    // inference call would cost more than the inference).
    sparse_columns.reset(rows * n[0], false);
    sparse_values.reset(rows * n[0], false);
    sparse_counts.reset(rows, false);
    active_columns.reset(n[0], false);
    active_marks.reset(n[0], false);
    by_column_rows.reset(gradients ? rows * n[0] : 0, false);
    by_column_values.reset(gradients ? rows * n[0] : 0, false);
    column_starts.reset(n[0] + 1, false);
    column_fill.reset(n[0], false);
    sparse = {sparse_columns.data(), sparse_values.data(), sparse_counts.data(),
              active_marks.data(), active_columns.data(), column_starts.data(),
              column_fill.data(), by_column_rows.data(), by_column_values.data(), n[0], 0};
    gemm_scratch.reset(std::is_same_v<T, float> ? team * cpu::gemm_scratch_floats() : 0, false);
    threads = team;
    capacity = rows;
  }
};

// Rows per inference chunk: enough to make a chunk's product efficient, few enough that
// 10,000 rows make 20 chunks to share out.
constexpr index_t kInferenceRows = 512;
// Inputs with at most this fraction of nonzeros take the sparse first-layer path (the two
// paths give the same bits; this only decides which is faster).
constexpr double kSparseDensity = 0.5;
// Multiply-adds (as if dense) of a training batch, forward and backward, or of an inference
// call, that make one more thread worth its barriers. Measured (benchmarks/bench_train.py):
// 784-100-10 (15M at batch 64) trains as fast on one thread as on two up to batch 64, and on
// a busy machine a descheduled thread stalls every barrier; from batch 128 (30M), or with wide
// layers, every core helps.
constexpr double kWorkPerThread = 2e7;

// How a training step updates the parameters. The plan is chosen once per epoch, from the
// configuration (plan_for); a batch on the dense path (inputs mostly nonzero) always takes
// `dense`, the others are for batches on the sparse first-layer path, whose first-weight rows
// of all-zero inputs get no gradient. All three give the same result to rounding.
enum class UpdatePlan {
  // Every gradient whole (the sparse pass's untouched first-weight rows made zero, plus weight
  // decay), then one optimizer pass over the arena, scaled by the clip factor. The general
  // plan: needed with momentum, RMSProp and AdaGrad (their state moves where the gradient is
  // zero too) and with weight decay on the first layer.
  dense,
  // Plain SGD with clipping: the global norm needs every gradient first, so the first weight
  // is updated afterwards, but only on its active rows (the others have no step).
  sparse_sgd,
  // Plain SGD or Adam without clipping: a first-weight row's step needs only its own gradient,
  // so the sparse backward pass takes it while the row is in cache, and the optimizer pass
  // covers the rest of the arena.
  fused_first_layer,
};

UpdatePlan plan_for(const ModelConfig& c) {
  const OptimizerConfig& o = c.optimizer;
  const bool plain_sgd = o.kind == OptimizerKind::sgd && o.momentum == 0.0;
  if (c.weight_decay[0] > 0 || !(plain_sgd || o.kind == OptimizerKind::adam)) return UpdatePlan::dense;
  if (c.clip_norm > 0) return plain_sgd ? UpdatePlan::sparse_sgd : UpdatePlan::dense;
  return UpdatePlan::fused_first_layer;
}

template <typename T>
class CpuBackend final : public Backend<T> {
 public:
  explicit CpuBackend(Model<T>& model) : model_(model) {}

  void begin_epoch(const InputView& x, const TargetView<T>& y, const index_t* order,
                   index_t batch_size) override {
    batch_size_ = batch_size;
    plan_ = plan_for(model_.config());
    x_ = x;
    y_ = y;
    order_ = order;
    nonfinite_row_ = -1;
    const index_t rows = std::max<index_t>(std::min(batch_size, x.rows), 1);
    if (training_.capacity != rows || training_.threads < model_.threads())
      training_.plan(model_.config(), rows, true, true, model_.arena().size(), model_.threads());
    metrics_.assign(tiles(x.rows, batch_size), BatchMetrics{});
  }

  index_t train_batches(index_t begin, index_t end, std::int64_t step,
                        typename Backend<T>::Clock::time_point deadline) override {
    index_t next = begin;
    bool past_deadline = false;
    // One team for the whole run of batches: no fork and join per batch. No larger than the
    // epoch's workspace was planned for: the default thread count is read at each call, and a
    // progress callback may have changed it since begin_epoch. (Only the pragma reads it, and a
    // build without OpenMP ignores the pragma.)
    [[maybe_unused]] const int team = std::min(team_size(batch_size_), training_.threads);
    const int caller_cpu = current_cpu();
#pragma omp parallel num_threads(team)
    {
      leave_callers_cpu(caller_cpu);
      const ScopedDenormalMode denormals;  // every thread of the team, for the whole run
      for (index_t batch = begin; batch < end && !past_deadline; ++batch) {
        const index_t first = batch * batch_size_;
        const bool trained =
            train_batch(batch, first, std::min(batch_size_, x_.rows - first), step + (batch - begin));
#pragma omp master
        {
          next = trained ? batch + 1 : batch;
          past_deadline = !trained || Backend<T>::Clock::now() >= deadline;
        }
#pragma omp barrier
      }
    }
    return next;
  }

  index_t nonfinite_row() const override { return nonfinite_row_; }

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
    for_each_chunk(x, [&](Workspace<T>& ws, index_t, index_t first, index_t count) {
      forward(ws, count, -1);
      output_forward(ws, count);
      std::copy(ws.probabilities, ws.probabilities + count * K, out + first * K);
    });
  }

  BatchMetrics evaluate(const InputView& x, const TargetView<T>& y) const override {
    std::vector<BatchMetrics> chunks(tiles(x.rows, kInferenceRows));
    for_each_chunk(x, [&](Workspace<T>& ws, index_t chunk, index_t first, index_t count) {
      cpu::gather_targets(ws.labels.data(), ws.targets, y, nullptr, first, count);
      forward(ws, count, -1);
      const index_t K = model_.config().outputs();
      cpu::output_loss<T>(nullptr, ws.probabilities, ws.row_loss, ws.correct.data(),
                          ws.outputs.back(), y.labels ? ws.labels.data() : nullptr,
                          y.labels ? nullptr : ws.targets, model_.config().output_activation(),
                          model_.config().loss, count, K, T(1));
      BatchMetrics& part = chunks[chunk];
      for (index_t i = 0; i < count; ++i) {
        part.loss_sum += ws.row_loss[i];
        part.correct += ws.correct[i];
      }
    });
    BatchMetrics total;  // chunk by chunk, in order: the same sum for any thread count
    for (const BatchMetrics& part : chunks) {
      total.loss_sum += part.loss_sum;
      total.correct += part.correct;
    }
    total.rows = x.rows;
    return total;
  }

  double loss_and_gradients(const InputView& x, const TargetView<T>& y) override {
    const int team = model_.threads();
    Workspace<T> ws;
    ws.plan(model_.config(), std::max<index_t>(x.rows, 1), true, false, model_.arena().size(),
            team);
    BatchMetrics metrics;
    double loss = 0;
    bool finite = true;
#pragma omp parallel num_threads(team)
    if (load_inputs(ws, x, nullptr, 0, x.rows) >= 0) {
#pragma omp master
      finite = false;
    } else {
      cpu::gather_targets(ws.labels.data(), ws.targets, y, nullptr, 0, x.rows);
      forward(ws, x.rows, -1);
      const double value = loss_and_backward(ws, x.rows, metrics, cpu::RowStep<T>{}, &y);
      dense_first_layer_gradient(ws);
#pragma omp master
      loss = value;
    }
    if (!finite) model_.fail_nonfinite(x, 0, x.rows);
    return loss;
  }

 private:
  const ModelConfig& config() const { return model_.config(); }

  // Threads for `rows` of training (passes = 3: forward and backward) or inference (1): fewer
  // when the work is too small to share out, since each op ends with a barrier and a call's
  // first one wakes the other threads. Results do not depend on it.
  int team_size(index_t rows, int passes = 3) const {
    const ModelConfig& c = config();
    double work = 0;  // multiply-adds
    for (index_t l = 0; l < c.layers(); ++l) work += passes * double(rows) * c.sizes[l] * c.sizes[l + 1];
    const int useful = static_cast<int>(work / kWorkPerThread) + 1;
    return std::max(1, std::min(model_.threads(), useful));
  }

  // One training step; called by every thread of the team. Returns false, having changed
  // nothing, when a row of the batch holds NaN or Inf (every thread gets the same answer).
  bool train_batch(index_t batch, index_t first, index_t count, std::int64_t step) {
    Workspace<T>& ws = training_;
    BatchMetrics& metrics = metrics_[batch];
    const index_t bad = load_inputs(ws, x_, order_, first, count);
    if (bad >= 0) {
#pragma omp master
      nonfinite_row_ = order_[first + bad];
      return false;
    }
    if (first + count < x_.rows)
      cpu::prefetch_rows(x_, order_, first + count, std::min(count, x_.rows - first - count));
    cpu::gather_targets(ws.labels.data(), ws.targets, y_, order_, first, count);
    forward(ws, count, step);
    double loss = 0;
    switch (ws.sparse_input ? plan_ : UpdatePlan::dense) {
      case UpdatePlan::dense: loss = step_dense(ws, count, metrics, step); break;
      case UpdatePlan::sparse_sgd: loss = step_sparse_sgd(ws, count, metrics, step); break;
      case UpdatePlan::fused_first_layer: loss = step_fused_first_layer(ws, count, metrics, step); break;
    }
#pragma omp master
    metrics.loss = loss;
    return true;
  }

  // The three plans' steps, after the forward pass: loss and gradients, then the update.
  // Each returns the batch's loss, the same on every thread.
  double step_dense(Workspace<T>& ws, index_t rows, BatchMetrics& metrics, std::int64_t step) {
    const double loss = loss_and_backward(ws, rows, metrics, cpu::RowStep<T>{});
    dense_first_layer_gradient(ws);
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
    return loss;
  }

  double step_sparse_sgd(Workspace<T>& ws, index_t rows, BatchMetrics& metrics, std::int64_t step) {
    const double loss = loss_and_backward(ws, rows, metrics, cpu::RowStep<T>{});
    const ModelConfig& c = config();
    ParameterArena<T>& arena = model_.arena();
    const index_t cols = c.sizes[1];
    const index_t rest = arena.layout.bias_offset[0];  // everything after the first weight
    double squares = cpu::sum_of_squares_active_rows(arena.weight(arena.grads(), 0), ws.sparse, cols,
                                                     ws.norm_partials.data());
    squares += cpu::sum_of_squares(arena.grads() + rest, arena.size() - rest, ws.norm_partials.data());
    const T clip = static_cast<T>(c.clip_norm / std::max(std::sqrt(squares), c.clip_norm));
    const T lr = static_cast<T>(cpu::sgd_learning_rate(c.optimizer, step));
    cpu::sgd_update_active_rows(arena.weight(arena.params(), 0), arena.weight(arena.grads(), 0),
                                ws.sparse, cols, lr, clip);
    cpu::optimizer_update(arena.params() + rest, arena.grads() + rest, static_cast<T*>(nullptr),
                          static_cast<T*>(nullptr), arena.size() - rest, c.optimizer, step, clip);
    return loss;
  }

  double step_fused_first_layer(Workspace<T>& ws, index_t rows, BatchMetrics& metrics,
                                std::int64_t step) {
    // Each thread's own copy: the team shares ws, and all would store the same value at once.
    const cpu::RowStep<T> fused = first_weight_step(step);
    const double loss = loss_and_backward(ws, rows, metrics, fused);
    const ModelConfig& c = config();
    ParameterArena<T>& arena = model_.arena();
    const index_t rest = arena.layout.bias_offset[0];
    auto slot = [&](int s) { return arena.state_slots > s ? arena.state(s) + rest : nullptr; };
    cpu::optimizer_update(arena.params() + rest, arena.grads() + rest, slot(0), slot(1),
                          arena.size() - rest, c.optimizer, step, T(1));
    return loss;
  }

  // The batch's inputs, as sparse rows when they are mostly zeros, else dense. Returns the
  // first gathered row that holds NaN or Inf (its place in the batch), or -1; every thread
  // gets the same answer. Checking here costs nothing like a pass over all of x beforehand.
  index_t load_inputs(Workspace<T>& ws, const InputView& x, const index_t* order, index_t first,
                      index_t count) const {
    const index_t nonzeros = cpu::gather_sparse(ws.sparse, x, order, first, count, ws.row_finite.data());
    for (index_t r = 0; r < count; ++r)
      if (!ws.row_finite[r]) return r;
    // One thread stores the team's decision (every thread computes the same one) and the
    // single's barrier shows it to the others before they read it.
#pragma omp single
    ws.sparse_input = double(nonzeros) <= kSparseDensity * double(count) * double(x.cols);
    if (!ws.sparse_input) cpu::gather_inputs(ws.inputs, x, order, first, count);
    return -1;
  }

  // After a sparse backward pass, the rows of the first layer's weight gradient that no
  // input touched are stale: make them zero (plus weight decay), so the gradient is whole.
  void dense_first_layer_gradient(Workspace<T>& ws) {
    if (!ws.sparse_input) return;
    const ModelConfig& c = config();
    ParameterArena<T>& arena = model_.arena();
    T* dweight = arena.weight(arena.grads(), 0);
    cpu::zero_inactive_rows(dweight, ws.sparse, c.sizes[0], c.sizes[1]);
    if (c.weight_decay[0] > 0)
      cpu::add_weight_decay(dweight, arena.weight(arena.params(), 0), c.sizes[0], c.sizes[1],
                            T(c.weight_decay[0]));
  }

  // The first weight's step, for the fused plan's sparse backward pass to take row by row.
  cpu::RowStep<T> first_weight_step(std::int64_t step) {
    const OptimizerConfig& o = config().optimizer;
    ParameterArena<T>& arena = model_.arena();
    cpu::RowStep<T> fused;
    fused.weight = arena.weight(arena.params(), 0);
    fused.kind = o.kind;
    if (o.kind == OptimizerKind::sgd) {
      fused.learning_rate = static_cast<T>(cpu::sgd_learning_rate(o, step));
      return fused;
    }
    fused.learning_rate = static_cast<T>(cpu::adam_learning_rate(o, step));
    fused.m = arena.weight(arena.state(0), 0);
    fused.v = arena.weight(arena.state(1), 0);
    fused.beta1 = static_cast<T>(o.beta1);
    fused.beta2 = static_cast<T>(o.beta2);
    fused.epsilon = static_cast<T>(o.epsilon);
    return fused;
  }

  // Runs body(ws, chunk, first, count) on the rows of each chunk of x, gathered into
  // ws. Chunks are independent: each thread of the team takes whole chunks, with a workspace
  // of its own, and runs the ops alone in a team of one, so threads never wait for each other
  // until the end (barriers between the ops of shared chunks cost more than the work they
  // shared out). Inputs are checked as they are gathered: NaN or Inf fails, naming `op`.
  // Workspaces are kept for the next call: fresh memory costs a page fault per page, more
  // than a small inference itself.
  template <typename Body>
  void for_each_chunk(const InputView& x, Body&& body) const {
    if (x.rows == 0) return;
    const index_t chunks = tiles(x.rows, kInferenceRows);
    const int team = static_cast<int>(std::min<index_t>(team_size(x.rows, 1), chunks));
    std::vector<std::unique_ptr<Workspace<T>>> spaces = borrow_workspaces(team);
    std::vector<std::uint8_t> finite(chunks, 1);
    const int caller_cpu = current_cpu();
#pragma omp parallel num_threads(team)
    {
      leave_callers_cpu(caller_cpu);
      Workspace<T>& ws = *spaces[omp_get_thread_num()];
#pragma omp for schedule(dynamic, 1)
      for (index_t chunk = 0; chunk < chunks; ++chunk) {
        const index_t first = chunk * kInferenceRows, count = std::min(kInferenceRows, x.rows - first);
#pragma omp parallel num_threads(1)
        {
          finite[chunk] = load_inputs(ws, x, nullptr, first, count) < 0;
          if (finite[chunk]) body(ws, chunk, first, count);
        }
      }
    }
    return_workspaces(spaces);
    for (index_t chunk = 0; chunk < chunks; ++chunk)
      if (!finite[chunk]) {
        const index_t first = chunk * kInferenceRows;
        model_.fail_nonfinite(x, first, std::min(kInferenceRows, x.rows - first));
      }
  }

  // `count` one-thread inference workspaces, from the pool when it has them.
  std::vector<std::unique_ptr<Workspace<T>>> borrow_workspaces(int count) const {
    std::vector<std::unique_ptr<Workspace<T>>> spaces;
    {
      std::lock_guard<std::mutex> lock(pool_mutex_);
      while (int(spaces.size()) < count && !inference_pool_.empty()) {
        spaces.push_back(std::move(inference_pool_.back()));
        inference_pool_.pop_back();
      }
    }
    while (int(spaces.size()) < count) {
      spaces.push_back(std::make_unique<Workspace<T>>());
      spaces.back()->plan(config(), kInferenceRows, false, false, 0, 1);
    }
    return spaces;
  }

  void return_workspaces(std::vector<std::unique_ptr<Workspace<T>>>& spaces) const {
    std::lock_guard<std::mutex> lock(pool_mutex_);
    for (auto& ws : spaces) inference_pool_.push_back(std::move(ws));
  }

  // Layers forward from ws.inputs; `step` >= 0 trains (dropout on), -1 infers.
  void forward(Workspace<T>& ws, index_t rows, std::int64_t step) const {
    const ModelConfig& c = config();
    const ParameterArena<T>& arena = model_.arena();
    const index_t L = c.layers();
    const T* in = ws.inputs;
    for (index_t l = 0; l < L; ++l) {
      const bool hidden = l + 1 < L;
      const Activation act = hidden ? c.activations[l] : Activation::linear;
      if (l == 0 && ws.sparse_input)
        cpu::sparse_forward(ws.outputs[0], ws.sparse, arena.weight(arena.params(), 0),
                            arena.bias(arena.params(), 0), rows, c.sizes[1], act);
      else
        cpu::dense_forward(ws.outputs[l], in, arena.weight(arena.params(), l),
                           arena.bias(arena.params(), l), rows, c.sizes[l], c.sizes[l + 1], act,
                           ws.gemm_scratch.data());
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
  // the arena's gradient section; where `fused` has a weight, the sparse backward pass takes
  // the first weight's step instead of writing its gradient. Every thread returns the same
  // value. targets: the rows' own (x's are y_, the epoch's).
  double loss_and_backward(Workspace<T>& ws, index_t rows, BatchMetrics& metrics,
                           const cpu::RowStep<T>& fused, const TargetView<T>* targets = nullptr) {
    const ModelConfig& c = config();
    ParameterArena<T>& arena = model_.arena();
    const index_t L = c.layers(), K = c.outputs();
    const bool labelled = targets ? targets->labels != nullptr : y_.labels != nullptr;
    const double scale = loss_scale(c.loss, rows, K);
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
      if (first && ws.sparse_input) {
        cpu::by_columns(ws.sparse, rows, c.sizes[0]);
        cpu::sparse_backward(arena.weight(arena.grads(), 0), arena.bias(arena.grads(), 0), dz,
                             ws.sparse, rows, c.sizes[0], c.sizes[1], fused);
        break;
      }
      const T* in = first ? ws.inputs : (ws.dropped[l - 1] ? ws.dropped[l - 1] : ws.outputs[l - 1]);
      T* dinp = first ? nullptr : ws.gradient[(L - l) % 2];
      cpu::dense_backward(dinp, arena.weight(arena.grads(), l), arena.bias(arena.grads(), l), dz,
                          in, arena.weight(arena.params(), l), first ? nullptr : ws.outputs[l - 1],
                          first ? nullptr : ws.dropout[l - 1],
                          first ? Activation::linear : c.activations[l - 1], rows, c.sizes[l],
                          c.sizes[l + 1], T(c.weight_decay[l]), ws.gemm_scratch.data());
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

  Model<T>& model_;
  Workspace<T> training_;
  mutable std::mutex pool_mutex_;
  mutable std::vector<std::unique_ptr<Workspace<T>>> inference_pool_;
  InputView x_;
  TargetView<T> y_;
  const index_t* order_ = nullptr;
  index_t nonfinite_row_ = -1;
  index_t batch_size_ = 1;
  UpdatePlan plan_ = UpdatePlan::dense;
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
