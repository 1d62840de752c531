#include <algorithm>
#include <type_traits>
#include <utility>

#include "mnistmlp/backend/cpu/cpu_ops.hpp"
#include "mnistmlp/kernels/optimizer.hpp"
#include "mnistmlp/kernels/simd_kernels.hpp"
#include "mnistmlp/openmp.hpp"

namespace mnistmlp::cpu {

namespace {
constexpr index_t kRowTile = 16;
constexpr index_t kColumnTile = 128;  // weight-gradient columns per task: 8 AVX-512 vectors
constexpr index_t kRowChunk = 16;  // active rows per partial sum or update chunk
constexpr index_t kRowBlock = 8;   // rows per fused Adam step, when a row fits one column tile
constexpr index_t kActiveGroup = 4;  // active rows whose gradients are computed together

template <typename Source, typename T>
std::int32_t compress_row(std::int32_t* column, T* value, const Source* src, index_t cols,
                          T scale) {
  std::int32_t n = 0;
  index_t c = 0;
  if constexpr (std::is_same_v<T, float>) {
    if (const kernels::SimdKernels* simd = kernels::simd_kernels()) {
      if constexpr (std::is_same_v<Source, float>) n = simd->compress_floats(column, value, src, cols, c);
      if constexpr (std::is_same_v<Source, std::uint8_t>) n = simd->compress_bytes(column, value, src, cols, c);
    }
  }
  for (; c < cols; ++c) {
    if (src[c] == Source(0)) continue;
    column[n] = static_cast<std::int32_t>(c);
    value[n++] = scale == T(1) ? T(src[c]) : T(src[c]) / scale;
  }
  return n;
}

// Whether values[0, n) holds no NaN or Inf: x - x is 0 for a finite x and NaN otherwise, so
// one reduction the compiler vectorises.
template <typename T>
bool all_finite(const T* values, index_t n) {
  T residue = 0;
#pragma omp simd reduction(+ : residue)
  for (index_t i = 0; i < n; ++i) residue += values[i] - values[i];
  return residue == T(0);
}

}  // namespace

template <typename T>
index_t gather_sparse(SparseBatch<T>& out, const InputView& x, const index_t* order, index_t first,
                      index_t count, std::uint8_t* row_finite) {
  const index_t cols = x.cols;
#pragma omp for schedule(static)
  for (index_t r = 0; r < count; ++r) {
    const index_t src = order ? order[first + r] : first + r;
    std::int32_t* column = out.column + r * out.stride;
    T* value = out.value + r * out.stride;
    switch (x.type) {
      case ElementType::uint8:  // scaled as gather_inputs does: x / 255
        out.count[r] = compress_row(column, value, static_cast<const std::uint8_t*>(x.data) + src * cols, cols, T(255));
        break;
      case ElementType::float32:
        out.count[r] = compress_row(column, value, static_cast<const float*>(x.data) + src * cols, cols, T(1));
        break;
      case ElementType::float64:
        out.count[r] = compress_row(column, value, static_cast<const double*>(x.data) + src * cols, cols, T(1));
        break;
    }
    row_finite[r] = all_finite(value, out.count[r]);
  }
  index_t nonzeros = 0;  // after the loop's barrier every thread sees every count
  for (index_t r = 0; r < count; ++r) nonzeros += out.count[r];
  return nonzeros;
}

template <typename T>
void by_columns(SparseBatch<T>& batch, index_t rows, index_t cols) {
  // Counted, then placed, by each thread for its own range of columns: a row's nonzeros in a
  // range are a contiguous run (columns ascending). The result does not depend on the ranges.
  const index_t parts = omp_get_num_threads();
  index_t* start = batch.column_start;
  auto run = [&](index_t r, index_t c0, index_t c1) {
    const std::int32_t* first = batch.column + r * batch.stride;
    const std::int32_t* last = first + batch.count[r];
    if (parts == 1) return std::pair(first, last);
    return std::pair(std::lower_bound(first, last, c0), std::lower_bound(first, last, c1));
  };
#pragma omp for schedule(static)
  for (index_t part = 0; part < parts; ++part) {
    const index_t c0 = cols * part / parts, c1 = cols * (part + 1) / parts;
    std::fill(start + c0 + 1, start + c1 + 1, index_t(0));
    for (index_t r = 0; r < rows; ++r) {
      const auto [begin, end] = run(r, c0, c1);
      for (const std::int32_t* c = begin; c != end; ++c) ++start[*c + 1];
    }
  }
#pragma omp single
  {
    start[0] = 0;
    index_t n = 0;
    for (index_t c = 0; c < cols; ++c) {
      const bool active = start[c + 1] > 0;
      batch.is_active[c] = active;
      batch.active[n] = static_cast<std::int32_t>(c);
      n += active;
      start[c + 1] += start[c];
    }
    batch.n_active = n;
  }
#pragma omp for schedule(static)
  for (index_t part = 0; part < parts; ++part) {
    const index_t c0 = cols * part / parts, c1 = cols * (part + 1) / parts;
    index_t* next = batch.column_fill;
    std::copy(start + c0, start + c1, next + c0);
    // Rows in ascending order, so each column's sum runs over rows in batch order.
    for (index_t r = 0; r < rows; ++r) {
      const auto [begin, end] = run(r, c0, c1);
      const T* value = batch.value + (begin - batch.column);
      for (const std::int32_t* c = begin; c != end; ++c, ++value) {
        const index_t at = next[*c]++;
        batch.by_column_row[at] = static_cast<std::int32_t>(r);
        batch.by_column_value[at] = *value;
      }
    }
  }
}

template <typename T>
void sparse_forward(T* out, const SparseBatch<T>& x, const T* weight, const T* bias, index_t B,
                    index_t OUT, Activation act) {
  constexpr index_t JB = kernels::kSparseBlock;
  const index_t row_tiles = tiles(B, kRowTile), col_tiles = tiles(OUT, JB);
  const kernels::SparseRows<T> rows = x.rows();
#pragma omp for collapse(2) schedule(static)
  for (index_t rt = 0; rt < row_tiles; ++rt)
    for (index_t ct = 0; ct < col_tiles; ++ct) {
      const index_t i0 = rt * kRowTile, j0 = ct * JB;
      kernels::sparse_forward_block(out, rows, weight, bias, OUT, i0, std::min(B, i0 + kRowTile), j0,
                                    std::min(JB, OUT - j0), act);
    }
}

template <typename T>
void sparse_backward(T* dweight, T* dbias, const T* dout, const SparseBatch<T>& x, index_t B,
                     index_t IN, index_t OUT, const RowStep<T>& step) {
  const index_t col_tiles = tiles(OUT, kColumnTile);
  if (step.weight && step.kind == OptimizerKind::adam) {
    // Every row, in blocks of whole rows where a row fits one tile: one Adam pass over a
    // block's contiguous elements keeps its vector loop long (a row of 100 would leave a
    // scalar tail of 4, whose square roots and divisions cost as much as the rest).
    const index_t block_rows = col_tiles == 1 ? kRowBlock : 1;
#pragma omp for collapse(2) schedule(static) nowait
    for (index_t k0 = 0; k0 < IN; k0 += block_rows)
      for (index_t t = 0; t < col_tiles; ++t) {
        const index_t j0 = t * kColumnTile, width = std::min(kColumnTile, OUT - j0);
        const index_t k1 = std::min(IN, k0 + block_rows);
        alignas(64) T gradient[kRowBlock * kColumnTile];
        kernels::SparseColumn<T> columns[kRowBlock];
        for (index_t k = k0; k < k1; ++k) columns[k - k0] = x.by_column(k);
        kernels::sparse_weight_gradient_rows(gradient, width, columns, k1 - k0, dout, OUT, j0, width);
        const index_t at = k0 * OUT + j0, count = (k1 - k0) * width;
        kernels::adam_update(step.weight + at, step.m + at, step.v + at, gradient, 0, count,
                             step.learning_rate, step.beta1, step.beta2, step.epsilon, T(1));
      }
  } else {
    // Active rows in groups, whose gradients the kernels compute interleaved.
#pragma omp for collapse(2) schedule(static) nowait
    for (index_t a0 = 0; a0 < x.n_active; a0 += kActiveGroup)
      for (index_t t = 0; t < col_tiles; ++t) {
        const index_t j0 = t * kColumnTile, width = std::min(kColumnTile, OUT - j0);
        const index_t count = std::min(kActiveGroup, x.n_active - a0);
        kernels::SparseColumn<T> columns[kActiveGroup];
        for (index_t a = 0; a < count; ++a) columns[a] = x.by_column(x.active[a0 + a]);
        alignas(64) T gradient[kActiveGroup * kColumnTile];
        kernels::sparse_weight_gradient_rows(gradient, width, columns, count, dout, OUT, j0, width);
        for (index_t a = 0; a < count; ++a) {
          const T* row = gradient + a * width;
          const index_t at = x.active[a0 + a] * OUT + j0;
          if (step.weight)
            kernels::sgd_update(step.weight + at, row, 0, width, step.learning_rate, T(1));
          else
            std::copy(row, row + width, dweight + at);
        }
      }
  }
#pragma omp for schedule(static)
  for (index_t t = 0; t < col_tiles; ++t) {
    const index_t j0 = t * kColumnTile;
    kernels::dense_backward_bias_columns(dbias, dout, B, OUT, j0, std::min(OUT, j0 + kColumnTile));
  }
}

template <typename T>
void zero_inactive_rows(T* matrix, const SparseBatch<T>& x, index_t rows, index_t cols) {
#pragma omp for schedule(static)
  for (index_t r = 0; r < rows; ++r)
    if (!x.is_active[r]) std::fill(matrix + r * cols, matrix + (r + 1) * cols, T(0));
}

template <typename T>
double sum_of_squares_active_rows(const T* matrix, const SparseBatch<T>& x, index_t cols,
                                  double* partials) {
  const index_t chunks = tiles(x.n_active, kRowChunk);
#pragma omp for schedule(static)
  for (index_t c = 0; c < chunks; ++c) {
    double s = 0;
    for (index_t a = c * kRowChunk; a < std::min(x.n_active, (c + 1) * kRowChunk); ++a) {
      const index_t row = x.active[a];
      s += kernels::sum_of_squares(matrix, row * cols, (row + 1) * cols);
    }
    partials[c] = s;
  }
  double total = 0;
  for (index_t c = 0; c < chunks; ++c) total += partials[c];
#pragma omp barrier
  return total;
}

template <typename T>
void add_weight_decay(T* dweight, const T* weight, index_t rows, index_t cols, T weight_decay) {
#pragma omp for schedule(static)
  for (index_t r = 0; r < rows; ++r) {
    T* dw = dweight + r * cols;
    const T* w = weight + r * cols;
#pragma omp simd
    for (index_t j = 0; j < cols; ++j) dw[j] += weight_decay * w[j];
  }
}

template <typename T>
void sgd_update_active_rows(T* params, const T* grads, const SparseBatch<T>& x, index_t cols, T lr,
                            T clip) {
#pragma omp for schedule(static)
  for (index_t a = 0; a < x.n_active; ++a) {
    const index_t row = x.active[a];
    kernels::sgd_update(params, grads, row * cols, (row + 1) * cols, lr, clip);
  }
}

#define MNISTMLP_INSTANTIATE(T)                                                                   \
  template index_t gather_sparse<T>(SparseBatch<T>&, const InputView&, const index_t*, index_t,  \
                                    index_t, std::uint8_t*);                                      \
  template void by_columns<T>(SparseBatch<T>&, index_t, index_t);                                \
  template void sparse_forward<T>(T*, const SparseBatch<T>&, const T*, const T*, index_t, index_t, \
                                  Activation);                                                    \
  template void sparse_backward<T>(T*, T*, const T*, const SparseBatch<T>&, index_t, index_t,    \
                                   index_t, const RowStep<T>&);                                  \
  template void zero_inactive_rows<T>(T*, const SparseBatch<T>&, index_t, index_t);              \
  template double sum_of_squares_active_rows<T>(const T*, const SparseBatch<T>&, index_t,        \
                                                double*);                                         \
  template void sgd_update_active_rows<T>(T*, const T*, const SparseBatch<T>&, index_t, T, T); \
  template void add_weight_decay<T>(T*, const T*, index_t, index_t, T);
MNISTMLP_INSTANTIATE(float)
MNISTMLP_INSTANTIATE(double)
#undef MNISTMLP_INSTANTIATE

}  // namespace mnistmlp::cpu
