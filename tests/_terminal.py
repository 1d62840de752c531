"""Run a Python snippet in a subprocess whose stdout is a terminal (a pty) or a pipe."""

import os
import subprocess
import sys


def run_python(code: str, on_terminal: bool, timeout: float = 300) -> str:
    """The snippet's stdout; fails the test if the snippet fails."""
    cmd = [sys.executable, "-c", code]
    if not on_terminal:
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        assert run.returncode == 0, run.stderr
        return run.stdout
    import pty

    main, child = pty.openpty()
    proc = subprocess.Popen(cmd, stdout=child, stderr=subprocess.PIPE, close_fds=True)
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
