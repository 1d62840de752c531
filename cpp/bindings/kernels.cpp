// Single CPU operations, for benchmarks and for tests that check them against numpy, against
// the naive reference kernels, and against their GPU twins in _core.cuda_kernels (cuda.cpp).
#include <vector>

#include "bindings/kernel_bindings.hpp"
#include "bindings/registry.hpp"
#include "mnistmlp/arena.hpp"
#include "mnistmlp/backend/cpu/cpu_ops.hpp"
#include "mnistmlp/kernels/dense.hpp"
#include "mnistmlp/kernels/gemm.hpp"
#include "mnistmlp/thread_placement.hpp"

namespace mnistmlp::bindings {

namespace {

int team(int threads) { return threads > 0 ? threads : default_threads(); }

// cpu::gemm's packing buffers for a team, kept for the calling thread's next call: fresh
// memory on every call cost page faults worth more than a small product itself.
float* gemm_scratch(int threads) {
  thread_local AlignedArray<float> scratch;
  const index_t needed = team(threads) * cpu::gemm_scratch_floats();
  if (scratch.size() < needed) scratch.reset(needed, false);
  return scratch.data();
}

// The CPU ops run by one parallel region each, with the default threads.
struct CpuOps {
  template <typename T>
  static void output_loss(T* dz, T* out, T* row_loss, std::uint8_t* correct, const T* logits,
                          const std::int32_t* labels, const T* targets, Activation output,
                          Loss loss, index_t B, index_t K, T scale) {
#pragma omp parallel num_threads(team(0))
    cpu::output_loss(dz, out, row_loss, correct, logits, labels, targets, output, loss, B, K,
                     scale);
  }
  template <typename T>
  static void optimizer_update(T* params, T* grads, T* state0, T* state1, index_t n,
                               const OptimizerConfig& config, std::int64_t step, T clip) {
#pragma omp parallel num_threads(team(0))
    cpu::optimizer_update(params, grads, state0, state1, n, config, step, clip);
  }
  template <typename T>
  static void dropout_forward(T* dropped, T* scale, const T* act, index_t count, double rate,
                              std::uint64_t seed, std::int64_t step, index_t layer) {
#pragma omp parallel num_threads(team(0))
    cpu::dropout_forward(dropped, scale, act, count, rate, seed, step, layer);
  }
  template <typename T>
  static double sum_of_squares(const T* x, index_t n) {
    std::vector<double> partials(std::max<index_t>(cpu::norm_chunks(n), 1));
    double total = 0;
#pragma omp parallel num_threads(team(0))
    {
      const double value = cpu::sum_of_squares(x, n, partials.data());
#pragma omp master
      total = value;
    }
    return total;
  }
};

template <typename T>
void bind_kernels(py::module_& m) {
  m.def(
      "dense_forward",
      [](const Array<T>& inp, const Array<T>& weight, const Array<T>& bias,
         const std::string& activation, bool naive, int threads) {
        return bindings::dense_forward<T>(
            inp, weight, bias, activation,
            [&](T* o, const T* x, const T* w, const T* b, index_t B, index_t IN, index_t OUT,
                Activation act) {
              if (naive) {
                kernels::dense_forward_naive(o, x, w, b, B, IN, OUT, act);
              } else {
                float* scratch = gemm_scratch(threads);
#pragma omp parallel num_threads(team(threads))
                cpu::dense_forward(o, x, w, b, B, IN, OUT, act, scratch);
              }
            });
      },
      py::arg("inp"), py::arg("weight"), py::arg("bias"), py::arg("activation") = "linear",
      py::arg("naive") = false, py::arg("threads") = 0);
  m.def(
      "dense_backward",
      [](const Array<T>& dout, const Array<T>& inp, const Array<T>& weight, double weight_decay,
         bool naive, int threads, const std::optional<Array<T>>& prev_act,
         const std::string& activation, const std::optional<Array<T>>& dropout_scale) {
        if (naive && prev_act) fail("the naive kernel takes no prev_act");
        return bindings::dense_backward<T>(
            dout, inp, weight, weight_decay, prev_act, activation, dropout_scale,
            [&](T* dx, T* dw, T* db, const T* g, const T* x, const T* w, const T* a,
                const T* s, Activation act, index_t B, index_t IN, index_t OUT, T wd) {
              if (naive) {
                kernels::dense_backward_naive(dx, dw, db, g, x, w, B, IN, OUT, wd);
              } else {
                float* scratch = gemm_scratch(threads);
#pragma omp parallel num_threads(team(threads))
                cpu::dense_backward(dx, dw, db, g, x, w, a, s, act, B, IN, OUT, wd, scratch);
              }
            });
      },
      py::arg("dout"), py::arg("inp"), py::arg("weight"), py::arg("weight_decay") = 0.0,
      py::arg("naive") = false, py::arg("threads") = 0, py::arg("prev_act") = py::none(),
      py::arg("activation") = "linear", py::arg("dropout_scale") = py::none());
  bind_ops<CpuOps, T>(m);
}

// The float32 product under the dense layers, C = A . B with either operand read transposed
// (a holds A^T, b holds B^T), through the packed GEMM or its naive twin, without an epilogue
// (the dense bindings reach that).
void bind_gemm(py::module_& m) {
  m.def(
      "gemm",
      [](const Array<float>& a, const Array<float>& b, bool transpose_a, bool transpose_b,
         bool naive, int threads) {
        if (a.ndim() != 2 || b.ndim() != 2) fail("a and b must be 2-D");
        const index_t M = a.shape(transpose_a ? 1 : 0), K = a.shape(transpose_a ? 0 : 1);
        const index_t N = b.shape(transpose_b ? 0 : 1);
        if (b.shape(transpose_b ? 1 : 0) != K)
          fail("A has ", K, " columns but B has ", b.shape(transpose_b ? 1 : 0), " rows");
        // Element (r, c) of an operand at data[r * row_stride + c * col_stride].
        const kernels::GemmOperand A = transpose_a ? kernels::GemmOperand{a.data(), 1, M}
                                                   : kernels::GemmOperand{a.data(), K, 1};
        const kernels::GemmOperand B = transpose_b ? kernels::GemmOperand{b.data(), 1, K}
                                                   : kernels::GemmOperand{b.data(), N, 1};
        Array<float> c({M, N});
        float* C = c.mutable_data();
        {
          py::gil_scoped_release release;  // safe: only the buffers above are touched
          if (naive) {
            kernels::gemm_naive(C, N, M, N, K, A, B, {});
          } else {
            float* scratch = gemm_scratch(threads);
#pragma omp parallel num_threads(team(threads))
            cpu::gemm(C, N, M, N, K, A, B, {}, scratch);
          }
        }
        return c;
      },
      py::arg("a"), py::arg("b"), py::arg("transpose_a") = false, py::arg("transpose_b") = false,
      py::arg("naive") = false, py::arg("threads") = 0);
}

}  // namespace

void register_kernels(py::module_& m) {
  py::module_ kernels = m.def_submodule(
      "kernels", "Single CPU operations (fast and naive dense layers and float32 products, "
                 "losses, optimizer steps, dropout), for benchmarks and tests.");
  // float64 first: pybind11 tries overloads in order, and forcecast would otherwise turn a
  // float64 array into float32.
  bind_kernels<double>(kernels);
  bind_kernels<float>(kernels);
  bind_gemm(kernels);
}

}  // namespace mnistmlp::bindings
