"""`kerasbench`: run the study, write the report, install the kernels. Host side.

The commands are `kerasbench.commands` (one module each); this module only assembles their
parser and dispatches. A user mistake is one line on stderr and exit code 2, never a traceback.
"""

import argparse
import contextlib
import os
import signal
import sys

from kerasbench.commands import COMMANDS, options
from kerasbench.errors import UserError


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line (with a pointer to --help) and exit code 2."""

    def error(self, message):
        self.exit(2, "%s: error: %s (see %s --help)\n" % (self.prog, message, self.prog))


def build_parser():
    parser = _Parser(
        prog="kerasbench",
        description="Which Keras backend trains my model fastest, and does it learn the same?",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command_parser = sub.add_parser(command.NAME, help=command.HELP)
        command.arguments(command_parser)
        command_parser.set_defaults(func=command.main)
    return parser


def _stopped(e):
    """The line for a study stopped by SIGTERM or SIGHUP."""
    stopped = sum(1 for r in e.records if str(r.get("error")).startswith("interrupted by"))
    return "kerasbench: stopped by %s: %s; rerun the same command to go on" % (
        e.name,
        "%d run%s in flight recorded failed (interrupted)" % (stopped, "" if stopped == 1 else "s")
        if stopped
        else "no run was in flight",
    )


def main(argv=None):
    from kerasbench.study.signals import Terminated

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        options.check_out(args)
        return args.func(args)
    except UserError as e:
        print("kerasbench: error: %s" % e, file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("kerasbench: interrupted", file=sys.stderr)
        return 130
    except Terminated as e:
        with contextlib.suppress(OSError):  # SIGHUP: the terminal may be gone
            print(_stopped(e), file=sys.stderr)
        return e.exit_code
    except BrokenPipeError:
        # `kerasbench run --dry-run | head`: the reader has gone; so does the rest of the output.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE


if __name__ == "__main__":
    sys.exit(main())
