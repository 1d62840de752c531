#!/usr/bin/env bash
# Sanitizer builds and runs of mnistmlp's C++ engine and bindings.
#
#   bash .ci/sanitizers.sh            both runs below (what CI does)
#   bash .ci/sanitizers.sh --asan     AddressSanitizer + UndefinedBehaviorSanitizer only
#   bash .ci/sanitizers.sh --tsan     ThreadSanitizer only
#   ... -- -k adam -x                 extra arguments for pytest, after `--`
#
# --asan: GCC builds _core with -fsanitize=address,undefined (every UBSan check fatal) into
#   .venv-asan (build tree build/sanitizers/asan) and runs the numerics, bad-input, model-file,
#   reference, kernel, SIMD, training, concurrency and model-file fuzz tests with the runtimes
#   preloaded into the (uninstrumented) interpreter.
# --tsan: clang builds _core with -fsanitize=thread against LLVM's libomp into .venv-tsan
#   (build/sanitizers/tsan) and runs the threaded tests with Archer (libomp's OMPT tool), which
#   tells TSan about OpenMP's fork, join and barriers. GCC's libgomp synchronises with futexes
#   TSan cannot see, so under it every buffer handed between threads is reported. A self-test
#   first checks that a deliberately racy OpenMP library is reported and a correct one is not.
#   Reports other than the known races of .ci/tsan_known_races.txt fail the run
#   (.ci/tsan_reports.py sorts them); .ci/tsan.supp mutes only libomp's own bookkeeping.
#
# Any sanitizer report, test failure or missing tool fails the script (non-zero exit). Reports
# are written to build/sanitizers/logs/ and printed; a summary ends the output. Debian packages
# the runs need (clang, libomp, Archer) are installed with apt-get when missing and running as
# root; otherwise the script says what to install. MNISTMLP_DATA defaults to ../shared/data/mnist
# as in .ci/run. Set MNISTMLP_SAN_LLVM to use another LLVM version than 14 for --tsan.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo="$(pwd)"

run_asan=0 run_tsan=0
pytest_extra=()
while (($#)); do
  case "$1" in
    --asan) run_asan=1 ;;
    --tsan) run_tsan=1 ;;
    --) shift; pytest_extra=("$@"); break ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "sanitizers: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done
if ((!run_asan && !run_tsan)); then run_asan=1 run_tsan=1; fi

llvm="${MNISTMLP_SAN_LLVM:-14}"
export MNISTMLP_DATA="${MNISTMLP_DATA:-$(cd .. && pwd)/shared/data/mnist}"
logs="$repo/build/sanitizers/logs"
mkdir -p "$logs"
summary=()
failed=0

say() { echo "sanitizers: $*"; }
die() { echo "sanitizers: ERROR: $*" >&2; exit 2; }
note() { summary+=("$(printf '  %-11s %s' "$1" "$2")"); }

# The tests each run takes: files that do not exist (yet) are left out.
existing() { local f; for f; do [[ -e "$f" ]] && echo "$f"; done; return 0; }

# --- Debian packages -------------------------------------------------------------------------
apt_install() {  # packages...
  local missing=() pkg
  for pkg; do
    [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)" == *"install ok installed"* ]] || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    die "missing Debian packages: ${missing[*]}; install them (apt-get install ${missing[*]}) and run again"
  fi
  say "installing ${missing[*]} (apt-get)"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
      || die "apt-get could not install ${missing[*]}"
  fi
}

# A GCC sanitizer runtime (libasan.so, ...), as the compiler that builds with it links it.
gcc_runtime() {
  local path
  path="$(gcc -print-file-name="$1")"
  [[ "$path" == /* && -e "$path" ]] || die "GCC has no $1 (install the libgcc-<version>-dev that matches gcc, which ships the sanitizer runtimes)"
  echo "$path"
}

# --- a virtual environment with what building and testing need --------------------------------
make_venv() {  # dir
  local venv="$1" deps
  [[ -x "$venv/bin/python" ]] || python3 -m venv "$venv" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null
  # The build requirements, the runtime dependencies and the test extra, from pyproject.toml.
  mapfile -t deps < <("$venv/bin/python" - <<'EOF'
try:
    import tomllib
except ImportError:  # Python < 3.11
    print("\n".join(["scikit-build-core>=0.10", "pybind11>=2.12", "numpy>=1.23", "safetensors>=0.4", "pytest>=7"]))
else:
    with open("pyproject.toml", "rb") as f:
        meta = tomllib.load(f)
    print("\n".join(meta["build-system"]["requires"] + meta["project"]["dependencies"]
                    + meta["project"]["optional-dependencies"]["test"]))
EOF
  )
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${deps[@]}" ninja cmake
}

# Build and install _core into venv with extra compiler and linker flags; further arguments are
# -C options for scikit-build-core. -O1 -g1 for the bindings (pybind11 under UBSan is slow to
# compile at -O3); the engine keeps its own -O3.
build() {  # venv build-dir cxxflags ldflags [extra -C options...]
  local venv="$1" dir="$2" cxxflags="$3" ldflags="$4"
  shift 4
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-build-isolation \
    --no-deps --force-reinstall . \
    "-Cbuild-dir=$dir" -Ccmake.build-type=RelWithDebInfo \
    "-Ccmake.define.CMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1" \
    -Ccmake.define.MNISTMLP_CUDA=OFF \
    "-Ccmake.define.CMAKE_CXX_FLAGS=$cxxflags" \
    "-Ccmake.define.CMAKE_MODULE_LINKER_FLAGS=$ldflags" "$@"
}

# The installed module must be this venv's and must carry the sanitizer (symbol: $2).
check_module() {  # venv symbol
  local module
  # Found without importing it: an instrumented module loads only with its runtime preloaded.
  module="$("$1/bin/python" -c 'import importlib.util as u, pathlib
print(*pathlib.Path(u.find_spec("mnistmlp").origin).parent.glob("_core*.so"))')"
  [[ "$module" == "$repo/$1/"* ]] || die "mnistmlp._core resolves to $module, not to $1"
  # (No `| grep -q` under pipefail: grep's early exit would fail the pipeline with SIGPIPE.)
  [[ "$(nm -D "$module")" == *" $2"* ]] || die "$module has no $2: the sanitizer flags did not reach the build"
  echo "$module"
}

# Reports in the sanitizer log files prefix.*: prints them and counts those matching pattern.
show_reports() {  # prefix pattern
  local files=("$1".*) count=0
  [[ -e "${files[0]}" ]] || { echo 0; return; }
  count=$(cat "${files[@]}" | grep -cE "$2" || true)
  if ((count)); then
    {
      echo "----- sanitizer reports ($count) from ${files[*]#"$repo/"} -----"
      cat "${files[@]}"
      echo "----- end of reports -----"
    } >&2
  fi
  echo "$count"
}

logged() {  # runs "$@" with its output shown and copied to file $1; returns its exit code
  local file="$1"
  shift
  "$@" 2>&1 | tee "$file"  # pipefail: the command's exit code, tee's being 0
}

timed() {  # prints seconds taken by "$@" into the variable named by $1
  local var="$1" start=$SECONDS rc=0
  shift
  "$@" || rc=$?
  printf -v "$var" '%d' $((SECONDS - start))
  return $rc
}

# --- AddressSanitizer + UndefinedBehaviorSanitizer ----------------------------------------------
asan_tests=(
  tests/test_model_numerics.py tests/test_model_errors.py tests/test_model_files.py
  tests/test_reference.py tests/test_simd.py tests/test_model_training.py
  tests/test_cpu_kernels.py tests/test_concurrency.py tests/test_model_file_fuzz.py
)
# Left out: a terminal-rendering test whose 60,000-sample training is there only to make the
# run long enough to redraw its progress bar (half a minute under ASan); the other training
# tests cover the same engine paths.
asan_deselect=(--deselect tests/test_model_training.py::test_verbose_progress_bar_on_a_terminal)

run_asan_mode() {
  say "== AddressSanitizer + UndefinedBehaviorSanitizer (GCC) =="
  command -v g++ >/dev/null 2>&1 || die "g++ not found (apt-get install g++)"
  local libasan libubsan venv=.venv-asan build_s test_s rc=0 module
  libasan="$(gcc_runtime libasan.so)"
  libubsan="$(gcc_runtime libubsan.so)"
  make_venv "$venv"
  local flags="-fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=all -fno-omit-frame-pointer"
  say "building _core with $flags"
  CC=gcc CXX=g++ timed build_s build "$venv" build/sanitizers/asan "$flags" "-fsanitize=address,undefined" \
    || die "the ASan+UBSan build failed"
  module="$(check_module "$venv" __asan_init)"
  say "built in ${build_s}s: ${module#"$repo/"}"

  local tests
  mapfile -t tests < <(existing "${asan_tests[@]}")
  rm -f "$logs"/asan.* "$logs"/asan-pytest.log
  say "running ${tests[*]}"
  # detect_leaks=0: CPython keeps objects alive at exit by design. A report ends the process
  # (exit code 86 for ASan, 87 for UBSan). ASan writes its reports to $logs/asan.*; UBSan,
  # loaded beside ASan, ignores log_path and writes to stderr, so pytest leaves file descriptor
  # 2 alone (--capture=sys: a report is not lost in a dying test's capture) and its output is
  # kept in $logs/asan-pytest.log.
  local asan_options="detect_leaks=0:halt_on_error=1:exitcode=86:detect_stack_use_after_return=1"
  asan_options+=":check_initialization_order=1:strict_init_order=1:log_path=$logs/asan"
  timed test_s logged "$logs/asan-pytest.log" env LD_PRELOAD="$libasan $libubsan" \
    ASAN_OPTIONS="$asan_options" UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:exitcode=87" \
    timeout -k 30 1500 "$venv/bin/python" -m pytest -q -p no:cacheprovider --capture=sys \
    "${tests[@]}" "${asan_deselect[@]}" ${pytest_extra[@]+"${pytest_extra[@]}"} || rc=$?
  local asan_reports ubsan_reports
  asan_reports=$(show_reports "$logs/asan" "ERROR: AddressSanitizer")
  ubsan_reports=$(grep -c "runtime error:" "$logs/asan-pytest.log" || true)
  local verdict="tests passed, no reports"
  if ((asan_reports || ubsan_reports)); then
    verdict="$asan_reports ASan and $ubsan_reports UBSan reports (printed above; logs in build/sanitizers/logs)"
  elif ((rc)); then
    verdict="pytest failed (exit code $rc)"
  fi
  ((rc == 0 && asan_reports == 0 && ubsan_reports == 0)) || failed=1
  note "asan+ubsan" "build ${build_s}s, tests ${test_s}s: $verdict"
}

# --- ThreadSanitizer ----------------------------------------------------------------------------
# The threaded tests: training and inference on two and three threads, several Python threads
# predicting at once, and every concurrency test (reads, saves and callbacks during fit).
tsan_tests=(tests/test_simd.py tests/test_model_training.py tests/test_model_numerics.py tests/test_concurrency.py)
tsan_select=(-k "thread or concurrency")

# Why clang and not the GCC build on libomp: a GCC-built module does run on libomp through its
# GOMP_* entry points (loaded in libgomp's place), and Archer then sees most of OpenMP, but not
# the fork of a one-thread team nested in a worksharing loop (CpuBackend::for_each_chunk): with
# OMP_WAIT_POLICY=passive the nested region's reads of the caller's frame were reported (145
# reports in 30 runs of a 30-line reproducer, none when clang compiles the same source).
# Archer also prints "please export TSAN_OPTIONS='ignore_noninstrumented_modules=1'"; that would
# mute memory accesses through interceptors called from Python itself as well, so only libomp's
# are muted (.ci/tsan.supp).
run_tsan_mode() {
  say "== ThreadSanitizer (clang-$llvm, LLVM's libomp with Archer) =="
  apt_install "clang-$llvm" "libclang-rt-$llvm-dev" "libomp-$llvm-dev"
  local clangxx="clang++-$llvm" lib="/usr/lib/llvm-$llvm/lib"
  local archer="$lib/libarcher.so" libomp="$lib/libomp.so"
  command -v "$clangxx" >/dev/null 2>&1 || die "$clangxx not found after installing clang-$llvm"
  [[ -e "$archer" && -e "$libomp" ]] || die "no $archer or $libomp (Debian package libomp-$llvm-dev)"
  # LLVM 14's own shared TSan runtime (libclang_rt.tsan-x86_64.so) crashes at start-up on
  # Debian 12 (even under /bin/true), and the static one cannot go into a Python extension:
  # GCC's libtsan.so serves the clang-built module. It must define every __tsan_ entry point
  # the module calls (checked below).
  local libtsan venv=.venv-tsan build_s test_s rc=0 module
  libtsan="$(gcc_runtime libtsan.so)"
  make_venv "$venv"

  # Run under the same runtime with address-space randomisation off if TSan cannot map its
  # shadow memory otherwise (kernels with many mmap random bits).
  local launcher=()
  if ! LD_PRELOAD="$libtsan" "$venv/bin/python" -c pass >/dev/null 2>&1; then
    if setarch "$(uname -m)" -R env LD_PRELOAD="$libtsan" "$venv/bin/python" -c pass >/dev/null 2>&1; then
      launcher=(setarch "$(uname -m)" -R)
      say "TSan needs address-space randomisation off here: running under setarch -R"
    else
      die "Python does not start with $libtsan preloaded: $(LD_PRELOAD="$libtsan" "$venv/bin/python" -c pass 2>&1 | head -3)"
    fi
  fi
  local tsan_env=(LD_PRELOAD="$libtsan" OMP_TOOL_LIBRARIES="$archer")

  # Self-test: the same compiler, flags, runtime and tool on a library with a known race and
  # one with OpenMP synchronisation only.
  local selftest="$repo/build/sanitizers/tsan_selftest.so"
  "$clangxx" -std=c++17 -O1 -g -fPIC -shared -fsanitize=thread -fopenmp=libomp "-L$lib" \
    "-Wl,-rpath,$lib" .ci/tsan_selftest.cpp -o "$selftest" || die "could not build .ci/tsan_selftest.cpp"
  local which expect found out
  for which in racy clean; do
    rm -f "$logs/selftest-$which".*
    out="$(env "${tsan_env[@]}" ARCHER_OPTIONS=verbose=1 \
      TSAN_OPTIONS="suppressions=$repo/.ci/tsan.supp:exitcode=0:log_path=$logs/selftest-$which" \
      ${launcher[@]+"${launcher[@]}"} "$venv/bin/python" -c "import ctypes, sys
sys.exit(ctypes.CDLL('$selftest').selftest_$which())" 2>&1)" || die "self-test '$which' failed: $out"
    grep -q "Archer detected OpenMP application with TSan" <<<"$out" \
      || die "Archer did not start (OMP_TOOL_LIBRARIES=$archer): $out"
    found=$(cat "$logs/selftest-$which".* 2>/dev/null | grep -c "WARNING: ThreadSanitizer" || true)
    expect=$([[ $which == racy ]] && echo "at least one report" || echo "no report")
    if { [[ $which == racy ]] && ((found == 0)); } || { [[ $which == clean ]] && ((found > 0)); }; then
      cat "$logs/selftest-$which".* >&2 2>/dev/null || true
      die "TSan self-test: the $which library gave $found reports, expected $expect: TSan does not see OpenMP's synchronisation here"
    fi
  done
  say "self-test: Archer is active; a racy OpenMP library is reported, a correct one is not"

  say "building _core with clang-$llvm -fsanitize=thread against libomp"
  CC="clang-$llvm" CXX="$clangxx" timed build_s build "$venv" build/sanitizers/tsan "-fsanitize=thread" \
    "-fsanitize=thread -Wl,-rpath,$lib" \
    "-Ccmake.define.OpenMP_CXX_FLAGS=-fopenmp=libomp" -Ccmake.define.OpenMP_CXX_LIB_NAMES=omp \
    "-Ccmake.define.OpenMP_omp_LIBRARY=$libomp" || die "the TSan build failed"
  module="$(check_module "$venv" __tsan_init)"
  [[ "$(ldd "$module")" == *libomp.so* ]] || die "$module is not linked against libomp"
  local missing
  missing="$(comm -23 <(nm -D --undefined-only "$module" | grep -o '__tsan_[A-Za-z0-9_]*' | sort -u) \
                      <(nm -D --defined-only "$libtsan" | grep -o '__tsan_[A-Za-z0-9_]*' | sort -u))"
  [[ -z "$missing" ]] || die "$libtsan lacks entry points the module calls: $missing"
  say "built in ${build_s}s: ${module#"$repo/"}"

  local tests
  mapfile -t tests < <(existing "${tsan_tests[@]}")
  rm -f "$logs"/tsan.*
  say "running ${tests[*]} ${tsan_select[*]}"
  # halt_on_error=0 and exitcode=0: every report is logged, and .ci/tsan_reports.py decides:
  # any report not in .ci/tsan_known_races.txt fails the run.
  timed test_s env "${tsan_env[@]}" \
    TSAN_OPTIONS="suppressions=$repo/.ci/tsan.supp:halt_on_error=0:exitcode=0:history_size=4:second_deadlock_stack=1:log_path=$logs/tsan" \
    ${launcher[@]+"${launcher[@]}"} timeout -k 30 1500 "$venv/bin/python" -m pytest -q -p no:cacheprovider \
    "${tests[@]}" "${tsan_select[@]}" ${pytest_extra[@]+"${pytest_extra[@]}"} || rc=$?
  local verdict="tests passed" sorted=0 triage reports=()
  shopt -s nullglob
  reports=("$logs"/tsan.*)
  shopt -u nullglob
  triage="$("$venv/bin/python" .ci/tsan_reports.py .ci/tsan_known_races.txt ${reports[@]+"${reports[@]}"})" \
    || sorted=1
  printf '%s\n' "$triage"
  ((rc == 0)) || verdict="pytest failed (exit code $rc)"
  if ((sorted)); then
    verdict+=", new reports (printed above; logs in build/sanitizers/logs)"
  elif ((${#reports[@]})); then
    verdict+=", no new reports ($(tail -n 1 <<<"$triage"), see .ci/tsan_known_races.txt)"
  else
    verdict+=", no reports"
  fi
  ((rc == 0 && sorted == 0)) || failed=1
  note "tsan" "build ${build_s}s, tests ${test_s}s: $verdict"
}

((run_asan)) && run_asan_mode
((run_tsan)) && run_tsan_mode

say "summary"
printf '%s\n' "${summary[@]}"
if ((failed)); then
  say "FAILED"
  exit 1
fi
say "passed"
