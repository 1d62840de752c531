"""``threads=None``: the smaller of OpenMP's setting and the usable CPUs, read at each call.

OpenMP reads ``OMP_NUM_THREADS`` when it loads, and a process's CPU affinity is its own, so
each case runs in a fresh Python process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Dict, Optional

import pytest

import mnistmlp

pytestmark = pytest.mark.skipif(not mnistmlp.get_config()["openmp"],
                                reason="this build has no OpenMP: every call runs on one thread")

CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def in_child(code: str, omp_num_threads: Optional[str] = None) -> Dict:
    """What ``code`` (which ends by printing a JSON object) prints in a fresh process whose
    OMP_NUM_THREADS is ``omp_num_threads`` (None: unset)."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    if omp_num_threads is not None:
        env["OMP_NUM_THREADS"] = omp_num_threads
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.splitlines()[-1])


MODEL_THREADS = """
import json, mnistmlp
print(json.dumps({"threads": mnistmlp.MLP([4, 3]).threads, "shown": mnistmlp.get_config()["max_threads"],
                  "asked": mnistmlp.MLP([4, 3], threads=2).threads}))
"""


def test_default_threads_follow_omp_num_threads_up_to_the_usable_cpus():
    assert in_child(MODEL_THREADS) == {"threads": CPUS, "shown": CPUS, "asked": 2}
    assert in_child(MODEL_THREADS, "1") == {"threads": 1, "shown": 1, "asked": 2}  # an explicit count wins
    assert in_child(MODEL_THREADS, str(CPUS + 3))["threads"] == CPUS


@pytest.mark.skipif(CPUS < 2 or not hasattr(os, "sched_setaffinity"), reason="needs 2 CPUs and CPU affinity")
def test_default_threads_follow_the_cpu_affinity_even_when_it_changes_later():
    code = """
import json, os, mnistmlp
model = mnistmlp.MLP([4, 3])
before = model.threads
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
print(json.dumps({"before": before, "after": model.threads, "new": mnistmlp.MLP([4, 3]).threads}))
"""
    assert in_child(code) == {"before": CPUS, "after": 1, "new": 1}


def test_threadpoolctl_limits_apply_to_models_made_before_them():
    pytest.importorskip("threadpoolctl")
    code = f"""
import json, numpy as np, mnistmlp
from threadpoolctl import threadpool_limits
model = mnistmlp.MLP([784, 16, 10], seed=0)
X = np.random.default_rng(0).random((64, 784), dtype=np.float32)
y = np.arange(64) % 10
before = model.threads
with threadpool_limits(1, "openmp"):
    inside = model.threads
    model.fit(X, y, epochs=1, batch_size=8, verbose=0)
    fresh = mnistmlp.MLP([4, 3]).threads
print(json.dumps({{"before": before, "inside": inside, "fresh": fresh, "after": model.threads}}))
"""
    assert in_child(code) == {"before": CPUS, "inside": 1, "fresh": 1, "after": CPUS}
