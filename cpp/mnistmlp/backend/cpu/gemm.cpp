// The packed, register-blocked float32 GEMM of kernels/gemm.hpp, shared out over threads by
// output tiles. One driver, instantiated per SIMD level (mnistmlp/simd_level.hpp) with that
// level's register block and micro-kernel: AVX-512 (12 x 32), AVX2 (6 x 16), or plain loops
// (4 x 16) that the compiler vectorises for the build's target.
#include <algorithm>
#include <cstring>

#include "mnistmlp/backend/cpu/cpu_ops.hpp"
#include "mnistmlp/kernels/activation.hpp"
#include "mnistmlp/kernels/gemm.hpp"
#include "mnistmlp/kernels/simd_kernels.hpp"
#include "mnistmlp/openmp.hpp"

namespace mnistmlp {

namespace {

// c (MR x NR, row stride ldc) = a (packed MR-panel, kc deep) . b (packed NR-panel), or
// c += that product when `accumulate`. Accumulating goes on from c's values, so each element
// is one chain of multiply-adds over k in order, as the sparse first layer's is.
void generic_micro_kernel(index_t kc, const float* a, const float* b, float* c, index_t ldc,
                          bool accumulate) {
  constexpr index_t MR = 4, NR = 16;
  float acc[MR][NR];
  for (index_t r = 0; r < MR; ++r)
    for (index_t j = 0; j < NR; ++j) acc[r][j] = accumulate ? c[r * ldc + j] : 0.0f;
  for (index_t k = 0; k < kc; ++k) {
    for (index_t r = 0; r < MR; ++r) {
      const float ar = a[r];
#pragma omp simd
      for (index_t j = 0; j < NR; ++j) acc[r][j] = kernels::multiply_add(ar, b[j], acc[r][j]);
    }
    a += MR;
    b += NR;
  }
  for (index_t r = 0; r < MR; ++r)
    for (index_t j = 0; j < NR; ++j) c[r * ldc + j] = acc[r][j];
}

void generic_copy_floats(float* dst, const float* src, index_t n) { std::memcpy(dst, src, sizeof(float) * n); }

using MicroKernel = void (*)(index_t, const float*, const float*, float*, index_t, bool);
using CopyFloats = void (*)(float*, const float*, index_t);

// A SIMD level's register block (MR rows x NR columns of C) and micro-kernel; `gathers`:
// whether panels are packed with AVX-512 gathers; `copy`: its copy of the short runs at the
// edges of panels and tiles (a memcpy of a variable size, which GCC inlines for the portable
// target as `rep movsq`: 40% of the packing and edge time at batch 10, where the AVX-512
// level's masked moves take a few cycles).
template <index_t Rows, index_t Cols, MicroKernel Kernel, bool Gathers, CopyFloats Copy>
struct GemmLevel {
  static constexpr index_t MR = Rows, NR = Cols;
  static constexpr MicroKernel micro_kernel = Kernel;
  static constexpr bool gathers = Gathers;
  static constexpr CopyFloats copy = Copy;
};
using GenericGemm = GemmLevel<4, 16, generic_micro_kernel, false, generic_copy_floats>;
#if defined(MNISTMLP_SIMD_DISPATCH)
using Avx2Gemm = GemmLevel<kernels::avx2::kGemmRows, kernels::avx2::kGemmCols,
                           kernels::avx2::gemm_micro_kernel, false, kernels::avx2::copy_floats>;
using Avx512Gemm = GemmLevel<kernels::avx512::kGemmRows, kernels::avx512::kGemmCols,
                             kernels::avx512::gemm_micro_kernel, true, kernels::avx512::copy_floats>;
constexpr index_t kLargestBlock = kernels::avx512::kGemmRows * kernels::avx512::kGemmCols;
#else
constexpr index_t kLargestBlock = GenericGemm::MR * GenericGemm::NR;
#endif

// K is cut into blocks of this depth (a shape-only choice, so results stay thread-independent).
constexpr index_t kDepthBlock = 384;
constexpr index_t kMaxRows = 96;   // rows of A per packed block (a multiple of every MR)
constexpr index_t kMaxCols = 256;  // columns of B per packed block (a multiple of every NR)

inline index_t round_up(index_t n, index_t m) { return tiles(n, m) * m; }

// pa: micro-panels of MR rows, each kc deep, rows past M zero.
template <typename G>
void pack_a(float* pa, const kernels::GemmOperand& A, index_t i0, index_t rows, index_t k0,
            index_t kc) {
  constexpr index_t MR = G::MR;
  for (index_t p = 0; p < rows; p += MR) {
    const index_t n = std::min(MR, rows - p);
    if (A.row_stride == 1) {  // A is a transposed matrix: each k's MR values are contiguous
      for (index_t k = 0; k < kc; ++k, pa += MR) {
        const float* src = A.data + (k0 + k) * A.col_stride + i0 + p;
        if (n == MR) {
          std::memcpy(pa, src, sizeof(float) * MR);  // a fixed size: plain vector moves
          continue;
        }
        G::copy(pa, src, n);
        std::fill(pa + n, pa + MR, 0.0f);
      }
    } else {
#if defined(MNISTMLP_SIMD_DISPATCH)
      // One gather per k where scalar copies cost a load and a store per element (packing
      // row-major A panels and transposed B panels took a tenth of a wide layer's step).
      if constexpr (G::gathers)
        if (A.col_stride == 1 && n == MR) {
          kernels::avx512::gather_transposed(pa, MR, A.data + (i0 + p) * A.row_stride + k0,
                                             A.row_stride, MR, kc);
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
template <typename G>
void pack_b(float* pb, const kernels::GemmOperand& B, index_t k0, index_t kc, index_t j0,
            index_t cols) {
  constexpr index_t NR = G::NR;
  if (B.row_stride == 1 && B.col_stride != 1) {  // B is a transposed matrix: read its rows
    for (index_t q = 0; q < cols; q += NR, pb += kc * NR) {
      const index_t n = std::min(NR, cols - q);
#if defined(MNISTMLP_SIMD_DISPATCH)
      if constexpr (G::gathers)
        if (n == NR) {
          for (index_t half = 0; half < NR; half += 16)
            kernels::avx512::gather_transposed(pb + half, NR, B.data + (j0 + q + half) * B.col_stride + k0,
                                               B.col_stride, 16, kc);
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
        G::copy(pb, B.data + (k0 + k) * B.row_stride + j0 + q, n);
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

index_t gemm_scratch_floats() { return kMaxRows * kDepthBlock + kDepthBlock * kMaxCols + kLargestBlock; }

namespace {

// C[i0:i0+rows, j0:j0+cols] = (or, with k0 > 0, +=) the packed blocks' product, kc deep.
template <typename G>
void macro_kernel(float* C, index_t ldc, index_t i0, index_t rows, index_t j0, index_t cols,
                  index_t kc, bool accumulate, const float* pa, const float* pb, float* tile) {
  constexpr index_t MR = G::MR, NR = G::NR;
  for (index_t p = 0; p < rows; p += MR)
    for (index_t q = 0; q < cols; q += NR) {
      const index_t r_end = std::min(MR, rows - p), c_end = std::min(NR, cols - q);
      float* c = C + (i0 + p) * ldc + j0 + q;
      if (r_end == MR && c_end == NR) {
        G::micro_kernel(kc, pa + p * kc, pb + q * kc, c, ldc, accumulate);
        continue;
      }
      if (accumulate)  // an edge tile goes on from C's values too, through a full-size copy
        for (index_t r = 0; r < r_end; ++r) G::copy(tile + r * NR, c + r * ldc, c_end);
      G::micro_kernel(kc, pa + p * kc, pb + q * kc, tile, NR, accumulate);
      for (index_t r = 0; r < r_end; ++r) G::copy(c + r * ldc, tile + r * NR, c_end);
    }
}

// C[i_begin:i_end, j_begin:j_end] in row blocks, a column block at a time: each block of B is
// packed once for all of them, not once per row block (5 or 6 times over, per thread, at
// batch 1024), and A's blocks, smaller, again for each column block.
template <typename G>
void gemm_block(float* C, index_t ldc, index_t i_begin, index_t i_end, index_t j_begin,
                index_t j_end, index_t K, index_t nc, const kernels::GemmOperand& A,
                const kernels::GemmOperand& B, const kernels::GemmEpilogue& epilogue, float* pa,
                float* pb, float* tile) {
  if (i_begin >= i_end) return;
  for (index_t j0 = j_begin; j0 < j_end; j0 += nc) {
    const index_t cols = std::min(nc, j_end - j0);
    for (index_t k0 = 0; k0 < K; k0 += kDepthBlock) {
      const index_t kc = std::min(kDepthBlock, K - k0);
      pack_b<G>(pb, B, k0, kc, j0, cols);
      for (index_t i0 = i_begin; i0 < i_end; i0 += kMaxRows) {
        const index_t rows = std::min(kMaxRows, i_end - i0);
        pack_a<G>(pa, A, i0, rows, k0, kc);
        macro_kernel<G>(C, ldc, i0, rows, j0, cols, kc, k0 > 0, pa, pb, tile);
      }
    }
    apply_epilogue(C, ldc, i_begin, i_end - i_begin, j0, cols, epilogue);
  }
}

template <typename G>
void gemm_with(float* C, index_t ldc, index_t M, index_t N, index_t K, const kernels::GemmOperand& A,
               const kernels::GemmOperand& B, const kernels::GemmEpilogue& epilogue, float* scratch) {
  constexpr index_t MR = G::MR, NR = G::NR;
  const index_t threads = omp_get_num_threads();
  float* pa = scratch + omp_get_thread_num() * gemm_scratch_floats();
  float* pb = pa + kMaxRows * kDepthBlock;
  float* tile = pb + kDepthBlock * kMaxCols;
  const index_t nc_full = std::min(kMaxCols, round_up(N, NR));
  const index_t row_blocks = tiles(M, kMaxRows);
  if (K == 0) {
#pragma omp for schedule(static)
    for (index_t i = 0; i < M; ++i) std::fill(C + i * ldc, C + i * ldc + N, 0.0f);
  } else if (row_blocks >= 2 * threads) {
    // Tall C: each thread takes a run of rows, whole register blocks of them, as even as
    // they go (whole row blocks left one thread up to a block more).
    const index_t panels = tiles(M, MR);
#pragma omp for schedule(static)
    for (index_t part = 0; part < threads; ++part)
      gemm_block<G>(C, ldc, std::min(M, panels * part / threads * MR),
                    std::min(M, panels * (part + 1) / threads * MR), 0, N, K, nc_full, A, B, epilogue,
                    pa, pb, tile);
    return;
  } else if (tiles(N, nc_full) >= 2 * threads || tiles(N, round_up(nc_full / 2, NR)) >= 2 * threads) {
    // Short and wide C (the hidden layers at small batches): column tiles of every row, so
    // that each block of B is packed once, not once per row tile. For the input gradient B
    // is a transposed weight, packed with gathers: 15% of a 2-thread D epoch at batch 128
    // when it was packed per row tile.
    const index_t nc = tiles(N, nc_full) >= 2 * threads ? nc_full : round_up(nc_full / 2, NR);
#pragma omp for schedule(static)
    for (index_t ct = 0; ct < tiles(N, nc); ++ct)
      gemm_block<G>(C, ldc, 0, M, ct * nc, std::min(N, ct * nc + nc), K, nc, A, B, epilogue, pa, pb,
                    tile);
    return;
  } else {
    // Short C (small batches): split the columns as well, into tiles fine enough for every
    // thread, from row tiles of even height. Tile sizes only decide who computes what, never
    // the arithmetic.
    index_t mc = std::min(kMaxRows, round_up(tiles(M, row_blocks), MR)), nc = nc_full;
    while (tiles(M, mc) * tiles(N, nc) < 2 * threads && (mc > MR || nc > NR)) {
      if (nc > NR && (nc >= mc || mc <= MR)) nc = round_up(nc / 2, NR);
      else mc = round_up(mc / 2, MR);
    }
    const index_t row_tiles = tiles(M, mc), col_tiles = tiles(N, nc);
    // Column tiles outermost: a thread's run of tasks covers every row tile of its column
    // tiles, so a shorter last row tile does not leave one thread with less work (at batch
    // 128, rows 96 + 32 in row-major order gave one thread three quarters of the product).
#pragma omp for collapse(2) schedule(static)
    for (index_t ct = 0; ct < col_tiles; ++ct)
      for (index_t rt = 0; rt < row_tiles; ++rt) {
        const index_t i0 = rt * mc, j0 = ct * nc;
        gemm_block<G>(C, ldc, i0, std::min(M, i0 + mc), j0, std::min(N, j0 + nc), K, nc, A, B,
                      epilogue, pa, pb, tile);
      }
    return;
  }
  apply_epilogue_rows(C, ldc, M, N, epilogue);
}

}  // namespace

void gemm(float* C, index_t ldc, index_t M, index_t N, index_t K, kernels::GemmOperand A,
          kernels::GemmOperand B, const kernels::GemmEpilogue& epilogue, float* scratch) {
#if defined(MNISTMLP_SIMD_DISPATCH)
  if (simd_level() == Simd::avx512) return gemm_with<Avx512Gemm>(C, ldc, M, N, K, A, B, epilogue, scratch);
  if (simd_level() == Simd::avx2) return gemm_with<Avx2Gemm>(C, ldc, M, N, K, A, B, epilogue, scratch);
#endif
  gemm_with<GenericGemm>(C, ldc, M, N, K, A, B, epilogue, scratch);
}

}  // namespace cpu

}  // namespace mnistmlp
