#!/usr/bin/env bash
# Build mnistmlp as of a git revision into a folder, for `bench_train.py --baseline DIR`.
#
#   benchmarks/build_baseline.sh REF DIR [PIP_OPTION...]
#
# REF is any commit of this repository (HEAD~1, 5d6aca9, a branch or tag); DIR receives the
# installed package (`pip install --target`), which the benchmark imports in a worker process
# of its own. The sources are exported with `git archive` (committed files only: local
# changes are not part of a baseline) into a temporary folder, built there and removed.
#
# The build is the current one's: the Python that runs this script (activate the venv the
# benchmark runs in: the baseline is a module for that Python version), its
# scikit-build-core, pybind11, CMake and compiler (`--no-build-isolation`), CMake's Release
# type from pyproject.toml, the portable default (`MNISTMLP_NATIVE=ON
# benchmarks/build_baseline.sh ...` for -march=native) and no CUDA backend. PIP_OPTIONs are passed on to pip, e.g. -Ccmake.define.X=Y.
#
# DIR must be new, empty, or a baseline this script built before (it is then replaced).
# DIR/SOURCE_REVISION records the revision (`git describe --always`, then the full hash),
# and the benchmark shows it.
set -euo pipefail

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }
if [[ ${1:-} == -h || ${1:-} == --help ]]; then usage; exit 0; fi
if [[ $# -lt 2 ]]; then usage >&2; exit 2; fi
ref=$1
dir=$2
shift 2

python=${PYTHON:-python}
repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
commit=$(git -C "$repo" rev-parse --verify --quiet "$ref^{commit}") || {
    echo "error: $ref is not a commit of $repo" >&2; exit 2; }
describe=$(git -C "$repo" describe --always "$commit")

if [[ -e $dir && ! -f $dir/SOURCE_REVISION && -n $(ls -A "$dir" 2>/dev/null) ]]; then
    echo "error: $dir exists and is not a baseline built by this script; choose a new folder" >&2
    exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/mnistmlp-baseline.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/src"
git -C "$repo" archive "$commit" | tar -x -C "$work/src"

echo "building mnistmlp at $describe ($commit) with $("$python" --version) into $dir" >&2
"$python" -m pip install --no-deps --no-build-isolation --disable-pip-version-check --quiet \
    --target "$work/target" \
    -Ccmake.define.MNISTMLP_CUDA=OFF \
    -Ccmake.define.MNISTMLP_NATIVE="${MNISTMLP_NATIVE:-OFF}" \
    -Cbuild-dir="$work/build" \
    "$@" "$work/src"
echo "$describe $commit" > "$work/target/SOURCE_REVISION"

rm -rf "$dir"
mkdir -p "$(dirname "$dir")"
mv "$work/target" "$dir"
echo "built $dir: python benchmarks/bench_train.py --baseline $dir" >&2
