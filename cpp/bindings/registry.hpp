// One register_* function per binding area; module.cpp calls them all.
#pragma once

#include <pybind11/pybind11.h>

namespace mnistmlp::bindings {

void register_build_info(pybind11::module_& m);
void register_model(pybind11::module_& m);
void register_kernels(pybind11::module_& m);
void register_cuda(pybind11::module_& m);
void register_settings(pybind11::module_& m);

}  // namespace mnistmlp::bindings
