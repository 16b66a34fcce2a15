"""Errors a user can cause: the CLI prints their one-line message and exits with code 2."""


class UserError(Exception):
    """Bad input (a typo, a missing file, an impossible value): one line, no traceback."""

    exit_code = 2


def one_line(text, limit=500):
    """The last non-empty line of `text` (an exception's message, a child's stderr), cut to
    `limit` characters: what a status line or run.json's `error` shows."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    line = lines[-1] if lines else str(text)
    return line if len(line) <= limit else line[: limit - 3] + "..."


class StudyStopped(UserError):
    """The study cannot go on (a full disk): one line, no traceback, exit code 1 (not a user
    mistake; a rerun of the same command goes on where it stopped)."""

    exit_code = 1
