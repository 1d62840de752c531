"""Studies at scale, on a small slice of the real MNIST: runs in joblib's worker processes and
on a real Dask cluster give the serial runs' records bit for bit; each record reaches
results.jsonl as its run ends, and a study killed halfway resumes with only the missing runs.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

from mnistmlp import experiments

# 8 runs of a few hundred images each: enough to share out between two workers.
GRID = dict(widths=[8, 16], depths=[1, 2], optimizers=["sgd"], learning_rates=0.1, batch_size=32, epochs=1,
            seeds=[0, 1], train_limit=300, progress=False)


def without_timing(records: List[Dict]) -> List[Dict]:
    return [{k: v for k, v in record.items() if k not in experiments.TIMING_FIELDS} for record in records]


def by_key(records: List[Dict]) -> Dict[str, Dict]:
    keyed = {record["key"]: record for record in without_timing(records)}
    assert len(keyed) == len(records), "one record per run"
    return keyed


@pytest.fixture(scope="module")
def serial(mnist_dir) -> List[Dict]:
    return experiments.run_grid(**GRID, data_dir=mnist_dir)


def test_records_carry_a_key_of_what_they_depend_on(serial, mnist_dir):
    assert len({r["key"] for r in serial}) == len(serial) == 8
    assert {r["train_limit"] for r in serial} == {300} and len({r["data_sha256"] for r in serial}) == 1
    again = experiments.run_grid(**{**GRID, "seeds": [1]}, data_dir=mnist_dir)
    assert [r["key"] for r in again] == [r["key"] for r in serial if r["seed"] == 1]
    other_data = experiments.run_grid(**{**GRID, "seeds": [1], "train_limit": 299}, data_dir=mnist_dir)
    assert not {r["key"] for r in other_data} & {r["key"] for r in serial}


def test_joblib_processes_give_the_serial_records_and_stream_them(serial, mnist_dir, tmp_path):
    records = experiments.run_grid(**GRID, data_dir=mnist_dir, n_jobs=2, threads_per_job=1, out_dir=tmp_path)
    assert without_timing(records) == without_timing(serial)  # bitwise: floats compared exactly
    assert by_key(experiments.load_records(tmp_path)) == by_key(serial)


def test_a_dask_cluster_gives_the_serial_records(serial, mnist_dir):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) \
            as cluster, distributed.Client(cluster) as client:
        # Dask's workers start with OMP_NUM_THREADS=1: one engine thread per run by default.
        assert set(client.run(lambda: __import__("mnistmlp").MLP([4, 3]).threads).values()) == {1}
        with distributed.get_task_stream(client) as tasks:
            records = experiments.run_grid(**GRID, data_dir=mnist_dir, scheduler=client)
        assert len({task["worker"] for task in tasks.data}) == 2
        assert without_timing(records) == without_timing(serial)
        by_address = experiments.run_grid(**{**GRID, "seeds": [1]}, data_dir=mnist_dir,
                                          scheduler=cluster.scheduler_address)
        assert without_timing(by_address) == without_timing([r for r in serial if r["seed"] == 1])


def test_a_records_file_is_resumed_only_when_asked_and_a_cut_last_line_is_dropped(serial, mnist_dir, tmp_path):
    experiments.run_grid(**{**GRID, "seeds": [0]}, data_dir=mnist_dir, out_dir=tmp_path)
    with pytest.raises(ValueError, match=r"results.jsonl already holds 4 runs: resume \(--resume\)"):
        experiments.run_grid(**GRID, data_dir=mnist_dir, out_dir=tmp_path)
    path = tmp_path / experiments.RECORDS_FILE
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:3]) + lines[3][:40])  # killed while writing the fourth
    assert len(experiments.load_records(path)) == 3
    records = experiments.run_grid(**GRID, data_dir=mnist_dir, out_dir=tmp_path, resume=True)
    assert without_timing(records) == without_timing(serial)
    assert by_key(experiments.load_records(path)) == by_key(serial)  # 3 kept, 5 run: the 4th again


def test_a_study_killed_halfway_resumes_with_only_the_missing_runs(mnist_dir, tmp_path):
    grid = ["--widths", "32,64", "--depths", "1,2", "--optimizers", "sgd,adam", "--learning-rates", "0.01",
            "--batch-size", "10", "--epochs", "1", "--seeds", "2", "--train-limit", "4000"]
    runs = 16
    command = [sys.executable, "-m", "mnistmlp", "experiments", *grid, "--threads", "1", "--out", str(tmp_path)]
    env = {**os.environ, "MNISTMLP_DATA": str(mnist_dir)}
    # stderr is a pipe: one line per finished run, each after its record is on disk.
    sweep = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    assert sweep.stderr is not None
    for line in sweep.stderr:
        if line.startswith(f"run {runs // 2}/{runs}:"):
            sweep.kill()  # SIGKILL: no handler, no cleanup
            break
    assert sweep.wait(timeout=60) == (-signal.SIGKILL if hasattr(signal, "SIGKILL") else 1)
    recorded = len(experiments.load_records(tmp_path))
    assert runs // 2 <= recorded < runs

    resumed = subprocess.run(command + ["--resume"], capture_output=True, text=True, env=env, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    lines = resumed.stderr.splitlines()
    assert lines[0] == (f"study: {recorded} of {runs} runs already recorded in {tmp_path / 'results.jsonl'}; "
                        f"running the other {runs - recorded}")
    assert [line.split(":")[0] for line in lines[1:]] == [f"run {n}/{runs - recorded}" for n in
                                                          range(1, runs - recorded + 1)]
    assert "trained on the first 4,000 training images only" in resumed.stdout

    uninterrupted = experiments.run_grid(widths=[32, 64], depths=[1, 2], optimizers=["sgd", "adam"],
                                         learning_rates=0.01, batch_size=10, epochs=1, seeds=[0, 1],
                                         train_limit=4000, data_dir=mnist_dir, threads_per_job=2, progress=False)
    assert by_key(experiments.load_records(tmp_path)) == by_key(uninterrupted)


def test_the_progress_is_a_bar_on_a_terminal(serial, mnist_dir, monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setenv("COLUMNS", "200")
    experiments.run_grid(**{**GRID, "seeds": [0], "progress": True}, data_dir=mnist_dir)
    shown = terminal.getvalue()
    assert "\r" in shown and "study: 100% [####################] 4/4" in shown and "\nrun " not in shown
    # The last run's summary stays after the bar, whose line ends with the study.
    assert "elapsed 2×16 relu SGD lr=0.1 seed 0: test accuracy" in shown and shown.endswith(" s\n")


def test_records_to_a_dataframe(serial):
    pytest.importorskip("pandas")
    frame = experiments.records_to_dataframe(serial)
    assert len(frame) == 8 and list(frame["width"]) == [8, 8, 8, 8, 16, 16, 16, 16]
    assert list(frame["depth"]) == [1, 1, 2, 2] * 2 and (frame["test_accuracy"] == [r["test_accuracy"] for r in serial]).all()


def test_records_to_a_dataframe_names_the_extra_without_pandas(serial, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"records_to_dataframe needs pandas.*pip install 'mnistmlp\[pandas\]'"):
        experiments.records_to_dataframe(serial)


def test_bad_sweep_arguments(mnist_dir, tmp_path):
    with pytest.raises(ValueError, match=r"n_jobs must be an integer >= 1, or -1 \(one per core\), got 0"):
        experiments.run_grid(**GRID, n_jobs=0)
    with pytest.raises(ValueError, match="give n_jobs or a scheduler, not both"):
        experiments.run_grid(**GRID, n_jobs=2, scheduler="tcp://127.0.0.1:1")
    with pytest.raises(ValueError, match="data= is for runs in this process"):
        experiments.run_grid(**GRID, n_jobs=2, data=object())
    with pytest.raises(ValueError, match="plots need an output folder"):
        experiments.run_preset("tutorial", plot=True)
    with pytest.raises(ValueError, match="unknown optimizer 'sgdd'"):
        experiments.grid_preset(optimizers=("sgdd",))
    with pytest.raises(TypeError, match="grid_preset: unknown width"):
        experiments.grid_preset(width=(10,))
    assert experiments.grid_preset(widths=(8,), optimizers=("rmsprop", "sgd")).description == (
        "Widths 8 × depths 1, 2, 3, 4, RMSProp (lr 0.001) and SGD (lr 0.001, 0.1), batch 32, 3 epochs.")
