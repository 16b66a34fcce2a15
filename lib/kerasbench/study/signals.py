"""SIGTERM and SIGHUP to a runner: the runs in flight are stopped, recorded, and the runner exits.

A job scheduler stops a job with SIGTERM (`kill PID`), a closed terminal sends SIGHUP. While
`handled()` is active, either raises `Terminated` in the main thread, as SIGINT raises
KeyboardInterrupt: `execute` then kills the run's kernel and records the run `failed` with the
error "interrupted by SIGTERM after N epochs logged" (so that a rerun trains it again), an
executor with runs in child processes forwards the signal to each of them first (the Ray executor
tells its tasks through Ray, `rayexec`), and the command prints one line and exits with 128 +
the signal's number. The lock on --out goes with the process.

Ctrl-C is not this: an interrupted run keeps no run.json (README, "What happens when").
A signal whose disposition is SIG_IGN when `handled()` starts (`nohup`) stays ignored. Host side.
"""

import contextlib
import signal

STOPPING = (signal.SIGTERM, signal.SIGHUP)
STOP_WAIT = 60.0  # seconds the runs in flight get to be recorded once a signal stopped them


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived (a BaseException, as KeyboardInterrupt: `except Exception` does
    not swallow it). `records`: the run.json records of the runs it stopped, which the runner
    prints; each says `failed`, "interrupted by SIG..."."""

    def __init__(self, signum):
        super().__init__(name(signum))
        self.signum = signum
        self.records = []

    @property
    def name(self):
        return name(self.signum)

    @property
    def exit_code(self):
        return 128 + self.signum


def name(signum):
    try:
        return signal.Signals(signum).name
    except ValueError:
        return "signal %d" % signum


def interrupted(signum, epochs=None):
    """run.json's error for a run stopped by `signum`."""
    if epochs is None:
        return "interrupted by %s" % name(signum)
    return "interrupted by %s after %d epoch%s logged" % (
        name(signum),
        epochs,
        "" if epochs == 1 else "s",
    )


def stopped_by(returncode):
    """The stopping signal a child process's exit code reports (killed by it, or exited with
    128 + it after recording its run), else None."""
    for signum in STOPPING:
        if returncode in (-signum, 128 + signum):
            return signum
    return None


_received = []  # the signal being handled: a second one waits for the first's clean-up
_taken = []  # the signals the active `handled()` took over
_deferring = []  # one entry per `deferred()` block the main thread is in
_pending = []  # a signal that came in such a block, not raised yet


def _handler(signum, frame):
    if _received:
        return  # the same stop again (the group's signal and the forwarded one): already going
    _received.append(signum)
    if _deferring:
        _pending.append(signum)
        return
    raise Terminated(signum)


@contextlib.contextmanager
def deferred():
    """In this block, SIGTERM or SIGHUP is noted, and Terminated raised only as the block ends:
    around calls into C code that turn an exception raised by a handler running inside them into
    an error of their own (Ray's wait gives a SystemError). Blocks nest; the outermost raises."""
    _deferring.append(True)
    try:
        yield
    finally:
        _deferring.pop()
        if _pending and not _deferring:
            raise Terminated(_pending.pop())


@contextlib.contextmanager
def handled():
    """In this block, SIGTERM and SIGHUP raise Terminated in the main thread (once); outside it,
    they do what they did before."""
    previous = {}
    for signum in STOPPING:
        if signal.getsignal(signum) != signal.SIG_IGN:
            previous[signum] = signal.signal(signum, _handler)
    del _received[:], _pending[:]
    _taken[:] = list(previous)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        del _received[:], _pending[:], _taken[:]


def take_back():
    """Handles the signals of the active `handled()` again, after a library put in its own
    (ray.init() gives the runner a SIGTERM handler of Ray's, which exits without a record)."""
    for signum in _taken:
        signal.signal(signum, _handler)


@contextlib.contextmanager
def hangup_ignored():
    """SIGHUP ignored in this block, and so in the processes started in it, which keep it ignored
    (SIG_IGN outlives exec): the Ray instance a runner starts, in the runner's process group,
    then lives on through a closed terminal's SIGHUP to the group, so that the runner can stop
    its runs through it. A SIGHUP in the block itself is lost (ray.init(): seconds)."""
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGHUP, previous)
