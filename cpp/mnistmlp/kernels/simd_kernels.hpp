// The kernels written for one instruction set (defined in kernels/avx2.cpp and avx512.cpp, most
// of them from simd_kernels.inc), behind simd_level()'s choice (mnistmlp/simd_level.hpp).
// Each has a portable counterpart beside its caller (kernels/sparse.hpp, kernels/optimizer.hpp,
// backend/cpu/gemm.cpp and sparse.cpp) and computes the same sums in the same order.
#pragma once

#include <cmath>
#include <cstdint>

#include "mnistmlp/common.hpp"
#include "mnistmlp/simd_level.hpp"

// Marks a function whose float arithmetic must round every operation on its own, as the
// optimizers' float32 steps do (kernels/optimizer.hpp): GCC would otherwise fuse a product and
// a sum into one multiply-add (its default -ffp-contract=fast, even across intrinsics). Clang
// fuses only within one expression, so those functions write each operation as a statement.
#if defined(__GNUC__) && !defined(__clang__)
#define MNISTMLP_ROUND_EACH_OPERATION __attribute__((optimize("fp-contract=off")))
#else
#define MNISTMLP_ROUND_EACH_OPERATION
#endif

namespace mnistmlp::kernels {

// Whether the portable loops' multiply-adds are fused: where the target does a fused
// multiply-add in hardware (FP_FAST_FMAF: every AArch64 CPU, x86-64 built with FMA).
#if defined(FP_FAST_FMAF)
inline constexpr bool kFusedMultiplyAdd = true;
#else
inline constexpr bool kFusedMultiplyAdd = false;
#endif

// a * b + c in the portable loops of the sums that the SIMD kernels compute with fused
// multiply-adds (the GEMM, the sparse first layer): fused too where the hardware has it, as
// a statement (GCC's default contraction would fuse them, Clang's and MSVC's need not), so
// that those loops give the kernels' bits (measured: 1,500 Adam steps of 784-100-100-10 on
// AArch64 end on the x86-64 AVX-512 level's bits). Float32 Adam follows TensorFlow's
// arithmetic, whose kernels fuse, only so: with products and sums rounded apart, 1,500
// steps end 9e-2 away from it, fused within 2e-6. Elsewhere (the SSE2 baseline) a product
// and a sum: a software fma would cost more than the loop.
template <typename T>
inline T multiply_add(T a, T b, T c) {
  if constexpr (kFusedMultiplyAdd)
    return std::fma(a, b, c);
  else
    return a * b + c;
}

template <typename T>
struct SparseRows;
template <typename T>
struct SparseColumn;

// The kernels of one level that is not generic; simd_kernels() gives the set in use.
struct SimdKernels {
  // The packed GEMM's register block is kGemmRows x kGemmCols of C (each level's namespace);
  // c (MR x NR, row stride ldc) = a (packed MR-panel, kc deep) . b (packed NR-panel), or, when
  // `accumulate`, that product added on to c's values (one chain of multiply-adds per element).
  void (*gemm_micro_kernel)(index_t kc, const float* a, const float* b, float* c, index_t ldc,
                            bool accumulate);
  // kernels/sparse.hpp's sparse_forward_block and sparse_weight_gradient_rows, for float.
  void (*sparse_forward_block)(float* out, const SparseRows<float>& x, const float* weight,
                               const float* bias, index_t OUT, index_t i0, index_t i1, index_t j0,
                               index_t width, Activation act);
  void (*sparse_weight_gradient_rows)(float* out, index_t out_stride,
                                      const SparseColumn<float>* columns, index_t count,
                                      const float* dout, index_t OUT, index_t j0, index_t width);
  // The nonzeros of src[0, cols) (uint8 scaled by 1/255) in column order, a vector of columns
  // at a time, up to a multiple of the vector width: returns their count and sets `done` to
  // the columns read (the caller's loop does the rest).
  std::int32_t (*compress_floats)(std::int32_t* column, float* value, const float* src,
                                  index_t cols, index_t& done);
  std::int32_t (*compress_bytes)(std::int32_t* column, float* value, const std::uint8_t* src,
                                 index_t cols, index_t& done);
  // kernels/optimizer.hpp's sgd_update for float, the same operations in the same order.
  void (*sgd_update)(float* w, const float* g, index_t begin, index_t end, float lr, float clip);
};

#if defined(MNISTMLP_SIMD_DISPATCH)

namespace avx512 {
inline constexpr index_t kGemmRows = 12, kGemmCols = 32;
extern const SimdKernels kernels;
void gemm_micro_kernel(index_t kc, const float* a, const float* b, float* c, index_t ldc,
                       bool accumulate);
// dst[0, n) = src[0, n) for a short run (the packed GEMM's edges): vectors, the last masked.
void copy_floats(float* dst, const float* src, index_t n);
// out[k * stride + l] = src[l * step + k] for k < kc, l < lanes (<= 16).
void gather_transposed(float* out, index_t stride, const float* src, index_t step, int lanes,
                       index_t kc);
}  // namespace avx512

namespace avx2 {
inline constexpr index_t kGemmRows = 6, kGemmCols = 16;
extern const SimdKernels kernels;
void gemm_micro_kernel(index_t kc, const float* a, const float* b, float* c, index_t ldc,
                       bool accumulate);
// dst[0, n) = src[0, n) for a short run (the packed GEMM's edges): vectors, the last masked.
void copy_floats(float* dst, const float* src, index_t n);
// kernels/optimizer.hpp's adam_update for float, eight at a time: returns the first index
// of [begin, end) left for the caller's loop (fewer than eight).
index_t adam_update(float* w, float* m, float* v, const float* g, index_t begin, index_t end,
                    float alpha, float beta1, float beta2, float epsilon, float clip);
}  // namespace avx2

#endif

// The kernels of simd_level(), or null for the generic level.
inline const SimdKernels* simd_kernels() {
#if defined(MNISTMLP_SIMD_DISPATCH)
  switch (simd_level()) {
    case Simd::avx512: return &avx512::kernels;
    case Simd::avx2: return &avx2::kernels;
    case Simd::generic: break;
  }
#endif
  return nullptr;
}

}  // namespace mnistmlp::kernels
