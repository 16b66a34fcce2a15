"""The Ray executor (`kerasbench run --executor ray`): each block a Ray task.

Each block (`plan.blocks`) is a Ray task needing one GPU where the cluster has GPUs, else a CPU
budget; it trains the block's runs one after another in a scratch folder on whichever node runs
it and sends each run folder back as a tar as soon as the run ends, unpacked into the driver's
--out. A worker that dies takes only the run in progress with it: the block's remaining runs go
on in a new task on the same node (where it is still there), the dead run first, once more
(max_retries=1); if it dies again it is recorded as failed and the rest go on.

SIGTERM or SIGHUP to the runner (`signals`) stops the runs in flight as the local executors do.
ray.init() gives the runner a SIGTERM handler of Ray's, which exits at once recording nothing:
the runner's own is put back. A local Ray instance starts with SIGHUP ignored, so a closed
terminal's SIGHUP to the group leaves it running until the runner is done with it. The runner
puts the signal in Ray's key-value store; each task's `Watchdog` reads it, kills its run's
kernel (its process group), and the task sends the run back recorded `failed`, "interrupted by
SIGTERM after N epochs logged", and starts no other. A run that does not come back within
STOP_WAIT, or at all where Ray's own processes got the signal too, is recorded by the runner,
"interrupted by SIGTERM". The runner then exits with 128 + the signal; a local Ray instance
goes with it.

Host side: nothing here imports Keras or a framework; Ray is imported only where it is used, so
that the other executors never need it.
"""

import collections
import io
import os
import shutil
import socket
import tarfile
import tempfile
import threading
import time
import uuid

from kerasbench import datafiles, runfiles
from kerasbench.errors import UserError, one_line
from kerasbench.study import execute, plan, signals
from kerasbench.study.handoff import lost_record, spec_from_json, spec_to_json
from kerasbench.study.hosts import available_cores, detect_gpus, thread_env

RAY_REQUIREMENT = "ray (pinned in requirements.txt: pip install -r requirements.txt)"


def _pack(root, relative):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(os.path.join(root, relative), arcname=relative)
    return buffer.getvalue()


SCRATCH_PREFIX = "kerasbench-ray-"


def sweep_scratch(folder=None):
    """Removes the scratch folders of Ray workers that died mid-run (their pid is gone)."""
    folder = folder or tempfile.gettempdir()
    for name in os.listdir(folder):
        pid = name[len(SCRATCH_PREFIX) :].split("-", 1)[0]
        if not name.startswith(SCRATCH_PREFIX) or not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(os.path.join(folder, name), ignore_errors=True)
        except OSError:
            pass  # alive (someone else's process): not ours to remove


def run_block_on_worker(spec_fields, data_dir, timeout, env, run_one=None, stop=None):
    """The Ray task of one block: its runs one after another, in one scratch folder of the node
    that runs it, on the one GPU Ray gave the task (its CUDA_VISIBLE_DEVICES, which the kernels
    inherit). A generator: per run, it yields {"started": i} as the run starts and
    {"finished": i, "record", "relative", "tar"} (its run folder as a tar) as it ends, each with
    where it ran ("host", "node", "gpus"), so the driver has every finished run at once.

    The data folder is the driver's path where it exists on this node, else this node's own
    (KERASBENCH_DATA, else Keras' cache). The thread caps go into the environment the kernel
    inherits, and are taken back afterwards (Ray reuses worker processes). `run_one` is
    execute.execute (the tests stand a fake in for it). `stop`: where the runner says it stopped
    (`Watchdog`); once it has, the run in progress ends recorded interrupted, and no other starts.
    """
    import ray

    run_one = run_one or execute.execute
    specs = [spec_from_json(fields) for fields in spec_fields]
    if not data_dir or not os.path.isdir(data_dir):
        data_dir = datafiles.data_dir(None)
    where = {
        "host": socket.gethostname(),
        "node": ray.get_runtime_context().get_node_id(),
        "gpus": [str(gpu) for gpu in ray.get_gpu_ids()],
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    sweep_scratch()
    scratch = tempfile.mkdtemp(prefix="%s%d-" % (SCRATCH_PREFIX, os.getpid()))
    watchdog = Watchdog(stop, where["node"])
    watchdog.look()  # a task that starts after the runner stopped trains nothing
    watchdog.start()
    try:
        for index, spec in enumerate(specs):
            if watchdog.stopping():
                return
            yield dict(where, started=index)
            sent = run_in_scratch(spec, scratch, data_dir, timeout, run_one, watchdog)
            if watchdog.gone:
                return  # no runner to send it to
            yield dict(where, finished=index, **sent)
    finally:
        watchdog.close()
        shutil.rmtree(scratch, ignore_errors=True)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_in_scratch(spec, scratch, data_dir, timeout, run_one, watchdog):
    """One run of a block on its worker, with `watchdog` on it; {"record", "relative", "tar"}.
    A run the runner's signal stopped (its kernel killed, or it never began) is recorded
    `failed`, "interrupted by SIGTERM after N epochs logged", as `execute` records it locally."""
    folder = os.path.abspath(plan.run_dir(scratch, spec))
    began, t0 = runfiles.now(), time.time()
    record = None
    watchdog.watch(folder)
    try:
        if not watchdog.stopping():
            record = run_one(spec, scratch, data_dir, timeout)
    finally:
        watchdog.watch(None)
    if watchdog.signum is not None and (record or {}).get("status") != "ok":
        os.makedirs(folder, exist_ok=True)
        parameters = dict(
            spec.params, backend=spec.backend, run_dir=folder, seed=spec.seed, data_dir=data_dir
        )
        record = execute.interrupted(
            spec, folder, parameters, watchdog.signum, began, time.time() - t0
        )
    relative = os.path.relpath(folder, os.path.abspath(scratch))
    tar = _pack(scratch, relative)
    shutil.rmtree(folder, ignore_errors=True)
    return dict(record=record, relative=relative, tar=tar)


# How a runner tells its tasks that it stopped: the signal's number under a key of its own in
# Ray's key-value store (the cluster's GCS: no actor to start), which every task's watchdog reads.
STOP_NAMESPACE = b"kerasbench"
STOP_POLL = 0.5  # seconds between a watchdog's looks
STOP_GRACE = 5.0  # seconds a stopped runner gives its tasks to say they had a run in flight
STORE_TIMEOUT = 5.0  # seconds a call to the store may take: past them, the cluster is gone


def _store():
    from ray.experimental import internal_kv

    return internal_kv.internal_kv_get_gcs_client()


def say_stop(key, signum):
    _store().internal_kv_put(
        key.encode(), str(signum).encode(), True, STOP_NAMESPACE, timeout=STORE_TIMEOUT
    )


def read_stop(key):
    """The signal that stopped the runner (a number), or None while it has not stopped."""
    value = _store().internal_kv_get(key.encode(), STOP_NAMESPACE, timeout=STORE_TIMEOUT)
    return int(value) if value else None


def forget_stop(key):
    _store().internal_kv_del(key.encode(), False, STOP_NAMESPACE, timeout=STORE_TIMEOUT)


class Watchdog(threading.Thread):
    """Beside a block's runs in a Ray worker: once the runner has stopped (`signum`, read under
    stop["key"] every STOP_POLL seconds) or is gone (`gone`: its process, on this node, or the
    key-value store no longer there), kills the kernel of the run in progress, and any kernel that
    run starts after: the process kernel.pid names, with its process group
    (`execute.stop_orphan`). The run then ends as one whose kernel died. A thread, not Ray's
    cancel: that raises KeyboardInterrupt only at the worker's next Python line, and what the
    task yields after it no longer reaches the runner."""

    def __init__(self, stop, node):
        super(Watchdog, self).__init__(name="kerasbench-watchdog", daemon=True)
        self.stop = stop or {}
        self.here = self.stop.get("node") == node  # the runner is on this node: its pid says
        self.signum = None
        self.gone = False
        self.folder = None  # the run in progress's folder
        self.closed = threading.Event()

    def stopping(self):
        return self.signum is not None or self.gone

    def watch(self, folder):
        self.folder = folder

    def run(self):
        while not self.closed.wait(STOP_POLL):
            if not self.stopping():
                self.look()
            folder = self.folder
            if self.stopping() and folder:
                execute.stop_orphan(folder)

    def look(self):
        if not self.stop.get("key"):
            return
        try:
            self.signum = read_stop(self.stop["key"])
        except Exception:  # the store does not answer: the cluster goes, and the runner with it
            self.gone = True
        if self.here and not self.stopping():
            try:
                os.kill(self.stop["pid"], 0)
            except ProcessLookupError:
                self.gone = True
            except OSError:
                pass  # there, another user's: not ours to judge

    def close(self):
        self.closed.set()


def unpack(result, out, spec):
    """Puts a worker's run folder at its place under the driver's out; returns its run.json.

    The folder is unpacked beside its place and swapped in, so an earlier attempt's files never
    mix with it; run.json's run_dir then names the folder where it now lies, as the local
    executor's does.
    """
    folder = plan.run_dir(out, spec)
    parent = os.path.dirname(folder)
    os.makedirs(parent, exist_ok=True)
    incoming = tempfile.mkdtemp(prefix=".incoming-", dir=parent)
    try:
        with tarfile.open(fileobj=io.BytesIO(result["tar"]), mode="r:gz") as tar:
            tar.extractall(incoming, filter="data")
        if os.path.isdir(folder):
            shutil.rmtree(folder)
        os.replace(os.path.join(incoming, result["relative"]), folder)
    finally:
        shutil.rmtree(incoming, ignore_errors=True)
    path = os.path.join(folder, runfiles.RUN_JSON)
    record = runfiles.read_json(path)
    record = record if isinstance(record, dict) else dict(result["record"])
    record["params"] = dict(record.get("params") or {}, run_dir=folder)
    runfiles.write_json_atomic(path, record)
    return record


class RayBlock(object):
    """A block on Ray: its runs not yet back (`pending`, in order), the node its task ran on, and
    how many workers died while the first of them was training."""

    def __init__(self, specs):
        self.pending = collections.deque(specs)
        self.node = None
        self.deaths = 0
        self.began = None  # (started_at, t0) of the run in progress
        self.heard = False  # whether its task in flight has sent anything yet


class RayExecutor(object):
    """Each block a Ray task: one GPU where the cluster has GPUs, and `cpus_per_run` CPUs, for the
    whole block; its runs one after another on that node and GPU, each sent back as it ends."""

    name = "ray"

    def __init__(
        self,
        address=None,
        jobs=None,
        cpus_per_run=None,
        max_retries=1,
        run_one=None,
        cpu_only=False,
    ):
        try:
            import ray  # noqa: F401
        except ImportError:
            raise UserError("--executor ray needs %s" % RAY_REQUIREMENT)
        self.address = address
        self.jobs = jobs
        self.cpus_per_run = cpus_per_run or 1
        self.cap_threads = cpus_per_run is not None  # GPU runs: only when asked
        self.max_retries = max_retries
        self.run_one = run_one  # None: execute.execute
        self.cpu_only = cpu_only  # --device cpu: tasks ask for no GPU
        self.gpus = None
        self.started_here = False
        self.cluster_gone = False  # found gone while stopping: nothing more is asked of it

    def start(self):
        """Starts a local Ray instance, or joins the cluster at `address`. ray.init() gives this
        process a SIGTERM handler of Ray's, which exits at once, recording nothing: the runner's
        own is put back (`signals.take_back`). A local instance is started with SIGHUP ignored,
        so that a closed terminal does not take it down before the runs are stopped."""
        import ray

        if ray.is_initialized():
            pass
        elif self.address:
            try:
                ray.init(address=self.address, log_to_driver=False, logging_level="ERROR")
            except Exception as e:  # ConnectionError and friends: the cluster is not there
                raise UserError(
                    "cannot connect to the Ray cluster at %s: %s" % (self.address, one_line(e))
                )
        else:
            gpus = [] if self.cpu_only else detect_gpus()
            jobs = self.jobs or (
                len(gpus) if gpus else max(1, len(available_cores()) // self.cpus_per_run)
            )
            with signals.hangup_ignored():
                ray.init(
                    num_cpus=max(jobs * self.cpus_per_run, self.cpus_per_run),
                    num_gpus=len(gpus),
                    include_dashboard=False,
                    log_to_driver=False,
                    logging_level="ERROR",
                    object_store_memory=100 * 1024 * 1024,
                )
            self.started_here = True
        signals.take_back()
        self.gpus = 0 if self.cpu_only else int(ray.cluster_resources().get("GPU", 0))

    def describe(self):
        where = self.address or "a local Ray instance"
        need = (
            "1 GPU"
            if self.gpus
            else "%d CPU%s" % (self.cpus_per_run, "" if self.cpus_per_run == 1 else "s")
        )
        return "Ray tasks on %s, one block each (its runs one after another), %s each%s" % (
            where,
            need,
            ", at most %d at a time" % self.jobs if self.jobs else "",
        )

    def run(self, specs, out, data_dir, timeout=None, started=None):
        """One task per block, at most `jobs` at a time. Each run's folder is unpacked under
        `out` as soon as the task sends it. A worker that dies takes only the run in progress
        with it: the block's remaining runs go on in a new task, on the same node where it is
        still there; a run whose worker died 1 + max_retries times is recorded failed.
        SIGTERM or SIGHUP (`signals.Terminated`): `stop`."""
        import ray

        if self.gpus is None:
            self.start()
        # A CPU run's threads are capped at its CPU budget; a GPU run's only with --cpus-per-run.
        env = thread_env(self.cpus_per_run) if self.cap_threads or not self.gpus else {}
        task = ray.remote(run_block_on_worker)
        stop = {
            "key": "stop-" + uuid.uuid4().hex,  # this call's, in Ray's key-value store
            "node": ray.get_runtime_context().get_node_id(),
            "pid": os.getpid(),
        }

        def submit(block):
            options = dict(
                num_gpus=1 if self.gpus else 0,
                num_cpus=self.cpus_per_run,
                max_retries=0,  # the retry is ours: only the block's remaining runs
                name="kerasbench-block",
            )
            if block.node:
                options["scheduling_strategy"] = node_affinity(block.node)
            fields = [spec_to_json(spec) for spec in block.pending]
            block.heard = False
            return task.options(**options).remote(
                fields, data_dir, timeout, env, self.run_one, stop
            )

        queue = collections.deque(RayBlock(specs) for specs in plan.blocks(specs))
        running = {}  # the task's generator -> its RayBlock
        try:
            while queue or running:
                with signals.deferred():  # a signal inside Ray's C code is raised out of it
                    while queue and (not self.jobs or len(running) < self.jobs):
                        block = queue.popleft()
                        running[submit(block)] = block
                    results = self._take(running, out, data_dir, submit)
                for spec, record in results:
                    if record is not None:
                        yield spec, record
                    elif started:
                        started(spec)
        except signals.Terminated as e:
            e.records += self.stop(e.signum, stop["key"], running, out, data_dir)
            raise
        finally:
            with signals.deferred():
                for generator in running:
                    ray.cancel(generator, force=True)
                if not self.cluster_gone:
                    forget_stop(stop["key"])
                if self.started_here:
                    ray.shutdown()

    def _take(self, running, out, data_dir, submit=None, wait=1.0):
        """What the tasks sent within `wait` seconds, [(spec, record)]: a run that starts comes as
        (spec, None), one that ends with its record (its folder unpacked under `out`). A task that has ended, raised, or lost its worker or node
        leaves `running` (`_lost`: its run in progress recorded failed, or kept to run again; a
        run sent but not yet fetched is lost with its node, so it counts as in progress); with
        `submit`, the rest of its block goes on in a new task."""
        import ray

        results = []
        ready, _ = ray.wait(list(running), num_returns=1, timeout=wait)
        for generator in ready:
            block = running[generator]
            try:
                item = ray.get(next(generator))
            except StopIteration:
                item = None
            except ray.exceptions.RayError as e:
                item = None
                results += self._lost(block, e, out, data_dir)
            if item is None:
                del running[generator]
                if block.pending and submit:
                    running[submit(block)] = block
                continue
            block.node, block.heard = item["node"], True
            spec = block.pending[0]
            if "started" in item:
                block.began = (runfiles.now(), time.time())
                results.append((spec, None))
                continue
            block.pending.popleft()
            block.deaths, block.began = 0, None
            results.append((spec, unpack(item, out, spec)))
        return results

    def stop(self, signum, key, running, out, data_dir):
        """SIGTERM or SIGHUP: the signal goes under `key`, where each task's watchdog reads it,
        kills its run's kernel and has the run sent back recorded `failed`, "interrupted by
        SIGTERM after N epochs logged"; a task that has sent nothing within STOP_GRACE (still
        waiting for a worker; one that starts now trains nothing) is cancelled. Returns the
        records of the runs in flight, once back; a run not back within STOP_WAIT (its worker
        stuck, or Ray itself stopped by the signal) is recorded here, "interrupted by SIGTERM",
        its epochs left on its node."""
        import ray

        records, blocks = [], list(running.values())
        try:
            with signals.deferred():
                say_stop(key, signum)
                deadline, grace = time.time() + signals.STOP_WAIT, time.time() + STOP_GRACE
                while running and time.time() < deadline:
                    if time.time() > grace:  # a task that has sent nothing by now trains nothing
                        for generator in [g for g, b in running.items() if not b.heard]:
                            ray.cancel(generator)
                        grace = deadline
                    wait = min(1.0, max(deadline - time.time(), 0.0))
                    results = self._take(running, out, data_dir, wait=wait)
                    records += [record for _, record in results if record is not None]
        except Exception:  # the store does not answer: Ray's processes got the signal too
            running.clear()  # nothing to wait for or cancel: their runs are recorded here
            self.cluster_gone = True
        for block in blocks:
            if block.began:  # never came back
                records.append(self._interrupted(signum, block, out, data_dir))
        return records

    def _interrupted(self, signum, block, out, data_dir):
        """The record of a run in flight that did not come back from its worker."""
        spec = block.pending.popleft()
        began, t0 = block.began
        block.began = None
        return lost_record(
            spec, out, data_dir, signals.interrupted(signum), began, time.time() - t0
        )

    def _lost(self, block, e, out, data_dir):
        """The run in progress when the task ended early: recorded failed, or kept to run again."""
        import ray

        if isinstance(e, ray.exceptions.TaskCancelledError):
            return  # cancelled by `stop`, which records its run in flight
        spec = block.pending[0]
        began, t0 = block.began or (runfiles.now(), time.time())
        if isinstance(e, ray.exceptions.RayTaskError):  # it raised (execute() itself does not)
            error = "the Ray task failed: %s" % one_line(e)
        else:  # the worker or its node died
            block.deaths += 1
            if block.deaths <= self.max_retries:
                return  # the run goes first in the block's next task
            error = "the Ray worker died (%d attempt%s): %s: %s" % (
                block.deaths,
                "" if block.deaths == 1 else "s",
                type(e).__name__,
                one_line(e),
            )
        block.pending.popleft()
        block.deaths, block.began = 0, None
        yield spec, lost_record(spec, out, data_dir, error, began, time.time() - t0)


def node_affinity(node):
    """Ray's scheduling strategy for `node` (soft: elsewhere if that node is gone)."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    return NodeAffinitySchedulingStrategy(node, soft=True)
