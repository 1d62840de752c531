"""Starting `mnistmlp serve` in a process of its own, for the server and browser tests."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Dict, Optional, Tuple


def start_server(mnist_dir: Path, *args: str, env: Optional[Dict[str, str]] = None) -> Tuple[subprocess.Popen, str]:
    """``mnistmlp serve args...`` on real MNIST, with ``env`` added to the environment; (the
    process, the page's address), once it answers. Ctrl-C (SIGINT) then stops it, even where
    the tests run with SIGINT ignored (a background job), since the server catches it itself."""
    env = {**os.environ, **(env or {}), "MNISTMLP_DATA": str(mnist_dir)}
    process = subprocess.Popen([sys.executable, "-m", "mnistmlp", "serve", *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None and process.stderr is not None
    line = process.stdout.readline()
    if "the page is at" not in line:
        process.kill()
        raise AssertionError(f"the server did not start: {line}{process.stderr.read()}")
    url = line.split("the page is at ")[1].split()[0]
    urllib.request.urlopen(url + "api/config", timeout=60).close()
    return process, url
