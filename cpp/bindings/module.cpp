// The _core extension module: each area registers its own functions.
#include <pybind11/pybind11.h>

#include "bindings/registry.hpp"

PYBIND11_MODULE(_core, m) {
  m.doc() = "mnistmlp's compiled engine (private: use the mnistmlp package)";
  mnistmlp::bindings::register_build_info(m);
  mnistmlp::bindings::register_model(m);
  mnistmlp::bindings::register_kernels(m);
  mnistmlp::bindings::register_cuda(m);
  mnistmlp::bindings::register_settings(m);
}
