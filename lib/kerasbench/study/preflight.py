"""Checks before anything trains: the output folder (and its lock), the data folder and the data
files. Host side.
"""

import collections
import contextlib
import errno
import fcntl
import json
import os
import socket

from kerasbench import datafiles, registry, runfiles
from kerasbench.errors import UserError


def check_output_dir(out):
    """--out exists (or is created) and takes a file; the probe never stays behind."""
    probe = os.path.join(out, ".kerasbench-write-test")
    try:
        os.makedirs(out, exist_ok=True)
        with open(probe, "w") as f:
            f.write("ok")
    except OSError as e:
        raise UserError("cannot write to output folder %s: %s" % (_shown(out), e.strerror or e))
    finally:
        with contextlib.suppress(OSError):
            os.remove(probe)


def _shown(path, limit=120):
    """A path as an error line shows it: a 4,000-character one is cut in the middle."""
    return path if len(path) <= limit else path[: limit // 2] + "..." + path[-limit // 2 :]


LOCK_FILE = ".kerasbench.lock"  # in --out: the pid of the runner that uses it


@contextlib.contextmanager
def lock_output(out):
    """Holds --out for this runner until the study ends; a second runner gets one line naming
    the holder's pid (UserError, exit 2) before anything trains.

    An flock on OUT/.kerasbench.lock: the kernel frees it when the holder dies however it dies,
    so a lock file left by a dead runner (its pid still written in it) is simply taken over.
    The file descriptor is not inherited by kernels or child processes (Python opens it
    close-on-exec), so a kernel orphaned by a killed runner does not hold the study.

    Where OUT/runs leads elsewhere (a symlink, of runs/ or of a folder above it), the runs folder
    it resolves to is locked too, by a lock file beside it: two --out folders sharing one runs
    folder are one study's. (Beside it, so that nothing is created before the study starts: the
    lock of a runs folder named `runs` is its --out folder's own lock.)
    """
    runs = os.path.realpath(os.path.join(out, runfiles.RUNS))
    name = os.path.basename(runs)
    with _flock(os.path.join(out, LOCK_FILE), out):
        if os.path.dirname(runs) == os.path.realpath(out):
            yield os.path.join(out, LOCK_FILE)
        else:
            beside = os.path.join(
                os.path.dirname(runs),
                LOCK_FILE if name == runfiles.RUNS else "." + name + LOCK_FILE,
            )
            with _flock(beside, out, shared=runs):
                yield os.path.join(out, LOCK_FILE)


@contextlib.contextmanager
def _flock(path, out, shared=None):
    """An flock on `path`, with this runner's pid written in it; `shared`: the runs folder it
    stands for, where that is not OUT/runs itself."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        where = (
            "lock runs folder " + _shown(shared)
            if shared
            else "write to output folder " + _shown(out)
        )
        raise UserError("cannot %s: %s" % (where, e.strerror or e))
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EACCES, errno.EAGAIN):
                raise
            holder = _holder(fd)
            raise UserError(
                "%s is in use by another kerasbench run (pid %s%s%s): wait for it to "
                "end, or use another --out"
                % (
                    "%s (its runs folder is %s)" % (_shown(out), _shown(shared))
                    if shared
                    else _shown(out),
                    holder.get("pid", "unknown"),
                    " on " + holder["host"]
                    if holder.get("host") not in (None, socket.gethostname())
                    else "",
                    ", since " + holder["since"] if holder.get("since") else "",
                )
            )
        os.ftruncate(fd, 0)
        os.write(
            fd,
            (
                json.dumps(
                    {"pid": os.getpid(), "host": socket.gethostname(), "since": runfiles.now()}
                )
                + "\n"
            ).encode(),
        )
        yield path
    finally:
        os.close(fd)  # releases the flock; the file stays (removing it would race a waiter)


def _holder(fd):
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        data = json.loads(os.read(fd, 4096).decode() or "{}")
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def check_data_dir(folder, given=True):
    """A data folder named by --data-dir or $KERASBENCH_DATA must exist: a typo there would
    otherwise turn into downloads, or generated data, without a word. (Keras' own cache folder
    may be missing on a fresh machine: the downloads create it.)"""
    if given and not os.path.isdir(folder):
        raise UserError(
            "data folder not found: %s (--data-dir or $KERASBENCH_DATA; create it to "
            "download into it)" % folder
        )


def check_data(runs, folder, download=True, warn=print):
    """Every dataset the plan needs is present and verified, or fetched now, before any training.

    Where it cannot be had, a run that may use generated data goes on with one warning; a run
    that may not (the `full` profile) stops the study with a one-line error. A corrupt file is
    an error in every profile.
    """
    needed = collections.OrderedDict()
    for spec in runs:
        known = registry.WORKLOADS.get(spec.workload)  # a model file reads its own data
        for dataset in known.datasets if known else ():
            needed.setdefault(dataset, []).append(spec)
    for dataset, specs in needed.items():
        try:
            datafiles.ensure(dataset, folder, download=download)
        except datafiles.DataError as e:
            if e.problem == "corrupt":
                # A damaged file is the user's to fix, in every profile: generated data in its
                # place would hide it.
                raise UserError(str(e))
            strict = sorted({s.workload for s in specs if not s.params["allow_generated"]})
            if strict:
                raise UserError(
                    "%s (needed by %s in the %s profile)" % (e, ", ".join(strict), specs[0].profile)
                )
            warn(
                "warning: %s; %s will train on generated data"
                % (e, ", ".join(sorted({s.workload for s in specs})))
            )
