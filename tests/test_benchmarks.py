"""The benchmark scripts keep working: each runs once, tiny, as a subprocess.

Only the exit code and the keys of the JSON report are checked, never a timing. The
training benchmark runs on ``--synthetic`` data without torch, so neither the MNIST files
nor torch are needed; the scikit-learn benchmark too, when scikit-learn is installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import mnistmlp

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def run_benchmark(script: str, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        capture_output=True, text=True, timeout=120, cwd=BENCHMARKS.parent,
    )
    assert result.returncode == 0, f"{script} failed:\n{result.stdout}\n{result.stderr}"
    return result


def test_bench_train(tmp_path: Path) -> None:
    report = tmp_path / "train.json"
    result = run_benchmark(
        "bench_train.py", "--synthetic", "--samples", "200", "--repeats", "1", "--inference-repeats", "1",
        "--configs", "A,C", "--optimizers", "sgd,adam", "--batch-sizes", "64", "--threads", "1",
        "--peers", "mnistmlp,numpy", "--pause", "0", "--roof-repeats", "1", "--json", str(report),
    )
    assert "| A 784-100-10" in result.stdout and "mnistmlp samples/s" in result.stdout
    data = json.loads(report.read_text())
    assert {"environment", "settings", "roof", "training", "inference", "notes"} <= set(data)
    assert {"date", "cpu", "cores", "mnistmlp", "numpy"} <= set(data["environment"])
    assert [r["threads"] for r in data["roof"]] == [1] and data["roof"][0]["gflops"] > 0
    assert len(data["roof"][0]["measurements"]) == 2  # at the start and at the end
    assert len(data["training"]) == 4 and len(data["inference"]) == 2
    for row in data["training"]:
        assert {"config", "optimizer", "batch_size", "threads", "samples", "flops_per_sample", "peers",
                "ratios", "mnistmlp_gflops", "percent_of_roof", "other_cores"} <= set(row)
        assert set(row["peers"]) == {"mnistmlp", "numpy"} and set(row["ratios"]) == {"numpy"}
        for peer in row["peers"].values():
            assert {"seconds", "median_seconds", "samples_per_second", "epochs"} <= set(peer)
            assert {"loss", "accuracy"} <= set(peer["epochs"][0])
    for row in data["inference"]:
        assert set(row["peers"]) == {"mnistmlp", "numpy"} and "numpy" in row["ratios"]


def test_bench_train_callbacks(tmp_path: Path) -> None:
    """The callbacks peer trains as mnistmlp does, reports its hooks' time, and stays out of
    the inference table."""
    report = tmp_path / "train.json"
    result = run_benchmark(
        "bench_train.py", "--synthetic", "--samples", "200", "--repeats", "2", "--inference-repeats", "1",
        "--batch-sizes", "64", "--optimizers", "adam", "--threads", "1", "--peers", "mnistmlp,callbacks",
        "--pause", "0", "--roof-repeats", "1", "--json", str(report),
    )
    assert "vs callbacks" in result.stdout and "- callbacks, A 784-100-10 adam batch 64, 1 thread: hooks" in result.stdout
    data = json.loads(report.read_text())
    peers = data["training"][0]["peers"]
    assert [e["loss"] for e in peers["callbacks"]["epochs"]] == [e["loss"] for e in peers["mnistmlp"]["epochs"]]
    assert all(e["hook_seconds"] > 0 for e in peers["callbacks"]["epochs"])
    assert set(data["inference"][0]["peers"]) == {"mnistmlp"}


def copy_of_installed_mnistmlp(folder: Path) -> Path:
    """``folder``/mnistmlp: a copy of the mnistmlp this Python imports, compiled module
    included (an editable install keeps it apart from the Python files), and the libraries a
    repaired wheel keeps beside it (auditwheel's ``mnistmlp.libs``: libgomp), as
    ``build_baseline.sh`` would leave a build there, without the build's minute."""
    import mnistmlp
    import mnistmlp._core

    installed = Path(mnistmlp.__file__).parent
    package = folder / "mnistmlp"
    shutil.copytree(installed, package, ignore=shutil.ignore_patterns("__pycache__"))
    core = Path(mnistmlp._core.__file__)
    if not (package / core.name).exists():
        shutil.copy2(core, package / core.name)
    libraries = installed.parent / "mnistmlp.libs"
    if libraries.is_dir():
        shutil.copytree(libraries, folder / libraries.name)
    return folder


def test_bench_train_baseline(tmp_path: Path) -> None:
    """--baseline DIR times a second build in a worker process: here a copy of the current
    one, which must come from DIR (not from an editable install's finder)."""
    baseline = copy_of_installed_mnistmlp(tmp_path / "baseline")
    (baseline / "SOURCE_REVISION").write_text("abc1234 " + "0" * 40 + "\n")
    report = tmp_path / "train.json"
    result = run_benchmark(
        "bench_train.py", "--synthetic", "--samples", "300", "--repeats", "2", "--inference-repeats", "2",
        "--configs", "A", "--optimizers", "adam", "--batch-sizes", "32", "--threads", "1",
        "--baseline", str(baseline), "--peers", "mnistmlp,baseline,numpy", "--pause", "0",
        "--roof-repeats", "1", "--json", str(report),
    )
    assert "baseline samples/s" in result.stdout and "vs baseline" in result.stdout
    assert "- baseline: mnistmlp" in result.stdout and "(git abc1234)" in result.stdout
    # Both builds' lines name the level their kernels run at, not only what they were compiled for.
    config = mnistmlp.get_config()
    build = f"kernels {config['simd_level']}, compiled for {config['simd']}"
    assert result.stdout.count(build) == 2, result.stdout
    data = json.loads(report.read_text())
    build = data["environment"]["baseline"]
    assert Path(build["mnistmlp_file"]).resolve().is_relative_to(baseline.resolve())
    assert build["source_revision"] == "abc1234" and build["config"]["simd"]
    for row in data["training"] + data["inference"]:
        assert list(row["peers"]) == ["mnistmlp", "baseline", "numpy"]
        assert set(row["ratios"]) == {"baseline", "numpy"} and row["ratios"]["baseline"] > 0
        assert len(row["peers"]["baseline"]["seconds"]) == 2
    # The same build, the same weights and shuffling: the same epochs.
    peers = data["training"][0]["peers"]
    losses = {name: [epoch["loss"] for epoch in peers[name]["epochs"]] for name in ("mnistmlp", "baseline")}
    assert losses["baseline"] == losses["mnistmlp"]


def test_bench_train_baseline_refusals(tmp_path: Path) -> None:
    def bench(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(BENCHMARKS / "bench_train.py"), "--synthetic", *args],
                              capture_output=True, text=True, timeout=60)

    result = bench("--baseline", str(tmp_path), "--samples", "100")
    assert result.returncode == 1 and "holds no mnistmlp package" in result.stderr
    result = bench("--peers", "mnistmlp,baseline")
    assert result.returncode == 2 and "needs --baseline" in result.stderr
    # build_baseline.sh replaces DIR: never one it did not make.
    (tmp_path / "precious").write_text("data")
    script = subprocess.run(["bash", str(BENCHMARKS / "build_baseline.sh"), "HEAD", str(tmp_path)],
                            capture_output=True, text=True, timeout=60)
    assert script.returncode == 2 and "not a baseline built by this script" in script.stderr
    assert (tmp_path / "precious").read_text() == "data"


def import_benchmark_module(name: str):
    sys.path.insert(0, str(BENCHMARKS))
    try:
        return __import__(name)
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_interleaved_takes_a_self_timed_call() -> None:
    """A contender that timed itself (in a worker process) replaces the parent's measurement."""
    common = import_benchmark_module("_common")
    timings = common.interleaved({
        "here": lambda: (lambda: "result"),
        "elsewhere": lambda: (lambda: common.SelfTimed("remote result", 123.0, 0.5)),
    }, repeats=2)
    assert timings.seconds["elsewhere"] == [123.0, 123.0] and timings.other_cpu["elsewhere"] == [0.5, 0.5]
    assert timings.results["elsewhere"] == ["remote result"] * 2
    assert timings.results["here"] == ["result"] * 2 and all(s < 1.0 for s in timings.seconds["here"])


def test_bench_train_flop_count() -> None:
    flops_per_sample = import_benchmark_module("bench_train").flops_per_sample
    # forward 784*100 + 100*10, dW the same again, dX of the second layer only: 100*10.
    assert flops_per_sample([784, 100, 10]) == 2 * (2 * (78_400 + 1_000) + 1_000)


def test_bench_train_refuses_bad_options() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench_train.py"), "--synthetic", "--configs", "E"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2 and "choose from A,B,C,D" in result.stderr


def test_bench_train_explains_missing_data(tmp_path: Path) -> None:
    env = dict(os.environ, MNISTMLP_DATA=str(tmp_path / "empty"), XDG_CACHE_HOME=str(tmp_path / "cache"))
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench_train.py"), "--peers", "mnistmlp,numpy"],
        capture_output=True, text=True, timeout=60, env=env,
    )
    assert result.returncode == 1
    assert "MNISTMLP_DATA" in result.stderr and "--synthetic" in result.stderr


def test_bench_kernels(tmp_path: Path) -> None:
    report = tmp_path / "kernels.json"
    result = run_benchmark(
        "bench_kernels.py", "--shapes", "784x100,10x10", "--batch-sizes", "10,32", "--threads", "1",
        "--repeats", "1", "--min-time", "0.001", "--pause", "0", "--roof-repeats", "1",
        "--json", str(report),
    )
    assert "| 784->100" in result.stdout
    data = json.loads(report.read_text())
    assert {"environment", "settings", "roof", "kernels", "notes"} <= set(data)
    assert len(data["kernels"]) == 2 * 2 * 2  # shapes x batch sizes x passes
    for row in data["kernels"]:
        assert {"pass", "n_in", "n_out", "batch_size", "threads", "flops", "peers", "ratio"} <= set(row)
        assert row["naive_checked"]
        for peer in row["peers"].values():
            assert {"seconds_per_call", "median_seconds", "gflops", "calls_per_timing"} <= set(peer)


def test_bench_sklearn(tmp_path: Path) -> None:
    pytest.importorskip("sklearn", minversion="1.6")
    report = tmp_path / "sklearn.json"
    result = run_benchmark(
        "bench_sklearn.py", "--synthetic", "--samples", "300", "--epochs", "1", "--seeds", "2", "--threads", "1",
        "--repeats", "1", "--pause", "0", "--roof-repeats", "1", "--json", str(report),
    )
    assert "| threads | scikit-learn fit s" in result.stdout and "- target (at least 10x faster" in result.stdout
    data = json.loads(report.read_text())
    assert {"environment", "settings", "roof", "fit", "inference", "notes"} <= set(data)
    assert data["environment"]["scikit-learn"]
    [fit] = data["fit"]
    assert {"threads", "samples", "epochs", "peers", "speed_up", "accuracy_points", "other_cores"} <= set(fit)
    for peer in fit["peers"].values():
        assert len(peer["seconds"]) == len(peer["test_accuracy"]) == 2 and peer["n_iter"] == [1, 1]
    assert {"median_seconds", "speed_up"} <= set(data["inference"][0])
    assert "usage:" in run_benchmark("bench_sklearn.py", "--help").stdout


@pytest.mark.parametrize("script", ["bench_train.py", "bench_kernels.py"])
def test_help(script: str) -> None:
    assert "usage:" in run_benchmark(script, "--help").stdout


def test_bench_sweep(tmp_path: Path, mnist_dir: Path) -> None:
    pytest.importorskip("distributed")
    report = tmp_path / "sweep.json"
    result = run_benchmark(
        "bench_sweep.py", "--data-dir", str(mnist_dir), "--seeds", "1", "--train-limit", "200", "--repeats", "1",
        "--pause", "0", "--roof-repeats", "1", "--json", str(report),
    )
    assert "| joblib" in result.stdout and "Dask overhead per run:" in result.stdout
    data = json.loads(report.read_text())
    assert {"environment", "settings", "roof", "sweeps", "startup_seconds", "dask_overhead_per_run_seconds",
            "dask_round_trip_seconds", "notes"} <= set(data)
    assert data["dask_round_trip_seconds"] > 0
    assert list(data["sweeps"]) == ["serial", "serial, 1 thread", "joblib", "dask"]
    for sweep in data["sweeps"].values():
        assert {"layout", "seconds", "median_seconds", "runs_per_second", "vs_serial"} <= set(sweep)
