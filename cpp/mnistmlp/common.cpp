#include "mnistmlp/common.hpp"

#include <cmath>

namespace mnistmlp {

namespace {

template <typename Enum, std::size_t N>
Enum parse_name(const char* what, const std::string& name,
                const std::pair<const char*, Enum> (&table)[N]) {
  std::string known;
  for (const auto& [candidate, value] : table) {
    if (name == candidate) return value;
    known += known.empty() ? "" : ", ";
    known += candidate;
  }
  fail("unknown ", what, " '", name, "'; expected one of: ", known);
}

constexpr std::pair<const char*, Activation> kActivations[] = {
    {"linear", Activation::linear},   {"relu", Activation::relu},
    {"sigmoid", Activation::sigmoid}, {"tanh", Activation::tanh},
    {"softmax", Activation::softmax}, {"leaky_relu", Activation::leaky_relu},
    {"elu", Activation::elu}};
constexpr std::pair<const char*, Loss> kLosses[] = {
    {"categorical_crossentropy", Loss::categorical_crossentropy},
    {"mean_square", Loss::mean_square}};
constexpr std::pair<const char*, OptimizerKind> kOptimizers[] = {
    {"sgd", OptimizerKind::sgd},
    {"adam", OptimizerKind::adam},
    {"rmsprop", OptimizerKind::rmsprop},
    {"adagrad", OptimizerKind::adagrad}};
constexpr std::pair<const char*, WeightInit> kWeightInits[] = {
    {"truncated_normal", WeightInit::truncated_normal},
    {"normal", WeightInit::normal},
    {"uniform", WeightInit::uniform},
    {"glorot_uniform", WeightInit::glorot_uniform},
    {"he_normal", WeightInit::he_normal},
    {"zeros", WeightInit::zeros}};
constexpr std::pair<const char*, Device> kDevices[] = {{"cpu", Device::cpu}, {"cuda", Device::cuda}};

template <typename Enum, std::size_t N>
const char* lookup_name(Enum value, const std::pair<const char*, Enum> (&table)[N]) {
  for (const auto& [name, candidate] : table)
    if (candidate == value) return name;
  return "?";
}

template <typename Enum, std::size_t N>
std::vector<std::string> all_names(const std::pair<const char*, Enum> (&table)[N]) {
  std::vector<std::string> names;
  for (const auto& entry : table) names.emplace_back(entry.first);
  return names;
}

}  // namespace

Activation parse_activation(const std::string& name) {
  return parse_name("activation", name, kActivations);
}
Loss parse_loss(const std::string& name) { return parse_name("loss", name, kLosses); }
OptimizerKind parse_optimizer(const std::string& name) {
  return parse_name("optimizer", name, kOptimizers);
}
WeightInit parse_weight_init(const std::string& name) {
  return parse_name("weight initialiser", name, kWeightInits);
}
Device parse_device(const std::string& name) { return parse_name("device", name, kDevices); }

Placement parse_placement(const std::string& name) {
  const std::size_t colon = name.find(':');
  const bool indexed = colon != std::string::npos;
  const std::string kind = name.substr(0, colon);
  const std::string index = indexed ? name.substr(colon + 1) : "";
  const bool digits = !index.empty() && index.size() <= 9 &&
                      index.find_first_not_of("0123456789") == std::string::npos;
  for (const auto& [candidate, device] : kDevices)
    if (kind == candidate && (!indexed || (device == Device::cuda && digits)))
      return {device, indexed ? std::stoi(index) : 0};
  fail("unknown device '", name, "'; expected 'cpu', 'cuda' or 'cuda:N' (N: a GPU's index)");
}

std::string name_of(const Placement& where) {
  if (where.device == Device::cuda && where.gpu > 0) return "cuda:" + std::to_string(where.gpu);
  return name_of(where.device);
}
const char* name_of(Activation a) { return lookup_name(a, kActivations); }
const char* name_of(Loss l) { return lookup_name(l, kLosses); }
const char* name_of(OptimizerKind o) { return lookup_name(o, kOptimizers); }
const char* name_of(Device d) { return lookup_name(d, kDevices); }

std::vector<std::pair<std::string, std::vector<std::string>>> known_names() {
  return {{"activation", all_names(kActivations)},
          {"loss", all_names(kLosses)},
          {"optimizer", all_names(kOptimizers)},
          {"weight_init", all_names(kWeightInits)},
          {"device", all_names(kDevices)}};
}

std::vector<std::string> OptimizerConfig::state_slot_names() const {
  switch (kind) {
    case OptimizerKind::adam: return {"m", "v"};
    case OptimizerKind::rmsprop: return {"ms", "mom"};
    case OptimizerKind::adagrad: return {"accumulator"};
    case OptimizerKind::sgd: break;
  }
  return momentum != 0.0 ? std::vector<std::string>{"velocity"} : std::vector<std::string>{};
}

double OptimizerConfig::initial_state(int slot) const {
  if (kind == OptimizerKind::rmsprop && slot == 0) return 1.0;  // TensorFlow's RMSProp: ones
  if (kind == OptimizerKind::adagrad) return initial_accumulator_value;
  return 0.0;
}

OptimizerConfig::Sign OptimizerConfig::state_sign(int slot) const {
  if ((kind == OptimizerKind::adam && slot == 1) || (kind == OptimizerKind::rmsprop && slot == 0))
    return Sign::non_negative;
  return kind == OptimizerKind::adagrad ? Sign::positive : Sign::any;
}

void OptimizerConfig::validate() const {
  MNISTMLP_CHECK(learning_rate > 0.0 && std::isfinite(learning_rate),
                 "learning_rate must be a finite number > 0, got ", learning_rate);
  switch (kind) {
    case OptimizerKind::sgd:
      MNISTMLP_CHECK(momentum >= 0.0 && momentum < 1.0, "momentum must be in [0, 1), got ", momentum);
      MNISTMLP_CHECK(decay_rate > 0.0 && decay_rate <= 1.0, "decay_rate must be in (0, 1], got ",
                     decay_rate);
      MNISTMLP_CHECK(decay_steps > 0.0 && std::isfinite(decay_steps),
                     "decay_steps must be a finite number > 0, got ", decay_steps);
      break;
    case OptimizerKind::adam:
      MNISTMLP_CHECK(beta1 >= 0.0 && beta1 < 1.0 && beta2 >= 0.0 && beta2 < 1.0,
                     "beta1 and beta2 must be in [0, 1)");
      MNISTMLP_CHECK(epsilon > 0.0 && std::isfinite(epsilon),
                     "epsilon must be a finite number > 0, got ", epsilon);
      break;
    case OptimizerKind::rmsprop:
      MNISTMLP_CHECK(decay >= 0.0 && decay < 1.0, "decay must be in [0, 1), got ", decay);
      MNISTMLP_CHECK(momentum >= 0.0 && momentum < 1.0, "momentum must be in [0, 1), got ", momentum);
      MNISTMLP_CHECK(epsilon > 0.0 && std::isfinite(epsilon),
                     "epsilon must be a finite number > 0, got ", epsilon);
      break;
    case OptimizerKind::adagrad:
      MNISTMLP_CHECK(initial_accumulator_value > 0.0 && std::isfinite(initial_accumulator_value),
                     "initial_accumulator_value must be a finite number > 0, got ",
                     initial_accumulator_value);
      break;
  }
}

void ModelConfig::validate() const {
  MNISTMLP_CHECK(sizes.size() >= 2, "a model needs at least an input and an output size, got ",
                 sizes.size(), " sizes");
  for (std::size_t i = 0; i < sizes.size(); ++i)
    MNISTMLP_CHECK(sizes[i] >= 1, "layer size ", i, " must be at least 1, got ", sizes[i]);
  const std::size_t L = sizes.size() - 1;
  MNISTMLP_CHECK(activations.size() == L && dropout.size() == L && weight_decay.size() == L,
                 "expected one activation, dropout rate and weight decay per layer (", L, ")");
  for (std::size_t l = 0; l + 1 < L; ++l)
    MNISTMLP_CHECK(activations[l] != Activation::softmax,
                   "softmax is only supported as the output activation (layer ", l, ")");
  MNISTMLP_CHECK(loss != Loss::categorical_crossentropy || output_activation() == Activation::softmax,
                 "categorical_crossentropy needs a softmax output, got '",
                 name_of(output_activation()), "'");
  for (std::size_t l = 0; l < L; ++l) {
    MNISTMLP_CHECK(dropout[l] >= 0.0 && dropout[l] < 1.0, "dropout of layer ", l,
                   " must be in [0, 1), got ", dropout[l]);
    MNISTMLP_CHECK(weight_decay[l] >= 0.0 && std::isfinite(weight_decay[l]),
                   "weight_decay of layer ", l, " must be a finite number >= 0, got ",
                   weight_decay[l]);
  }
  MNISTMLP_CHECK(dropout[L - 1] == 0.0, "no dropout on the output layer");
  MNISTMLP_CHECK(clip_norm >= 0.0 && std::isfinite(clip_norm),
                 "clip_norm must be a finite number >= 0, got ", clip_norm);
  optimizer.validate();
}

}  // namespace mnistmlp
