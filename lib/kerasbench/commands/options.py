"""The options several commands share, defined once, and the one pre-flight of every command that
writes a folder of results. Host side.

Each command module (`commands/<name>.py`) adds its options with these helpers and its own; the
help texts and defaults of a shared option are the same wherever it appears, unless a command
passes its own default (`parity --out` defaults to OUT/parity).
"""

import argparse
import contextlib
import os
import sys

from kerasbench import registry, studyfiles
from kerasbench.errors import UserError

DEFAULT_OUT = "output"


def say(line):
    """Where a command's warnings and progress lines go: stderr."""
    print(line, file=sys.stderr)


def program():
    """How the user called kerasbench (".venv/bin/kerasbench", or "kerasbench" on the PATH)."""
    called = sys.argv[0] if sys.argv and sys.argv[0] else "kerasbench"
    return called if os.path.basename(called) == "kerasbench" else "kerasbench"


def fmt(value):
    """A ratio as printed: three decimals, or '-' where there is none."""
    return "-" if value is None else "%.3f" % value


# --- value types: a bad value is argparse's one line, exit 2 ------------------------------------


def _integer(text, least):
    try:
        value = int(text)
    except ValueError:
        value = least - 1
    if value < least:
        raise argparse.ArgumentTypeError("must be an integer >= %d, got %r" % (least, text))
    return value


def non_negative_int(text):
    return _integer(text, 0)


def positive_int(text):
    return _integer(text, 1)


def seconds(text):
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("must be a positive number of seconds, got %r" % text)
    return value


# --- the shared options --------------------------------------------------------------------------


def out(parser, default=DEFAULT_OUT, required=False, help="output folder (runs go in OUT/runs)"):
    if required:
        parser.add_argument("--out", required=True, help=help)
    else:
        parser.add_argument("--out", default=default, help=help)


def part_of_study(part):
    """The default --out of a command whose results the report reads from OUT/<part>."""
    return studyfiles.study_part(DEFAULT_OUT, part)


def workloads(parser, default="all", help=None):
    parser.add_argument(
        "--workloads",
        default=default,
        help=help or "comma-separated names and model files (path/to/my_model.py), or all",
    )


def backends(parser, default=None, help=None):
    parser.add_argument(
        "--backends",
        default=default,
        help=help or "comma-separated: tensorflow,jax,torch (default) and cntk",
    )


def profile(parser, default="quick", help=None):
    parser.add_argument(
        "--profile",
        choices=registry.PROFILES,
        default=default,
        help=help or "smoke: seconds per run; quick: minutes for the matrix; full: 2017",
    )


def overrides(parser, help="override a parameter (repeatable)"):
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", help=help)


def data(parser):
    """--data-dir and --no-download: where the datasets are, and whether a missing one is fetched."""
    parser.add_argument(
        "--data-dir",
        default=None,
        help="data folder (default $KERASBENCH_DATA, else ~/.keras/datasets)",
    )
    parser.add_argument("--no-download", action="store_true", help="never download a missing file")


def timeout(parser, default=None, help="seconds per run"):
    parser.add_argument("--timeout", type=seconds, default=default, help=help)


def parsed_overrides(args):
    """{key: value} of the --set options given."""
    from kerasbench.study import params

    return dict(params.parse_override(s) for s in args.set or [])


# --- the one pre-flight ---------------------------------------------------------------------------


@contextlib.contextmanager
def prepared(args, command, runs, backends, device_check=None, staged=True):
    """The pre-flight of every command that trains into a folder of results (`run`, `parity`,
    `profile`, `harness`, `floor`), in one order (study.preflight.prepared): the data folder, the
    backends' kernels, `device_check`, --out claimed for `command` (whose results it holds, its
    lock, a stopped call's leftovers), the data files `runs` need (fetched unless --no-download).
    Yields (data folder, staging): the staging folder the command's results go into before they
    move into --out (`preflight.Staging`), or None where `staged` is False (`run` writes each run
    folder in place, run.json last)."""
    from kerasbench.study import preflight

    with preflight.prepared(
        command,
        args.out,
        runs,
        backends,
        data_dir=args.data_dir,
        download=not args.no_download,
        device_check=device_check,
        say=say,
    ) as data_dir:
        if not staged:
            yield data_dir, None
            return
        with preflight.Staging.begin(args.out, preflight.KINDS[command]) as staging:
            yield data_dir, staging


def check_out(args):
    """An empty --out would write into the current folder: refused, as a folder none names."""
    if getattr(args, "out", None) == "":
        raise UserError("--out '' names no folder: give a folder (default %s)" % DEFAULT_OUT)
