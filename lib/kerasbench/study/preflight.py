"""Checks before anything trains: the output folder (its lock, and whose results it holds), the
data folder and the data files; and the staging through which `parity`, `profile`, `harness`,
`floor` and `merge` write their results. Host side.

Every command that writes into --out (`run`, `report`, `floor`, `merge`, `parity`, `profile`,
`harness`) claims it the same way (`claim_output`): one command at a time (the flock of
`lock_output`), and never a folder that holds another command's results (`run`, `report`,
`floor` and `merge` share the study folder). What a command removes is what it created in this
call, or its own earlier results of the same kind that its new ones replace (`Staging.commit`);
nothing else.
"""

import collections
import contextlib
import errno
import fcntl
import glob
import json
import os
import shutil
import socket
import tempfile

from kerasbench import datafiles, registry, runfiles, studyfiles
from kerasbench.errors import UserError
from kerasbench.study import kernels


@contextlib.contextmanager
def prepared(
    command, out, runs, backends, data_dir=None, download=True, device_check=None, say=print
):
    """The pre-flight `run`, `parity`, `profile` and `harness` share, in one order, before
    anything trains: the data folder (one named by --data-dir or $KERASBENCH_DATA must exist),
    the backends' kernels, `device_check` (run: --device against this machine), the output
    folder (claim_output: whose results it holds, its lock, a stopped call's leftovers), then
    the data files `runs` need (fetched now unless download is False). Yields the data folder,
    with --out claimed until the block ends. `say`: where warnings go (stderr)."""
    folder = datafiles.data_dir(data_dir)
    check_data_dir(folder, given=bool(data_dir or os.environ.get(datafiles.DATA_ENV)))
    kernels.require(backends)
    if device_check is not None:
        device_check()
    with claim_output(out, command, say=say):
        check_data(runs, folder, download=download, warn=say)
        yield folder


def check_device(device, backends, say=print):
    """--device against this machine, before anything trains: gpu without a GPU is one line;
    with a GPU (auto or gpu), every backend's framework must see it (kernels.require_gpu)."""
    from kerasbench import environment

    gpu = environment.device().get("gpu")
    if device == "gpu" and not gpu:
        raise UserError("--device gpu: this machine has no GPU (nvidia-smi lists none)")
    if device == "cpu":
        if gpu:
            say("kerasbench: --device cpu: the runs do not see the GPU (%s)" % gpu)
        return
    if gpu:
        results = kernels.require_gpu(backends, gpu)
        say(
            "kerasbench: every backend sees the GPU (%s): %s"
            % (gpu, "; ".join(kernels.describe_probe(b, r) for b, r in results.items()))
        )


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


LOCK_FILE = studyfiles.LOCK_FILE  # in --out: the pid of the command that uses it


@contextlib.contextmanager
def lock_output(out, command="run"):
    """Holds --out for this command until it ends; a second command gets one line naming the
    holder's pid (UserError, exit 2) before anything trains.

    An flock on OUT/.kerasbench.lock: the kernel frees it when the holder dies however it dies,
    so a lock file left by a dead command (its pid still written in it) is simply taken over.
    The file descriptor is not inherited by kernels or child processes (Python opens it
    close-on-exec), so a kernel orphaned by a killed runner does not hold the study.

    Where OUT/runs leads elsewhere (a symlink, of runs/ or of a folder above it), the runs folder
    it resolves to is locked too, by a lock file beside it: two --out folders sharing one runs
    folder are one study's. (Beside it, so that nothing is created before the study starts: the
    lock of a runs folder named `runs` is its --out folder's own lock.)
    """
    runs = os.path.realpath(os.path.join(out, runfiles.RUNS))
    name = os.path.basename(runs)
    with _flock(os.path.join(out, LOCK_FILE), out, command):
        if os.path.dirname(runs) == os.path.realpath(out):
            yield os.path.join(out, LOCK_FILE)
        else:
            beside = os.path.join(
                os.path.dirname(runs),
                LOCK_FILE if name == runfiles.RUNS else "." + name + LOCK_FILE,
            )
            with _flock(beside, out, command, shared=runs):
                yield os.path.join(out, LOCK_FILE)


@contextlib.contextmanager
def _flock(path, out, command, shared=None):
    """An flock on `path`, with this command's pid written in it; `shared`: the runs folder it
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
                "%s is in use by another kerasbench run (pid %s%s%s%s): wait for it to "
                "end, or use another --out"
                % (
                    "%s (its runs folder is %s)" % (_shown(out), _shown(shared))
                    if shared
                    else _shown(out),
                    holder.get("pid", "unknown"),
                    ", kerasbench " + holder["command"] if holder.get("command") else "",
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
                    {
                        "pid": os.getpid(),
                        "host": socket.gethostname(),
                        "since": runfiles.now(),
                        "command": command,
                    }
                )
                + "\n"
            ).encode(),
        )
        yield path
    finally:
        os.close(fd)  # releases the flock; the file stays (removing it would race a waiter)


# Whose results a folder holds. `run`, `report`, `floor` and `merge` share one kind: the study
# folder (OUT/runs, report.html, summary.csv); `parity`, `profile` and `harness` each have their
# own folder.
KINDS = {
    "run": "study",
    "report": "study",
    "floor": "study",
    "merge": "study",
    "parity": "parity",
    "profile": "profile",
    "harness": "harness",
}
MAKER = {"study": "run", "parity": "parity", "profile": "profile", "harness": "harness"}
REPORT_FILES = studyfiles.REPORT_FILES  # what `kerasbench report` writes into its --out
# OUT/.kerasbench-staging-<kind>-XXXX: the results of a call, until they are moved in
STAGING = studyfiles.STAGING
SWAP = studyfiles.SWAP  # in a staging folder: what its commit moves in and what it removes


def results_held(out, but=None):
    """{kind: [what shows it, as a path relative to `out`]} for the results `out` holds, every
    kind but `but`. A kind's staging folder (a call that was stopped) counts as its results."""
    from kerasbench.study import harness, parity, profile  # each owns its file names

    found = {}
    evidence = {
        "study": _study_results,
        "parity": parity.results_in,
        "profile": profile.results_in,
        "harness": harness.results_in,
    }
    for kind, look in evidence.items():
        if kind == but:
            continue
        with contextlib.suppress(OSError):  # a folder it cannot read shows nothing
            shown = look(out) + [
                os.path.basename(p) + "/"
                for p in glob.glob(os.path.join(glob.escape(out), STAGING + kind + "-*"))
            ]
            if shown:
                found[kind] = shown
    return found


def _study_results(out):
    """A study folder (OUT/runs, the report's files), or a runs folder or a part of one: a run
    folder, or its run.json one to three levels down."""
    found = []
    runs = os.path.join(out, runfiles.RUNS)
    if os.path.isdir(runs) and os.listdir(runs):
        found.append(runfiles.RUNS + "/")
    found += [name for name in REPORT_FILES if os.path.isfile(os.path.join(out, name))]
    for depth in range(4):
        pattern = os.path.join(glob.escape(out), *(["*"] * depth + [runfiles.RUN_JSON]))
        hits = sorted(glob.glob(pattern))
        if hits:
            found.append(os.path.relpath(hits[0], out))
            break
    return found


def refuse_others(out, command):
    """One line (UserError, exit 2) where `out` holds another command's results: a command
    writes only into a folder of its own kind (or a new one), so that nothing it replaces was
    made by another."""
    kind = KINDS[command]
    held = results_held(out, but=kind)
    if held:
        other, shown = next(iter(held.items()))
        raise UserError(
            "%s holds the results of kerasbench %s (%s): give kerasbench %s a folder of its "
            "own (--out)" % (_shown(out), MAKER[other], ", ".join(shown[:3]), command)
        )


@contextlib.contextmanager
def claim_output(out, command, say=print):
    """--out for `command`, from here to the end of the block: refused where it holds another
    command's results (before anything is written there), writable, locked (lock_output), and
    checked again under the lock (another command may have just finished there). Then what a
    stopped call of the same command left is dealt with (`leftovers`). Yields the lock's path."""
    refuse_others(out, command)
    check_output_dir(out)
    with lock_output(out, command) as lock:
        refuse_others(out, command)
        leftovers(out, KINDS[command], say, command)
        yield lock


def leftovers(out, kind, say=print, command=None):
    """Staging folders of `kind` in `out`, left by a call that was killed (it holds the lock, so
    none is in use): one that was moving its results in is finished (its record of what to move
    is whole), any other is removed. One line each, from `command` (default: the kind's maker)."""
    command = command or MAKER[kind]
    for path in sorted(glob.glob(os.path.join(glob.escape(out), STAGING + kind + "-*"))):
        if os.path.isfile(os.path.join(path, SWAP)):
            Staging(out, path).finish()
            say(
                "kerasbench %s: finished moving in the results of an earlier call, stopped "
                "while it moved them (%s)" % (command, os.path.basename(path))
            )
        else:
            shutil.rmtree(path, ignore_errors=True)
            say(
                "kerasbench %s: removed %s, the unfinished results of an earlier call that "
                "was stopped" % (command, os.path.basename(path))
            )


class Staging:
    """A hidden folder in --out (OUT/.kerasbench-staging-<kind>-XXXX) that a call writes its
    results into; `commit` moves them in at the end, each file or folder by one rename (a folder
    it replaces first goes aside into the staging folder, and goes with it).

    Used as `with Staging.begin(out, kind) as stage:` under claim_output's lock. Until the
    commit, the results already in --out are untouched; a call that fails removes its staging
    folder (nothing else); a killed call leaves it, and the next call of the same command
    removes it, or finishes its commit where the kill came while it moved results in.
    """

    def __init__(self, out, path):
        self.out = os.path.abspath(out)
        self.path = os.path.abspath(path)

    @classmethod
    @contextlib.contextmanager
    def begin(cls, out, kind):
        try:
            path = tempfile.mkdtemp(prefix=STAGING + kind + "-", dir=out)
        except OSError as e:
            raise UserError("cannot write to output folder %s: %s" % (_shown(out), e.strerror))
        try:
            yield cls(out, path)
        finally:
            if not os.path.isfile(os.path.join(path, SWAP)):  # else a commit was cut short:
                shutil.rmtree(path, ignore_errors=True)  # the next call finishes it

    def commit(self, names, obsolete=()):
        """Moves `names` (relative paths; moved in this order: the file readers look for last)
        from the staging folder into --out, each replacing what is there; then removes those of
        `obsolete` this call did not make (its own earlier results that would be stale). The
        plan is written first, so that a kill half-way is finished by the next call."""
        made = [n for n in names if os.path.lexists(os.path.join(self.path, n))]
        stale = [
            n for n in obsolete if n not in made and not os.path.lexists(os.path.join(self.path, n))
        ]
        runfiles.write_json_atomic(
            os.path.join(self.path, SWAP), {"move_in": made, "remove": stale}
        )
        self.finish()

    def finish(self):
        """Carries out the recorded commit; what is done already is skipped (a second time
        changes nothing)."""
        plan = runfiles.read_json(os.path.join(self.path, SWAP)) or {}
        for name in plan.get("move_in", []):
            src, dst = os.path.join(self.path, name), os.path.join(self.out, name)
            if not os.path.lexists(src):
                continue  # moved in already
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            if os.path.isdir(src) or (os.path.isdir(dst) and not os.path.islink(dst)):
                self._aside(name)
            os.replace(src, dst)
        for name in plan.get("remove", []):
            self._aside(name)
        shutil.rmtree(self.path, ignore_errors=True)

    def _aside(self, name):
        """--out's `name`, if any, into the staging folder (removed with it)."""
        dst = os.path.join(self.out, name)
        if os.path.lexists(dst):
            aside = os.path.join(self.path, ".replaced", name.replace(os.sep, "%"))
            os.makedirs(os.path.dirname(aside), exist_ok=True)
            os.replace(dst, aside)


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
