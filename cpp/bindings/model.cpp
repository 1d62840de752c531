// Bindings of the engine's Model and trainer. Arrays arrive validated by the Python layer
// (python/mnistmlp/model.py); here they are only checked for what C++ relies on (dtype,
// dimensions, contiguity) and turned into views.
//
// Locks: an epoch's progress callback takes the GIL while its epoch holds the model's writer
// lock, so waiting for a model lock with the GIL held could deadlock. Every wait for one
// happens with the GIL released, and Python objects are made before or after, never under it.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "bindings/registry.hpp"
#include "mnistmlp/mlp.hpp"
#include "mnistmlp/trainer.hpp"

namespace py = pybind11;

namespace mnistmlp::bindings {

namespace {

InputView input_view(const py::array& x) {
  if (x.ndim() != 2) fail("inputs must be 2-D (rows, features), got ", x.ndim(), "-D");
  if (!(x.flags() & py::array::c_style)) fail("inputs must be C-contiguous");
  InputView view;
  if (py::isinstance<py::array_t<std::uint8_t>>(x))
    view.type = ElementType::uint8;
  else if (py::isinstance<py::array_t<float>>(x))
    view.type = ElementType::float32;
  else if (py::isinstance<py::array_t<double>>(x))
    view.type = ElementType::float64;
  else
    fail("inputs must be uint8, float32 or float64, got ", std::string(py::str(x.dtype())));
  view.data = x.data();
  view.rows = x.shape(0);
  view.cols = x.shape(1);
  return view;
}

template <typename T>
TargetView<T> target_view(const py::array& y) {
  TargetView<T> view;
  if (!(y.flags() & py::array::c_style)) fail("targets must be C-contiguous");
  if (y.ndim() == 1 && py::isinstance<py::array_t<std::int32_t>>(y)) {
    view.labels = static_cast<const std::int32_t*>(y.data());
  } else if (y.ndim() == 2 && py::isinstance<py::array_t<T>>(y)) {
    view.dense = static_cast<const T*>(y.data());
    view.classes = y.shape(1);
  } else {
    fail("targets must be int32 labels (rows,) or dense rows (rows, classes) of the model's "
             "dtype, got a ", y.ndim(), "-D array of ", std::string(py::str(y.dtype())));
  }
  view.rows = y.shape(0);
  return view;
}

// A section of the arena by name: "params", "grads", or one of the optimizer's state slots
// (OptimizerConfig::state_slot_names: "m", "v", "velocity", ...).
template <typename T>
T* section(Model<T>& model, const std::string& name) {
  ParameterArena<T>& arena = model.arena();
  if (name == "params") return arena.params();
  if (name == "grads") return arena.grads();
  const std::vector<std::string> slots = model.config().optimizer.state_slot_names();
  for (std::size_t slot = 0; slot < slots.size(); ++slot)
    if (slots[slot] == name) return arena.state(static_cast<int>(slot));
  std::string known = "params, grads";
  for (const std::string& slot : slots) known += ", " + slot;
  fail("the model has no state '", name, "' (it has ", known, ")");
}

template <typename T>
std::vector<T*> sections(Model<T>& model, const std::vector<std::string>& names) {
  std::vector<T*> bases;
  for (const std::string& name : names) bases.push_back(section(model, name));
  return bases;
}

// One (W, b) pair per layer, of the model's shapes, for the engine to fill.
template <typename T>
py::list empty_layers(const Model<T>& model) {
  py::list layers;
  const std::vector<index_t>& n = model.config().sizes;
  for (std::size_t l = 0; l + 1 < n.size(); ++l)
    layers.append(py::make_tuple(py::array_t<T>({n[l], n[l + 1]}), py::array_t<T>(n[l + 1])));
  return layers;
}

// Copies section `which` of the arena into `layers` (from empty_layers); the caller holds a
// model lock. Touches no Python object: the arrays' buffers were taken beforehand.
template <typename T>
void copy_out(Model<T>& model, const T* base, const std::vector<std::pair<T*, T*>>& layers) {
  const std::vector<index_t>& n = model.config().sizes;
  for (std::size_t l = 0; l < layers.size(); ++l) {
    std::memcpy(layers[l].first, model.arena().weight(base, l), sizeof(T) * n[l] * n[l + 1]);
    std::memcpy(layers[l].second, model.arena().bias(base, l), sizeof(T) * n[l + 1]);
  }
}

template <typename T>
std::vector<std::pair<T*, T*>> buffers_of(const py::list& layers) {
  std::vector<std::pair<T*, T*>> buffers;
  for (py::handle pair : layers)
    buffers.emplace_back(pair[py::int_(0)].cast<py::array_t<T>>().mutable_data(),
                         pair[py::int_(1)].cast<py::array_t<T>>().mutable_data());
  return buffers;
}

// A training counter from Python: an int in [0, kCounterLimit].
std::int64_t counter(const py::dict& training, const char* name) {
  const py::object value = training[name];
  int overflow = 0;
  long long v = -1;
  if (PyLong_Check(value.ptr()) && !PyBool_Check(value.ptr()))
    v = PyLong_AsLongLongAndOverflow(value.ptr(), &overflow);
  MNISTMLP_CHECK(!overflow && v >= 0 && v <= kCounterLimit, name,
                 " must be an integer in [0, 2**53], got ", std::string(py::repr(value)));
  return v;
}

double finite_number(const py::dict& training, const char* name) {
  const double v = training[name].cast<double>();
  MNISTMLP_CHECK(std::isfinite(v), name, " must be finite, got ", v);
  return v;
}

// The model's state: the training counters and, for each of the sections `names`, every
// layer's (W, b), all read at one moment (so a model that trains meanwhile is seen as of one
// batch).
template <typename T>
py::tuple read_state(Model<T>& model, const std::vector<std::string>& names) {
  const std::vector<T*> bases = sections(model, names);
  std::vector<py::list> layers;
  std::vector<std::vector<std::pair<T*, T*>>> buffers;
  for (std::size_t i = 0; i < names.size(); ++i) {
    layers.push_back(empty_layers(model));
    buffers.push_back(buffers_of<T>(layers.back()));
  }
  TrainingState state;
  {
    py::gil_scoped_release release;  // safe: only the arrays' buffers are touched
    auto lock = model.lock_for_reading();
    for (std::size_t i = 0; i < names.size(); ++i) copy_out(model, bases[i], buffers[i]);
    state = model.state();
  }
  py::dict training;
  training["step"] = state.step;
  training["epoch"] = state.epoch;
  training["loss_average"] = state.loss_average;
  training["accuracy_average"] = state.accuracy_average;
  return py::make_tuple(training, py::cast(layers));
}

// Replaces the sections `names` (each a list of (W, b) per layer) and, unless None, the
// training counters. Refused, leaving the model as it was, when the result is not a state the
// model may hold (Model::state_problem): what training can never produce, loading cannot either.
template <typename T>
void write_state(Model<T>& model, const std::vector<std::string>& names, const py::list& values,
                 const py::object& training) {
  const std::vector<T*> bases = sections(model, names);
  MNISTMLP_CHECK(py::len(values) == names.size(), "expected ", names.size(),
                 " lists of layers, got ", py::len(values));
  const std::vector<index_t>& n = model.config().sizes;
  std::vector<py::array_t<T, py::array::c_style>> arrays;  // kept alive while copied
  for (py::handle layers : values) {
    MNISTMLP_CHECK(py::len(layers) == n.size() - 1, "expected ", n.size() - 1,
                   " (W, b) pairs, got ", py::len(layers));
    for (std::size_t l = 0; l + 1 < n.size(); ++l) {
      const py::sequence pair = layers[py::int_(l)].cast<py::sequence>();
      MNISTMLP_CHECK(py::len(pair) == 2, "layer ", l, ": expected a (W, b) pair");
      arrays.push_back(py::array_t<T, py::array::c_style>::ensure(pair[0]));
      arrays.push_back(py::array_t<T, py::array::c_style>::ensure(pair[1]));
      const auto& w = arrays[arrays.size() - 2];
      const auto& b = arrays.back();
      const char* type = sizeof(T) == 4 ? "float32" : "float64";
      MNISTMLP_CHECK(w && w.ndim() == 2 && w.shape(0) == n[l] && w.shape(1) == n[l + 1],
                     "layer ", l, " weight must be a ", type, " array of shape (", n[l], ", ",
                     n[l + 1], ")");
      MNISTMLP_CHECK(b && b.ndim() == 1 && b.shape(0) == n[l + 1], "layer ", l,
                     " bias must be a ", type, " array of shape (", n[l + 1], ",)");
    }
  }
  TrainingState state;
  const bool counters = !training.is_none();
  if (counters) {
    const py::dict d = training.cast<py::dict>();
    state = {counter(d, "step"), counter(d, "epoch"), finite_number(d, "loss_average"),
             finite_number(d, "accuracy_average")};
  }
  std::string problem;
  {
    py::gil_scoped_release release;  // safe: only the arrays' buffers are touched
    WriteLock lock = model.lock_for_writing();
    model.keep_restore_point();
    for (std::size_t i = 0; i < names.size(); ++i) {
      T* base = bases[i];
      for (std::size_t l = 0; l + 1 < n.size(); ++l) {
        const auto& w = arrays[2 * (i * (n.size() - 1) + l)];
        const auto& b = arrays[2 * (i * (n.size() - 1) + l) + 1];
        std::memcpy(model.arena().weight(base, l), w.data(), sizeof(T) * n[l] * n[l + 1]);
        std::memcpy(model.arena().bias(base, l), b.data(), sizeof(T) * n[l + 1]);
      }
    }
    if (counters) model.state() = state;
    model.host_changed();
    problem = model.state_problem();
    if (!problem.empty()) model.roll_back();
  }
  if (!problem.empty()) fail(problem);
}

// Rows per block of a long inference call, between which Ctrl-C is checked: about 2e9
// multiply-adds (tens of milliseconds), in whole chunks of the CPU backend's rows. It depends
// on the network only, so results are the same for any thread count.
index_t inference_block_rows(const ModelConfig& config) {
  constexpr index_t kChunkRows = 512;
  double per_row = 0;
  for (index_t l = 0; l < config.layers(); ++l) per_row += double(config.sizes[l]) * config.sizes[l + 1];
  return std::max<index_t>(1, static_cast<index_t>(2e9 / per_row) / kChunkRows) * kChunkRows;
}

// Runs body(rows, first) on consecutive blocks of x's rows with the GIL released, taking it
// back between blocks to let Ctrl-C (KeyboardInterrupt) through. Between blocks the model's
// lock is free, so an epoch that trains meanwhile is not held up by a long call.
template <typename T, typename Body>
void in_blocks(const Model<T>& model, const InputView& x, Body&& body) {
  const index_t block = inference_block_rows(model.config());
  for (index_t first = 0; first < x.rows || first == 0; first += block) {
    InputView rows = x;
    rows.rows = std::min(block, x.rows - first);
    rows.data = static_cast<const char*>(x.data) + first * x.cols * element_size(x.type);
    rows.first_row = first;
    {
      py::gil_scoped_release release;  // safe: body touches x's and the results' buffers only
      body(rows, first);
    }
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
  }
}

template <typename T>
py::dict fit_epoch(Model<T>& model, const py::array& x, const py::array& y, index_t batch_size,
                   bool shuffle, const py::object& callback, double report_interval,
                   std::uint64_t data_token) {
  InputView xv = input_view(x);
  xv.token = data_token;
  const TargetView<T> yv = target_view<T>(y);
  std::exception_ptr raised;
  // Called by the trainer with the GIL released: take it for Python, check for Ctrl-C, and
  // turn any exception into a request to stop; it is re-raised once the epoch has returned.
  ProgressCallback report = [&](const EpochProgress& p) -> bool {
    py::gil_scoped_acquire gil;
    try {
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();
      if (callback.is_none()) return true;
      py::object answer = callback(p);
      return answer.is_none() || answer.cast<bool>();
    } catch (...) {
      raised = std::current_exception();
      return false;
    }
  };
  EpochResult result;
  {
    // Safe: x and y are kept alive by the caller's frame, and only C++ data is touched.
    py::gil_scoped_release release;
    result = train_epoch(model, xv, yv, batch_size, shuffle, report, report_interval);
  }
  if (raised) std::rethrow_exception(raised);
  const EpochProgress& p = result.progress;
  py::dict d;
  d["loss"] = p.epoch_loss;
  d["accuracy"] = p.epoch_accuracy;
  d["loss_average"] = p.loss_average;
  d["accuracy_average"] = p.accuracy_average;
  d["samples"] = p.samples_done;
  d["batches"] = p.batches_done;
  d["step"] = p.step;
  d["seconds"] = p.seconds;
  d["stopped"] = result.stopped;
  d["batch_loss"] = py::array_t<float>(result.batch_loss.size(), result.batch_loss.data());
  d["batch_accuracy"] =
      py::array_t<float>(result.batch_accuracy.size(), result.batch_accuracy.data());
  return d;
}

template <typename T>
void bind_model(py::module_& m, const char* name) {
  py::class_<Model<T>>(m, name)
      .def(py::init([](ModelConfig config, int threads, const std::string& device) {
             const Placement where = parse_placement(device);
             // Outside the GIL: starting the CUDA backend may take a while (driver, context).
             py::gil_scoped_release release;
             return std::make_unique<Model<T>>(std::move(config), threads, where);
           }),
           py::arg("config"), py::arg("threads"), py::arg("device") = "cpu")
      .def_property(
          "threads",
          [](const Model<T>& model) {
            py::gil_scoped_release release;
            auto lock = model.lock_for_reading();
            return model.threads();
          },
          [](Model<T>& model, int threads) {
            py::gil_scoped_release release;
            WriteLock lock = model.lock_for_writing();
            model.set_threads(threads);
          })
      .def_property_readonly("device",
                             [](const Model<T>& model) { return name_of(model.placement()); })
      .def_property(
          "seed",
          [](const Model<T>& model) {
            py::gil_scoped_release release;
            auto lock = model.lock_for_reading();
            return model.config().seed;
          },
          [](Model<T>& model, std::uint64_t seed) {
            py::gil_scoped_release release;
            WriteLock lock = model.lock_for_writing();
            model.set_seed(seed);
          })
      .def(
          "set_optimizer",
          [](Model<T>& model, const OptimizerConfig& optimizer) {
            py::gil_scoped_release release;
            WriteLock lock = model.lock_for_writing();
            model.set_optimizer(optimizer);
          },
          py::arg("optimizer"),
          "New settings for the model's optimizer (same state slots), between epochs.")
      .def_property_readonly(
          "state_slot_names",
          [](const Model<T>& model) { return model.config().optimizer.state_slot_names(); })
      .def_property_readonly("arena_size",
                             [](const Model<T>& model) { return model.arena().memory.size(); })
      .def_property_readonly("step",
                             [](const Model<T>& model) {
                               py::gil_scoped_release release;
                               auto lock = model.lock_for_reading();
                               return model.state().step;
                             })
      .def_property_readonly("epoch",
                             [](const Model<T>& model) {
                               py::gil_scoped_release release;
                               auto lock = model.lock_for_reading();
                               return model.state().epoch;
                             })
      .def(
          "initialize_layer",
          [](Model<T>& model, index_t layer, const std::string& init, double scale,
             std::uint64_t seed) {
            const WeightInit how = parse_weight_init(init);
            py::gil_scoped_release release;
            WriteLock lock = model.lock_for_writing();
            model.initialize_layer(layer, how, scale, seed);
          },
          py::arg("layer"), py::arg("init"), py::arg("scale"), py::arg("seed"))
      .def("read_state", &read_state<T>, py::arg("names"),
           "(training counters, [[(W, b) per layer] per section]), read at one moment. "
           "Sections by name: params, grads and the optimizer's state slots.")
      .def("write_state", &write_state<T>, py::arg("names"), py::arg("layers"),
           py::arg("training") = py::none(),
           "Replaces sections (as read_state gives them) and, unless None, the training "
           "counters; refused, changing nothing, if the result is not a valid state.")
      .def("state_problem",
           [](const Model<T>& model) {
             py::gil_scoped_release release;
             auto lock = model.lock_for_reading();
             return model.state_problem();
           },
           "Why the model's parameters or optimizer state are invalid; '' when they are not.")
      .def("fit_epoch", &fit_epoch<T>, py::arg("x"), py::arg("y"), py::arg("batch_size"),
           py::arg("shuffle"), py::arg("callback") = py::none(),
           py::arg("report_interval") = 0.1, py::arg("data_token") = 0,
           "One epoch. data_token: nonzero when x and y are unchanged since the last call with "
           "the same token (the CUDA backend then keeps them on the GPU).")
      .def(
          "predict",
          [](const Model<T>& model, const py::array& x) {
            const InputView xv = input_view(x);
            model.check_inputs(xv);
            py::array_t<T> out({xv.rows, model.config().outputs()});
            T* dst = out.mutable_data();
            const index_t K = model.config().outputs();
            in_blocks(model, xv, [&](const InputView& rows, index_t first) {
              auto lock = model.lock_for_reading();
              model.predict(dst + first * K, rows);
            });
            return out;
          },
          py::arg("x"))
      .def(
          "evaluate",
          [](const Model<T>& model, const py::array& x, const py::array& y) {
            const InputView xv = input_view(x);
            const TargetView<T> yv = target_view<T>(y);
            model.check_targets(xv, yv);
            BatchMetrics total;
            in_blocks(model, xv, [&](const InputView& rows, index_t first) {
              TargetView<T> targets = yv;
              targets.rows = rows.rows;
              if (yv.labels) targets.labels += first;
              if (yv.dense) targets.dense += first * yv.classes;
              auto lock = model.lock_for_reading();
              const BatchMetrics part = model.evaluate(rows, targets);
              total.loss_sum += part.loss_sum;
              total.correct += part.correct;
            });
            const double scale = model.config().loss == Loss::mean_square
                                     ? 1.0 / double(model.config().outputs())
                                     : 1.0;
            const double rows = double(std::max<index_t>(xv.rows, 1));
            return py::make_tuple(total.loss_sum * scale / rows, double(total.correct) / rows);
          },
          py::arg("x"), py::arg("y"))
      .def(
          "loss_and_gradients",
          [](Model<T>& model, const py::array& x, const py::array& y) {
            const InputView xv = input_view(x);
            const TargetView<T> yv = target_view<T>(y);
            model.check_targets(xv, yv);
            if (xv.rows < 1) fail("no rows");
            py::list grads = empty_layers(model);
            const auto buffers = buffers_of<T>(grads);
            double loss;
            {
              // Safe: x, y and the gradients' arrays stay referenced here; the gradients are
              // copied out under the same lock that computed them.
              py::gil_scoped_release release;
              WriteLock lock = model.lock_for_writing();
              loss = model.backend().loss_and_gradients(xv, yv);
              copy_out(model, model.arena().grads(), buffers);
            }
            return py::make_tuple(loss, grads);
          },
          py::arg("x"), py::arg("y"));
}

}  // namespace

// The engine's configurations, bound as classes: Python builds them from its specification
// (mnistmlp/_spec.py) and the engine is built from them; enumerations cross as their names.
void register_configs(py::module_& m) {
  py::class_<OptimizerConfig>(m, "OptimizerConfig",
                              "An optimizer's settings, as the engine takes them (kind and the "
                              "fields its update reads).")
      .def(py::init([](const std::string& kind, const py::kwargs& settings) {
             OptimizerConfig config;
             config.kind = parse_optimizer(kind);
             py::object self = py::cast(config);
             for (const auto& [key, value] : settings) {
               const std::string name = py::str(key);
               if (!py::hasattr(self, name.c_str()) || name == "kind")
                 fail("the engine's optimizers have no setting '", name, "'");
               self.attr(name.c_str()) = value;
             }
             OptimizerConfig made = self.cast<OptimizerConfig>();
             made.validate();
             return made;
           }),
           py::arg("kind"))
      .def_property(
          "kind", [](const OptimizerConfig& c) { return name_of(c.kind); },
          [](OptimizerConfig& c, const std::string& kind) { c.kind = parse_optimizer(kind); })
      .def_readwrite("learning_rate", &OptimizerConfig::learning_rate)
      .def_readwrite("momentum", &OptimizerConfig::momentum)
      .def_readwrite("nesterov", &OptimizerConfig::nesterov)
      .def_readwrite("decay_rate", &OptimizerConfig::decay_rate)
      .def_readwrite("decay_steps", &OptimizerConfig::decay_steps)
      .def_readwrite("staircase", &OptimizerConfig::staircase)
      .def_readwrite("beta1", &OptimizerConfig::beta1)
      .def_readwrite("beta2", &OptimizerConfig::beta2)
      .def_readwrite("epsilon", &OptimizerConfig::epsilon)
      .def_readwrite("decay", &OptimizerConfig::decay)
      .def_readwrite("initial_accumulator_value", &OptimizerConfig::initial_accumulator_value)
      .def_property_readonly("state_slot_names", &OptimizerConfig::state_slot_names,
                             "The optimizer's per-parameter state slots, in arena order.");

  py::class_<ModelConfig>(m, "ModelConfig", "A model's configuration, as the engine takes it.")
      .def(py::init<>())
      .def_readwrite("sizes", &ModelConfig::sizes)
      .def_property(
          "activations",
          [](const ModelConfig& c) {
            std::vector<std::string> names;
            for (Activation a : c.activations) names.emplace_back(name_of(a));
            return names;
          },
          [](ModelConfig& c, const std::vector<std::string>& names) {
            c.activations.clear();
            for (const std::string& name : names) c.activations.push_back(parse_activation(name));
          },
          "One per layer, the output's last.")
      .def_property(
          "loss", [](const ModelConfig& c) { return name_of(c.loss); },
          [](ModelConfig& c, const std::string& loss) { c.loss = parse_loss(loss); })
      .def_readwrite("dropout", &ModelConfig::dropout)
      .def_readwrite("weight_decay", &ModelConfig::weight_decay)
      .def_readwrite("clip_norm", &ModelConfig::clip_norm)
      .def_readwrite("optimizer", &ModelConfig::optimizer)
      .def_readwrite("seed", &ModelConfig::seed)
      .def("validate", &ModelConfig::validate, "Raise ValueError for a configuration the engine refuses.");

  m.def("known_names", [] {
    py::dict tables;
    for (const auto& [table, names] : known_names()) tables[py::str(table)] = names;
    return tables;
  }, "Every name the engine knows, by table (activation, loss, optimizer, weight_init, device).");
}

void register_model(py::module_& m) {
  register_configs(m);
  py::class_<EpochProgress>(m, "EpochProgress", "Training progress, reported during an epoch.")
      .def_readonly("samples_done", &EpochProgress::samples_done)
      .def_readonly("samples_total", &EpochProgress::samples_total)
      .def_readonly("batches_done", &EpochProgress::batches_done)
      .def_readonly("batches_total", &EpochProgress::batches_total)
      .def_readonly("step", &EpochProgress::step)
      .def_readonly("loss_average", &EpochProgress::loss_average)
      .def_readonly("accuracy_average", &EpochProgress::accuracy_average)
      .def_readonly("epoch_loss", &EpochProgress::epoch_loss)
      .def_readonly("epoch_accuracy", &EpochProgress::epoch_accuracy)
      .def_readonly("seconds", &EpochProgress::seconds);
  py::register_exception_translator([](std::exception_ptr raised) {
    try {
      if (raised) std::rethrow_exception(raised);
    } catch (const NumericalError& error) {
      PyErr_SetString(PyExc_FloatingPointError, error.what());
    }
  });
  m.attr("COUNTER_LIMIT") = kCounterLimit;
  bind_model<float>(m, "Model32");
  bind_model<double>(m, "Model64");
}

}  // namespace mnistmlp::bindings
