"""Errors a user can cause: the CLI prints their one-line message and exits with code 2."""

import re

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class UserError(Exception):
    """Bad input (a typo, a missing file, an impossible value): one line, no traceback."""

    exit_code = 2


def one_line(text, limit=500):
    """The last non-empty line of `text` (an exception's message, a child's stderr), cut to
    `limit` characters: what a status line or run.json's `error` shows."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    line = lines[-1] if lines else str(text)
    return line if len(line) <= limit else line[: limit - 3] + "..."


# Lines that frame an exception's message rather than say what went wrong: Keras 3's layer-call
# wrapper ("Exception encountered when calling X.call()." ... "Arguments received by X.call():"
# and one line per argument), TensorFlow's graph errors and the tracebacks they quote.
FRAMING = (
    "Exception encountered when calling",
    "Graph execution error",
    "Detected at node",
    'File "',
    "[[",
    "Traceback (most recent call last)",
)
ARGUMENTS_BLOCK = "Arguments received by"


def cause_line(text, limit=500):
    """The first line of an exception's message that says what went wrong, cut to `limit`
    characters: Keras' "Arguments received by ..." block and what follows it are left out, and so
    are the lines in FRAMING; a line that ends in ':' ("Error encountered:") is joined with the
    next. Terminal colour codes are removed. Where nothing is left: one_line(text)."""
    text = _ANSI.sub("", str(text))
    lines = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith(ARGUMENTS_BLOCK):
            break
        if line and not line.startswith(FRAMING):
            lines.append(line)
    if not lines:
        return one_line(text, limit)
    line = lines[0]
    if line.endswith(":") and len(lines) > 1:
        line = "%s %s" % (line, lines[1])
    return line if len(line) <= limit else line[: limit - 3] + "..."


class StudyStopped(UserError):
    """The study cannot go on (a full disk): one line, no traceback, exit code 1 (not a user
    mistake; a rerun of the same command goes on where it stopped)."""

    exit_code = 1
