// Matrix products for the dense layers in float32: C (M,N) = A (M,K) . B (K,N), then an
// epilogue, with A and B read through strides so the transposed products of the backward
// pass need no copies:
//   forward       out  = act(X . W + bias)                      A = X,   B = W
//   weight grad   dW   = X^T . dZ + wd * W                      A = X^T, B = dZ
//   input grad    dX   = (dZ . W^T) * dropout * f'(prev act)    A = dZ,  B = W^T
// Blocks of A and B are packed into panels that a register-blocked micro-kernel streams
// through (the BLIS scheme). Each element of C is the sum, in K order, of fixed K blocks,
// whatever the split of M and N between threads: results do not depend on the thread count.
#pragma once

#include "mnistmlp/common.hpp"

namespace mnistmlp::kernels {

struct GemmOperand {
  const float* data;
  index_t row_stride, col_stride;  // element (r, c) at data[r * row_stride + c * col_stride]
  float at(index_t r, index_t c) const { return data[r * row_stride + c * col_stride]; }
};

struct GemmEpilogue {
  const float* bias = nullptr;             // + bias[j]
  Activation activation = Activation::linear;
  const float* decayed = nullptr;          // + weight_decay * decayed[i * ldc + j]
  float weight_decay = 0;
  const float* dropout = nullptr;          // * dropout[i * ldc + j]
  const float* derivative_of = nullptr;    // * f'(derivative_of[i * ldc + j])
  Activation derivative = Activation::linear;
};

// The textbook triple loop with the same epilogue, for tests.
void gemm_naive(float* C, index_t ldc, index_t M, index_t N, index_t K, GemmOperand A,
                GemmOperand B, const GemmEpilogue& epilogue);

}  // namespace mnistmlp::kernels
