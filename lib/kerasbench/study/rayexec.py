"""The Ray executor (`kerasbench run --executor ray`): each block a Ray task.

Each block (`plan.blocks`) is a Ray task needing one GPU where the cluster has GPUs, else a CPU
budget; it trains the block's runs one after another in a scratch folder on whichever node runs
it and sends each run folder back as a tar as soon as the run ends, unpacked into the driver's
--out. A worker that dies takes only the run in progress with it: the block's remaining runs go
on in a new task on the same node (where it is still there), the dead run first, once more
(max_retries=1); if it dies again it is recorded as failed and the rest go on.

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
import time

from kerasbench import datafiles, runfiles
from kerasbench.errors import UserError, one_line
from kerasbench.study import execute, plan
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


def run_block_on_worker(spec_fields, data_dir, timeout, env, run_one=None):
    """The Ray task of one block: its runs one after another, in one scratch folder of the node
    that runs it, on the one GPU Ray gave the task (its CUDA_VISIBLE_DEVICES, which the kernels
    inherit). A generator: per run, it yields {"started": i} as the run starts and
    {"finished": i, "record", "relative", "tar"} (its run folder as a tar) as it ends, each with
    where it ran ("host", "node", "gpus"), so the driver has every finished run at once.

    The data folder is the driver's path where it exists on this node, else this node's own
    (KERASBENCH_DATA, else Keras' cache). The thread caps go into the environment the kernel
    inherits, and are taken back afterwards (Ray reuses worker processes). `run_one` is
    execute.execute (the tests stand a fake in for it).
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
    try:
        for index, spec in enumerate(specs):
            yield dict(where, started=index)
            record = run_one(spec, scratch, data_dir, timeout)
            relative = os.path.relpath(plan.run_dir(scratch, spec), scratch)
            tar = _pack(scratch, relative)
            shutil.rmtree(os.path.join(scratch, relative), ignore_errors=True)
            yield dict(where, finished=index, record=record, relative=relative, tar=tar)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


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

    def start(self):
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
            ray.init(
                num_cpus=max(jobs * self.cpus_per_run, self.cpus_per_run),
                num_gpus=len(gpus),
                include_dashboard=False,
                log_to_driver=False,
                logging_level="ERROR",
                object_store_memory=100 * 1024 * 1024,
            )
            self.started_here = True
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
        still there; a run whose worker died 1 + max_retries times is recorded failed."""
        import ray

        if self.gpus is None:
            self.start()
        # A CPU run's threads are capped at its CPU budget; a GPU run's only with --cpus-per-run.
        env = thread_env(self.cpus_per_run) if self.cap_threads or not self.gpus else {}

        task = ray.remote(run_block_on_worker)

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
            return task.options(**options).remote(fields, data_dir, timeout, env, self.run_one)

        queue = collections.deque(RayBlock(specs) for specs in plan.blocks(specs))
        running = {}  # the task's generator -> its RayBlock
        try:
            while queue or running:
                while queue and (not self.jobs or len(running) < self.jobs):
                    block = queue.popleft()
                    running[submit(block)] = block
                ready, _ = ray.wait(list(running), num_returns=1)
                for generator in ready:
                    block = running.pop(generator)
                    try:
                        item = ray.get(next(generator))
                    except StopIteration:  # the block is over
                        continue
                    except ray.exceptions.RayError as e:
                        # The task raised, or its worker or node died (a run sent but not yet
                        # fetched is lost with its node: it counts as in progress).
                        yield from self._lost(block, e, out, data_dir)
                        if block.pending:
                            running[submit(block)] = block
                        continue
                    running[generator] = block
                    block.node = item["node"]
                    spec = block.pending[0]
                    if "started" in item:
                        block.began = (runfiles.now(), time.time())
                        if started:
                            started(spec)
                        continue
                    block.pending.popleft()
                    block.deaths, block.began = 0, None
                    yield spec, unpack(item, out, spec)
        finally:
            for generator in running:
                ray.cancel(generator, force=True)
            if self.started_here:
                ray.shutdown()

    def _lost(self, block, e, out, data_dir):
        """The run in progress when the task ended early: recorded failed, or kept to run again."""
        import ray

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
