#include <pybind11/pybind11.h>

#include "bindings/registry.hpp"
#include "mnistmlp/build_info.hpp"

namespace py = pybind11;

namespace mnistmlp::bindings {

void register_build_info(py::module_& m) {
  const BuildInfo info = build_info();
  m.attr("__version__") = info.version;
  m.def(
      "build_info",
      [] {
        const BuildInfo current = build_info();
        py::dict d;
        d["version"] = current.version;
        d["compiler"] = current.compiler;
        d["build_type"] = current.build_type;
        d["simd"] = current.simd;
        d["native_build"] = current.native_build;
        d["generic_fused"] = current.generic_fused;
        d["openmp"] = current.openmp;
        d["openmp_version"] = current.openmp_version;
        d["max_threads"] = current.max_threads;
        return d;
      },
      "Facts about how the engine was compiled and the threads it will use.");
}

}  // namespace mnistmlp::bindings
