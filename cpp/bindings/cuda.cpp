// The CUDA backend's face in Python: _core.cuda_status(), and _core.cuda_kernels with the
// GPU twins of _core.kernels' operations (same names and arguments, minus the CPU's `naive`
// and `threads`). In a build without the backend they raise RuntimeError saying so.
#include "bindings/kernel_bindings.hpp"
#include "bindings/registry.hpp"
#include "mnistmlp/backend/cuda/cuda.hpp"

namespace mnistmlp::bindings {

namespace {

struct CudaOps {
  template <typename T>
  static void output_loss(T* dz, T* out, T* row_loss, std::uint8_t* correct, const T* logits,
                          const std::int32_t* labels, const T* targets, Activation output,
                          Loss loss, index_t B, index_t K, T scale) {
    cuda_ops::output_loss(dz, out, row_loss, correct, logits, labels, targets, output, loss, B,
                          K, scale);
  }
  template <typename T>
  static void optimizer_update(T* params, T* grads, T* state0, T* state1, index_t n,
                               const OptimizerConfig& config, std::int64_t step, T clip) {
    cuda_ops::optimizer_update(params, grads, state0, state1, n, config, step, clip);
  }
  template <typename T>
  static void dropout_forward(T* dropped, T* scale, const T* act, index_t count, double rate,
                              std::uint64_t seed, std::int64_t step, index_t layer) {
    cuda_ops::dropout_forward(dropped, scale, act, count, rate, seed, step, layer);
  }
  template <typename T>
  static double sum_of_squares(const T* x, index_t n) {
    return cuda_ops::sum_of_squares(x, n);
  }
};

template <typename T>
void bind_cuda_kernels(py::module_& m) {
  m.def(
      "dense_forward",
      [](const Array<T>& inp, const Array<T>& weight, const Array<T>& bias,
         const std::string& activation) {
        return bindings::dense_forward<T>(inp, weight, bias, activation,
                                          cuda_ops::dense_forward<T>);
      },
      py::arg("inp"), py::arg("weight"), py::arg("bias"), py::arg("activation") = "linear");
  m.def(
      "dense_backward",
      [](const Array<T>& dout, const Array<T>& inp, const Array<T>& weight, double weight_decay,
         const std::optional<Array<T>>& prev_act, const std::string& activation,
         const std::optional<Array<T>>& dropout_scale) {
        return bindings::dense_backward<T>(dout, inp, weight, weight_decay, prev_act, activation,
                                           dropout_scale, cuda_ops::dense_backward<T>);
      },
      py::arg("dout"), py::arg("inp"), py::arg("weight"), py::arg("weight_decay") = 0.0,
      py::arg("prev_act") = py::none(), py::arg("activation") = "linear",
      py::arg("dropout_scale") = py::none());
  bind_ops<CudaOps, T>(m);
}

}  // namespace

void register_cuda(py::module_& m) {
  m.def(
      "cuda_status",
      [] {
        const CudaStatus status = cuda_status();
        py::dict d;
        d["built"] = status.built;
        d["architectures"] = status.architectures;
        d["compiler"] = status.compiler;
        d["runtime_version"] = status.runtime_version;
        d["driver_version"] = status.driver_version;
        d["devices"] = status.devices;
        d["available"] = status.available();
        d["problem"] = status.problem;
        return d;
      },
      "Whether this build has the CUDA backend, what it was compiled for, the GPUs visible "
      "now, and why device 'cuda' cannot be used (empty when it can).");
  py::module_ kernels = m.def_submodule(
      "cuda_kernels", "The GPU twins of _core.kernels' operations, for tests.");
  bind_cuda_kernels<double>(kernels);  // float64 first, as in _core.kernels
  bind_cuda_kernels<float>(kernels);
}

}  // namespace mnistmlp::bindings
