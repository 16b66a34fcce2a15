"""Where the runs of a plan execute: one after another here, several at a time here, or on Ray.

Every executor runs each (workload, backend, config, repeat) the same way, through
`execute.execute` (one papermill execution in a fresh kernel), and leaves the same run folder
under `<out>/runs/`, so the report cannot tell which executor ran what. Every executor keeps a
*block* together (`plan.blocks`: one workload in one repeat, every backend and configuration):
its runs train one after another on one machine and one GPU, never two at once, so that they can
be compared with each other; what runs in parallel is different blocks.

  local            one run at a time, in this process (the default: timings never share a device)
  local --jobs N   N blocks at a time, each on a slot of its own, its runs one after another, each
                   run in a child process (execute() redirects the process's fds 1 and 2, which
                   threads would share): with GPUs, each slot owns one GPU
                   (CUDA_VISIBLE_DEVICES); without, each slot owns its share of the CPU cores (CPU
                   affinity) and its frameworks' thread pools are capped to that share
  ray              each block is a Ray task needing one GPU where the cluster has GPUs, else a CPU
                   budget; it trains the block's runs one after another in a scratch folder on
                   whichever node runs it and sends each run folder back as a tar as soon as the
                   run ends, unpacked into the driver's --out. A worker that dies takes only the
                   run in progress with it: the block's remaining runs go on in a new task on the
                   same node (where it is still there), the dead run first, once more
                   (max_retries=1); if it dies again it is recorded as failed and the rest go on.

SIGTERM or SIGHUP to the runner (`signals`): `local --jobs` passes it on to each run's child
process, which kills its kernel and records its run `failed`, "interrupted by SIGTERM"; Ray's tasks
are cancelled.

Host side: nothing here imports Keras or a framework (GPUs are counted with `nvidia-smi -L`), and
Ray is imported only by the ray executor.
"""

import collections
import concurrent.futures
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time

from kerasbench import datafiles, runfiles
from kerasbench.errors import UserError, one_line
from kerasbench.study import execute, kernels, plan, signals

EXECUTORS = ("local", "ray")
INTERRUPTED = 130  # exit code of a `local --jobs` child stopped by Ctrl-C
STOP_WAIT = 60.0  # seconds the children of `local --jobs` get to record a run SIGTERM stopped
DISK_FULL = 75  # exit code of a `local --jobs` child whose run met a full disk (EX_TEMPFAIL)
RAY_REQUIREMENT = "ray (pinned in requirements.txt: pip install -r requirements.txt)"

# One slot of `local --jobs N`: the GPU it owns (or None), the CPU cores it may use, and the
# environment its runs' kernels get.
Slot = collections.namedtuple("Slot", ["index", "gpu", "cores", "env"])


# --- What this host has ---------------------------------------------------------------------------


def parse_nvidia_smi(text):
    """GPU indices from `nvidia-smi -L` ("GPU 0: NVIDIA H200 (UUID: GPU-...)"), as strings."""
    gpus = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("GPU ") and ":" in line:
            index = line[4 : line.index(":")].strip()
            if index.isdigit():
                gpus.append(index)
    return gpus


def detect_gpus(environ=None, nvidia_smi=None):
    """The GPUs runs may use, as CUDA_VISIBLE_DEVICES entries; [] on a machine without any.

    A CUDA_VISIBLE_DEVICES already set limits the study to those devices ("" or -1: none);
    otherwise `nvidia-smi -L` lists them (no framework is imported to count them).
    """
    environ = os.environ if environ is None else environ
    visible = environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        entries = [e.strip() for e in visible.split(",") if e.strip()]
        if not entries or entries[0].startswith("-"):
            return []
        return entries
    if nvidia_smi is None:
        try:
            nvidia_smi = subprocess.check_output(
                ["nvidia-smi", "-L"], stderr=subprocess.DEVNULL, universal_newlines=True, timeout=30
            )
        except (OSError, subprocess.SubprocessError):
            return []
    return parse_nvidia_smi(nvidia_smi)


def available_cores():
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return list(range(os.cpu_count() or 1))


def thread_env(threads, environ=None):
    """Environment variables that cap one run's CPU threads at `threads`, on every backend.

    OpenMP (PyTorch's intra-op pool, MKL, OpenBLAS), TensorFlow's two pools; for one thread,
    XLA's CPU Eigen pool too (JAX has no thread-count flag: the CPU affinity of `local --jobs`
    is what caps it at more than one). XLA_FLAGS keeps what the user set.
    """
    environ = os.environ if environ is None else environ
    n = str(threads)
    env = {
        "OMP_NUM_THREADS": n,
        "MKL_NUM_THREADS": n,
        "OPENBLAS_NUM_THREADS": n,
        "TF_NUM_INTRAOP_THREADS": n,
        "TF_NUM_INTEROP_THREADS": n,
    }
    if threads == 1:
        flag = "--xla_cpu_multi_thread_eigen=false"
        flags = environ.get("XLA_FLAGS", "")
        env["XLA_FLAGS"] = flags if flag in flags else (flags + " " + flag).strip()
    return env


def plan_slots(jobs, gpus, cores, environ=None):
    """The `jobs` slots of `local --jobs`: [Slot]. Pure: the unit tests call it without GPUs.

    With GPUs, slot i owns gpus[i] (one run per GPU, never two on one device) and an equal share
    of the cores for its input pipeline; without, slot i owns cores [i*k, (i+1)*k), k = cores/jobs,
    and its thread pools are capped at k.
    """
    if jobs < 1:
        raise UserError("--jobs must be at least 1, got %d" % jobs)
    if gpus and jobs > len(gpus):
        raise UserError(
            "--jobs %d but %d GPU%s (%s): one run per GPU, so at most --jobs %d"
            % (jobs, len(gpus), "" if len(gpus) == 1 else "s", ",".join(gpus), len(gpus))
        )
    if not gpus and jobs > len(cores):
        raise UserError(
            "--jobs %d but %d CPU cores and no GPU: at most --jobs %d"
            % (jobs, len(cores), len(cores))
        )
    share = len(cores) // jobs
    slots = []
    for i in range(jobs):
        mine = cores[i * share : (i + 1) * share]
        env = thread_env(len(mine), environ)
        gpu = gpus[i] if gpus else None
        if gpu is not None:
            env["CUDA_VISIBLE_DEVICES"] = gpu
        slots.append(Slot(i, gpu, mine, env))
    return slots


# --- Records ---------------------------------------------------------------------------------------


def lost_record(spec, out, data_dir, error, started, wall_seconds):
    """run.json for a run whose executor died before execute() could write one (failed)."""
    folder = plan.run_dir(out, spec)
    os.makedirs(folder, exist_ok=True)
    params = dict(
        spec.params, backend=spec.backend, run_dir=folder, seed=spec.seed, data_dir=data_dir
    )
    record = execute.run_record(
        spec,
        params,
        "failed",
        error,
        started,
        wall_seconds,
    )
    runfiles.write_json_atomic(os.path.join(folder, runfiles.RUN_JSON), record)
    return record


def spec_to_json(spec):
    return dict(spec._asdict())


def spec_from_json(data):
    return plan.RunSpec(**data)


# --- local ---------------------------------------------------------------------------------------


class Sequential(object):
    """Today's behaviour: one run after another, in this process."""

    name = "local"

    def describe(self):
        return "one run at a time"

    def run(self, specs, out, data_dir, timeout=None, started=None):
        for spec in specs:
            if started:
                started(spec)
            yield spec, execute.execute(spec, out, data_dir, timeout)


class LocalJobs(object):
    """N blocks at a time on this host: each slot trains one block, its runs one after another,
    each run in a child process pinned to the slot (its GPU, or its share of the cores)."""

    name = "local"

    def __init__(self, jobs, gpus=None, cores=None):
        self.gpus = detect_gpus() if gpus is None else gpus
        self.cores = available_cores() if cores is None else cores
        self.slots = plan_slots(jobs, self.gpus, self.cores)
        self.children = set()  # the child processes of the runs in flight
        self.stopping = None  # the signal that stops them, once one came
        self.guard = threading.Lock()

    def describe(self):
        if self.gpus:
            return "%d blocks at a time, one GPU each (%s)" % (
                len(self.slots),
                ",".join(s.gpu for s in self.slots),
            )
        return "%d blocks at a time on CPU, %d core(s) each" % (
            len(self.slots),
            len(self.slots[0].cores),
        )

    def run(self, specs, out, data_dir, timeout=None, started=None):
        """A free slot takes the next block and trains its runs one after another; the slot is
        free again when the block's last run is over. A run that fails does not stop its block."""
        queue = collections.deque(plan.blocks(specs))
        free = list(self.slots)
        with concurrent.futures.ThreadPoolExecutor(len(self.slots)) as pool:
            running = {}  # future -> (slot, the block's runs still to train)

            def submit(slot, block):
                spec = block.popleft()
                if started:
                    started(spec)
                future = pool.submit(self._one, spec, slot, out, data_dir, timeout)
                running[future] = (slot, block)

            try:
                while queue or running:
                    while queue and free:
                        submit(free.pop(0), collections.deque(queue.popleft()))
                    done, _ = concurrent.futures.wait(
                        running, return_when=concurrent.futures.FIRST_COMPLETED
                    )
                    for future in sorted(done, key=lambda f: running[f][0].index):
                        slot, block = running.pop(future)
                        result = future.result()
                        if block:
                            submit(slot, block)  # the block's next run, on the same slot
                        else:
                            free.append(slot)
                        yield result
                    free.sort(key=lambda s: s.index)
            except signals.Terminated as stop:
                stop.records += self.stop(stop.signum, running)
                raise

    def stop(self, signum, running):
        """SIGTERM or SIGHUP: passed on to every run's child process, which kills its kernel and
        records its run (`execute`); no new child starts. Returns the records of the runs in
        flight, once their children have ended (one that takes longer than STOP_WAIT is killed)."""
        with self.guard:
            self.stopping = signum
            for child in self.children:
                if child.poll() is None:
                    child.send_signal(signum)
        done, late = concurrent.futures.wait(running, timeout=STOP_WAIT)
        if late:
            with self.guard:
                for child in self.children:
                    child.kill()
            concurrent.futures.wait(late)
        records = []
        for future in running:
            try:
                record = future.result()[1]
            except execute.DiskFull as e:
                record = e.record
            if record is not None:
                records.append(record)
        return records

    def _one(self, spec, slot, out, data_dir, timeout):
        """One run in a child process (`python -m kerasbench.study.executors`); never raises.
        (spec, None) for a run that did not start because the study is stopping."""
        folder = plan.run_dir(out, spec)
        stale = os.path.join(folder, runfiles.RUN_JSON)
        if self.stopping:
            return spec, None
        if os.path.exists(stale):
            os.remove(stale)  # only the child's run.json may say how this attempt went
        job = {
            "spec": spec_to_json(spec),
            "out": out,
            "data_dir": data_dir,
            "timeout": timeout,
            "cores": slot.cores,
        }
        env = dict(os.environ, **slot.env)
        env["PYTHONPATH"] = kernels.LIB_DIR + (
            os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""
        )
        started, t0 = runfiles.now(), time.time()
        with self.guard:
            if self.stopping:
                return spec, None
            child = subprocess.Popen(
                [sys.executable, "-m", "kerasbench.study.executors"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                text=True,
            )
            self.children.add(child)
        try:
            _, stderr = child.communicate(json.dumps(job))
        finally:
            with self.guard:
                self.children.discard(child)
        record = runfiles.read_json(stale)
        record = record if isinstance(record, dict) else None
        if child.returncode == DISK_FULL:
            raise execute.DiskFull(
                record
                or execute.run_record(
                    spec,
                    dict(spec.params),
                    "failed",
                    one_line(stderr),
                    started,
                    time.time() - t0,
                )
            )
        if record is None and child.returncode in (INTERRUPTED, -signal.SIGINT):
            # Ctrl-C: no run.json, like an interrupted sequential run, so a rerun trains it.
            return spec, dict(
                workload=spec.workload,
                backend=spec.backend,
                repeat=spec.repeat,
                status="interrupted",
                wall_seconds=time.time() - t0,
                error="interrupted",
            )
        if record is None and signals.stopped_by(child.returncode):
            # SIGTERM or SIGHUP before the run's kernel started: nothing trained.
            return spec, lost_record(
                spec,
                out,
                data_dir,
                signals.interrupted(signals.stopped_by(child.returncode)),
                started,
                time.time() - t0,
            )
        if record is None:
            why = one_line(stderr) if stderr.strip() else "no output"
            record = lost_record(
                spec,
                out,
                data_dir,
                "the run's process exited with code %d "
                "before writing run.json: %s" % (child.returncode, why),
                started,
                time.time() - t0,
            )
        return spec, record


def _child_main():
    """A child of `local --jobs`: one run, from the job on stdin, on the slot's cores. SIGTERM or
    SIGHUP (from the runner, or sent to the whole process group) kills the run's kernel and
    records the run; the exit code is then 128 + the signal."""
    with signals.handled():
        try:
            job = json.load(sys.stdin)
            if job.get("cores") and hasattr(os, "sched_setaffinity"):
                os.sched_setaffinity(0, job["cores"])  # inherited by the kernel it starts
            execute.execute(
                spec_from_json(job["spec"]), job["out"], job["data_dir"], job["timeout"]
            )
        except KeyboardInterrupt:
            return INTERRUPTED
        except signals.Terminated as stop:
            return stop.exit_code
        except execute.DiskFull as e:
            sys.stderr.write("%s\n" % e)
            return DISK_FULL
    return 0


# --- ray -----------------------------------------------------------------------------------------


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


def make(kind="local", jobs=None, address=None, cpus_per_run=None, device="auto"):
    """The executor `kerasbench run` asked for; a one-line UserError for a contradiction.
    `device` cpu: slots and tasks own CPU cores, never a GPU (the kernels see none)."""
    if kind not in EXECUTORS:
        raise UserError("unknown executor %r (executors: %s)" % (kind, ", ".join(EXECUTORS)))
    if jobs is not None and jobs < 1:
        raise UserError("--jobs must be at least 1, got %d" % jobs)
    if cpus_per_run is not None and cpus_per_run < 1:
        raise UserError("--cpus-per-run must be at least 1, got %d" % cpus_per_run)
    if kind == "local":
        if address:
            raise UserError("--address is for --executor ray")
        if cpus_per_run is not None:
            raise UserError(
                "--cpus-per-run is for --executor ray (local --jobs N shares the cores out evenly)"
            )
        if not jobs or jobs == 1:
            return Sequential()
        return LocalJobs(jobs, gpus=[] if device == "cpu" else None)
    return RayExecutor(
        address=address, jobs=jobs, cpus_per_run=cpus_per_run, cpu_only=device == "cpu"
    )


if __name__ == "__main__":
    sys.exit(_child_main())
