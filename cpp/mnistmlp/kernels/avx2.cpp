// AVX2 + FMA kernels (declared in kernels/simd.hpp), the AVX-512 ones' counterparts for CPUs
// without AVX-512: 8-float vectors and 16 registers, so the sparse rows go 64 columns at a
// time. Compiled for AVX2 by the pragma below, after every header (see avx512.cpp).
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "mnistmlp/kernels/activation.hpp"
#include "mnistmlp/kernels/simd.hpp"
#include "mnistmlp/kernels/sparse.hpp"

#if defined(MNISTMLP_SIMD_DISPATCH)

#pragma GCC push_options
#pragma GCC target("avx2,fma,popcnt")

namespace mnistmlp::kernels::avx2 {

namespace {

constexpr index_t kChunk = 64;  // columns per pass over a row's nonzeros: 8 vectors

inline __m256i lanes_below(index_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// As avx512.cpp's sparse_forward_rows, for columns [j0, j0 + width), width <= 64.
template <int NV, int R>
void sparse_forward_rows(float* out, const SparseRows<float>& x, index_t i, const float* weight,
                         const float* bias, index_t OUT, index_t j0, index_t width, Activation act) {
  const __m256i tail = lanes_below(width - 8 * (NV - 1)), all = _mm256_set1_epi32(-1);
  __m256 acc[R][NV];
  index_t shared = x.count[i];
  for (int r = 0; r < R; ++r) {
    shared = std::min<index_t>(shared, x.count[i + r]);
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_setzero_ps();
  }
  auto add = [&](int r, index_t t) {
    const index_t at = (i + r) * x.stride + t;
    const __m256 value = _mm256_set1_ps(x.value[at]);
    const float* w = weight + index_t(x.column[at]) * OUT + j0;
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v)
      acc[r][v] = _mm256_fmadd_ps(value, _mm256_maskload_ps(w + 8 * v, v == NV - 1 ? tail : all), acc[r][v]);
  };
  for (index_t t = 0; t < shared; ++t) {
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) add(r, t);
  }
  for (int r = 0; r < R; ++r) {
    for (index_t t = shared; t < x.count[i + r]; ++t) add(r, t);
    float* o = out + (i + r) * OUT + j0;
    for (int v = 0; v < NV; ++v) {
      const __m256i m = v == NV - 1 ? tail : all;
      if (bias) acc[r][v] = _mm256_add_ps(acc[r][v], _mm256_maskload_ps(bias + j0 + 8 * v, m));
      _mm256_maskstore_ps(o + 8 * v, m, acc[r][v]);
    }
    activation_forward(o, width, act);
  }
}

// Rows interleaved per group: as many as 12 accumulator registers allow.
template <int NV>
void sparse_forward_rows_of(float* out, const SparseRows<float>& x, const float* weight,
                            const float* bias, index_t OUT, index_t i0, index_t i1, index_t j0,
                            index_t width, Activation act) {
  constexpr int R = NV <= 3 ? 4 : NV <= 4 ? 3 : NV <= 6 ? 2 : 1;
  index_t i = i0;
  for (; i + R <= i1; i += R) sparse_forward_rows<NV, R>(out, x, i, weight, bias, OUT, j0, width, act);
  for (; i < i1; ++i) sparse_forward_rows<NV, 1>(out, x, i, weight, bias, OUT, j0, width, act);
}

template <int NV>
void sparse_weight_gradient_row_of(float* out, const std::int32_t* rows, const float* values,
                                   index_t n, const float* dout, index_t OUT, index_t j0,
                                   index_t width) {
  const __m256i tail = lanes_below(width - 8 * (NV - 1)), all = _mm256_set1_epi32(-1);
  __m256 acc[NV];
  for (int v = 0; v < NV; ++v) acc[v] = _mm256_setzero_ps();
  for (index_t t = 0; t < n; ++t) {
    const __m256 s = _mm256_set1_ps(values[t]);
    const float* g = dout + index_t(rows[t]) * OUT + j0;
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v)
      acc[v] = _mm256_fmadd_ps(s, _mm256_maskload_ps(g + 8 * v, v == NV - 1 ? tail : all), acc[v]);
  }
  for (int v = 0; v < NV; ++v) _mm256_maskstore_ps(out + 8 * v, v == NV - 1 ? tail : all, acc[v]);
}

// For each 8-bit mask of nonzero lanes, the lanes in order, then zeros: AVX2 has no
// compress instruction, so a permutation from this table packs the survivors to the front.
// Built by the compiler (constexpr): no start-up code compiled for AVX2 runs on other CPUs.
struct CompressTable {
  alignas(32) std::int32_t lanes[256][8];
  constexpr CompressTable() : lanes{} {
    for (int mask = 0; mask < 256; ++mask) {
      int n = 0;
      for (int lane = 0; lane < 8; ++lane)
        if (mask >> lane & 1) lanes[mask][n++] = lane;
    }
  }
};
constexpr CompressTable compress_table;

// Eight at a time: compare with zero, then pack the survivors and their columns to the front
// and store all 8 lanes (n + 8 <= c + 8 <= cols stays in the row).
template <typename Load>
std::int32_t compress_8s(std::int32_t* column, float* value, index_t cols, index_t& done, Load load) {
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  std::int32_t n = 0;
  index_t c = 0;
  for (; c + 8 <= cols; c += 8) {
    const __m256 v = load(c);
    const int nonzero = _mm256_movemask_ps(_mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_NEQ_UQ));
    const __m256i order = _mm256_load_si256(reinterpret_cast<const __m256i*>(compress_table.lanes[nonzero]));
    _mm256_storeu_ps(value + n, _mm256_permutevar8x32_ps(v, order));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(column + n),
                        _mm256_permutevar8x32_epi32(_mm256_add_epi32(lanes, _mm256_set1_epi32(static_cast<int>(c))), order));
    n += __builtin_popcount(static_cast<unsigned>(nonzero));
  }
  done = c;
  return n;
}

}  // namespace

std::int32_t compress_row(std::int32_t* column, float* value, const float* src, index_t cols,
                          index_t& done) {
  return compress_8s(column, value, cols, done, [src](index_t c) { return _mm256_loadu_ps(src + c); });
}

std::int32_t compress_row(std::int32_t* column, float* value, const std::uint8_t* src,
                          index_t cols, index_t& done) {
  // x / 255, as the portable path divides: the same value.
  return compress_8s(column, value, cols, done, [src](index_t c) {
    return _mm256_div_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(
                             _mm_loadl_epi64(reinterpret_cast<const __m128i*>(src + c)))),
                         _mm256_set1_ps(255.0f));
  });
}

void gemm_micro_kernel(index_t kc, const float* a, const float* b, float* c, index_t ldc,
                       bool accumulate) {
  constexpr index_t MR = kGemmRows;
  __m256 acc[MR][2];  // 12 accumulators of 8 floats, two B vectors and a broadcast: 15 of 16
  for (index_t r = 0; r < MR; ++r) {
    acc[r][0] = accumulate ? _mm256_loadu_ps(c + r * ldc) : _mm256_setzero_ps();
    acc[r][1] = accumulate ? _mm256_loadu_ps(c + r * ldc + 8) : _mm256_setzero_ps();
  }
  for (index_t k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
#pragma GCC unroll 6
    for (index_t r = 0; r < MR; ++r) {
      const __m256 ar = _mm256_broadcast_ss(a + r);
      acc[r][0] = _mm256_fmadd_ps(ar, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(ar, b1, acc[r][1]);
    }
    a += MR;
    b += kGemmCols;
  }
  for (index_t r = 0; r < MR; ++r) {
    _mm256_storeu_ps(c + r * ldc, acc[r][0]);
    _mm256_storeu_ps(c + r * ldc + 8, acc[r][1]);
  }
}

void sparse_forward_block(float* out, const SparseRows<float>& x, const float* weight,
                          const float* bias, index_t OUT, index_t i0, index_t i1, index_t j0,
                          index_t width, Activation act) {
  using Rows = void (*)(float*, const SparseRows<float>&, const float*, const float*, index_t,
                        index_t, index_t, index_t, index_t, Activation);
  static constexpr Rows by_vectors[] = {
      sparse_forward_rows_of<1>, sparse_forward_rows_of<2>, sparse_forward_rows_of<3>,
      sparse_forward_rows_of<4>, sparse_forward_rows_of<5>, sparse_forward_rows_of<6>,
      sparse_forward_rows_of<7>, sparse_forward_rows_of<8>};
  for (index_t c0 = 0; c0 < width; c0 += kChunk) {
    const index_t cw = std::min(kChunk, width - c0);
    by_vectors[(cw + 7) / 8 - 1](out, x, weight, bias, OUT, i0, i1, j0 + c0, cw, act);
  }
}

void sparse_weight_gradient_row(float* out, const std::int32_t* rows, const float* values,
                                index_t n, const float* dout, index_t OUT, index_t j0,
                                index_t width) {
  using Row = void (*)(float*, const std::int32_t*, const float*, index_t, const float*, index_t,
                       index_t, index_t);
  static constexpr Row by_vectors[] = {
      sparse_weight_gradient_row_of<1>, sparse_weight_gradient_row_of<2>,
      sparse_weight_gradient_row_of<3>, sparse_weight_gradient_row_of<4>,
      sparse_weight_gradient_row_of<5>, sparse_weight_gradient_row_of<6>,
      sparse_weight_gradient_row_of<7>, sparse_weight_gradient_row_of<8>};
  for (index_t c0 = 0; c0 < width; c0 += kChunk) {
    const index_t cw = std::min(kChunk, width - c0);
    by_vectors[(cw + 7) / 8 - 1](out + c0, rows, values, n, dout, OUT, j0 + c0, cw);
  }
}

index_t adam_update(float* w, float* m, float* v, const float* g, index_t begin, index_t end,
                    float lr_t, float beta1, float beta2, float epsilon, float clip) {
  // Adam's cost is its memory traffic and its square root and division: explicitly 256-bit,
  // also on AVX-512 CPUs, since on AMD Zen 4 512-bit ones deliver fewer elements per cycle
  // (78,400 updates: 35 us with 512-bit vectors, 24 us with 256-bit ones).
  const __m256 b1 = _mm256_set1_ps(beta1), b2 = _mm256_set1_ps(beta2);
  const __m256 one_b1 = _mm256_set1_ps(1.0f - beta1), one_b2 = _mm256_set1_ps(1.0f - beta2);
  const __m256 lr = _mm256_set1_ps(lr_t), eps = _mm256_set1_ps(epsilon), c = _mm256_set1_ps(clip);
  index_t i = begin;
  for (; i + 8 <= end; i += 8) {
    const __m256 gi = _mm256_mul_ps(_mm256_loadu_ps(g + i), c);
    const __m256 mi = _mm256_fmadd_ps(b1, _mm256_loadu_ps(m + i), _mm256_mul_ps(one_b1, gi));
    const __m256 vi = _mm256_fmadd_ps(b2, _mm256_loadu_ps(v + i), _mm256_mul_ps(_mm256_mul_ps(one_b2, gi), gi));
    const __m256 step = _mm256_div_ps(_mm256_mul_ps(lr, mi), _mm256_add_ps(_mm256_sqrt_ps(vi), eps));
    _mm256_storeu_ps(m + i, mi);
    _mm256_storeu_ps(v + i, vi);
    _mm256_storeu_ps(w + i, _mm256_sub_ps(_mm256_loadu_ps(w + i), step));
  }
  return i;
}

}  // namespace mnistmlp::kernels::avx2

#pragma GCC pop_options

#endif
