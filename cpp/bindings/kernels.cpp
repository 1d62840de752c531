// Single dense-layer kernels, for benchmarks and tests that check them against numpy.matmul
// and against the naive reference kernels.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <omp.h>

#include "bindings/registry.hpp"
#include "mnistmlp/arena.hpp"
#include "mnistmlp/backend/cpu/ops.hpp"
#include "mnistmlp/kernels/dense.hpp"

namespace py = pybind11;

namespace mnistmlp::bindings {

namespace {

template <typename T>
using Array = py::array_t<T, py::array::c_style | py::array::forcecast>;

template <typename T>
void check_dense_shapes(const char* op, const Array<T>& inp, const Array<T>& weight) {
  if (inp.ndim() != 2 || weight.ndim() != 2)
    fail(op, "inputs (B, IN) and weight (IN, OUT) must be 2-D");
  if (inp.shape(1) != weight.shape(0))
    fail(op, "inputs have ", inp.shape(1), " columns but weight has ", weight.shape(0), " rows");
}

template <typename T>
Array<T> dense_forward(const Array<T>& inp, const Array<T>& weight, const Array<T>& bias,
                       const std::string& activation, bool naive, int threads) {
  check_dense_shapes("dense_forward", inp, weight);
  const index_t B = inp.shape(0), IN = inp.shape(1), OUT = weight.shape(1);
  if (bias.ndim() != 1 || bias.shape(0) != OUT) fail("dense_forward", "bias must have shape (", OUT, ",)");
  const Activation act = parse_activation(activation);
  if (act == Activation::softmax) fail("dense_forward", "softmax is applied by the loss, not here");
  Array<T> out({B, OUT});
  T* o = out.mutable_data();
  const int team = threads > 0 ? threads : omp_get_num_procs();
  AlignedArray<float> scratch(team * cpu::gemm_scratch_floats());
  const T *x = inp.data(), *w = weight.data(), *b = bias.data();
  {
    py::gil_scoped_release release;  // safe: only the buffers above are touched
    if (naive) {
      kernels::dense_forward_naive(o, x, w, b, B, IN, OUT, act);
    } else {
#pragma omp parallel num_threads(team)
      cpu::dense_forward(o, x, w, b, B, IN, OUT, act, scratch.data());
    }
  }
  return out;
}

// Returns (dinp, dweight, dbias); dinp is (dout . weight^T), without an activation derivative.
template <typename T>
py::tuple dense_backward(const Array<T>& dout, const Array<T>& inp, const Array<T>& weight,
                         double weight_decay, bool naive, int threads) {
  check_dense_shapes("dense_backward", inp, weight);
  const index_t B = inp.shape(0), IN = inp.shape(1), OUT = weight.shape(1);
  if (dout.ndim() != 2 || dout.shape(0) != B || dout.shape(1) != OUT)
    fail("dense_backward", "dout must have shape (", B, ", ", OUT, ")");
  Array<T> dinp({B, IN}), dweight({IN, OUT}), dbias(OUT);
  // A linear "previous activation" of ones makes the fused derivative a no-op.
  Array<T> ones({B, IN});
  std::fill(ones.mutable_data(), ones.mutable_data() + B * IN, T(1));
  T *dx = dinp.mutable_data(), *dw = dweight.mutable_data(), *db = dbias.mutable_data();
  const int team = threads > 0 ? threads : omp_get_num_procs();
  AlignedArray<float> scratch(team * cpu::gemm_scratch_floats());
  const T *g = dout.data(), *x = inp.data(), *w = weight.data(), *a = ones.data();
  {
    py::gil_scoped_release release;  // safe: only the buffers above are touched
    if (naive) {
      kernels::dense_backward_naive(dx, dw, db, g, x, w, B, IN, OUT, T(weight_decay));
    } else {
#pragma omp parallel num_threads(team)
      cpu::dense_backward(dx, dw, db, g, x, w, a, static_cast<const T*>(nullptr),
                          Activation::linear, B, IN, OUT, T(weight_decay), scratch.data());
    }
  }
  return py::make_tuple(dinp, dweight, dbias);
}

template <typename T>
void bind_kernels(py::module_& m) {
  m.def("dense_forward", &dense_forward<T>, py::arg("inp"), py::arg("weight"), py::arg("bias"),
        py::arg("activation") = "linear", py::arg("naive") = false, py::arg("threads") = 0);
  m.def("dense_backward", &dense_backward<T>, py::arg("dout"), py::arg("inp"), py::arg("weight"),
        py::arg("weight_decay") = 0.0, py::arg("naive") = false, py::arg("threads") = 0);
}

}  // namespace

void register_kernels(py::module_& m) {
  py::module_ kernels = m.def_submodule(
      "kernels", "Single dense-layer kernels (fast and naive), for benchmarks and tests.");
  // float64 first: pybind11 tries overloads in order, and forcecast would otherwise turn a
  // float64 array into float32.
  bind_kernels<double>(kernels);
  bind_kernels<float>(kernels);
}

}  // namespace mnistmlp::bindings
