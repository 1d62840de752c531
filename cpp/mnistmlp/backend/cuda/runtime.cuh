// CUDA runtime plumbing for the backend: checked calls, owning handles, launch sizes.
#pragma once

#include <cuda_runtime.h>

#include <cstdlib>
#include <stdexcept>
#include <string>
#include <utility>

#include "mnistmlp/common.hpp"

namespace mnistmlp::cuda {

// A failed CUDA call. The backend's entry points add the operation's name ("[fit_epoch] ...")
// and pass it on as std::runtime_error (RuntimeError in Python).
struct CudaError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] inline void throw_cuda_error(const char* call, cudaError_t status) {
  throw CudaError(std::string(call) + " failed: " + cudaGetErrorString(status) + " (" +
                  cudaGetErrorName(status) + ")");
}

#define MNISTMLP_CUDA_CHECK(call)                                                 \
  do {                                                                            \
    const cudaError_t mnistmlp_status_ = (call);                                  \
    if (mnistmlp_status_ != cudaSuccess)                                          \
      ::mnistmlp::cuda::throw_cuda_error(#call, mnistmlp_status_);                \
  } while (0)

// Runs body(); a CudaError leaves as std::runtime_error saying which operation met it (a
// CUDA error is a fault to report, and where it happened is what the report needs).
template <typename Body>
decltype(auto) naming_errors(const char* op, Body&& body) {
  try {
    return body();
  } catch (const CudaError& e) {
    throw std::runtime_error(error_message(e.what(), " (in ", op, ")"));
  }
}

// The stream work is queued on and what the launches need to know of the GPU.
struct Gpu {
  cudaStream_t stream = nullptr;
  int sms = 1;       // streaming multiprocessors, for the kernels' launch plans
  bool pdl = false;  // programmatic dependent launch (compute capability 9.0 and later)
};

// The current device, for work queued on `stream`. MNISTMLP_CUDA_PDL=0 in the environment
// turns programmatic dependent launch off (to measure what it gains, or to rule it out).
inline Gpu current_gpu(cudaStream_t stream) {
  int device = 0, sms = 0, major = 0;
  MNISTMLP_CUDA_CHECK(cudaGetDevice(&device));
  MNISTMLP_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  MNISTMLP_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
  const char* pdl = std::getenv("MNISTMLP_CUDA_PDL");
  return Gpu{stream, sms, major >= 9 && !(pdl && std::string(pdl) == "0")};
}

// Launches kernel<<<grid, block, 0, gpu.stream>>>(args...). With programmatic dependent
// launch, a kernel is scheduled while the one before it in the stream is still running and
// waits in await_previous_kernel() for its results: the gap between the dozens of small
// kernels of a training step at small batches shrinks.
template <typename... Params, typename... Args>
void launch(const Gpu& gpu, void (*kernel)(Params...), unsigned grid, unsigned block,
            Args&&... args) {
  cudaLaunchAttribute attribute;
  attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attribute.val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t config = {};
  config.gridDim = dim3(grid);
  config.blockDim = dim3(block);
  config.stream = gpu.stream;
  config.attrs = &attribute;
  config.numAttrs = gpu.pdl ? 1 : 0;
  MNISTMLP_CUDA_CHECK(cudaLaunchKernelEx(&config, kernel, std::forward<Args>(args)...));
}

// Every kernel starts with this, before touching global memory: it waits until the kernel
// before it in the stream has finished and its writes are visible (a no-op without
// programmatic dependent launch), then lets the next kernel be scheduled.
__device__ inline void await_previous_kernel() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// Device memory for n elements of T; contents undefined until written.
template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(index_t n) { reset(n); }
  DeviceBuffer(DeviceBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    return *this;
  }
  ~DeviceBuffer() { release(); }

  void reset(index_t n) {
    release();
    if (n <= 0) return;
    MNISTMLP_CUDA_CHECK(cudaMalloc(&data_, sizeof(T) * static_cast<std::size_t>(n)));
    size_ = n;
  }
  // At least n elements; reallocates (losing the contents) only to grow. True if it did.
  bool reserve(index_t n) {
    if (n <= size_) return false;
    reset(n);
    return true;
  }
  T* get() const { return data_; }
  index_t size() const { return size_; }

 private:
  void release() {
    // A destructor cannot throw; a failed free leaves nothing that could be done about it.
    if (data_) (void)cudaFree(data_);
    data_ = nullptr;
    size_ = 0;
  }
  T* data_ = nullptr;
  index_t size_ = 0;
};

class Stream {
 public:
  Stream() { MNISTMLP_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  ~Stream() { (void)cudaStreamDestroy(stream_); }
  cudaStream_t get() const { return stream_; }
  void synchronize() const { MNISTMLP_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

 private:
  cudaStream_t stream_ = nullptr;
};

class Event {
 public:
  Event() { MNISTMLP_CUDA_CHECK(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming)); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  ~Event() { (void)cudaEventDestroy(event_); }
  void record(cudaStream_t stream) { MNISTMLP_CUDA_CHECK(cudaEventRecord(event_, stream)); }
  void synchronize() { MNISTMLP_CUDA_CHECK(cudaEventSynchronize(event_)); }

 private:
  cudaEvent_t event_ = nullptr;
};

// An instantiated CUDA graph, replayed with launch().
class GraphExec {
 public:
  GraphExec() = default;
  GraphExec(const GraphExec&) = delete;
  GraphExec& operator=(const GraphExec&) = delete;
  ~GraphExec() { reset(); }

  explicit operator bool() const { return exec_ != nullptr; }
  void reset() {
    if (exec_) (void)cudaGraphExecDestroy(exec_);
    exec_ = nullptr;
  }
  // Records what enqueue() queues on `stream` (without running it) as this graph.
  template <typename Enqueue>
  void capture(cudaStream_t stream, Enqueue&& enqueue) {
    reset();
    MNISTMLP_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    cudaGraph_t graph = nullptr;
    try {
      enqueue();
    } catch (...) {
      if (cudaStreamEndCapture(stream, &graph) == cudaSuccess && graph) (void)cudaGraphDestroy(graph);
      throw;
    }
    MNISTMLP_CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
    const cudaError_t status = cudaGraphInstantiateWithFlags(&exec_, graph, 0);
    (void)cudaGraphDestroy(graph);
    if (status != cudaSuccess) throw_cuda_error("cudaGraphInstantiateWithFlags", status);
  }
  void launch(cudaStream_t stream) { MNISTMLP_CUDA_CHECK(cudaGraphLaunch(exec_, stream)); }

 private:
  cudaGraphExec_t exec_ = nullptr;
};

// Page-locks large host buffers for the lifetime of this object, so copies to and from them
// run at full speed. Best effort: pinning only speeds copies up, and small buffers may share a
// page with another one already pinned (which CUDA refuses), so those stay pageable.
class PinnedRegion {
 public:
  static constexpr std::size_t kMinBytes = std::size_t(1) << 20;

  PinnedRegion(void* data, std::size_t bytes) {
    if (!data || bytes < kMinBytes) return;
    if (cudaHostRegister(data, bytes, cudaHostRegisterDefault) == cudaSuccess)
      data_ = data;
    else
      (void)cudaGetLastError();  // not sticky: clear it, copy through pageable memory
  }
  PinnedRegion(const PinnedRegion&) = delete;
  PinnedRegion& operator=(const PinnedRegion&) = delete;
  ~PinnedRegion() {
    if (data_) (void)cudaHostUnregister(data_);
  }

 private:
  void* data_ = nullptr;
};

inline unsigned blocks_for(index_t n, int threads) {
  return static_cast<unsigned>(tiles(n, threads));
}

template <typename T>
void copy_to_device(T* dst, const T* src, index_t n, cudaStream_t stream) {
  if (n > 0)
    MNISTMLP_CUDA_CHECK(cudaMemcpyAsync(dst, src, sizeof(T) * static_cast<std::size_t>(n),
                                        cudaMemcpyHostToDevice, stream));
}

template <typename T>
void copy_to_host(T* dst, const T* src, index_t n, cudaStream_t stream) {
  if (n > 0)
    MNISTMLP_CUDA_CHECK(cudaMemcpyAsync(dst, src, sizeof(T) * static_cast<std::size_t>(n),
                                        cudaMemcpyDeviceToHost, stream));
}

// A new device copy of host[0, n); empty (null) when host is null.
template <typename T>
DeviceBuffer<T> to_device(const T* host, index_t n, cudaStream_t stream) {
  DeviceBuffer<T> buffer;
  if (host) {
    buffer.reset(n);
    copy_to_device(buffer.get(), host, n, stream);
  }
  return buffer;
}

}  // namespace mnistmlp::cuda
