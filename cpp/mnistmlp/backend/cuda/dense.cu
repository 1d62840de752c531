// Dense layers as tiled matrix products: a block computes a BM x BN tile of the output
// through shared-memory tiles of its operands, each thread a TM x TN block of it in
// registers, the next operand tiles fetched into registers while the current ones are
// multiplied. Bias, activation and dropout (forward), weight decay (weight gradient) and the
// previous layer's dropout and activation derivative (input gradient) are applied as each
// output element is written. The weight and input gradients of a layer share one launch.
//
// Small products (the notebook's batches of 10) cannot fill the GPU with tiles; they split K
// instead, each block adding up a range of it. The last block to finish a tile adds the
// partial tiles up in split order, so results do not depend on which block ran first.
#include <algorithm>
#include <stdexcept>

#include "mnistmlp/backend/cuda/cuda.hpp"
#include "mnistmlp/backend/cuda/device_math.cuh"
#include "mnistmlp/backend/cuda/cuda_ops.cuh"

namespace mnistmlp::cuda {

namespace {

template <int BM_, int BN_, int BK_, int TM_, int TN_>
struct TileShape {
  static constexpr int BM = BM_, BN = BN_, BK = BK_, TM = TM_, TN = TN_;
  static constexpr int threads = (BM / TM) * (BN / TN);
  // Shared rows padded by 4 elements: transposed stores spread over the memory banks, and
  // rows stay 16-byte aligned for vector loads.
  static constexpr int pad = 4;
};
using LargeTile = TileShape<128, 64, 16, 8, 4>;
using MediumTile = TileShape<64, 64, 16, 4, 4>;
using SmallTile = TileShape<16, 64, 32, 1, 4>;  // few rows: batches of 10 waste little
enum class TileKind { large, medium, small };

// Calls f with a value of the tile shape `kind` names. float64 (gradient checks, not speed)
// always takes the medium tiles: a third of the kernels to compile.
template <typename T, typename F>
void with_tile(TileKind kind, F&& f) {
  if constexpr (sizeof(T) == sizeof(double)) {
    f(MediumTile{});
  } else {
    switch (kind) {
      case TileKind::large: return f(LargeTile{});
      case TileKind::medium: return f(MediumTile{});
      case TileKind::small: return f(SmallTile{});
    }
  }
}

// C (M, N) = A (M, K) . B (K, N); M = 0: no product.
struct Shape {
  index_t M = 0, N = 0, K = 0;
};

// How a product is cut into blocks: output tiles, each split into `splits` ranges of K.
struct Split {
  int tiles_n = 0;  // tiles across N
  int tiles = 0;
  int splits = 1;
  index_t split_k = 0;  // K per split, a multiple of BK
};

constexpr index_t kMinSplitK = 64;  // a few tiles of K per block, or splitting costs more than it gains
constexpr int kMaxSplits = 32;

template <class S>
int tile_count(const Shape& s) {
  if (s.M == 0) return 0;
  return static_cast<int>(tiles(s.M, S::BM) * tiles(s.N, S::BN));
}

template <class S>
Split split_for(const Shape& s, int sms) {
  Split split;
  if (s.M == 0) return split;
  split.tiles_n = static_cast<int>(tiles(s.N, S::BN));
  split.tiles = tile_count<S>(s);
  index_t splits = 1;
  if (split.tiles < sms)
    splits = std::max<index_t>(1, std::min<index_t>({(sms + split.tiles - 1) / split.tiles,
                                                      s.K / kMinSplitK, kMaxSplits}));
  const index_t per_split = tiles(s.K, splits);
  split.split_k = std::max<index_t>(S::BK, (per_split + S::BK - 1) / S::BK * S::BK);
  split.splits = static_cast<int>(tiles(s.K, split.split_k));
  return split;
}

// The largest tiles that still give every multiprocessor a block.
TileKind choose_tiles(const Gpu& gpu, const Shape& a, const Shape& b) {
  if (tile_count<LargeTile>(a) + tile_count<LargeTile>(b) >= gpu.sms) return TileKind::large;
  if (tile_count<MediumTile>(a) + tile_count<MediumTile>(b) >= gpu.sms) return TileKind::medium;
  return TileKind::small;
}

template <typename T>
DenseScratch scratch_for(const Gpu& gpu, const Shape& a, const Shape& b) {
  DenseScratch need;
  with_tile<T>(choose_tiles(gpu, a, b), [&](auto tile) {
    using S = decltype(tile);
    const Shape shapes[DenseScratch::kSlots] = {a, b};
    for (int i = 0; i < DenseScratch::kSlots; ++i) {
      const Split split = split_for<S>(shapes[i], gpu.sms);
      if (split.splits == 1) continue;
      need.partial_bytes[i] = sizeof(T) * static_cast<std::size_t>(split.tiles) * split.splits *
                              S::BM * S::BN;
      need.ticket_count[i] = split.tiles;
    }
  });
  return need;
}

// A plain row-major matrix: the second operand of every product is one (weights, dz).
template <typename T>
struct Matrix {
  const T* data = nullptr;
  index_t ld = 0;
};

// One matrix product: A read through a Rows view (gathered, converted), B a plain matrix,
// each as stored or transposed.
template <typename T, bool TransA, bool TransB, class Epilogue>
struct Gemm {
  Rows<T> a;
  Matrix<T> b;
  Shape shape;
  Split split;
  T* partial = nullptr;  // split.tiles * split.splits partial tiles, when split
  int* tickets = nullptr;
  Epilogue epilogue;

  __host__ __device__ int blocks() const { return split.tiles * split.splits; }
};

// The absent second product of a launch.
struct NoGemm {
  Shape shape;
  Split split;
  __host__ __device__ int blocks() const { return 0; }
};

template <typename T>
struct ForwardEpilogue {
  T* out;
  const T* bias;
  index_t ld;
  Activation act;
  Dropout<T> dropout;

  __device__ void operator()(index_t m, index_t n, T sum) const {
    const index_t at = m * ld + n;
    const T a = activate(act, sum + bias[n]);
    out[at] = a;
    if (dropout.dropped) {
      const T s = dropout_multiplier<T>(dropout.rate, dropout.seed, dropout.counters->step,
                                        dropout.layer, at);
      dropout.scale[at] = s;
      dropout.dropped[at] = a * s;
    }
  }
};

// Row `in` of the product is the bias gradient (the ones column of the inputs).
template <typename T>
struct WeightGradEpilogue {
  T* dweight;
  T* dbias;
  const T* weight;
  index_t in;
  index_t ld;
  T weight_decay;

  __device__ void operator()(index_t m, index_t n, T sum) const {
    if (m == in) {
      dbias[n] = sum;
      return;
    }
    const index_t at = m * ld + n;
    dweight[at] = weight_decay != T(0) ? sum + weight_decay * weight[at] : sum;
  }
};

template <typename T>
struct InputGradEpilogue {
  T* dinp;
  const T* prev_act;
  const T* prev_scale;
  Activation act;
  index_t ld;

  __device__ void operator()(index_t m, index_t n, T sum) const {
    const index_t at = m * ld + n;
    if (prev_scale) sum *= prev_scale[at];
    dinp[at] = sum * activation_derivative(act, prev_act[at]);
  }
};

template <typename T, class S>
__device__ void gemm_block(const NoGemm&, int, T (*)[S::BM + S::pad], T (*)[S::BN + S::pad]) {}

template <typename T, class S, bool TA, bool TB, class E>
__device__ void gemm_block(const Gemm<T, TA, TB, E>& g, int block, T (*a_tile)[S::BM + S::pad],
                           T (*b_tile)[S::BN + S::pad]) {
  constexpr int BM = S::BM, BN = S::BN, BK = S::BK, TM = S::TM, TN = S::TN, NT = S::threads;
  constexpr int a_loads = BM * BK / NT, b_loads = BK * BN / NT;
  static_assert(NT % BM == 0 && NT % BN == 0 && NT % BK == 0 && a_loads * NT == BM * BK &&
                    b_loads * NT == BK * BN,
                "operand tiles must split evenly over the threads");
  const int tile = block / g.split.splits, split = block % g.split.splits;
  const index_t m0 = index_t(tile / g.split.tiles_n) * BM;
  const index_t n0 = index_t(tile % g.split.tiles_n) * BN;
  const index_t k_begin = index_t(split) * g.split.split_k;
  const index_t k_end = min(g.shape.K, k_begin + g.split.split_k);
  const index_t M = g.shape.M, N = g.shape.N;
  const int tid = threadIdx.x;
  const int row0 = tid / (BN / TN) * TM, col0 = tid % (BN / TN) * TN;

  // This thread's loads of each operand tile. Consecutive threads read consecutive addresses
  // of the stored matrix: one coordinate of the tile is the same for all of a thread's loads
  // ("fixed"), the other steps by NT / (contiguous extent) from load to load; what does not
  // change from one K tile to the next is worked out here, once.
  constexpr int a_step = TA ? NT / BM : NT / BK, b_step = TB ? NT / BK : NT / BN;
  const int a_fixed = TA ? tid % BM : tid % BK;  // TA: m, else k
  const int a_var = TA ? tid / BM : tid / BK;    // TA: k, else m, of load 0
  const int b_fixed = TB ? tid % BK : tid % BN;  // TB: k, else n
  const int b_var = TB ? tid / BK : tid / BN;    // TB: n, else k, of load 0
  const index_t a_first = g.a.select.first();
  const unsigned char* a_rows[TA ? 1 : a_loads];  // !TA: each load's row of A (null past M)
  const T* b_rows[TB ? b_loads : 1];              // TB: each load's row of B (null past N)
  bool a_column = true, a_ones = false;           // TA: this thread's column of A is inside / the ones
  if constexpr (TA) {
    const index_t gm = m0 + a_fixed;
    a_column = gm < M;
    a_ones = g.a.ones_column && gm == g.a.cols;
  } else {
#pragma unroll
    for (int i = 0; i < a_loads; ++i) {
      const index_t gm = m0 + a_var + i * a_step;
      a_rows[i] = gm < M ? g.a.row(gm, a_first) : nullptr;
    }
  }
  if constexpr (TB) {
#pragma unroll
    for (int i = 0; i < b_loads; ++i) {
      const index_t gn = n0 + b_var + i * b_step;
      b_rows[i] = gn < N ? g.b.data + gn * g.b.ld : nullptr;
    }
  }
  const bool b_column = TB || n0 + b_fixed < N;  // !TB: this thread's column of B is inside

  T a_next[a_loads], b_next[b_loads];
  auto fetch = [&](index_t k0) {
#pragma unroll
    for (int i = 0; i < a_loads; ++i) {
      if constexpr (TA) {
        const index_t gk = k0 + a_var + i * a_step;
        a_next[i] = a_column && gk < k_end
                        ? (a_ones ? T(1) : g.a.at(g.a.row(gk, a_first), m0 + a_fixed))
                        : T(0);
      } else {
        const index_t gk = k0 + a_fixed;
        a_next[i] = a_rows[i] && gk < k_end ? g.a.at(a_rows[i], gk) : T(0);
      }
    }
#pragma unroll
    for (int i = 0; i < b_loads; ++i) {
      if constexpr (TB) {
        const index_t gk = k0 + b_fixed;
        b_next[i] = b_rows[i] && gk < k_end ? b_rows[i][gk] : T(0);
      } else {
        const index_t gk = k0 + b_var + i * b_step;
        b_next[i] = b_column && gk < k_end ? g.b.data[gk * g.b.ld + n0 + b_fixed] : T(0);
      }
    }
  };
  auto stash = [&] {
#pragma unroll
    for (int i = 0; i < a_loads; ++i) {
      if constexpr (TA)
        a_tile[a_var + i * a_step][a_fixed] = a_next[i];
      else
        a_tile[a_fixed][a_var + i * a_step] = a_next[i];
    }
#pragma unroll
    for (int i = 0; i < b_loads; ++i) {
      if constexpr (TB)
        b_tile[b_fixed][b_var + i * b_step] = b_next[i];
      else
        b_tile[b_var + i * b_step][b_fixed] = b_next[i];
    }
  };

  T acc[TM][TN] = {};
  fetch(k_begin);
  for (index_t k0 = k_begin; k0 < k_end; k0 += BK) {
    stash();
    __syncthreads();
    if (k0 + BK < k_end) fetch(k0 + BK);  // in flight while this tile is multiplied
#pragma unroll
    for (int kk = 0; kk < BK; ++kk) {
      T a[TM], b[TN];
#pragma unroll
      for (int i = 0; i < TM; ++i) a[i] = a_tile[kk][row0 + i];
#pragma unroll
      for (int j = 0; j < TN; ++j) b[j] = b_tile[kk][col0 + j];
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] += a[i] * b[j];
    }
    __syncthreads();
  }

  if (g.split.splits == 1) {
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
      for (int j = 0; j < TN; ++j) {
        const index_t m = m0 + row0 + i, n = n0 + col0 + j;
        if (m < M && n < N) g.epilogue(m, n, acc[i][j]);
      }
    return;
  }
  constexpr int tile_size = BM * BN;
  T* parts = g.partial + index_t(tile) * g.split.splits * tile_size;
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j)
      parts[index_t(split) * tile_size + (row0 + i) * BN + col0 + j] = acc[i][j];
  __threadfence();  // this block's partial reaches every block before its ticket does
  __syncthreads();
  __shared__ bool last;
  if (tid == 0) last = atomicAdd(&g.tickets[tile], 1) == g.split.splits - 1;
  __syncthreads();
  if (!last) return;
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) {
      const index_t m = m0 + row0 + i, n = n0 + col0 + j;
      if (m >= M || n >= N) continue;
      const int at = (row0 + i) * BN + col0 + j;
      T sum = 0;
      for (int s = 0; s < g.split.splits; ++s) sum += __ldcg(parts + index_t(s) * tile_size + at);
      g.epilogue(m, n, sum);
    }
  if (tid == 0) g.tickets[tile] = 0;
}

// Blocks [0, g0.blocks()) compute g0, the rest g1.
template <typename T, class S, class G0, class G1>
__global__ void __launch_bounds__(S::threads) gemm_kernel(const G0 g0, const G1 g1) {
  __shared__ __align__(16) T a_tile[S::BK][S::BM + S::pad];
  __shared__ __align__(16) T b_tile[S::BK][S::BN + S::pad];
  await_previous_kernel();
  const int block = blockIdx.x;
  if (block < g0.blocks())
    gemm_block<T, S>(g0, block, a_tile, b_tile);
  else
    gemm_block<T, S>(g1, block - g0.blocks(), a_tile, b_tile);
}

template <typename T, class S>
void place(NoGemm&, const DenseScratch&, int) {}

template <typename T, class S, bool TA, bool TB, class E>
void place(Gemm<T, TA, TB, E>& g, const DenseScratch& scratch, int slot) {
  if (g.split.splits == 1) return;
  const std::size_t bytes =
      sizeof(T) * static_cast<std::size_t>(g.split.tiles) * g.split.splits * S::BM * S::BN;
  if (scratch.partial_bytes[slot] < bytes || scratch.ticket_count[slot] < g.split.tiles)
    throw std::logic_error("dense scratch planned too small for this launch");
  g.partial = static_cast<T*>(scratch.partial[slot]);
  g.tickets = scratch.tickets[slot];
}

template <typename T, class G0, class G1>
void run(const Gpu& gpu, const DenseScratch& scratch, G0 g0, G1 g1) {
  with_tile<T>(choose_tiles(gpu, g0.shape, g1.shape), [&](auto tile) {
    using S = decltype(tile);
    g0.split = split_for<S>(g0.shape, gpu.sms);
    g1.split = split_for<S>(g1.shape, gpu.sms);
    place<T, S>(g0, scratch, 0);
    place<T, S>(g1, scratch, 1);
    const int blocks = g0.blocks() + g1.blocks();
    if (blocks == 0) return;
    launch(gpu, gemm_kernel<T, S, G0, G1>, static_cast<unsigned>(blocks), S::threads, g0, g1);
  });
}

constexpr std::size_t kScratchAlignment = 256;

std::size_t aligned(std::size_t bytes) {
  return (bytes + kScratchAlignment - 1) / kScratchAlignment * kScratchAlignment;
}

}  // namespace

void DenseScratch::grow(const DenseScratch& need) {
  for (int i = 0; i < kSlots; ++i) {
    partial_bytes[i] = std::max(partial_bytes[i], need.partial_bytes[i]);
    ticket_count[i] = std::max(ticket_count[i], need.ticket_count[i]);
  }
}

bool DenseScratch::covers(const DenseScratch& need) const {
  for (int i = 0; i < kSlots; ++i)
    if (partial_bytes[i] < need.partial_bytes[i] || ticket_count[i] < need.ticket_count[i])
      return false;
  return true;
}

std::size_t DenseScratch::bytes() const {
  std::size_t total = 0;
  for (int i = 0; i < kSlots; ++i)
    total += aligned(partial_bytes[i]) + aligned(sizeof(int) * static_cast<std::size_t>(ticket_count[i]));
  return total;
}

void DenseScratch::place(unsigned char* memory) {
  for (int i = 0; i < kSlots; ++i) {
    partial[i] = partial_bytes[i] ? memory : nullptr;
    memory += aligned(partial_bytes[i]);
    tickets[i] = ticket_count[i] ? reinterpret_cast<int*>(memory) : nullptr;
    memory += aligned(sizeof(int) * static_cast<std::size_t>(ticket_count[i]));
  }
}

void DenseScratchBuffer::allocate(DenseScratch sizes, cudaStream_t stream) {
  const std::size_t bytes = sizes.bytes();
  memory_.reset(static_cast<index_t>(bytes));
  sizes.place(memory_.get());
  if (bytes) MNISTMLP_CUDA_CHECK(cudaMemsetAsync(memory_.get(), 0, bytes, stream));
  scratch_ = sizes;
}

template <typename T>
DenseScratch dense_forward_scratch(const Gpu& gpu, index_t B, index_t IN, index_t OUT) {
  return scratch_for<T>(gpu, Shape{B, OUT, IN}, Shape{});
}

template <typename T>
DenseScratch dense_backward_scratch(const Gpu& gpu, index_t B, index_t IN, index_t OUT,
                                    bool input_gradient) {
  return scratch_for<T>(gpu, Shape{IN + 1, OUT, B},
                        input_gradient ? Shape{B, IN, OUT} : Shape{});
}

template <typename T>
void dense_forward(const Gpu& gpu, const DenseScratch& scratch, T* out, const Rows<T>& inp,
                   const T* weight, const T* bias, index_t B, index_t IN, index_t OUT,
                   Activation act, const Dropout<T>& dropout) {
  Gemm<T, false, false, ForwardEpilogue<T>> g;
  g.a = inp;
  g.b = Matrix<T>{weight, OUT};
  g.shape = Shape{B, OUT, IN};
  g.epilogue = ForwardEpilogue<T>{out, bias, OUT, act, dropout};
  run<T>(gpu, scratch, g, NoGemm{});
}

template <typename T>
void dense_backward(const Gpu& gpu, const DenseScratch& scratch, T* dinp, T* dweight, T* dbias,
                    const T* dout, const Rows<T>& inp, const T* weight, const T* prev_act,
                    const T* prev_scale, Activation prev_activation, index_t B, index_t IN,
                    index_t OUT, T weight_decay) {
  // [inp | 1]^T . dout: rows 0..IN-1 the weight gradient, row IN the bias gradient.
  Gemm<T, true, false, WeightGradEpilogue<T>> gw;
  gw.a = inp;
  gw.a.ones_column = true;
  gw.b = Matrix<T>{dout, OUT};
  gw.shape = Shape{IN + 1, OUT, B};
  gw.epilogue = WeightGradEpilogue<T>{dweight, dbias, weight, IN, OUT, weight_decay};
  if (!dinp) return run<T>(gpu, scratch, gw, NoGemm{});
  Gemm<T, false, true, InputGradEpilogue<T>> gx;
  gx.a = Rows<T>::matrix(dout, OUT);
  gx.b = Matrix<T>{weight, OUT};  // read transposed: B (OUT, IN) = weight^T
  gx.shape = Shape{B, IN, OUT};
  gx.epilogue = InputGradEpilogue<T>{dinp, prev_act, prev_scale, prev_activation, IN};
  run<T>(gpu, scratch, gw, gx);
}

#define MNISTMLP_INSTANTIATE(T)                                                               \
  template DenseScratch dense_forward_scratch<T>(const Gpu&, index_t, index_t, index_t);     \
  template DenseScratch dense_backward_scratch<T>(const Gpu&, index_t, index_t, index_t, bool); \
  template void dense_forward<T>(const Gpu&, const DenseScratch&, T*, const Rows<T>&, const T*, \
                                 const T*, index_t, index_t, index_t, Activation,             \
                                 const Dropout<T>&);                                          \
  template void dense_backward<T>(const Gpu&, const DenseScratch&, T*, T*, T*, const T*,      \
                                  const Rows<T>&, const T*, const T*, const T*, Activation,   \
                                  index_t, index_t, index_t, T);
MNISTMLP_INSTANTIATE(float)
MNISTMLP_INSTANTIATE(double)
#undef MNISTMLP_INSTANTIATE

}  // namespace mnistmlp::cuda

namespace mnistmlp::cuda_ops {

template <typename T>
void dense_forward(T* out, const T* inp, const T* weight, const T* bias, index_t B, index_t IN,
                   index_t OUT, Activation act) {
  using namespace cuda;
  naming_errors("dense_forward", [&] {
    Stream stream;
    const Gpu gpu = current_gpu(stream.get());
    DeviceBuffer<T> d_inp = to_device(inp, B * IN, gpu.stream);
    DeviceBuffer<T> d_weight = to_device(weight, IN * OUT, gpu.stream);
    DeviceBuffer<T> d_bias = to_device(bias, OUT, gpu.stream);
    DeviceBuffer<T> d_out(B * OUT);
    DenseScratchBuffer scratch;
    scratch.allocate(dense_forward_scratch<T>(gpu, B, IN, OUT), gpu.stream);
    cuda::dense_forward(gpu, scratch.get(), d_out.get(), Rows<T>::matrix(d_inp.get(), IN),
                        d_weight.get(), d_bias.get(), B, IN, OUT, act, Dropout<T>{});
    copy_to_host(out, d_out.get(), B * OUT, gpu.stream);
    stream.synchronize();
  });
}

template <typename T>
void dense_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp, const T* weight,
                    const T* prev_act, const T* prev_dropout, Activation prev_activation,
                    index_t B, index_t IN, index_t OUT, T weight_decay) {
  using namespace cuda;
  naming_errors("dense_backward", [&] {
    Stream stream;
    const Gpu gpu = current_gpu(stream.get());
    DeviceBuffer<T> d_dout = to_device(dout, B * OUT, gpu.stream);
    DeviceBuffer<T> d_inp = to_device(inp, B * IN, gpu.stream);
    DeviceBuffer<T> d_weight = to_device(weight, IN * OUT, gpu.stream);
    DeviceBuffer<T> d_prev_act = to_device(prev_act, B * IN, gpu.stream);
    DeviceBuffer<T> d_prev_dropout = to_device(prev_dropout, B * IN, gpu.stream);
    DeviceBuffer<T> d_dinp(dinp ? B * IN : 0), d_dweight(IN * OUT), d_dbias(OUT);
    DenseScratchBuffer scratch;
    scratch.allocate(dense_backward_scratch<T>(gpu, B, IN, OUT, dinp != nullptr), gpu.stream);
    cuda::dense_backward(gpu, scratch.get(), d_dinp.get(), d_dweight.get(), d_dbias.get(),
                         d_dout.get(), Rows<T>::matrix(d_inp.get(), IN), d_weight.get(),
                         d_prev_act.get(), d_prev_dropout.get(), prev_activation, B, IN, OUT,
                         weight_decay);
    if (dinp) copy_to_host(dinp, d_dinp.get(), B * IN, gpu.stream);
    copy_to_host(dweight, d_dweight.get(), IN * OUT, gpu.stream);
    copy_to_host(dbias, d_dbias.get(), OUT, gpu.stream);
    stream.synchronize();
  });
}

#define MNISTMLP_INSTANTIATE(T)                                                                 \
  template void dense_forward<T>(T*, const T*, const T*, const T*, index_t, index_t, index_t,  \
                                 Activation);                                                   \
  template void dense_backward<T>(T*, T*, T*, const T*, const T*, const T*, const T*, const T*, \
                                  Activation, index_t, index_t, index_t, T);
MNISTMLP_INSTANTIATE(float)
MNISTMLP_INSTANTIATE(double)
#undef MNISTMLP_INSTANTIATE

}  // namespace mnistmlp::cuda_ops
