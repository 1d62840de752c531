"""Starting `mnistmlp serve` in a process of its own, for the server and browser tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, Optional, Tuple


def start_server(mnist_dir: Path, *args: str, env: Optional[Dict[str, str]] = None) -> Tuple[subprocess.Popen, str]:
    """``mnistmlp serve args...`` on real MNIST, with ``env`` added to the environment; (the
    process, the page's address), once it listens."""
    env = {**os.environ, **(env or {}), "MNISTMLP_DATA": str(mnist_dir)}
    process = subprocess.Popen([sys.executable, "-m", "mnistmlp", "serve", *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None and process.stderr is not None
    line = process.stdout.readline()
    if "the page is at" not in line:
        process.kill()
        raise AssertionError(f"the server did not start: {line}{process.stderr.read()}")
    return process, line.split("the page is at ")[1].split()[0]
