// The CUDA backend's host-side face, free of CUDA headers: what this build and this machine
// offer, and single GPU operations on host arrays with the signatures of their cpu::
// namesakes (backend/cpu/cpu_ops.hpp), so tests can check each kernel against its CPU twin.
// The .cu files implement it when the backend is built; no_cuda.cpp otherwise.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mnistmlp/common.hpp"

namespace mnistmlp {

struct CudaStatus {
  bool built = false;                // this copy of mnistmlp has the CUDA backend
  std::string architectures;         // CMAKE_CUDA_ARCHITECTURES it was compiled for
  std::string compiler;              // the CUDA compiler that built it
  int runtime_version = 0;           // CUDA runtime, e.g. 13000 for 13.0
  int driver_version = 0;            // the newest CUDA the driver supports; 0 without a driver
  std::vector<std::string> devices;  // one description per visible GPU
  std::string problem;               // why device "cuda" cannot be used; empty when it can

  bool available() const { return problem.empty(); }
};

// Looks at the machine on every call (cheap): GPUs may be hidden by CUDA_VISIBLE_DEVICES.
CudaStatus cuda_status();

namespace cuda_ops {

// Each call copies its inputs to the GPU, runs the kernel(s) the CUDA backend trains with,
// and copies the results back.
template <typename T>
void dense_forward(T* out, const T* inp, const T* weight, const T* bias, index_t B, index_t IN,
                   index_t OUT, Activation act);
template <typename T>
void dense_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp, const T* weight,
                    const T* prev_act, const T* prev_dropout, Activation prev_activation,
                    index_t B, index_t IN, index_t OUT, T weight_decay);
template <typename T>
void output_loss(T* dz, T* out, T* row_loss, std::uint8_t* correct, const T* logits,
                 const std::int32_t* labels, const T* targets, Activation output, Loss loss,
                 index_t B, index_t K, T scale);
template <typename T>
double sum_of_squares(const T* x, index_t n);
template <typename T>
void optimizer_update(T* params, T* grads, T* state0, T* state1, index_t n,
                      const OptimizerConfig& config, std::int64_t step, T clip);
template <typename T>
void dropout_forward(T* dropped, T* scale, const T* act, index_t count, double rate,
                     std::uint64_t seed, std::int64_t step, index_t layer);

}  // namespace cuda_ops

}  // namespace mnistmlp
