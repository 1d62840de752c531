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
    {"softmax", Activation::softmax}};
constexpr std::pair<const char*, Loss> kLosses[] = {
    {"categorical_crossentropy", Loss::categorical_crossentropy},
    {"mean_square", Loss::mean_square}};
constexpr std::pair<const char*, OptimizerKind> kOptimizers[] = {{"sgd", OptimizerKind::sgd},
                                                                 {"adam", OptimizerKind::adam}};
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
const char* name_of(Activation a) { return lookup_name(a, kActivations); }
const char* name_of(Loss l) { return lookup_name(l, kLosses); }
const char* name_of(OptimizerKind o) { return lookup_name(o, kOptimizers); }
const char* name_of(Device d) { return lookup_name(d, kDevices); }

int OptimizerConfig::state_slots() const {
  if (kind == OptimizerKind::adam) return 2;
  return momentum != 0.0 ? 1 : 0;
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
  const OptimizerConfig& o = optimizer;
  MNISTMLP_CHECK(o.learning_rate > 0.0 && std::isfinite(o.learning_rate),
                 "learning_rate must be a finite number > 0, got ", o.learning_rate);
  MNISTMLP_CHECK(o.momentum >= 0.0 && o.momentum < 1.0, "momentum must be in [0, 1), got ",
                 o.momentum);
  MNISTMLP_CHECK(o.decay_rate > 0.0 && o.decay_rate <= 1.0,
                 "decay_rate must be in (0, 1], got ", o.decay_rate);
  MNISTMLP_CHECK(o.decay_steps > 0.0 && std::isfinite(o.decay_steps),
                 "decay_steps must be a finite number > 0, got ", o.decay_steps);
  MNISTMLP_CHECK(o.beta1 >= 0.0 && o.beta1 < 1.0 && o.beta2 >= 0.0 && o.beta2 < 1.0,
                 "beta1 and beta2 must be in [0, 1)");
  MNISTMLP_CHECK(o.epsilon > 0.0 && std::isfinite(o.epsilon),
                 "epsilon must be a finite number > 0, got ", o.epsilon);
}

}  // namespace mnistmlp
