// Which instruction set the CPU kernels use. The hot kernels (the packed GEMM's micro-kernel
// and edge copies, the sparse first layer's rows, the SGD and Adam updates, the pixel
// compression) exist for AVX-512, for AVX2 + FMA and as portable loops; the best level this
// CPU runs is chosen at start-up, so a portable build (MNISTMLP_NATIVE=OFF) is fast too. MNISTMLP_SIMD (generic, avx2 or
// avx512) in the environment, or set_simd_level(), asks for a lower level. Within a level,
// results are the same for any thread count; levels differ in rounding (fused multiply-adds).
#pragma once

#include <string>

namespace mnistmlp {

enum class Simd { generic, avx2, avx512 };

// Kernels built for other levels than generic: x86-64 with GCC or Clang (their target
// pragmas and CPU checks; not clang-cl, whose run-time library for those checks MSVC lacks).
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(_MSC_VER)
#define MNISTMLP_SIMD_DISPATCH 1
#endif

Simd simd_level();      // in use
Simd simd_supported();  // the best that this CPU and this build run
// Uses `level` from now on; false (and no change) when simd_supported() is below it.
bool set_simd_level(Simd level);
const char* name_of(Simd level);
Simd parse_simd(const std::string& name);  // throws std::invalid_argument

}  // namespace mnistmlp
