// The single operations both engines offer, bound under the same names and arguments in
// _core.kernels (CPU) and _core.cuda_kernels (GPU), so that tests can hold one against the
// other. Each checks shapes, allocates its results and hands raw pointers to `Engine` with
// the GIL released; Engine is a struct of static function templates with the signatures of
// backend/cpu/cpu_ops.hpp (CpuOps in kernels.cpp, CudaOps in cuda.cpp).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <optional>
#include <string>

#include "mnistmlp/common.hpp"

namespace mnistmlp::bindings {

namespace py = pybind11;

template <typename T>
using Array = py::array_t<T, py::array::c_style | py::array::forcecast>;

template <typename T>
void check_dense_shapes(const Array<T>& inp, const Array<T>& weight) {
  if (inp.ndim() != 2 || weight.ndim() != 2)
    fail("inputs (B, IN) and weight (IN, OUT) must be 2-D");
  if (inp.shape(1) != weight.shape(0))
    fail("inputs have ", inp.shape(1), " columns but weight has ", weight.shape(0), " rows");
}

// run(out, inp, weight, bias, B, IN, OUT, act).
template <typename T, typename Run>
Array<T> dense_forward(const Array<T>& inp, const Array<T>& weight, const Array<T>& bias,
                       const std::string& activation, Run&& run) {
  check_dense_shapes(inp, weight);
  const index_t B = inp.shape(0), IN = inp.shape(1), OUT = weight.shape(1);
  if (bias.ndim() != 1 || bias.shape(0) != OUT)
    fail("bias must have shape (", OUT, ",)");
  const Activation act = parse_activation(activation);
  if (act == Activation::softmax) fail("softmax is applied by the loss, not here");
  Array<T> out({B, OUT});
  T* o = out.mutable_data();
  const T *x = inp.data(), *w = weight.data(), *b = bias.data();
  {
    py::gil_scoped_release release;  // safe: only the buffers above are touched
    run(o, x, w, b, B, IN, OUT, act);
  }
  return out;
}

// Returns (dinp, dweight, dbias); dinp = (dout . weight^T) * dropout_scale * f'(prev_act) with
// f the `activation` of the previous layer (without prev_act: no derivative, no dropout).
// run(dinp, dweight, dbias, dout, inp, weight, prev_act, prev_dropout, act, B, IN, OUT, wd).
template <typename T, typename Run>
py::tuple dense_backward(const Array<T>& dout, const Array<T>& inp, const Array<T>& weight,
                         double weight_decay, const std::optional<Array<T>>& prev_act,
                         const std::string& activation,
                         const std::optional<Array<T>>& dropout_scale, Run&& run) {
  check_dense_shapes(inp, weight);
  const index_t B = inp.shape(0), IN = inp.shape(1), OUT = weight.shape(1);
  if (dout.ndim() != 2 || dout.shape(0) != B || dout.shape(1) != OUT)
    fail("dout must have shape (", B, ", ", OUT, ")");
  for (const auto* a : {&prev_act, &dropout_scale})
    if (*a && ((*a)->ndim() != 2 || (*a)->shape(0) != B || (*a)->shape(1) != IN))
      fail("prev_act and dropout_scale must have the inputs' shape (", B, ", ", IN, ")");
  if (dropout_scale && !prev_act) fail("dropout_scale needs prev_act");
  const Activation act = parse_activation(activation);
  Array<T> dinp({B, IN}), dweight({IN, OUT}), dbias(OUT);
  // Without prev_act, a linear previous layer whose outputs are ones: no derivative.
  Array<T> ones(prev_act ? std::vector<py::ssize_t>{0} : std::vector<py::ssize_t>{B, IN});
  std::fill(ones.mutable_data(), ones.mutable_data() + ones.size(), T(1));
  T *dx = dinp.mutable_data(), *dw = dweight.mutable_data(), *db = dbias.mutable_data();
  const T *g = dout.data(), *x = inp.data(), *w = weight.data();
  const T* a = prev_act ? prev_act->data() : ones.data();
  const T* s = dropout_scale ? dropout_scale->data() : nullptr;
  {
    py::gil_scoped_release release;  // safe: only the buffers above are touched
    run(dx, dw, db, g, x, w, a, s, prev_act ? act : Activation::linear, B, IN, OUT,
        T(weight_decay));
  }
  return py::make_tuple(dinp, dweight, dbias);
}

template <class Engine, typename T>
void bind_ops(py::module_& m) {
  m.def(
      "output_loss",
      [](const Array<T>& logits, const py::array& targets, const std::string& output,
         const std::string& loss) {
        if (logits.ndim() != 2) fail("logits must be 2-D (B, K)");
        const index_t B = logits.shape(0), K = logits.shape(1);
        Array<std::int32_t> labels;
        Array<T> dense;
        if (targets.ndim() == 1) {
          labels = Array<std::int32_t>::ensure(targets);
          if (labels.shape(0) != B) fail("labels must have shape (", B, ",)");
          for (index_t i = 0; i < B; ++i)
            if (labels.data()[i] < 0 || labels.data()[i] >= K) fail("label out of range");
        } else {
          dense = Array<T>::ensure(targets);
          if (!dense || dense.ndim() != 2 || dense.shape(0) != B || dense.shape(1) != K)
            fail("targets must be labels (", B, ",) or dense rows (", B, ", ", K, ")");
        }
        const Activation act = parse_activation(output);
        const Loss l = parse_loss(loss);
        const T scale = T(loss_scale(l, B, K));
        Array<T> dz({B, K}), out({B, K}), row_loss(B);
        Array<std::uint8_t> correct(B);
        T *g = dz.mutable_data(), *a = out.mutable_data(), *r = row_loss.mutable_data();
        std::uint8_t* c = correct.mutable_data();
        const T* z = logits.data();
        const std::int32_t* y_labels = targets.ndim() == 1 ? labels.data() : nullptr;
        const T* y_dense = targets.ndim() == 1 ? nullptr : dense.data();
        {
          py::gil_scoped_release release;
          Engine::template output_loss<T>(g, a, r, c, z, y_labels, y_dense, act, l, B, K, scale);
        }
        return py::make_tuple(dz, out, row_loss, correct);
      },
      py::arg("logits"), py::arg("targets"), py::arg("output") = "softmax",
      py::arg("loss") = "categorical_crossentropy",
      "(dz, output activations, row losses, right answers) of the fused output activation + "
      "loss, dz scaled for the batch mean.");
  m.def(
      "optimizer_update",
      [](const Array<T>& params, const Array<T>& grads, const std::optional<Array<T>>& state0,
         const std::optional<Array<T>>& state1, const OptimizerConfig& config, std::int64_t step,
         double clip) {
        const index_t n = params.size();
        if (grads.size() != n) fail("params and grads differ in size");
        const int slots = config.state_slots();
        if ((slots > 0) != bool(state0) || (slots > 1) != bool(state1))
          fail("this optimizer keeps ", slots, " state arrays");
        for (const auto* s : {&state0, &state1})
          if (*s && (*s)->size() != n) fail("state arrays must be the size of params");
        // The engines update in place: work on copies.
        auto copy = [n](const T* from) {
          Array<T> a(std::vector<py::ssize_t>{n});
          std::copy(from, from + n, a.mutable_data());
          return a;
        };
        Array<T> w = copy(params.data()), g = copy(grads.data());
        Array<T> s0 = state0 ? copy(state0->data()) : Array<T>();
        Array<T> s1 = state1 ? copy(state1->data()) : Array<T>();
        T *pw = w.mutable_data(), *pg = g.mutable_data();
        T* p0 = state0 ? s0.mutable_data() : nullptr;
        T* p1 = state1 ? s1.mutable_data() : nullptr;
        {
          py::gil_scoped_release release;
          Engine::template optimizer_update<T>(pw, pg, p0, p1, n, config, step, T(clip));
        }
        return py::make_tuple(w, state0 ? py::object(s0) : py::object(py::none()),
                              state1 ? py::object(s1) : py::object(py::none()));
      },
      py::arg("params"), py::arg("grads"), py::arg("state0") = py::none(),
      py::arg("state1") = py::none(), py::arg("config"), py::arg("step") = 0,
      py::arg("clip") = 1.0,
      "One optimizer step on flat arrays; returns the updated (params, state0, state1).");
  m.def(
      "dropout_forward",
      [](const Array<T>& act, double rate, std::uint64_t seed, std::int64_t step,
         index_t layer) {
        const index_t n = act.size();
        Array<T> dropped(std::vector<py::ssize_t>(act.shape(), act.shape() + act.ndim()));
        Array<T> scale(std::vector<py::ssize_t>(act.shape(), act.shape() + act.ndim()));
        T *d = dropped.mutable_data(), *s = scale.mutable_data();
        const T* a = act.data();
        {
          py::gil_scoped_release release;
          Engine::template dropout_forward<T>(d, s, a, n, rate, seed, step, layer);
        }
        return py::make_tuple(dropped, scale);
      },
      py::arg("act"), py::arg("rate"), py::arg("seed"), py::arg("step"), py::arg("layer"),
      "(act * scale, scale): the dropout of layer `layer` at optimizer step `step`.");
  m.def(
      "sum_of_squares",
      [](const Array<T>& x) {
        const T* p = x.data();
        const index_t n = x.size();
        py::gil_scoped_release release;
        return Engine::template sum_of_squares<T>(p, n);
      },
      py::arg("x"), "Sum of squares of every element, accumulated in float64.");
}

}  // namespace mnistmlp::bindings
