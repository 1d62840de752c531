"""The live displays in Jupyter: a real notebook, run through a real IPython kernel.

The notebook trains, on a subset of the real MNIST, an ``MLP`` with ``verbose=1`` and the
TFLearn notebook's network with ``show_metric=True``. Each epoch's live display must be one
display output updated in place -- the kernel sends ``display_data`` with a display id, then
``update_display_data`` messages for it -- whose final content is the epoch's summary, and
nothing the notebook shows may hold ``\\r`` or an escape sequence.

The kernel runs this interpreter (``sys.executable``), whatever kernels the machine has
installed: the test writes its own kernel spec into a temporary folder.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Dict, List

import pytest

from _training_programs import MLP_SCRIPT, TFLEARN_SCRIPT


def _require(module: str) -> Any:
    """Import a test dependency (the ``test`` extra has them all); skip without it, or fail
    under CI, where a missing one means a broken install rather than a choice."""
    try:
        return __import__(module)
    except ImportError as exc:
        message = f"this test needs {module} (pip install '.[test]'): {exc}"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


ESCAPE_OR_CR = re.compile("[\x1b\r]")


def run_notebook(tmp_path: Path, cells: List[str]) -> Any:
    """Execute ``cells`` in a fresh kernel of this interpreter; returns the executed notebook
    and, per cell, what the kernel sent: ``[(msg_type, display_id, content), ...]``."""
    nbformat = _require("nbformat")
    _require("ipykernel")
    nbclient = _require("nbclient")
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    spec_dir = tmp_path / "kernels" / "mnistmlp-test"
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "mnistmlp tests",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    manager = KernelManager(
        kernel_name="mnistmlp-test",
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")]),
    )

    messages: Dict[int, list] = defaultdict(list)

    class RecordingClient(nbclient.NotebookClient):
        def process_message(self, msg: Dict[str, Any], cell: Any, cell_index: int) -> Any:
            content = msg["content"]
            transient = content.get("transient") or {}
            messages[cell_index].append((msg["msg_type"], transient.get("display_id"), content))
            return super().process_message(msg, cell, cell_index)

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code) for code in cells])
    client = RecordingClient(
        notebook, km=manager, timeout=180, resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    return notebook, messages


def output_texts(cell: Any) -> List[str]:
    """Every text the cell's outputs hold (streams, and each MIME type of displays)."""
    texts = []
    for output in cell.outputs:
        if output.output_type == "stream":
            texts.append(output.text)
        elif output.output_type in ("display_data", "execute_result"):
            texts.extend(value if isinstance(value, str) else json.dumps(value) for value in output.data.values())
        elif output.output_type == "error":
            texts.append("\n".join(output.traceback))
    return texts


def check_in_place(cell: Any, sent: list, epochs: int) -> List[str]:
    """The cell's live displays were updated in place, one per epoch: returns the final
    text of each."""
    assert not [o for o in cell.outputs if o.output_type == "error"], output_texts(cell)
    for text in output_texts(cell):
        assert not ESCAPE_OR_CR.search(text), f"\\r or an escape sequence in a notebook output: {text!r}"
    created = [display_id for kind, display_id, _ in sent if kind == "display_data" and display_id]
    updates = Counter(display_id for kind, display_id, _ in sent if kind == "update_display_data")
    assert len(created) == epochs and len(set(created)) == epochs, "one display (with an id) per epoch"
    # A display is created by the epoch's first frame and updated by the next ones, the last
    # update being the summary: every display was updated at least once.
    assert set(updates) == set(created), f"each display was updated in place: {dict(updates)}"
    for kind, _, content in sent:
        if kind in ("update_display_data", "display_data"):
            assert not ESCAPE_OR_CR.search(content["data"]["text/plain"])
    displays = [o for o in cell.outputs if o.output_type == "display_data"]
    assert len(displays) == epochs, "the updates replaced the displays, they added none"
    return [o.data["text/plain"] for o in displays]


def test_live_displays_update_in_place_in_a_notebook(tmp_path: Path, mnist_dir: Path) -> None:
    notebook, sent = run_notebook(tmp_path, [MLP_SCRIPT, TFLEARN_SCRIPT])

    # MLP.fit(verbose=1): one live bar per epoch, ending as that epoch's summary line.
    finals = check_in_place(notebook.cells[0], sent[0], epochs=2)
    for epoch, text in enumerate(finals, 1):
        assert text.startswith(f"Epoch {epoch}/2 - ") and "\n" not in text
        for metric in ("loss", "accuracy", "val_loss", "val_accuracy"):
            assert re.search(rf"(^| ){metric} \d\.\d{{4}}( |$)", text), (metric, text)
    updates = [c["data"]["text/plain"] for kind, _, c in sent[0] if kind == "update_display_data"]
    assert any("%" in text and "loss 0." in text for text in updates), "live frames show the progress"
    assert not any(o.output_type == "stream" for o in notebook.cells[0].outputs), "no line printed besides"

    # TFLearn: two lines per epoch redrawn in place, ending with the validation figures.
    finals = check_in_place(notebook.cells[1], sent[1], epochs=2)
    for epoch, text in enumerate(finals, 1):
        first, second = text.split("\n")
        assert first.startswith("Training Step: ") and " | total loss: " in first
        assert second.startswith(f"| SGD | epoch: {epoch:03d} | loss: ")
        assert " - acc: " in second and " | val_loss: " in second and " - val_acc: " in second
        assert second.endswith("-- iter: 18000/18000")
    streams = "".join(o.text for o in notebook.cells[1].outputs if o.output_type == "stream")
    assert "Training samples: 18000" in streams and streams.count("accuracy over all 18000 batches") == 2
