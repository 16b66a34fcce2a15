"""Lines a user must see on the terminal, not only in the executed notebook.

Inside a Jupyter kernel, `sys.stderr` is the notebook's output; the kernel process's own stderr
(`sys.__stderr__`, fd 2) is the terminal of a notebook run by hand with papermill (the kernel
inherits it) and the run's kernel.log under `kerasbench run`. `say` writes to both, once where
they are the same stream (a plain process). Kernel side: Python 3.6 syntax, standard library.
"""

import sys


def say(line):
    """Writes `line` (one line, no end of line) to the notebook and to the process's stderr; on
    a terminal it starts a line of its own (papermill's progress bar ends without one)."""
    streams = [sys.stderr]
    if sys.__stderr__ is not None and sys.__stderr__ is not sys.stderr:
        streams.append(sys.__stderr__)
    for stream in streams:
        isatty = getattr(stream, "isatty", None)
        lead = "\n" if stream is sys.__stderr__ and isatty is not None and _safe(isatty) else ""
        stream.write(lead + line + "\n")
        stream.flush()


def _safe(isatty):
    try:
        return bool(isatty())
    except (ValueError, OSError):  # a closed stream
        return False
