// Facts about how this copy of the engine was compiled, for show_config().
#pragma once

#include <string>

namespace mnistmlp {

struct BuildInfo {
  std::string version;
  std::string compiler;
  std::string build_type;
  std::string simd;        // widest vector instruction set the kernels were compiled for
  bool native_build;       // compiled with -march=native (not portable to older CPUs)
  bool generic_fused;      // the generic level's sums use fused multiply-adds (kernels::multiply_add)
  bool openmp;
  int openmp_version;      // _OPENMP date, e.g. 201511
  int max_threads;         // threads a model uses by default, here and now (default_threads())
};

BuildInfo build_info();

}  // namespace mnistmlp
