#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>

#include "bindings/registry.hpp"
#include "mnistmlp/denormals.hpp"
#include "mnistmlp/simd_level.hpp"

namespace py = pybind11;

namespace mnistmlp::bindings {

void register_settings(py::module_& m) {
  m.def("set_flush_denormals", &set_flush_denormals, py::arg("enabled"),
        "Whether training flushes subnormal floats to zero; False where unsupported.");
  m.def("flush_denormals", &flush_denormals, "Whether training flushes subnormal floats to zero.");
  m.def("flush_denormals_supported", &flush_denormals_supported,
        "Whether this CPU build can flush subnormal floats to zero.");
  m.def(
      "set_simd_level",
      [](const std::string& level) { return set_simd_level(parse_simd(level)); }, py::arg("level"),
      "Use the CPU kernels of `level` (generic, avx2, avx512) from the next call on; False "
      "(nothing changes) when this CPU or build cannot run them.");
  m.def("simd_level", [] { return std::string(name_of(simd_level())); },
        "The CPU kernels in use: generic, avx2 or avx512.");
  m.def("simd_supported", [] { return std::string(name_of(simd_supported())); },
        "The best CPU kernels this CPU and build run.");
}

}  // namespace mnistmlp::bindings
