#include <algorithm>

#include "mnistmlp/backend/cpu/ops.hpp"
#include "mnistmlp/kernels/optimizer.hpp"

namespace mnistmlp::cpu {

namespace {
constexpr index_t kRowTile = 16;
constexpr index_t kColumnTile = 64;
constexpr index_t kRowChunk = 16;  // active rows per partial sum or update chunk

inline index_t tiles(index_t n, index_t tile) { return (n + tile - 1) / tile; }

template <typename Source, typename T>
std::int32_t compress_row(std::int32_t* column, T* value, const Source* src, index_t cols,
                          T scale) {
  std::int32_t n = 0;
  for (index_t c = 0; c < cols; ++c) {
    if (src[c] == Source(0)) continue;
    column[n] = static_cast<std::int32_t>(c);
    value[n++] = scale == T(1) ? T(src[c]) : T(src[c]) / scale;
  }
  return n;
}
}  // namespace

template <typename T>
index_t gather_sparse(SparseBatch<T>& out, const InputView& x, const index_t* order, index_t first,
                      index_t count) {
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
  }
  index_t nonzeros = 0;  // after the loop's barrier every thread sees every count
  for (index_t r = 0; r < count; ++r) nonzeros += out.count[r];
  return nonzeros;
}

template <typename T>
void find_active_columns(SparseBatch<T>& batch, index_t rows, index_t cols) {
#pragma omp single
  {
    std::fill(batch.is_active, batch.is_active + cols, std::uint8_t(0));
    for (index_t r = 0; r < rows; ++r)
      for (index_t t = 0; t < batch.count[r]; ++t) batch.is_active[batch.column[r * batch.stride + t]] = 1;
    index_t n = 0;
    for (index_t c = 0; c < cols; ++c)
      if (batch.is_active[c]) batch.active[n++] = static_cast<std::int32_t>(c);
    batch.n_active = n;
  }
}

template <typename T>
void sparse_forward(T* out, const SparseBatch<T>& x, const T* weight, const T* bias, index_t B,
                    index_t OUT, Activation act) {
  constexpr index_t JB = kernels::kForwardBlock<T>;
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
                     index_t OUT) {
  const kernels::SparseRows<T> rows = x.rows();
  const index_t col_tiles = tiles(OUT, kColumnTile);
#pragma omp for schedule(static)
  for (index_t t = 0; t < col_tiles; ++t) {
    const index_t j0 = t * kColumnTile, j1 = std::min(OUT, j0 + kColumnTile);
    kernels::sparse_backward_weight_columns(dweight, rows, dout, B, OUT, x.active, x.n_active, j0, j1);
    kernels::dense_backward_bias_columns(dbias, dout, B, OUT, j0, j1);
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
                                    index_t);                                                     \
  template void find_active_columns<T>(SparseBatch<T>&, index_t, index_t);                       \
  template void sparse_forward<T>(T*, const SparseBatch<T>&, const T*, const T*, index_t, index_t, \
                                  Activation);                                                    \
  template void sparse_backward<T>(T*, T*, const T*, const SparseBatch<T>&, index_t, index_t);   \
  template void zero_inactive_rows<T>(T*, const SparseBatch<T>&, index_t, index_t);              \
  template double sum_of_squares_active_rows<T>(const T*, const SparseBatch<T>&, index_t,        \
                                                double*);                                         \
  template void sgd_update_active_rows<T>(T*, const T*, const SparseBatch<T>&, index_t, T, T); \
  template void add_weight_decay<T>(T*, const T*, index_t, index_t, T);
MNISTMLP_INSTANTIATE(float)
MNISTMLP_INSTANTIATE(double)
#undef MNISTMLP_INSTANTIATE

}  // namespace mnistmlp::cpu
