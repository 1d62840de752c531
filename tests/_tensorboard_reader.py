"""Event files read back as TensorBoard's scalars plugin reads them (TensorBoard is in the
test extra; without it the calling test skips, or fails under CI)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

Scalars = Dict[str, Dict[str, List[Tuple[int, float, float]]]]


def read_scalars(logdir: Path) -> Scalars:
    """{run: {tag: [(step, wall_time, value)]}} of every run under ``logdir``."""
    try:
        from tensorboard import context
        from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
    except ImportError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"TensorBoard is part of the test extra (pip install -e .[test]) but: {exc}")
        pytest.skip(f"TensorBoard is not installed (pip install -e .[test]): {exc}")
    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(logdir))
    multiplexer.Reload()
    provider = data_provider.MultiplexerDataProvider(multiplexer, str(logdir))
    read = provider.read_scalars(context.RequestContext(), experiment_id="", plugin_name="scalars",
                                 downsample=10**6)
    return {run: {tag: [(d.step, d.wall_time, d.value) for d in data] for tag, data in tags.items()}
            for run, tags in read.items()}
