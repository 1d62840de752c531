"""Run a Python snippet in a subprocess whose stdout is a terminal (a pty) or a pipe.

The snippet sees a colour terminal (TERM=xterm, no NO_COLOR) whatever the tests run under,
so a CI job with TERM=dumb or NO_COLOR set does not change what these tests see.
"""

import os
import subprocess
import sys


def run_python(code: str, on_terminal: bool, timeout: float = 300) -> str:
    """The snippet's stdout; fails the test if the snippet fails."""
    cmd = [sys.executable, "-c", code]
    env = {name: value for name, value in os.environ.items() if name != "NO_COLOR"}
    env["TERM"] = "xterm"
    if not on_terminal:
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        assert run.returncode == 0, run.stderr
        return run.stdout
    import pty

    main, child = pty.openpty()
    proc = subprocess.Popen(cmd, stdout=child, stderr=subprocess.PIPE, close_fds=True, env=env)
    os.close(child)
    chunks = []
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=timeout)
    os.close(main)
    assert proc.returncode == 0, proc.stderr.read().decode()
    return b"".join(chunks).decode()
