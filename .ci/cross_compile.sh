#!/usr/bin/env bash
# The C++ engine (cpp/mnistmlp, without the CUDA backend's .cu files) compiled for the wheels'
# other platforms, with warnings as errors: Linux aarch64 (GCC's cross compiler: the
# x86-64 kernels must compile to nothing there) and Windows x86-64 (MinGW-w64's GCC: no POSIX
# functions outside their #if). Compiled only: nothing here runs the result. Debian's cross
# compilers are installed where CI may (root, apt-get); a compiler that is missing is
# reported and skipped.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

declare -A packages=([aarch64-linux-gnu-g++]=g++-aarch64-linux-gnu
                     [x86_64-w64-mingw32-g++-posix]=g++-mingw-w64-x86-64-posix)
missing=()
for compiler in "${!packages[@]}"; do
  command -v "$compiler" >/dev/null 2>&1 || missing+=("${packages[$compiler]}")
done
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  (timeout 600 apt-get update -qq && DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq "${missing[@]}") \
    >/dev/null 2>&1 || echo "cross compilers: could not install ${missing[*]}"
fi

sources=$(find cpp/mnistmlp -name '*.cpp' ! -path '*/backend/cuda/*' | sort)
sources+=$'\n'cpp/mnistmlp/backend/cuda/no_cuda.cpp
objects=$(mktemp -d)
trap 'rm -rf "$objects"' EXIT
status=0
for compiler in aarch64-linux-gnu-g++ x86_64-w64-mingw32-g++-posix; do
  if ! command -v "$compiler" >/dev/null 2>&1; then
    echo "cross compile: $compiler not found, skipped"
    continue
  fi
  failed=0
  while read -r source; do
    if ! "$compiler" -std=c++17 -O2 -fopenmp -Wall -Wextra -Werror -Icpp \
         -DMNISTMLP_VERSION='"0"' -DMNISTMLP_COMPILER='"cross"' -DMNISTMLP_BUILD_TYPE='"Release"' \
         -DMNISTMLP_NATIVE_BUILD=0 -c "$source" -o "$objects/$(basename "$source").o"; then
      echo "cross compile: $compiler fails on $source"
      failed=1
    fi
  done <<< "$sources"
  if [ $failed = 0 ]; then
    echo "cross compile: the engine compiles with $compiler ($(wc -l <<< "$sources") files)"
  else
    status=1
  fi
done
exit $status
