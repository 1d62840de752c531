"""Run a program in a subprocess whose stdout is a terminal (a pty) or a pipe.

The program sees a colour terminal (TERM=xterm-256color, no NO_COLOR, COLUMNS or LINES)
whatever the tests run under, so a CI job with TERM=dumb or NO_COLOR set does not change what
these tests see; a test that wants otherwise says so through ``child_env``'s overrides.
"""

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from typing import Dict, List, Optional


def child_env(overrides: Optional[Dict[str, Optional[str]]] = None) -> Dict[str, str]:
    """The environment of a child: a colour terminal, with ``overrides`` (None removes)."""
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS", "LINES")}
    env["TERM"] = "xterm-256color"
    for key, value in (overrides or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def set_columns(fd: int, columns: int) -> None:
    """Resize the terminal ``fd`` to 24 rows of ``columns`` columns."""
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))


def run_on_terminal(cmd: List[str], env: Dict[str, str], columns: int = 80, timeout: float = 300) -> str:
    """Everything ``cmd`` writes to its standard output, a pseudo-terminal of ``columns``
    columns; fails the test if ``cmd`` fails. The terminal does not turn '\\n' into '\\r\\n',
    so the text is exactly what the program wrote."""
    main, child = pty.openpty()
    set_columns(child, columns)
    attributes = termios.tcgetattr(child)
    attributes[1] &= ~termios.ONLCR
    termios.tcsetattr(child, termios.TCSANOW, attributes)
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


def run_python(code: str, on_terminal: bool, timeout: float = 300) -> str:
    """The stdout of ``python -c code`` on an 80-column terminal or in a pipe; fails the test
    if the snippet fails."""
    cmd = [sys.executable, "-c", code]
    if on_terminal:
        return run_on_terminal(cmd, child_env(), timeout=timeout)
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=child_env())
    assert run.returncode == 0, run.stderr
    return run.stdout
