#include "mnistmlp/build_info.hpp"

#include "mnistmlp/kernels/simd_kernels.hpp"
#include "mnistmlp/thread_placement.hpp"

namespace mnistmlp {

namespace {

const char* compiled_simd_level() {
#if defined(__AVX512F__)
  return "AVX-512";
#elif defined(__AVX2__) && defined(__FMA__)
  return "AVX2+FMA";
#elif defined(__AVX2__)
  return "AVX2";
#elif defined(__AVX__)
  return "AVX";
#elif defined(__SSE2__) || defined(_M_X64)
  return "SSE2";
#elif defined(__ARM_FEATURE_SVE)
  return "SVE";
#elif defined(__ARM_NEON)
  return "NEON";
#else
  return "none (scalar)";
#endif
}

}  // namespace

BuildInfo build_info() {
  BuildInfo info;
  info.version = MNISTMLP_VERSION;
  info.compiler = MNISTMLP_COMPILER;
  info.build_type = MNISTMLP_BUILD_TYPE;
  info.simd = compiled_simd_level();
  info.native_build = MNISTMLP_NATIVE_BUILD != 0;
  info.generic_fused = kernels::kFusedMultiplyAdd;
#if defined(_OPENMP)
  info.openmp = true;
  info.openmp_version = _OPENMP;
#else
  info.openmp = false;  // single-threaded: see mnistmlp/openmp.hpp
  info.openmp_version = 0;
#endif
  info.max_threads = default_threads();
  return info;
}

}  // namespace mnistmlp
