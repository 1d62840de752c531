// Bindings of the engine's Model and trainer. Arrays arrive validated by the Python layer
// (python/mnistmlp/model.py); here they are only checked for what C++ relies on (dtype,
// dimensions, contiguity) and turned into views.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <exception>
#include <string>

#include "bindings/registry.hpp"
#include "mnistmlp/mlp.hpp"
#include "mnistmlp/trainer.hpp"

namespace py = pybind11;

namespace mnistmlp::bindings {

namespace {

InputView input_view(const char* op, const py::array& x) {
  if (x.ndim() != 2) fail(op, "inputs must be 2-D (rows, features), got ", x.ndim(), "-D");
  if (!(x.flags() & py::array::c_style)) fail(op, "inputs must be C-contiguous");
  InputView view;
  if (py::isinstance<py::array_t<std::uint8_t>>(x))
    view.type = ElementType::uint8;
  else if (py::isinstance<py::array_t<float>>(x))
    view.type = ElementType::float32;
  else if (py::isinstance<py::array_t<double>>(x))
    view.type = ElementType::float64;
  else
    fail(op, "inputs must be uint8, float32 or float64, got ", std::string(py::str(x.dtype())));
  view.data = x.data();
  view.rows = x.shape(0);
  view.cols = x.shape(1);
  return view;
}

template <typename T>
TargetView<T> target_view(const char* op, const py::array& y) {
  TargetView<T> view;
  if (!(y.flags() & py::array::c_style)) fail(op, "targets must be C-contiguous");
  if (y.ndim() == 1 && py::isinstance<py::array_t<std::int32_t>>(y)) {
    view.labels = static_cast<const std::int32_t*>(y.data());
  } else if (y.ndim() == 2 && py::isinstance<py::array_t<T>>(y)) {
    view.dense = static_cast<const T*>(y.data());
    view.classes = y.shape(1);
  } else {
    fail(op, "targets must be int32 labels (rows,) or dense rows (rows, classes) of the model's "
             "dtype, got a ", y.ndim(), "-D array of ", std::string(py::str(y.dtype())));
  }
  view.rows = y.shape(0);
  return view;
}

// Section of the arena: 0 parameters, 1 gradients, 2 + s optimizer state slot s.
template <typename T>
T* section(Model<T>& model, int which) {
  ParameterArena<T>& arena = model.arena();
  if (which == 0) return arena.params();
  if (which == 1) return arena.grads();
  if (which >= 2 && which - 2 < arena.state_slots) return arena.state(which - 2);
  fail("section", "no arena section ", which, " (this optimizer keeps ", arena.state_slots,
       " state slots)");
}

template <typename T>
void check_layer(const Model<T>& model, const char* op, index_t layer) {
  if (layer < 0 || layer >= model.config().layers())
    throw py::index_error(std::string("[") + op + "] layer " + std::to_string(layer) +
                          " out of range for " + std::to_string(model.config().layers()) +
                          " layers");
}

template <typename T>
py::tuple get_layer(Model<T>& model, index_t layer, int which) {
  check_layer(model, "get_layer", layer);
  std::shared_lock lock(model.mutex());
  const index_t in = model.config().sizes[layer], out = model.config().sizes[layer + 1];
  T* base = section(model, which);
  py::array_t<T> w({in, out}), b(out);
  std::memcpy(w.mutable_data(), model.arena().weight(base, layer), sizeof(T) * in * out);
  std::memcpy(b.mutable_data(), model.arena().bias(base, layer), sizeof(T) * out);
  return py::make_tuple(w, b);
}

template <typename T>
void set_layer(Model<T>& model, index_t layer, const py::array_t<T, py::array::c_style>& w,
               const py::array_t<T, py::array::c_style>& b, int which) {
  check_layer(model, "set_layer", layer);
  const index_t in = model.config().sizes[layer], out = model.config().sizes[layer + 1];
  if (w.ndim() != 2 || w.shape(0) != in || w.shape(1) != out)
    fail("set_layer", "layer ", layer, " weight must have shape (", in, ", ", out, ")");
  if (b.ndim() != 1 || b.shape(0) != out)
    fail("set_layer", "layer ", layer, " bias must have shape (", out, ",)");
  std::unique_lock lock(model.mutex());
  T* base = section(model, which);
  std::memcpy(model.arena().weight(base, layer), w.data(), sizeof(T) * in * out);
  std::memcpy(model.arena().bias(base, layer), b.data(), sizeof(T) * out);
  model.host_changed();
}

template <typename T>
py::dict fit_epoch(Model<T>& model, const py::array& x, const py::array& y, index_t batch_size,
                   bool shuffle, const py::object& callback, double report_interval,
                   std::uint64_t data_token) {
  InputView xv = input_view("fit_epoch", x);
  xv.token = data_token;
  const TargetView<T> yv = target_view<T>("fit_epoch", y);
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
      .def(py::init([](std::vector<index_t> sizes, const std::vector<std::string>& activations,
                       const std::string& loss, std::vector<double> dropout,
                       std::vector<double> weight_decay, double clip_norm,
                       const std::string& optimizer, double learning_rate, double momentum,
                       bool nesterov, double decay_rate, double decay_steps, bool staircase,
                       double beta1, double beta2, double epsilon, std::uint64_t seed,
                       int threads, const std::string& device) {
             ModelConfig c;
             c.sizes = std::move(sizes);
             for (const std::string& name : activations)
               c.activations.push_back(parse_activation(name));
             c.loss = parse_loss(loss);
             c.dropout = std::move(dropout);
             c.weight_decay = std::move(weight_decay);
             c.clip_norm = clip_norm;
             c.optimizer.kind = parse_optimizer(optimizer);
             c.optimizer.learning_rate = learning_rate;
             c.optimizer.momentum = momentum;
             c.optimizer.nesterov = nesterov;
             c.optimizer.decay_rate = decay_rate;
             c.optimizer.decay_steps = decay_steps;
             c.optimizer.staircase = staircase;
             c.optimizer.beta1 = beta1;
             c.optimizer.beta2 = beta2;
             c.optimizer.epsilon = epsilon;
             c.seed = seed;
             const Device where = parse_device(device);
             // Outside the GIL: starting the CUDA backend may take a while (driver, context).
             py::gil_scoped_release release;
             return std::make_unique<Model<T>>(std::move(c), threads, where);
           }),
           py::arg("sizes"), py::arg("activations"), py::arg("loss"), py::arg("dropout"),
           py::arg("weight_decay"), py::arg("clip_norm"),
           py::arg("optimizer"), py::arg("learning_rate"), py::arg("momentum"),
           py::arg("nesterov"), py::arg("decay_rate"), py::arg("decay_steps"),
           py::arg("staircase"), py::arg("beta1"), py::arg("beta2"), py::arg("epsilon"),
           py::arg("seed"), py::arg("threads"), py::arg("device") = "cpu")
      .def_property("threads", &Model<T>::threads, &Model<T>::set_threads)
      .def_property_readonly("device",
                             [](const Model<T>& model) { return name_of(model.device()); })
      .def_property(
          "seed", [](const Model<T>& model) { return model.config().seed; },
          [](Model<T>& model, std::uint64_t seed) {
            std::unique_lock lock(model.mutex());
            model.set_seed(seed);
          })
      .def_property_readonly(
          "checks_inputs", [](const Model<T>& model) { return model.backend().checks_inputs(); },
          "Whether training, like inference, refuses NaN and Inf as it reads each batch (so "
          "the caller need not check x first).")
      .def_property_readonly("state_slots",
                             [](const Model<T>& model) { return model.arena().state_slots; })
      .def_property_readonly("arena_size",
                             [](const Model<T>& model) { return model.arena().memory.size(); })
      .def_property(
          "step", [](const Model<T>& model) { return model.state().step; },
          [](Model<T>& model, std::int64_t v) { model.state().step = v; })
      .def_property(
          "epoch", [](const Model<T>& model) { return model.state().epoch; },
          [](Model<T>& model, std::int64_t v) { model.state().epoch = v; })
      .def_property(
          "loss_average", [](const Model<T>& model) { return model.state().loss_average; },
          [](Model<T>& model, double v) { model.state().loss_average = v; })
      .def_property(
          "accuracy_average",
          [](const Model<T>& model) { return model.state().accuracy_average; },
          [](Model<T>& model, double v) { model.state().accuracy_average = v; })
      .def(
          "initialize_layer",
          [](Model<T>& model, index_t layer, const std::string& init, double scale,
             std::uint64_t seed) {
            std::unique_lock lock(model.mutex());
            model.initialize_layer(layer, parse_weight_init(init), scale, seed);
          },
          py::arg("layer"), py::arg("init"), py::arg("scale"), py::arg("seed"))
      .def("get_layer", &get_layer<T>, py::arg("layer"), py::arg("section") = 0)
      .def("set_layer", &set_layer<T>, py::arg("layer"), py::arg("weight"), py::arg("bias"),
           py::arg("section") = 0)
      .def("fit_epoch", &fit_epoch<T>, py::arg("x"), py::arg("y"), py::arg("batch_size"),
           py::arg("shuffle"), py::arg("callback") = py::none(),
           py::arg("report_interval") = 0.1, py::arg("data_token") = 0,
           "One epoch. data_token: nonzero when x and y are unchanged since the last call with "
           "the same token (the CUDA backend then keeps them on the GPU).")
      .def(
          "predict",
          [](const Model<T>& model, const py::array& x) {
            const InputView xv = input_view("predict", x);
            model.check_inputs("predict", xv);
            py::array_t<T> out({xv.rows, model.config().outputs()});
            T* dst = out.mutable_data();
            {
              // Safe: x and out stay referenced here; the model is read under a shared lock.
              py::gil_scoped_release release;
              std::shared_lock lock(model.mutex());
              model.backend().predict(dst, xv);
            }
            return out;
          },
          py::arg("x"))
      .def(
          "evaluate",
          [](const Model<T>& model, const py::array& x, const py::array& y) {
            const InputView xv = input_view("evaluate", x);
            const TargetView<T> yv = target_view<T>("evaluate", y);
            model.check_targets("evaluate", xv, yv);
            BatchMetrics total;
            {
              py::gil_scoped_release release;  // safe: as in predict
              std::shared_lock lock(model.mutex());
              total = model.backend().evaluate(xv, yv);
            }
            const double scale = model.config().loss == Loss::mean_square
                                     ? 1.0 / double(model.config().outputs())
                                     : 1.0;
            const double rows = double(std::max<index_t>(total.rows, 1));
            return py::make_tuple(total.loss_sum * scale / rows, double(total.correct) / rows);
          },
          py::arg("x"), py::arg("y"))
      .def(
          "loss_and_gradients",
          [](Model<T>& model, const py::array& x, const py::array& y) {
            const InputView xv = input_view("loss_and_gradients", x);
            const TargetView<T> yv = target_view<T>("loss_and_gradients", y);
            model.check_targets("loss_and_gradients", xv, yv);
            if (xv.rows < 1) fail("loss_and_gradients", "no rows");
            double loss;
            {
              py::gil_scoped_release release;  // safe: as in predict
              std::unique_lock lock(model.mutex());
              loss = model.backend().loss_and_gradients(xv, yv);
            }
            py::list grads;
            for (index_t l = 0; l < model.config().layers(); ++l)
              grads.append(get_layer(model, l, 1));
            return py::make_tuple(loss, grads);
          },
          py::arg("x"), py::arg("y"));
}

}  // namespace

void register_model(py::module_& m) {
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
  m.attr("COUNTER_LIMIT") = kCounterLimit;
  bind_model<float>(m, "Model32");
  bind_model<double>(m, "Model64");
}

}  // namespace mnistmlp::bindings
