// The kernels written for one instruction set, behind simd_level()'s choice (mnistmlp/simd.hpp).
// Each has a portable counterpart beside its caller (kernels/sparse.hpp, kernels/optimizer.hpp,
// backend/cpu/gemm.cpp and sparse.cpp) and computes the same sums in the same order.
#pragma once

#include <cstdint>

#include "mnistmlp/common.hpp"
#include "mnistmlp/simd.hpp"

namespace mnistmlp::kernels {

template <typename T>
struct SparseRows;

#if defined(MNISTMLP_SIMD_DISPATCH)

namespace avx512 {
// The packed GEMM's register block: MR rows x NR columns of C.
inline constexpr index_t kGemmRows = 12, kGemmCols = 32;
// c (MR x NR, row stride ldc) = a (packed MR-panel, kc deep) . b (packed NR-panel), or, when
// `accumulate`, that product added on to c's values (one chain of multiply-adds per element).
void gemm_micro_kernel(index_t kc, const float* a, const float* b, float* c, index_t ldc,
                       bool accumulate);
// out[k * stride + l] = src[l * step + k] for k < kc, l < lanes (<= 16).
void gather_transposed(float* out, index_t stride, const float* src, index_t step, int lanes,
                       index_t kc);
// kernels/sparse.hpp's sparse_forward_block and sparse_weight_gradient_row, for float.
void sparse_forward_block(float* out, const SparseRows<float>& x, const float* weight,
                          const float* bias, index_t OUT, index_t i0, index_t i1, index_t j0,
                          index_t width, Activation act);
void sparse_weight_gradient_row(float* out, const std::int32_t* rows, const float* values,
                                index_t n, const float* dout, index_t OUT, index_t j0,
                                index_t width);
// The nonzeros of src[0, cols) (uint8 scaled by 1/255) in column order, sixteen columns at a
// time up to a multiple of 16: returns their count and sets `done` to the columns read.
std::int32_t compress_row(std::int32_t* column, float* value, const float* src, index_t cols,
                          index_t& done);
std::int32_t compress_row(std::int32_t* column, float* value, const std::uint8_t* src,
                          index_t cols, index_t& done);
}  // namespace avx512

namespace avx2 {
inline constexpr index_t kGemmRows = 6, kGemmCols = 16;
void gemm_micro_kernel(index_t kc, const float* a, const float* b, float* c, index_t ldc,
                       bool accumulate);
void sparse_forward_block(float* out, const SparseRows<float>& x, const float* weight,
                          const float* bias, index_t OUT, index_t i0, index_t i1, index_t j0,
                          index_t width, Activation act);
void sparse_weight_gradient_row(float* out, const std::int32_t* rows, const float* values,
                                index_t n, const float* dout, index_t OUT, index_t j0,
                                index_t width);
// As avx512::compress_row, eight columns at a time.
std::int32_t compress_row(std::int32_t* column, float* value, const float* src, index_t cols,
                          index_t& done);
std::int32_t compress_row(std::int32_t* column, float* value, const std::uint8_t* src,
                          index_t cols, index_t& done);
// kernels/optimizer.hpp's adam_update for float, eight at a time: returns the first index
// of [begin, end) left for the caller's loop (fewer than eight).
index_t adam_update(float* w, float* m, float* v, const float* g, index_t begin, index_t end,
                    float lr_t, float beta1, float beta2, float epsilon, float clip);
}  // namespace avx2

#endif

}  // namespace mnistmlp::kernels
