"""Long-running fuzzing of model files with atheris (libFuzzer for Python). Not run by CI or
pytest: see README.md in this folder.

The property is the one ``tests/test_model_file_fuzz.py`` checks on a few thousand seeded
cases (``tests/_model_file_fuzzing.py``): ``MLP.load`` of any bytes gives a model or raises
exactly ModelFileError naming the file, and a model it gives predicts finite outputs or
refuses with a ValueError. Half of the mutations are libFuzzer's own, on raw bytes, guided by
the coverage of mnistmlp's Python code; half are the test's structured ones (header, metadata,
description JSON, tensor entries and values), so inputs stay deep in the format.
"""

import sys
import tempfile
from pathlib import Path

import atheris
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for _model_file_fuzzing

from _model_file_fuzzing import load_problem, mutate, prediction_problem, seed_files  # noqa: E402

# Coverage feedback from every Python function loaded (instrument_imports misses modules that
# an editable install's import hook loads).
atheris.instrument_all()

SEEDS = seed_files()
FILE = Path(tempfile.mkdtemp(prefix="mnistmlp-fuzz-")) / "input.safetensors"


def test_one_input(data: bytes) -> None:
    FILE.write_bytes(data)
    model, problem = load_problem(FILE)
    if problem is None and model is not None:
        problem = prediction_problem(model)
    if problem is not None:
        raise AssertionError(problem)


def custom_mutator(data: bytes, max_size: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    if rng.random() < 0.5:
        return atheris.Mutate(data, max_size)
    _, mutated = mutate(rng, data, SEEDS)
    return mutated[:max_size]


def main() -> None:
    corpus = next((arg for arg in sys.argv[1:] if not arg.startswith("-")), None)
    if corpus is not None:
        folder = Path(corpus)
        folder.mkdir(parents=True, exist_ok=True)
        if not any(folder.iterdir()):
            for index, data in enumerate(SEEDS):
                (folder / f"seed{index}.safetensors").write_bytes(data)
    atheris.Setup(sys.argv, test_one_input, custom_mutator=custom_mutator)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
