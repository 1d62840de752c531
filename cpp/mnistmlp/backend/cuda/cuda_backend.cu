// The CUDA backend. The model's host arena stays the source of truth between operations: the
// GPU copy is uploaded when the host's changes (Model::host_version) and downloaded whole at
// the end of every epoch. An epoch runs on the GPU from end to end: the training set is
// uploaded once per fit, the epoch's permutation once per epoch, and every full batch
// replays one CUDA graph of the whole training step (forward, loss, backward, norms,
// update); the kernels read the batch and step from device counters that the step's last
// kernel advances. The host only queues graph launches, and waits when it runs too far ahead
// of the GPU or when the trainer wants the metrics for a progress report.
#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <cstdio>
#include <vector>

#include "mnistmlp/backend/cuda/cuda.hpp"
#include "mnistmlp/backend/cuda/cuda_ops.cuh"
#include "mnistmlp/mlp.hpp"

namespace mnistmlp {

namespace cuda {

namespace {

// Rows per inference chunk: enough to fill the GPU, few enough to bound its buffers.
constexpr index_t kInferenceRows = 8192;
// Batches queued between looks at the clock, and how many such runs may be queued at once:
// enough that the GPU never waits for the host, few enough that progress is reported on time.
constexpr index_t kBatchesPerRun = 64;
constexpr int kRunsInFlight = 3;

constexpr std::size_t aligned(std::size_t bytes) { return (bytes + 255) / 256 * 256; }

// The model's arena on the GPU, with views like ParameterArena's.
template <typename T>
struct DeviceArena {
  const ParameterArena<T>& host;
  DeviceBuffer<T> memory;

  explicit DeviceArena(const ParameterArena<T>& arena) : host(arena), memory(arena.memory.size()) {}
  index_t section() const { return host.size(); }
  T* params() const { return memory.get(); }
  T* grads() const { return memory.get() + section(); }
  T* state(int slot) const {
    return slot < host.state_slots ? memory.get() + section() * (2 + slot) : nullptr;
  }
  T* weight(T* base, index_t layer) const { return base + host.layout.weight_offset[layer]; }
  T* bias(T* base, index_t layer) const { return base + host.layout.bias_offset[layer]; }
};

// Activations, gradients and the scratch of forward and backward passes over up to
// `capacity` rows (the split-K scratch fits every row count it was prepared for).
template <typename T>
struct Workspace {
  index_t capacity = 0;
  bool gradients = false, dropout = false;
  DeviceBuffer<T> memory;
  std::vector<T*> outputs, dropped, scale;  // per layer; dropped/scale only with dropout
  T* probabilities = nullptr;               // (rows, K) output activations
  T* gradient[2] = {nullptr, nullptr};      // dz ping-pong, (rows, widest layer)
  DeviceBuffer<LossPartial> loss_partials;
  DenseScratch dense_sizes;
  DenseScratchBuffer dense;
  std::vector<SquareSegment<T>> segments;  // sums of squares a training step needs
  DeviceBuffer<SquareSegment<T>> device_segments;
  index_t square_chunks_total = 0;
  DeviceBuffer<double> square_partials;
  DeviceBuffer<StepScalars<T>> scalars;
  DeviceBuffer<int> tickets;  // [0] sums_of_squares, [1] the update's tail
  DeviceBuffer<unsigned char> staging;  // inference inputs and targets

  // Ready for batches of `rows` rows (and every count prepared before, up to capacity).
  // Returns true when buffers moved.
  bool prepare(const Gpu& gpu, const ModelConfig& c, const DeviceArena<T>& arena, index_t rows,
               bool with_gradients, bool with_dropout) {
    bool moved = false;
    if (rows > capacity || with_gradients != gradients || with_dropout != dropout) {
      allocate(gpu, c, arena, std::max(rows, capacity), with_gradients, with_dropout);
      moved = true;
    }
    DenseScratch need = dense_sizes;
    for (index_t l = 0; l < c.layers(); ++l) {
      need.grow(dense_forward_scratch<T>(gpu, rows, c.sizes[l], c.sizes[l + 1]));
      if (gradients)
        need.grow(dense_backward_scratch<T>(gpu, rows, c.sizes[l], c.sizes[l + 1], l > 0));
    }
    if (!dense_sizes.covers(need) || moved) {
      dense.allocate(need, gpu.stream);
      dense_sizes = need;
      moved = true;
    }
    return moved;
  }

 private:
  void allocate(const Gpu& gpu, const ModelConfig& c, const DeviceArena<T>& arena, index_t rows,
                bool with_gradients, bool with_dropout) {
    const auto& n = c.sizes;
    const index_t L = c.layers(), K = c.outputs();
    const index_t widest = *std::max_element(n.begin() + 1, n.end());
    auto drops = [&](index_t l) { return with_dropout && c.dropout[l] > 0; };
    index_t total = padded<T>(rows * K);
    for (index_t l = 0; l < L; ++l) total += padded<T>(rows * n[l + 1]) * (drops(l) ? 3 : 1);
    if (with_gradients) total += 2 * padded<T>(rows * widest);
    memory.reset(total);
    T* at = memory.get();
    auto take = [&at](index_t count) {
      T* view = at;
      at += padded<T>(count);
      return view;
    };
    outputs.assign(L, nullptr);
    dropped.assign(L, nullptr);
    scale.assign(L, nullptr);
    for (index_t l = 0; l < L; ++l) {
      outputs[l] = take(rows * n[l + 1]);
      if (drops(l)) {
        dropped[l] = take(rows * n[l + 1]);
        scale[l] = take(rows * n[l + 1]);
      }
    }
    probabilities = take(rows * K);
    gradient[0] = with_gradients ? take(rows * widest) : nullptr;
    gradient[1] = with_gradients ? take(rows * widest) : nullptr;
    loss_partials.reset(cuda::loss_partials(rows));

    segments.clear();
    square_chunks_total = 0;
    auto add_segment = [&](const T* x, index_t count, int group, double weight) {
      SquareSegment<T> s;
      s.x = x;
      s.n = count;
      s.first_chunk = square_chunks_total;
      s.group = group;
      s.weight = weight;
      segments.push_back(s);
      square_chunks_total += square_chunks(count);
    };
    if (with_gradients) {
      if (c.clip_norm > 0) add_segment(arena.grads(), arena.section(), 0, 1.0);
      for (index_t l = 0; l < L; ++l)
        if (c.weight_decay[l] > 0)
          add_segment(arena.weight(arena.params(), l), n[l] * n[l + 1], 1, 0.5 * c.weight_decay[l]);
    }
    device_segments.reset(static_cast<index_t>(segments.size()));
    copy_to_device(device_segments.get(), segments.data(), device_segments.size(), gpu.stream);
    square_partials.reset(square_chunks_total);
    scalars.reset(1);
    tickets.reset(2);
    MNISTMLP_CUDA_CHECK(cudaMemsetAsync(tickets.get(), 0, 2 * sizeof(int), gpu.stream));
    dense_sizes = DenseScratch{};
    capacity = rows;
    gradients = with_gradients;
    dropout = with_dropout;
  }
};

// The training set on the GPU, kept across the epochs of one fit (InputView::token).
template <typename T>
class TrainingData {
 public:
  // Whether x and y are here already (the same token and arrays as the last load).
  bool holds(const InputView& x, const TargetView<T>& y) const {
    return x.token != 0 && key_of(x, y) == key_;
  }

  // Uploads x and y unless they are here already. True when the device buffers moved.
  bool load(const InputView& x, const TargetView<T>& y, cudaStream_t stream) {
    if (holds(x, y)) return false;
    const Key key = key_of(x, y);
    key_ = Key{};
    const std::size_t x_bytes = static_cast<std::size_t>(x.rows * x.cols) * element_size(x.type);
    const std::size_t y_bytes = y.labels ? sizeof(std::int32_t) * static_cast<std::size_t>(y.rows)
                                         : sizeof(T) * static_cast<std::size_t>(y.rows * y.classes);
    bool moved = x_.reserve(static_cast<index_t>(x_bytes));
    moved = y_.reserve(static_cast<index_t>(y_bytes)) || moved;
    copy_to_device(x_.get(), static_cast<const unsigned char*>(x.data), static_cast<index_t>(x_bytes), stream);
    copy_to_device(y_.get(), y.labels ? reinterpret_cast<const unsigned char*>(y.labels)
                                      : reinterpret_cast<const unsigned char*>(y.dense),
                   static_cast<index_t>(y_bytes), stream);
    key_ = key;
    return moved;
  }

  Rows<T> inputs(const RowSelection& select) const {
    Rows<T> rows;
    rows.data = x_.get();
    rows.type = key_.type;
    rows.ld = rows.cols = key_.cols;
    rows.select = select;
    return rows;
  }

  Targets<T> targets(const RowSelection& select) const {
    Targets<T> targets;
    if (key_.labels)
      targets.labels = reinterpret_cast<const std::int32_t*>(y_.get());
    else
      targets.dense = reinterpret_cast<const T*>(y_.get());
    targets.classes = key_.classes;
    targets.select = select;
    return targets;
  }

 private:
  struct Key {
    const void* x = nullptr;
    ElementType type = ElementType::float32;
    index_t rows = 0, cols = 0;
    const void* labels = nullptr;
    const void* dense = nullptr;
    index_t classes = 0;
    std::uint64_t token = 0;
    bool operator==(const Key& o) const {
      return x == o.x && type == o.type && rows == o.rows && cols == o.cols &&
             labels == o.labels && dense == o.dense && classes == o.classes && token == o.token;
    }
  };
  static Key key_of(const InputView& x, const TargetView<T>& y) {
    return Key{x.data, x.type, x.rows, x.cols, y.labels, y.dense, y.classes, x.token};
  }

  DeviceBuffer<unsigned char> x_, y_;
  Key key_;
};

// What the captured training step depends on besides the addresses of its buffers: while
// these and the buffers stay the same, the graph can be replayed.
struct StepKey {
  index_t batch_size = 0;
  std::uint64_t seed = 0;
  ElementType type = ElementType::float32;
  index_t cols = 0;
  bool labels = false;
  index_t classes = 0;
  std::uint64_t config_version = 0;  // the optimizer's settings are baked into the graph
  bool operator==(const StepKey& o) const {
    return batch_size == o.batch_size && seed == o.seed && type == o.type && cols == o.cols &&
           labels == o.labels && classes == o.classes && config_version == o.config_version;
  }
};

template <typename T>
class CudaBackend final : public Backend<T> {
 public:
  using Clock = typename Backend<T>::Clock;

  explicit CudaBackend(Model<T>& model)
      : model_(model),
        device_(current_device()),
        gpu_(current_gpu(stream_.get())),
        pinned_(model.arena().memory.data(), sizeof(T) * model.arena().memory.size()),
        arena_(model.arena()),
        counters_(1) {}

  void begin_epoch(const InputView& x, const TargetView<T>& y, const index_t* order,
                   index_t batch_size) override {
    naming_errors("fit_epoch", [&] {
      activate();
      upload_arena();
      if (!data_.holds(x, y)) model_.check_finite(x, 0, x.rows);  // before it is copied whole
      bool moved = data_.load(x, y, gpu_.stream);
      moved = order_.reserve(x.rows) || moved;
      copy_to_device(order_.get(), order, x.rows, gpu_.stream);
      // Full batches, and the shorter last one.
      moved = training_.prepare(gpu_, config(), arena_, std::min(batch_size, x.rows), true, true) ||
              moved;
      if (x.rows % batch_size)
        moved = training_.prepare(gpu_, config(), arena_, x.rows % batch_size, true, true) || moved;
      moved = metrics_.reserve(tiles(x.rows, batch_size)) || moved;
      const RowSelection select{order_.get(), counters_.get(), batch_size};
      inputs_ = data_.inputs(select);
      targets_ = data_.targets(select);
      batch_size_ = batch_size;
      rows_ = x.rows;
      full_batches_ = x.rows / batch_size;
      const StepKey key{batch_size, config().seed, x.type,           x.cols,
                        y.labels != nullptr, y.classes, model_.config_version()};
      if (moved || !(key == step_key_)) graph_.reset();
      step_key_ = key;
      runs_queued_ = 0;
    });
  }

  index_t train_batches(index_t begin, index_t end, std::int64_t step,
                        typename Clock::time_point deadline) override {
    return naming_errors("fit_epoch", [&] {
      activate();
      set_counters(gpu_, counters_.get(), begin, step);
      index_t batch = begin;
      while (batch < end) {
        for (const index_t run_end = std::min(end, batch + kBatchesPerRun); batch < run_end; ++batch) {
          if (batch < full_batches_)
            launch_full_batch();
          else
            enqueue_step(rows_ - batch * batch_size_);
        }
        mark_run();
        if (Clock::now() >= deadline) break;
      }
      return batch;
    });
  }

  void read_metrics(index_t begin, index_t end, BatchMetrics* out) override {
    naming_errors("fit_epoch", [&] {
      activate();
      copy_to_host(out, metrics_.get() + begin, end - begin, gpu_.stream);
      stream_.synchronize();
      runs_queued_ = 0;
    });
  }

  void sync_host_arena() override {
    naming_errors("fit_epoch", [&] {
      activate();
      download_arena();
    });
  }

  void end_epoch() override { sync_host_arena(); }

  void predict(T* out, const InputView& x) const override {
    model_.check_finite(x, 0, x.rows);
    naming_errors("predict", [&] {
      std::lock_guard lock(inference_mutex_);
      activate();
      upload_arena();
      const ModelConfig& c = config();
      const index_t K = c.outputs();
      for_each_chunk(x, nullptr, [&](Workspace<T>& ws, const Rows<T>& inputs, const Targets<T>&,
                                     index_t first, index_t count) {
        forward(ws, count, inputs, false);
        output_activation(gpu_, ws.probabilities, ws.outputs.back(), c.output_activation(),
                          count, K);
        copy_to_host(out + first * K, ws.probabilities, count * K, gpu_.stream);
        stream_.synchronize();
      });
    });
  }

  BatchMetrics evaluate(const InputView& x, const TargetView<T>& y) const override {
    model_.check_finite(x, 0, x.rows);
    return naming_errors("evaluate", [&] {
      std::lock_guard lock(inference_mutex_);
      activate();
      upload_arena();
      const ModelConfig& c = config();
      BatchMetrics total;
      std::vector<LossPartial> partials;
      for_each_chunk(x, &y, [&](Workspace<T>& ws, const Rows<T>& inputs, const Targets<T>& targets,
                                index_t, index_t count) {
        forward(ws, count, inputs, false);
        output_loss<T>(gpu_, nullptr, ws.probabilities, nullptr, nullptr,
                    ws.loss_partials.get(), ws.outputs.back(), targets, c.output_activation(),
                    c.loss, count, c.outputs(), T(1));
        partials.resize(loss_partials(count));
        copy_to_host(partials.data(), ws.loss_partials.get(), static_cast<index_t>(partials.size()),
                     gpu_.stream);
        stream_.synchronize();
        for (const LossPartial& p : partials) {
          total.loss_sum += p.loss_sum;
          total.correct += p.correct;
        }
      });
      total.rows = x.rows;
      return total;
    });
  }

  double loss_and_gradients(const InputView& x, const TargetView<T>& y) override {
    return naming_errors("loss_and_gradients", [&] {
      std::lock_guard lock(inference_mutex_);
      activate();
      upload_arena();
      const ModelConfig& c = config();
      const index_t rows = x.rows, K = c.outputs();
      Workspace<T> ws;
      ws.prepare(gpu_, c, arena_, rows, true, false);
      Rows<T> inputs;
      Targets<T> targets;
      stage(ws, x, &y, 0, rows, inputs, targets);
      const StepScalars<T>* scalars = gradients(ws, rows, inputs, targets, false);
      std::vector<LossPartial> partials(loss_partials(rows));
      copy_to_host(partials.data(), ws.loss_partials.get(), static_cast<index_t>(partials.size()),
                   gpu_.stream);
      StepScalars<T> step_scalars;
      if (scalars) copy_to_host(&step_scalars, scalars, 1, gpu_.stream);
      copy_to_host(model_.arena().grads(), arena_.grads(), arena_.section(), gpu_.stream);
      stream_.synchronize();
      double loss_sum = 0;
      for (const LossPartial& p : partials) loss_sum += p.loss_sum;
      return loss_sum * loss_scale(c.loss, rows, K) + step_scalars.penalty;
    });
  }

 private:
  static int current_device() {
    int device = 0;
    MNISTMLP_CUDA_CHECK(cudaGetDevice(&device));
    return device;
  }

  const ModelConfig& config() const { return model_.config(); }
  void activate() const { MNISTMLP_CUDA_CHECK(cudaSetDevice(device_)); }

  void upload_arena() const {
    if (uploaded_version_ == model_.host_version()) return;
    copy_to_device(arena_.memory.get(), model_.arena().memory.data(), model_.arena().memory.size(),
                   gpu_.stream);
    uploaded_version_ = model_.host_version();
  }

  void download_arena() {
    copy_to_host(model_.arena().memory.data(), arena_.memory.get(), model_.arena().memory.size(),
                 gpu_.stream);
    stream_.synchronize();
  }

  // Waits for the oldest run of batches once kRunsInFlight are queued.
  void mark_run() {
    if (runs_queued_ == kRunsInFlight) {
      run_done_[run_head_].synchronize();
      run_head_ = (run_head_ + 1) % kRunsInFlight;
      --runs_queued_;
    }
    run_done_[(run_head_ + runs_queued_) % kRunsInFlight].record(gpu_.stream);
    ++runs_queued_;
  }

  void launch_full_batch() {
    if (!graph_) graph_.capture(gpu_.stream, [&] { enqueue_step(batch_size_); });
    graph_.launch(gpu_.stream);
  }

  // One training step on the batch the counters point at.
  void enqueue_step(index_t rows) {
    const ModelConfig& c = config();
    Workspace<T>& ws = training_;
    const StepScalars<T>* scalars = gradients(ws, rows, inputs_, targets_, true);
    StepTail tail;
    tail.metrics = metrics_.get();
    tail.partials = ws.loss_partials.get();
    tail.partial_count = loss_partials(rows);
    tail.scale = loss_scale(c.loss, rows, c.outputs());
    tail.rows = rows;
    tail.ticket = ws.tickets.get() + 1;
    tail.counters = counters_.get();
    optimizer_update(gpu_, arena_.params(), arena_.grads(), arena_.state(0), arena_.state(1),
                     arena_.section(), c.optimizer, counters_.get(), scalars, tail);
  }

  // Forward, loss (a mean, see loss_scale) and backward of `rows`: every gradient into the
  // arena's gradient section. Returns norms()'s scalars (null when nothing needs a norm).
  const StepScalars<T>* gradients(Workspace<T>& ws, index_t rows, const Rows<T>& inputs,
                                  const Targets<T>& targets, bool training) {
    const ModelConfig& c = config();
    const index_t K = c.outputs();
    forward(ws, rows, inputs, training);
    output_loss<T>(gpu_, ws.gradient[0], ws.probabilities, nullptr, nullptr,
                   ws.loss_partials.get(), ws.outputs.back(), targets, c.output_activation(),
                   c.loss, rows, K, T(loss_scale(c.loss, rows, K)));
    backward(ws, rows, inputs);
    return norms(ws);
  }

  // Layers forward from `inputs`; `training` applies dropout.
  void forward(Workspace<T>& ws, index_t rows, const Rows<T>& inputs, bool training) const {
    const ModelConfig& c = config();
    const index_t L = c.layers();
    Rows<T> in = inputs;
    for (index_t l = 0; l < L; ++l) {
      Dropout<T> dropout;
      if (training && ws.dropped[l])
        dropout = Dropout<T>{ws.dropped[l], ws.scale[l], c.dropout[l], c.seed, counters_.get(), l};
      dense_forward(gpu_, ws.dense.get(), ws.outputs[l], in, arena_.weight(arena_.params(), l),
                    arena_.bias(arena_.params(), l), rows, c.sizes[l], c.sizes[l + 1],
                    l + 1 < L ? c.activations[l] : Activation::linear, dropout);
      in = Rows<T>::matrix(dropout.dropped ? dropout.dropped : ws.outputs[l], c.sizes[l + 1]);
    }
  }

  // Every layer's gradient into the arena's gradient section, from dz in ws.gradient[0].
  void backward(Workspace<T>& ws, index_t rows, const Rows<T>& inputs) const {
    const ModelConfig& c = config();
    const index_t L = c.layers();
    const T* dz = ws.gradient[0];
    for (index_t l = L - 1; l >= 0; --l) {
      const bool first = l == 0;
      const Rows<T> in =
          first ? inputs
                : Rows<T>::matrix(ws.dropped[l - 1] ? ws.dropped[l - 1] : ws.outputs[l - 1], c.sizes[l]);
      T* dinp = first ? nullptr : ws.gradient[(L - l) % 2];
      dense_backward(gpu_, ws.dense.get(), dinp, arena_.weight(arena_.grads(), l),
                     arena_.bias(arena_.grads(), l), dz, in, arena_.weight(arena_.params(), l),
                     first ? nullptr : ws.outputs[l - 1], first ? nullptr : ws.scale[l - 1],
                     first ? Activation::linear : c.activations[l - 1], rows, c.sizes[l],
                     c.sizes[l + 1], T(c.weight_decay[l]));
      dz = dinp;
    }
  }

  // The clipping factor and penalty of the current gradients and weights; null when the
  // model needs neither.
  const StepScalars<T>* norms(Workspace<T>& ws) const {
    if (ws.segments.empty()) return nullptr;
    sums_of_squares(gpu_, ws.device_segments.get(), static_cast<int>(ws.segments.size()),
                    ws.square_chunks_total, ws.square_partials.get(), ws.tickets.get(),
                    config().clip_norm, ws.scalars.get());
    return ws.scalars.get();
  }

  // Copies rows [first, first + count) of x (and y) into the workspace's staging buffer.
  void stage(Workspace<T>& ws, const InputView& x, const TargetView<T>* y, index_t first,
             index_t count, Rows<T>& inputs, Targets<T>& targets) const {
    const std::size_t row_bytes = static_cast<std::size_t>(x.cols) * element_size(x.type);
    const std::size_t x_bytes = aligned(row_bytes * count);
    const std::size_t y_row_bytes =
        !y ? 0 : y->labels ? sizeof(std::int32_t) : sizeof(T) * static_cast<std::size_t>(y->classes);
    ws.staging.reserve(static_cast<index_t>(x_bytes + y_row_bytes * count));
    copy_to_device(ws.staging.get(), static_cast<const unsigned char*>(x.data) + row_bytes * first,
                   static_cast<index_t>(row_bytes * count), gpu_.stream);
    inputs = Rows<T>{};
    inputs.data = ws.staging.get();
    inputs.type = x.type;
    inputs.ld = inputs.cols = x.cols;
    targets = Targets<T>{};
    if (!y) return;
    unsigned char* y_at = ws.staging.get() + x_bytes;
    const unsigned char* y_from = y->labels ? reinterpret_cast<const unsigned char*>(y->labels)
                                            : reinterpret_cast<const unsigned char*>(y->dense);
    copy_to_device(y_at, y_from + y_row_bytes * first, static_cast<index_t>(y_row_bytes * count),
                   gpu_.stream);
    if (y->labels)
      targets.labels = reinterpret_cast<const std::int32_t*>(y_at);
    else
      targets.dense = reinterpret_cast<const T*>(y_at);
    targets.classes = y->classes;
  }

  // body(ws, inputs, targets, first, count) over chunks of x's rows staged on the GPU.
  template <typename Body>
  void for_each_chunk(const InputView& x, const TargetView<T>* y, Body&& body) const {
    if (x.rows == 0) return;
    const index_t chunk = std::min(x.rows, kInferenceRows);
    inference_.prepare(gpu_, config(), arena_, chunk, false, false);
    if (x.rows % chunk) inference_.prepare(gpu_, config(), arena_, x.rows % chunk, false, false);
    for (index_t first = 0; first < x.rows; first += chunk) {
      const index_t count = std::min(chunk, x.rows - first);
      Rows<T> inputs;
      Targets<T> targets;
      stage(inference_, x, y, first, count, inputs, targets);
      body(inference_, inputs, targets, first, count);
    }
  }

  Model<T>& model_;
  int device_;
  Stream stream_;
  Gpu gpu_;
  PinnedRegion pinned_;
  DeviceArena<T> arena_;
  mutable std::uint64_t uploaded_version_ = ~std::uint64_t(0);
  DeviceBuffer<Counters> counters_;

  // Training.
  TrainingData<T> data_;
  DeviceBuffer<index_t> order_;
  DeviceBuffer<BatchMetrics> metrics_;
  Workspace<T> training_;
  Rows<T> inputs_;
  Targets<T> targets_;
  index_t batch_size_ = 1, rows_ = 0, full_batches_ = 0;
  GraphExec graph_;
  StepKey step_key_;
  Event run_done_[kRunsInFlight];
  int run_head_ = 0, runs_queued_ = 0;

  // Inference, one call at a time.
  mutable std::mutex inference_mutex_;
  mutable Workspace<T> inference_;
};

__global__ void probe_kernel() {}

// Messages are built with std::string, not iostreams: formatting through an nvcc-compiled
// ostringstream crashed in std::locale on a GPU machine.
std::string describe(const cudaDeviceProp& p) {
  char memory[32];
  std::snprintf(memory, sizeof(memory), "%.1f",
                double(p.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0));
  return std::string(p.name) + " (compute " + std::to_string(p.major) + '.' +
         std::to_string(p.minor) + ", " + std::to_string(p.multiProcessorCount) + " SMs, " +
         memory + " GiB)";
}

}  // namespace

}  // namespace cuda

CudaStatus cuda_status() {
  CudaStatus status;
  status.built = true;
  status.architectures = MNISTMLP_CUDA_ARCHITECTURES;
  status.compiler = MNISTMLP_CUDA_COMPILER;
  if (cudaRuntimeGetVersion(&status.runtime_version) != cudaSuccess) status.runtime_version = 0;
  if (cudaDriverGetVersion(&status.driver_version) != cudaSuccess) status.driver_version = 0;
  int count = 0;
  const cudaError_t counted = cudaGetDeviceCount(&count);
  if (counted != cudaSuccess || count == 0) {
    (void)cudaGetLastError();  // not sticky; leave no trace for later calls
    auto version = [](int v) {
      return std::to_string(v / 1000) + '.' + std::to_string(v % 1000 / 10);
    };
    std::string s = "no CUDA GPU is visible";
    if (status.driver_version == 0)
      s += " (no NVIDIA driver is installed)";
    else if (counted == cudaErrorInsufficientDriver)
      s += " (the NVIDIA driver supports CUDA up to " + version(status.driver_version) +
           ", this build needs CUDA " + version(status.runtime_version) + ")";
    else if (counted != cudaSuccess)
      s += std::string(" (") + cudaGetErrorString(counted) + ")";
    status.problem = s;
    return status;
  }
  for (int d = 0; d < count; ++d) {
    cudaDeviceProp p;
    if (cudaGetDeviceProperties(&p, d) == cudaSuccess) status.devices.push_back(cuda::describe(p));
  }
  // The GPU must be able to run this build's code (machine code for its architecture, or PTX
  // old enough to compile for it).
  cudaFuncAttributes attributes;
  const cudaError_t probed = cudaFuncGetAttributes(&attributes, cuda::probe_kernel);
  if (probed != cudaSuccess) {
    (void)cudaGetLastError();
    int device = 0, major = 0, minor = 0;
    (void)cudaGetDevice(&device);
    (void)cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device);
    (void)cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device);
    status.problem = "this build has no code for the GPU (compute " + std::to_string(major) +
                     '.' + std::to_string(minor) + "): it was compiled for CUDA architectures " +
                     status.architectures +
                     "; rebuild with -Ccmake.define.CMAKE_CUDA_ARCHITECTURES=" +
                     std::to_string(major) + std::to_string(minor) + " (" +
                     cudaGetErrorString(probed) + ")";
  }
  return status;
}

template <typename T>
std::unique_ptr<Backend<T>> make_cuda_backend(Model<T>& model) {
  const std::string name = name_of(model.placement());
  const CudaStatus status = cuda_status();
  if (!status.available())
    throw std::runtime_error(error_message("device '", name, "' is not available: ", status.problem));
  int gpus = 0;
  MNISTMLP_CUDA_CHECK(cudaGetDeviceCount(&gpus));
  const int gpu = model.placement().gpu;
  if (gpu >= gpus) {
    const std::string visible = gpus == 1 ? "1 GPU (cuda:0)"
                                          : std::to_string(gpus) + " GPUs (cuda:0 to cuda:" +
                                                std::to_string(gpus - 1) + ")";
    throw std::runtime_error(
        error_message("device '", name, "' is not available: this machine shows ", visible));
  }
  return cuda::naming_errors("model", [&]() -> std::unique_ptr<Backend<T>> {
    // The backend keeps the GPU that is current when it is made (and makes it current for each
    // call); the caller's current GPU is left as it was.
    int previous = 0;
    MNISTMLP_CUDA_CHECK(cudaGetDevice(&previous));
    MNISTMLP_CUDA_CHECK(cudaSetDevice(gpu));
    struct Restore {
      int device;
      ~Restore() { cudaSetDevice(device); }
    } restore{previous};
    return std::make_unique<cuda::CudaBackend<T>>(model);
  });
}

template std::unique_ptr<Backend<float>> make_cuda_backend(Model<float>&);
template std::unique_ptr<Backend<double>> make_cuda_backend(Model<double>&);

}  // namespace mnistmlp
