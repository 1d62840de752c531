// Names, enums and error reporting shared by the whole engine.
#pragma once

#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace mnistmlp {

using index_t = std::int64_t;

// Pieces of an error message as text. Plain std::string, not iostreams: formatting through an
// ostringstream crashed inside std::locale when the module ran under another Python (a GPU
// machine's), and a message must never be what brings a process down.
inline std::string to_text(const std::string& s) { return s; }
inline std::string to_text(const char* s) { return s; }
inline std::string to_text(char c) { return std::string(1, c); }
inline std::string to_text(double v) {
  char text[32];
  std::snprintf(text, sizeof(text), "%g", v);
  return text;
}
template <typename T, typename = std::enable_if_t<std::is_integral_v<T>>>
std::string to_text(T v) {
  return std::to_string(v);
}
// Names as a list: "[m, v]".
inline std::string to_text(const std::vector<std::string>& names) {
  std::string text = "[";
  for (std::size_t i = 0; i < names.size(); ++i) text += (i ? ", " : "") + names[i];
  return text + "]";
}

// Errors are read by people who called the Python API, not the engine: they say what is wrong
// in the user's words ("expected 784 input features per row, got 700"), with no tag naming an
// internal operation.
template <typename... Parts>
std::string error_message(const Parts&... parts) {
  std::string message;
  ((message += to_text(parts)), ...);
  return message;
}

// std::invalid_argument becomes ValueError in Python.
template <typename... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  throw std::invalid_argument(error_message(parts...));
}

#define MNISTMLP_CHECK(cond, ...) \
  do {                            \
    if (!(cond)) ::mnistmlp::fail(__VA_ARGS__); \
  } while (0)

// Functions the CPU and the CUDA compiler both build, so that both engines share one
// definition (activations, random numbers) and cannot drift apart.
#if defined(__CUDACC__)
#define MNISTMLP_HOST_DEVICE __host__ __device__
#else
#define MNISTMLP_HOST_DEVICE
#endif

enum class Activation { linear, relu, sigmoid, tanh, softmax, leaky_relu, elu };
enum class Loss { categorical_crossentropy, mean_square };
enum class OptimizerKind { sgd, adam, rmsprop, adagrad };
enum class WeightInit { truncated_normal, normal, uniform, glorot_uniform, he_normal, zeros };
enum class ElementType { uint8, float32, float64 };
enum class Device { cpu, cuda };

// The loss is a mean: over the rows (cross-entropy) or over every output (mean square).
inline double loss_scale(Loss loss, index_t rows, index_t outputs) {
  return loss == Loss::categorical_crossentropy ? 1.0 / rows : 1.0 / (double(rows) * outputs);
}

// Tiles of `tile` that cover n (the last one partial).
constexpr index_t tiles(index_t n, index_t tile) { return (n + tile - 1) / tile; }

constexpr index_t element_size(ElementType type) {
  return type == ElementType::uint8 ? 1 : type == ElementType::float32 ? 4 : 8;
}

Activation parse_activation(const std::string& name);
Loss parse_loss(const std::string& name);
OptimizerKind parse_optimizer(const std::string& name);
WeightInit parse_weight_init(const std::string& name);
Device parse_device(const std::string& name);
// Where a model runs: the CPU, or one GPU by its CUDA index.
struct Placement {
  Device device = Device::cpu;
  int gpu = 0;
};
// "cpu", "cuda" (GPU 0) or "cuda:N"; throws std::invalid_argument naming the forms.
Placement parse_placement(const std::string& name);
std::string name_of(const Placement& where);  // "cpu", "cuda" (GPU 0) or "cuda:N"
const char* name_of(Activation a);
const char* name_of(Loss l);
const char* name_of(OptimizerKind o);
const char* name_of(Device d);
// Every name of each table ("activation", "loss", "optimizer", "weight_init", "device"), in
// order. Python's specification (mnistmlp/_spec.py) lists the same; a test holds them together.
std::vector<std::pair<std::string, std::vector<std::string>>> known_names();

// An optimizer's settings. The user-facing defaults live in Python (mnistmlp/_spec.py), which
// sets every field its optimizer has; a field another optimizer uses keeps the neutral value
// given here, which its update never reads.
struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::sgd;
  double learning_rate = 0;
  // SGD (and RMSProp's momentum)
  double momentum = 0;
  bool nesterov = false;
  double decay_rate = 1;  // lr_t = lr * decay_rate^(t / decay_steps); 1 = no decay
  double decay_steps = 1;
  bool staircase = false;
  // Adam (and RMSProp's epsilon)
  double beta1 = 0;
  double beta2 = 0;
  double epsilon = 0;
  // RMSProp: the mean square's decay (TensorFlow's rho)
  double decay = 0;
  // AdaGrad: the accumulator's starting value
  double initial_accumulator_value = 0;

  // Names of the per-parameter state slots the optimizer keeps, in arena order (SGD with
  // momentum: velocity; Adam: m, v; RMSProp: ms, mom; AdaGrad: accumulator), and the value
  // each starts from (TensorFlow 1's: RMSProp's mean square starts at 1).
  std::vector<std::string> state_slot_names() const;
  double initial_state(int slot) const;
  // What sign a slot's values keep (sums of squares: Adam's v, RMSProp's mean square >= 0;
  // AdaGrad's accumulator > 0, as the update divides by its root).
  enum class Sign { any, non_negative, positive };
  Sign state_sign(int slot) const;
  int state_slots() const { return static_cast<int>(state_slot_names().size()); }
  void validate() const;  // throws on nonsense in the settings this kind uses
};

struct ModelConfig {
  std::vector<index_t> sizes;  // [inputs, hidden..., outputs]
  // One entry per layer. The last activation is the output's (softmax allowed only there);
  // dropout[l] is the drop probability on layer l's outputs while training (0 for the output
  // layer); weight_decay[l] adds weight_decay[l] * sum(W_l^2) / 2 to the loss (no biases).
  std::vector<Activation> activations;
  std::vector<double> dropout;
  std::vector<double> weight_decay;
  Loss loss = Loss::categorical_crossentropy;
  double clip_norm = 0.0;     // clip gradients by global norm; 0 = no clipping
  OptimizerConfig optimizer;
  std::uint64_t seed = 0;

  index_t layers() const { return static_cast<index_t>(sizes.size()) - 1; }
  index_t inputs() const { return sizes.front(); }
  index_t outputs() const { return sizes.back(); }
  Activation output_activation() const { return activations.back(); }
  void validate() const;  // throws on nonsense, so a Model is always coherent
};

}  // namespace mnistmlp
