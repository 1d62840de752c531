// The packed, register-blocked float32 GEMM of kernels/gemm.hpp, shared out over threads by
// output tiles. The micro-kernel is written with AVX-512 intrinsics where the compiler targets
// AVX-512, and as plain loops the compiler vectorises otherwise.
#include <omp.h>

#include <algorithm>
#include <cstring>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "mnistmlp/backend/cpu/ops.hpp"
#include "mnistmlp/kernels/activation.hpp"
#include "mnistmlp/kernels/gemm.hpp"

namespace mnistmlp {

namespace {

#if defined(__AVX512F__)
constexpr index_t MR = 12, NR = 32;  // 24 accumulators of 16 floats: the zmm file, nearly full

// c (MR x NR, row stride ldc) = a (packed MR-panel, kc deep) . b (packed NR-panel), or
// c += that product when `accumulate`. Accumulating goes on from c's values, so each element
// is one chain of multiply-adds over k in order, as the sparse first layer's is.
void micro_kernel(index_t kc, const float* a, const float* b, float* c, index_t ldc, bool accumulate) {
  __m512 acc[MR][2];
#pragma GCC unroll 12
  for (index_t r = 0; r < MR; ++r) {
    acc[r][0] = accumulate ? _mm512_loadu_ps(c + r * ldc) : _mm512_setzero_ps();
    acc[r][1] = accumulate ? _mm512_loadu_ps(c + r * ldc + 16) : _mm512_setzero_ps();
  }
  for (index_t k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 12
    for (index_t r = 0; r < MR; ++r) {
      const __m512 ar = _mm512_set1_ps(a[r]);
      acc[r][0] = _mm512_fmadd_ps(ar, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(ar, b1, acc[r][1]);
    }
    a += MR;
    b += NR;
  }
#pragma GCC unroll 12
  for (index_t r = 0; r < MR; ++r) {
    _mm512_storeu_ps(c + r * ldc, acc[r][0]);
    _mm512_storeu_ps(c + r * ldc + 16, acc[r][1]);
  }
}
#else
constexpr index_t MR = 4, NR = 16;

void micro_kernel(index_t kc, const float* a, const float* b, float* c, index_t ldc, bool accumulate) {
  float acc[MR][NR];
  for (index_t r = 0; r < MR; ++r)
    for (index_t j = 0; j < NR; ++j) acc[r][j] = accumulate ? c[r * ldc + j] : 0.0f;
  for (index_t k = 0; k < kc; ++k) {
    for (index_t r = 0; r < MR; ++r) {
      const float ar = a[r];
#pragma omp simd
      for (index_t j = 0; j < NR; ++j) acc[r][j] += ar * b[j];
    }
    a += MR;
    b += NR;
  }
  for (index_t r = 0; r < MR; ++r)
    for (index_t j = 0; j < NR; ++j) c[r * ldc + j] = acc[r][j];
}
#endif

// K is cut into blocks of this depth (a shape-only choice, so results stay thread-independent).
constexpr index_t kDepthBlock = 384;
constexpr index_t kMaxRows = 96;   // rows of A per packed block (a multiple of MR)
constexpr index_t kMaxCols = 256;  // columns of B per packed block (a multiple of NR)

inline index_t round_up(index_t n, index_t m) { return (n + m - 1) / m * m; }

#if defined(__AVX512F__)
// out[k * stride + l] = src[l * step + k] for k < kc, l < lanes (<= 16): one gather per k where
// scalar copies cost a load and a store per element (packing a row-major A's panels or a
// transposed B's took a tenth of a wide layer's training step).
void gather_transposed(float* out, index_t stride, const float* src, index_t step, int lanes,
                       index_t kc) {
  const __mmask16 mask = static_cast<__mmask16>((1u << lanes) - 1u);
  const __m512i offsets = _mm512_mullo_epi32(
      _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
      _mm512_set1_epi32(static_cast<int>(step)));
  for (index_t k = 0; k < kc; ++k)
    _mm512_mask_storeu_ps(out + k * stride, mask,
                          _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mask, offsets, src + k, 4));
}
#endif

// pa: micro-panels of MR rows, each kc deep, rows past M zero.
void pack_a(float* pa, const kernels::GemmOperand& A, index_t i0, index_t rows, index_t k0,
            index_t kc) {
  for (index_t p = 0; p < rows; p += MR) {
    const index_t n = std::min(MR, rows - p);
    if (A.row_stride == 1) {  // A is a transposed matrix: each k's MR values are contiguous
      for (index_t k = 0; k < kc; ++k, pa += MR) {
        const float* src = A.data + (k0 + k) * A.col_stride + i0 + p;
        if (n == MR) {
          std::memcpy(pa, src, sizeof(float) * MR);  // a fixed size: plain vector moves
          continue;
        }
        std::memcpy(pa, src, sizeof(float) * n);
        std::fill(pa + n, pa + MR, 0.0f);
      }
    } else {
#if defined(__AVX512F__)
      if (A.col_stride == 1 && n == MR) {
        gather_transposed(pa, MR, A.data + (i0 + p) * A.row_stride + k0, A.row_stride, MR, kc);
        pa += kc * MR;
        continue;
      }
#endif
      for (index_t r = 0; r < MR; ++r) {
        if (r >= n) {
          for (index_t k = 0; k < kc; ++k) pa[k * MR + r] = 0.0f;
          continue;
        }
        const float* row = A.data + (i0 + p + r) * A.row_stride + k0 * A.col_stride;
        for (index_t k = 0; k < kc; ++k) pa[k * MR + r] = row[k * A.col_stride];
      }
      pa += kc * MR;
    }
  }
}

// pb: micro-panels of NR columns, each kc deep, columns past N zero.
void pack_b(float* pb, const kernels::GemmOperand& B, index_t k0, index_t kc, index_t j0,
            index_t cols) {
  if (B.row_stride == 1 && B.col_stride != 1) {  // B is a transposed matrix: read its rows
    for (index_t q = 0; q < cols; q += NR, pb += kc * NR) {
      const index_t n = std::min(NR, cols - q);
#if defined(__AVX512F__)
      if (n == NR) {
        for (index_t half = 0; half < NR; half += 16)
          gather_transposed(pb + half, NR, B.data + (j0 + q + half) * B.col_stride + k0, B.col_stride,
                            16, kc);
        continue;
      }
#endif
      for (index_t c = 0; c < NR; ++c) {
        if (c >= n) {
          for (index_t k = 0; k < kc; ++k) pb[k * NR + c] = 0.0f;
          continue;
        }
        const float* src = B.data + (j0 + q + c) * B.col_stride + k0;
        for (index_t k = 0; k < kc; ++k) pb[k * NR + c] = src[k];
      }
    }
    return;
  }
  for (index_t q = 0; q < cols; q += NR)
    for (index_t k = 0; k < kc; ++k) {
      const index_t n = std::min(NR, cols - q);
      if (B.col_stride == 1) {
        std::memcpy(pb, B.data + (k0 + k) * B.row_stride + j0 + q, sizeof(float) * n);
      } else {
        for (index_t c = 0; c < n; ++c) pb[c] = B.at(k0 + k, j0 + q + c);
      }
      for (index_t c = n; c < NR; ++c) pb[c] = 0.0f;
      pb += NR;
    }
}

void apply_epilogue(float* C, index_t ldc, index_t i0, index_t rows, index_t j0, index_t cols,
                    const kernels::GemmEpilogue& e);

// The epilogue over all of C, shared out by rows (after a K == 0 product).
void apply_epilogue_rows(float* C, index_t ldc, index_t M, index_t N, const kernels::GemmEpilogue& e) {
#pragma omp for schedule(static)
  for (index_t i = 0; i < M; ++i) apply_epilogue(C, ldc, i, 1, 0, N, e);
}

void apply_epilogue(float* C, index_t ldc, index_t i0, index_t rows, index_t j0, index_t cols,
                    const kernels::GemmEpilogue& e) {
  for (index_t i = i0; i < i0 + rows; ++i) {
    float* c = C + i * ldc;
    if (e.bias) {
#pragma omp simd
      for (index_t j = j0; j < j0 + cols; ++j) c[j] += e.bias[j];
    }
    if (e.decayed) {
      const float* w = e.decayed + i * ldc;
#pragma omp simd
      for (index_t j = j0; j < j0 + cols; ++j) c[j] += e.weight_decay * w[j];
    }
    if (e.dropout) {
#pragma omp simd
      for (index_t j = j0; j < j0 + cols; ++j) c[j] *= e.dropout[i * ldc + j];
    }
    if (e.derivative_of) {
      const float* a = e.derivative_of + i * ldc;
      for (index_t j = j0; j < j0 + cols; ++j) c[j] *= kernels::activation_derivative(e.derivative, a[j]);
    }
    kernels::activation_forward(c + j0, cols, e.activation);
  }
}

}  // namespace

namespace kernels {

void gemm_naive(float* C, index_t ldc, index_t M, index_t N, index_t K, GemmOperand A,
                GemmOperand B, const GemmEpilogue& epilogue) {
  for (index_t i = 0; i < M; ++i)
    for (index_t j = 0; j < N; ++j) {
      float s = 0;
      for (index_t k = 0; k < K; ++k) s += A.at(i, k) * B.at(k, j);
      C[i * ldc + j] = s;
    }
  apply_epilogue(C, ldc, 0, M, 0, N, epilogue);
}

}  // namespace kernels

namespace cpu {

index_t gemm_scratch_floats() { return kMaxRows * kDepthBlock + kDepthBlock * kMaxCols + MR * NR; }

namespace {

// C[i0:i0+rows, j0:j0+cols] = (or, with k0 > 0, +=) the packed blocks' product, kc deep.
void macro_kernel(float* C, index_t ldc, index_t i0, index_t rows, index_t j0, index_t cols,
                  index_t kc, bool accumulate, const float* pa, const float* pb, float* tile) {
  for (index_t p = 0; p < rows; p += MR)
    for (index_t q = 0; q < cols; q += NR) {
      const index_t r_end = std::min(MR, rows - p), c_end = std::min(NR, cols - q);
      float* c = C + (i0 + p) * ldc + j0 + q;
      if (r_end == MR && c_end == NR) {
        micro_kernel(kc, pa + p * kc, pb + q * kc, c, ldc, accumulate);
        continue;
      }
      if (accumulate)  // an edge tile goes on from C's values too, through a full-size copy
        for (index_t r = 0; r < r_end; ++r) std::memcpy(tile + r * NR, c + r * ldc, sizeof(float) * c_end);
      micro_kernel(kc, pa + p * kc, pb + q * kc, tile, NR, accumulate);
      for (index_t r = 0; r < r_end; ++r) std::memcpy(c + r * ldc, tile + r * NR, sizeof(float) * c_end);
    }
}

// One row block of C: A's block packed once per K block, then every column block in turn.
void gemm_row_block(float* C, index_t ldc, index_t i0, index_t rows, index_t N, index_t K,
                    index_t nc, index_t ct_begin, index_t ct_end, const kernels::GemmOperand& A,
                    const kernels::GemmOperand& B, float* pa, float* pb, float* tile) {
  for (index_t k0 = 0; k0 < K; k0 += kDepthBlock) {
    const index_t kc = std::min(kDepthBlock, K - k0);
    pack_a(pa, A, i0, rows, k0, kc);
    for (index_t ct = ct_begin; ct < ct_end; ++ct) {
      const index_t j0 = ct * nc, cols = std::min(nc, N - j0);
      pack_b(pb, B, k0, kc, j0, cols);
      macro_kernel(C, ldc, i0, rows, j0, cols, kc, k0 > 0, pa, pb, tile);
    }
  }
}

// Row blocks [rt_begin, rt_end) of C, a column block at a time: each block of B is packed
// once for all of them (B's packing, strided where B is a transposed weight, cost as much as
// a fifth of the product when it was repeated for every row block), and A's, smaller, again
// for each column block.
void gemm_row_blocks(float* C, index_t ldc, index_t rt_begin, index_t rt_end, index_t M,
                     index_t N, index_t K, index_t nc, const kernels::GemmOperand& A,
                     const kernels::GemmOperand& B, const kernels::GemmEpilogue& epilogue,
                     float* pa, float* pb, float* tile) {
  const index_t i_begin = rt_begin * kMaxRows, i_end = std::min(M, rt_end * kMaxRows);
  for (index_t j0 = 0; j0 < N; j0 += nc) {
    const index_t cols = std::min(nc, N - j0);
    for (index_t k0 = 0; k0 < K; k0 += kDepthBlock) {
      const index_t kc = std::min(kDepthBlock, K - k0);
      pack_b(pb, B, k0, kc, j0, cols);
      for (index_t i0 = i_begin; i0 < i_end; i0 += kMaxRows) {
        const index_t rows = std::min(kMaxRows, i_end - i0);
        pack_a(pa, A, i0, rows, k0, kc);
        macro_kernel(C, ldc, i0, rows, j0, cols, kc, k0 > 0, pa, pb, tile);
      }
    }
    apply_epilogue(C, ldc, i_begin, i_end - i_begin, j0, cols, epilogue);
  }
}

}  // namespace

void gemm(float* C, index_t ldc, index_t M, index_t N, index_t K, kernels::GemmOperand A,
          kernels::GemmOperand B, const kernels::GemmEpilogue& epilogue, float* scratch) {
  const index_t threads = omp_get_num_threads();
  float* pa = scratch + omp_get_thread_num() * gemm_scratch_floats();
  float* pb = pa + kMaxRows * kDepthBlock;
  float* tile = pb + kDepthBlock * kMaxCols;
  const index_t nc_full = std::min(kMaxCols, round_up(N, NR));
  const index_t row_blocks = (M + kMaxRows - 1) / kMaxRows;
  if (K == 0) {
#pragma omp for schedule(static)
    for (index_t i = 0; i < M; ++i) std::fill(C + i * ldc, C + i * ldc + N, 0.0f);
  } else if (row_blocks >= 2 * threads) {
    // Tall C: each thread takes a run of whole row blocks.
#pragma omp for schedule(static)
    for (index_t part = 0; part < threads; ++part)
      gemm_row_blocks(C, ldc, row_blocks * part / threads, row_blocks * (part + 1) / threads, M, N,
                      K, nc_full, A, B, epilogue, pa, pb, tile);
    return;
  } else {
    // Short C (small batches): split the columns as well, into tiles fine enough for every
    // thread. Tile sizes only decide who computes what, never the arithmetic.
    index_t mc = std::min(kMaxRows, round_up(M, MR)), nc = nc_full;
    while ((round_up(M, mc) / mc) * (round_up(N, nc) / nc) < 2 * threads && (mc > MR || nc > NR)) {
      if (nc > NR && (nc >= mc || mc <= MR)) nc = round_up(nc / 2, NR);
      else mc = round_up(mc / 2, MR);
    }
    const index_t row_tiles = (M + mc - 1) / mc, col_tiles = (N + nc - 1) / nc;
#pragma omp for collapse(2) schedule(static)
    for (index_t rt = 0; rt < row_tiles; ++rt)
      for (index_t ct = 0; ct < col_tiles; ++ct) {
        const index_t i0 = rt * mc, rows = std::min(mc, M - i0);
        gemm_row_block(C, ldc, i0, rows, N, K, nc, ct, ct + 1, A, B, pa, pb, tile);
        apply_epilogue(C, ldc, i0, rows, ct * nc, std::min(nc, N - ct * nc), epilogue);
      }
    return;
  }
  apply_epilogue_rows(C, ldc, M, N, epilogue);
}

}  // namespace cpu

}  // namespace mnistmlp
