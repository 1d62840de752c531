"""The example scripts run end to end on the real MNIST files."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_train_mnist_example(mnist_dir):
    script = EXAMPLES / "train_mnist.py"
    env = dict(os.environ, MNISTMLP_DATA=str(mnist_dir))
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "Training samples: 55000" in out and "| SGD | epoch: 001 |" in out
    accuracy = float(re.search(r"Test accuracy: ([0-9.]+) on 10,000 test images", out).group(1))
    assert 0.4 < accuracy <= 1.0, "well above chance (0.1); about 0.7 for this setting"
    true = re.search(r"true: +((?:\d ){9}\d)", out).group(1)
    assert true == "7 2 1 0 4 1 4 9 5 9", "the first ten test labels"
    assert re.search(r"predicted: +(?:\d ){9}\d", out)
    assert "Test image 0 (true label 7" in out and "@@" in out, "an ASCII drawing of the digit"


def test_notebook_part_of_the_example_is_the_notebook():
    """The example's first part is the notebook's code as the TFLearn tests run it."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    try:
        from test_tflearn import NOTEBOOK
    finally:
        sys.path.pop(0)
    source = (EXAMPLES / "train_mnist.py").read_text()
    assert NOTEBOOK.strip() in source
