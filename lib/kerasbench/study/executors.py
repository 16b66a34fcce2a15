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
  ray              each block is a Ray task on whichever node runs it, its runs one after another
                   in a scratch folder there, each run folder sent back as it ends (`rayexec`)

SIGTERM or SIGHUP to the runner (`signals`): `local --jobs` passes it on to each run's child
process, which kills its kernel and records its run `failed`, "interrupted by SIGTERM"; `ray`
tells each task, whose worker kills its run's kernel and sends the run back recorded the same way.

What this host has (GPUs, cores, the slots of `local --jobs`) is `hosts`; a run handed to another
process, `handoff`. Host side: nothing here imports Keras or a framework, and Ray is imported only
by the ray executor.
"""

import collections
import concurrent.futures
import json
import os
import signal
import subprocess
import sys
import threading
import time

from kerasbench import runfiles
from kerasbench.errors import UserError, one_line
from kerasbench.study import execute, kernels, plan, signals
from kerasbench.study.handoff import lost_record, spec_from_json, spec_to_json
from kerasbench.study.hosts import available_cores, detect_gpus, plan_slots
from kerasbench.study.rayexec import RayExecutor

EXECUTORS = ("local", "ray")
INTERRUPTED = 130  # exit code of a `local --jobs` child stopped by Ctrl-C
DISK_FULL = 75  # exit code of a `local --jobs` child whose run met a full disk (EX_TEMPFAIL)


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
        flight, once their children have ended (one that takes longer than signals.STOP_WAIT is killed)."""
        with self.guard:
            self.stopping = signum
            for child in self.children:
                if child.poll() is None:
                    child.send_signal(signum)
        done, late = concurrent.futures.wait(running, timeout=signals.STOP_WAIT)
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
        return spec, child_record(spec, child.returncode, stderr, out, data_dir, started, t0)


def child_record(spec, returncode, stderr, out, data_dir, started, t0):
    """The record of a run a `local --jobs` child ended with `returncode`: its run.json, or
    where it wrote none, what its exit says (Ctrl-C: no run.json, as locally; SIGTERM before
    the kernel started: interrupted; anything else: failed, with its last line). Raises
    execute.DiskFull for a child that met a full disk."""
    record = runfiles.read_json(os.path.join(plan.run_dir(out, spec), runfiles.RUN_JSON))
    record = record if isinstance(record, dict) else None
    if returncode == DISK_FULL:
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
    if record is None and returncode in (INTERRUPTED, -signal.SIGINT):
        # Ctrl-C: no run.json, like an interrupted sequential run, so a rerun trains it.
        return dict(
            workload=spec.workload,
            backend=spec.backend,
            repeat=spec.repeat,
            status="interrupted",
            wall_seconds=time.time() - t0,
            error="interrupted",
        )
    if record is None and signals.stopped_by(returncode):
        # SIGTERM or SIGHUP before the run's kernel started: nothing trained.
        return lost_record(
            spec,
            out,
            data_dir,
            signals.interrupted(signals.stopped_by(returncode)),
            started,
            time.time() - t0,
        )
    if record is None:
        why = one_line(stderr) if stderr.strip() else "no output"
        record = lost_record(
            spec,
            out,
            data_dir,
            "the run's process exited with code %d before writing run.json: %s" % (returncode, why),
            started,
            time.time() - t0,
        )
    return record


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
