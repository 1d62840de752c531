"""Seeded mutation fuzzing of model files: thousands of damaged files, each loaded.

Every load must give a model or raise exactly ModelFileError naming the file. The long-running
version of the same property is ``fuzz/fuzz_model_file.py`` (see ``fuzz/README.md``).
"""

from __future__ import annotations

import pytest

from _model_file_fuzzing import damaged_file, load_problem, prediction_problem, seed_files

CASES = 3000
SEED = 20240612


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    """For each seeded case: (what was done, the load's problem, the model it gave or None)."""
    folder = tmp_path_factory.mktemp("fuzz")
    seeds = seed_files()
    results = []
    for case in range(CASES):
        done, data = damaged_file(SEED, case, seeds)
        path = folder / f"case{case}.safetensors"
        path.write_bytes(data)
        model, problem = load_problem(path)
        path.unlink()
        results.append((f"case {case}: {done}", problem, model))
    return results


def _report(failures):
    return f"{len(failures)} failures, e.g.:\n" + "\n".join(failures[:15])


def test_every_damaged_file_loads_or_raises_model_file_error(outcomes):
    failures = [f"{case}: {problem}" for case, problem, _ in outcomes if problem is not None]
    assert not failures, _report(failures)
    loaded = sum(model is not None for _, _, model in outcomes)
    assert 0 < loaded < len(outcomes) / 2, "the mutations neither break every file nor leave most intact"


def test_every_loaded_damaged_file_predicts_finite_outputs_or_refuses(outcomes):
    failures = [f"{case}: {problem}" for case, _, model in outcomes
                if model is not None and (problem := prediction_problem(model)) is not None]
    assert not failures, _report(failures)
