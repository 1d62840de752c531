"""TensorBoard's own readers, for tests of the event files mnistmlp writes (TensorBoard is in
the test extra; without it the calling test skips, or fails under CI)."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace
from typing import Dict, List, Tuple

import pytest

Scalars = Dict[str, Dict[str, List[Tuple[int, float, float]]]]


def tensorboard_modules() -> SimpleNamespace:
    """The TensorBoard modules the tests read with."""
    try:
        from tensorboard import context
        from tensorboard.backend.event_processing import data_provider, event_file_loader, plugin_event_multiplexer
        from tensorboard.compat.proto import event_pb2, summary_pb2
        from tensorboard.compat.tensorflow_stub import errors, pywrap_tensorflow
    except ImportError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"TensorBoard is part of the test extra (pip install -e .[test]) but: {exc}")
        pytest.skip(f"TensorBoard is not installed (pip install -e .[test]): {exc}")
    return SimpleNamespace(context=context, data_provider=data_provider, loader=event_file_loader,
                           multiplexer=plugin_event_multiplexer, event_pb2=event_pb2, summary_pb2=summary_pb2,
                           errors=errors, pywrap=pywrap_tensorflow)


def read_scalars(logdir: Path) -> Scalars:
    """{run: {tag: [(step, wall_time, value)]}} of every run under ``logdir``, as TensorBoard's
    scalars plugin gets them, all of them (its server keeps a random 1000 a tag)."""
    tb = tensorboard_modules()
    multiplexer = tb.multiplexer.EventMultiplexer(size_guidance={"tensors": 0})
    multiplexer.AddRunsFromDirectory(str(logdir))
    multiplexer.Reload()
    provider = tb.data_provider.MultiplexerDataProvider(multiplexer, str(logdir))
    read = provider.read_scalars(tb.context.RequestContext(), experiment_id="", plugin_name="scalars",
                                 downsample=10**6)
    return {run: {tag: [(d.step, d.wall_time, d.value) for d in data] for tag, data in tags.items()}
            for run, tags in read.items()}
