#include <cstring>

#if defined(_MSC_VER) && !defined(__clang__)
#include <xmmintrin.h>
#endif

#include "mnistmlp/backend/cpu/cpu_ops.hpp"
#include "mnistmlp/rng.hpp"

namespace mnistmlp::cpu {

namespace {

// A read of the cache line at p is coming (the outer caches: it is not the next one read).
inline void prefetch_for_reading(const char* p) {
#if defined(_MSC_VER) && !defined(__clang__)
  _mm_prefetch(p, _MM_HINT_T2);  // MSVC has no __builtin_prefetch
#else
  __builtin_prefetch(p, 0, 1);
#endif
}

}  // namespace

template <typename T>
void gather_inputs(T* out, const InputView& x, const index_t* order, index_t first,
                   index_t count) {
  const index_t cols = x.cols;
#pragma omp for schedule(static)
  for (index_t r = 0; r < count; ++r) {
    const index_t src = order ? order[first + r] : first + r;
    T* dst = out + r * cols;
    switch (x.type) {
      case ElementType::uint8: {
        const auto* p = static_cast<const std::uint8_t*>(x.data) + src * cols;
#pragma omp simd
        for (index_t c = 0; c < cols; ++c) dst[c] = T(p[c]) / T(255);
        break;
      }
      case ElementType::float32: {
        const auto* p = static_cast<const float*>(x.data) + src * cols;
        for (index_t c = 0; c < cols; ++c) dst[c] = T(p[c]);
        break;
      }
      case ElementType::float64: {
        const auto* p = static_cast<const double*>(x.data) + src * cols;
        for (index_t c = 0; c < cols; ++c) dst[c] = T(p[c]);
        break;
      }
    }
  }
}

void prefetch_rows(const InputView& x, const index_t* order, index_t first, index_t count) {
  const index_t row_bytes = x.cols * element_size(x.type);
  const auto* base = static_cast<const char*>(x.data);
#pragma omp for schedule(static) nowait
  for (index_t r = 0; r < count; ++r) {
    const char* row = base + (order ? order[first + r] : first + r) * row_bytes;
    for (index_t at = 0; at < row_bytes; at += 64) prefetch_for_reading(row + at);
  }
}

template <typename T>
void gather_targets(std::int32_t* labels, T* dense, const TargetView<T>& y, const index_t* order,
                    index_t first, index_t count) {
  const index_t K = y.classes;
#pragma omp for schedule(static)
  for (index_t r = 0; r < count; ++r) {
    const index_t src = order ? order[first + r] : first + r;
    if (y.labels)
      labels[r] = y.labels[src];
    else
      std::memcpy(dense + r * K, y.dense + src * K, sizeof(T) * K);
  }
}

template <typename T>
void dropout_forward(T* dropped, T* scale, const T* act, index_t count, double rate,
                     std::uint64_t seed, std::int64_t step, index_t layer) {
#pragma omp for schedule(static)
  for (index_t i = 0; i < count; ++i) {
    scale[i] = dropout_multiplier<T>(rate, seed, step, layer, i);
    dropped[i] = act[i] * scale[i];
  }
}

#define MNISTMLP_INSTANTIATE(T)                                                               \
  template void gather_inputs<T>(T*, const InputView&, const index_t*, index_t, index_t);    \
  template void gather_targets<T>(std::int32_t*, T*, const TargetView<T>&, const index_t*,   \
                                  index_t, index_t);                                          \
  template void dropout_forward<T>(T*, T*, const T*, index_t, double, std::uint64_t,         \
                                   std::int64_t, index_t);
MNISTMLP_INSTANTIATE(float)
MNISTMLP_INSTANTIATE(double)
#undef MNISTMLP_INSTANTIATE

}  // namespace mnistmlp::cpu
