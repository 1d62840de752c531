#include <pybind11/pybind11.h>

#include "bindings/registry.hpp"
#include "mnistmlp/denormals.hpp"

namespace py = pybind11;

namespace mnistmlp::bindings {

void register_settings(py::module_& m) {
  m.def("set_flush_denormals", &set_flush_denormals, py::arg("enabled"),
        "Whether training flushes subnormal floats to zero; False where unsupported.");
  m.def("flush_denormals", &flush_denormals, "Whether training flushes subnormal floats to zero.");
  m.def("flush_denormals_supported", &flush_denormals_supported,
        "Whether this CPU build can flush subnormal floats to zero.");
}

}  // namespace mnistmlp::bindings
