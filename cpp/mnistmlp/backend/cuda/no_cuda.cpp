// Stands in for the CUDA backend in a build without it: the API stays whole, and asking for
// the GPU says why there is none.
#include <stdexcept>
#include <string>

#include "mnistmlp/backend/cuda/cuda.hpp"
#include "mnistmlp/mlp.hpp"

namespace mnistmlp {

namespace {

constexpr const char* kNoBackend =
    "this build of mnistmlp has no CUDA backend (it was built where no GPU was visible or no "
    "CUDA compiler was found, or with MNISTMLP_CUDA=OFF); reinstall it where nvcc is on PATH "
    "with pip install . -Ccmake.define.MNISTMLP_CUDA=ON";

[[noreturn]] void unavailable(const std::string& device = "cuda") {
  throw std::runtime_error(error_message("device '", device, "' is not available: ", kNoBackend));
}

}  // namespace

CudaStatus cuda_status() {
  CudaStatus status;
  status.problem = kNoBackend;
  return status;
}

template <typename T>
std::unique_ptr<Backend<T>> make_cuda_backend(Model<T>& model) {
  unavailable(name_of(model.placement()));
}

template std::unique_ptr<Backend<float>> make_cuda_backend(Model<float>&);
template std::unique_ptr<Backend<double>> make_cuda_backend(Model<double>&);

namespace cuda_ops {

template <typename T>
void dense_forward(T*, const T*, const T*, const T*, index_t, index_t, index_t, Activation) {
  unavailable();
}
template <typename T>
void dense_backward(T*, T*, T*, const T*, const T*, const T*, const T*, const T*, Activation,
                    index_t, index_t, index_t, T) {
  unavailable();
}
template <typename T>
void output_loss(T*, T*, T*, std::uint8_t*, const T*, const std::int32_t*, const T*, Activation,
                 Loss, index_t, index_t, T) {
  unavailable();
}
template <typename T>
double sum_of_squares(const T*, index_t) {
  unavailable();
}
template <typename T>
void optimizer_update(T*, T*, T*, T*, index_t, const OptimizerConfig&, std::int64_t, T) {
  unavailable();
}
template <typename T>
void dropout_forward(T*, T*, const T*, index_t, double, std::uint64_t, std::int64_t, index_t) {
  unavailable();
}

#define MNISTMLP_INSTANTIATE(T)                                                                 \
  template void dense_forward<T>(T*, const T*, const T*, const T*, index_t, index_t, index_t,  \
                                 Activation);                                                   \
  template void dense_backward<T>(T*, T*, T*, const T*, const T*, const T*, const T*, const T*, \
                                  Activation, index_t, index_t, index_t, T);                    \
  template void output_loss<T>(T*, T*, T*, std::uint8_t*, const T*, const std::int32_t*,        \
                               const T*, Activation, Loss, index_t, index_t, T);                \
  template double sum_of_squares<T>(const T*, index_t);                                         \
  template void optimizer_update<T>(T*, T*, T*, T*, index_t, const OptimizerConfig&,            \
                                    std::int64_t, T);                                           \
  template void dropout_forward<T>(T*, T*, const T*, index_t, double, std::uint64_t,            \
                                   std::int64_t, index_t);
MNISTMLP_INSTANTIATE(float)
MNISTMLP_INSTANTIATE(double)
#undef MNISTMLP_INSTANTIATE

}  // namespace cuda_ops

}  // namespace mnistmlp
