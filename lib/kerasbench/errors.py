"""Errors a user can cause: the CLI prints their one-line message and exits with code 2."""


class UserError(Exception):
    """Bad input (a typo, a missing file, an impossible value): one line, no traceback."""

    exit_code = 2
