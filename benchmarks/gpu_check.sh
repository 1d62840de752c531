#!/usr/bin/env bash
# The GPU check, in one call on a machine with an NVIDIA GPU and nvcc: build mnistmlp with the
# CUDA backend, run the `cuda` tests, and time the GPU benchmark (benchmarks/bench_gpu.py)
# against eager PyTorch. Run it from anywhere; everything lands in $OUT (default
# ./gpu-check-out), at most seven files:
#   summary.txt  each step's outcome, the GPU, show_config, the benchmark table
#   build.log    the whole build (its errors and tail go to summary.txt when it fails)
#   tests.log    the cuda tests; after failures, the failed ones again without programmatic
#                dependent launch, then under compute-sanitizer's memcheck
#   bench.json, bench.md, bench.log, profile.txt   the benchmark: timings, table, log, and
#                the GPU kernels of one mnistmlp epoch per case
# About 3 minutes on an H100 (the build, for the GPU's own architecture only, is most of it);
# the steps share a budget of CHECK_SECONDS (default 420) and later ones shrink to fit it.
# Exit status 0 when the build and the tests pass (the benchmark only reports).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT="${OUT:-$PWD/gpu-check-out}"
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-16}"
PY="${PYTHON:-python3}"
summary="$OUT/summary.txt"
: >"$summary"
note() { echo "== $*" | tee -a "$summary"; }
deadline=$((SECONDS + ${CHECK_SECONDS:-420}))
# Seconds a step may take: its own cap, or what is left of the budget.
budget() { local left=$((deadline - SECONDS)); left=$(( left > 1 ? left : 1 )); echo $(( left < $1 ? left : $1 )); }
status=0

note "GPU"
{ nvidia-smi -L; nvidia-smi --query-gpu=name,driver_version,compute_cap,memory.total --format=csv; } 2>&1 | tee -a "$summary"
nvcc --version 2>&1 | tail -1 | tee -a "$summary"
arch="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d '. ')"
arch="${CUDA_ARCH:-${arch:-90}}"

note "build (MNISTMLP_CUDA=ON, CMAKE_CUDA_ARCHITECTURES=$arch: this GPU's machine code only, to save time)"
build_args=(--no-build-isolation --no-deps -v . -Ccmake.define.MNISTMLP_CUDA=ON
            "-Ccmake.define.CMAKE_CUDA_ARCHITECTURES=$arch" -Cbuild-dir=/tmp/mnistmlp-gpu-build)
site="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
if [ ! -w "$site" ]; then  # read-only site-packages: install beside it
  site=/tmp/site
  build_args+=(--target "$site")
  export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi
if ! "$PY" -m pip install "${build_args[@]}" >"$OUT/build.log" 2>&1; then
  note "build FAILED; its errors and the end of build.log:"
  grep -E "error|FAILED" "$OUT/build.log" | head -40 | tee -a "$summary"
  tail -60 "$OUT/build.log" | tee -a "$summary"
  exit 1
fi
note "build: installed into $site after $SECONDS s"
# From /tmp: the installed package, not the sources.
(cd /tmp && "$PY" -c "import mnistmlp; mnistmlp.show_config()") 2>&1 | tee -a "$summary"
if ! (cd /tmp && "$PY" -c "import mnistmlp, sys; sys.exit(0 if mnistmlp.cuda_available() else 1)"); then
  note "device 'cuda' is NOT available in this build (see GPU above); tests and benchmark need it"
  exit 1
fi

note "cuda tests"
t0=$SECONDS
per_test=()
"$PY" -c "import pytest_timeout" 2>/dev/null && per_test=(--timeout=120)
pytest=("$PY" -m pytest tests/test_cuda.py -q -rs --tb=short -o cache_dir=/tmp/pytest-cache
        ${per_test[@]+"${per_test[@]}"})
# Not -x: one run should show every independent failure; but a broken GPU context fails all
# the tests after it, hence the bound.
timeout "$(budget 240)" "${pytest[@]}" --maxfail=8 2>&1 | tee "$OUT/tests.log" | tail -40
tests_status=${PIPESTATUS[0]}
tail -3 "$OUT/tests.log" >>"$summary"
note "cuda tests: exit $tests_status after $((SECONDS - t0)) s"
if [ "$tests_status" -ne 0 ]; then
  status=1
  note "the failed tests again, without programmatic dependent launch (MNISTMLP_CUDA_PDL=0)"
  MNISTMLP_CUDA_PDL=0 timeout "$(budget 90)" "${pytest[@]}" --lf --maxfail=8 2>&1 \
    | sed 's/^/[no PDL] /' | tee -a "$OUT/tests.log" | tail -5 | tee -a "$summary"
  if command -v compute-sanitizer >/dev/null && [ "$(budget 90)" -gt 30 ]; then
    note "the first failed test under compute-sanitizer (memcheck)"
    timeout "$(budget 90)" compute-sanitizer --tool memcheck --print-limit 10 "${pytest[@]}" --lf -x 2>&1 \
      | sed 's/^/[memcheck] /' | tee -a "$OUT/tests.log" | grep -E "ERROR SUMMARY|Invalid|passed|failed" \
      | head -10 | tee -a "$summary"
  fi
fi

note "benchmark"
t0=$SECONDS
if [ "$(budget 200)" -lt 30 ]; then
  note "benchmark skipped: the check's time budget is spent"
elif timeout "$(budget 200)" "$PY" benchmarks/bench_gpu.py --json "$OUT/bench.json" --markdown "$OUT/bench.md" \
     --profile "$OUT/profile.txt" >"$OUT/bench.log" 2>&1; then
  cat "$OUT/bench.md" >>"$summary"
else
  note "benchmark FAILED; the end of its log:"
  tail -40 "$OUT/bench.log" | tee -a "$summary"
fi
note "benchmark: $((SECONDS - t0)) s; whole check: $SECONDS s; exit $status"
echo
cat "$OUT/bench.md" 2>/dev/null
exit $status
