"""Executors (issue 7): the same matrix through `local`, `local --jobs 2` and `ray` leaves the same
run folders and report tables; a Ray worker killed mid-run is retried once, then recorded, never
lost; a rerun resumes. The slot planning of `local --jobs` (GPU pinning, thread caps) is checked
without GPUs. The Ray tests start a local Ray instance of 2 CPUs (`--jobs 2`).

Blocks (issue 26): every executor trains a block (one workload in one repeat) on one slot, GPU or
Ray task, one run after another; checked with stand-ins for the runs (a short sleep each), and on
Ray with 2 GPUs declared as resources, so no GPU is needed.
"""

import io
import json
import os
import signal
import tarfile
import threading
import time

import pytest

from kerasbench import cli, runfiles
from kerasbench.report import rundata, summary as summary_mod
from kerasbench.study import executors, handoff, hosts, plan, rayexec, signals
from kerasbench.errors import UserError

SMI = """GPU 0: NVIDIA H200 (UUID: GPU-0b3f0c6e-1111-2222-3333-444455556666)
GPU 1: NVIDIA H200 (UUID: GPU-0b3f0c6e-1111-2222-3333-444455556667)
"""


# --- Slots of `local --jobs N`, without GPUs -----------------------------------------------------


def test_nvidia_smi_is_parsed():
    assert hosts.parse_nvidia_smi(SMI) == ["0", "1"]
    assert hosts.parse_nvidia_smi("") == []
    assert hosts.parse_nvidia_smi("No devices were found\n") == []


def test_gpus_come_from_cuda_visible_devices_first():
    assert hosts.detect_gpus({"CUDA_VISIBLE_DEVICES": "2,3"}, nvidia_smi=SMI) == ["2", "3"]
    assert hosts.detect_gpus({"CUDA_VISIBLE_DEVICES": ""}, nvidia_smi=SMI) == []
    assert hosts.detect_gpus({"CUDA_VISIBLE_DEVICES": "-1"}, nvidia_smi=SMI) == []
    assert hosts.detect_gpus({}, nvidia_smi=SMI) == ["0", "1"]


def test_one_gpu_per_slot():
    slots = hosts.plan_slots(2, ["0", "1"], list(range(16)), environ={})
    assert [s.env["CUDA_VISIBLE_DEVICES"] for s in slots] == ["0", "1"]
    assert [s.gpu for s in slots] == ["0", "1"]
    assert [s.cores for s in slots] == [list(range(8)), list(range(8, 16))]
    for slot in slots:
        assert slot.env["OMP_NUM_THREADS"] == slot.env["TF_NUM_INTRAOP_THREADS"] == "8"
        assert "XLA_FLAGS" not in slot.env


def test_gpus_given_by_cuda_visible_devices_are_shared_out():
    gpus = hosts.detect_gpus({"CUDA_VISIBLE_DEVICES": "4,6,7"}, nvidia_smi=SMI)
    slots = hosts.plan_slots(3, gpus, list(range(6)), environ={})
    assert [s.env["CUDA_VISIBLE_DEVICES"] for s in slots] == ["4", "6", "7"]
    assert [len(s.cores) for s in slots] == [2, 2, 2]


def test_cpu_slots_own_their_cores_and_cap_threads():
    slots = hosts.plan_slots(2, [], [0, 1], environ={"XLA_FLAGS": "--xla_dump_to=/tmp/x"})
    assert [s.cores for s in slots] == [[0], [1]]
    for slot in slots:
        assert slot.gpu is None and "CUDA_VISIBLE_DEVICES" not in slot.env
        assert slot.env["OMP_NUM_THREADS"] == slot.env["MKL_NUM_THREADS"] == "1"
        assert slot.env["TF_NUM_INTRAOP_THREADS"] == slot.env["TF_NUM_INTEROP_THREADS"] == "1"
        # the user's XLA flags are kept; one thread also turns off XLA's multi-threaded Eigen
        assert slot.env["XLA_FLAGS"] == "--xla_dump_to=/tmp/x --xla_cpu_multi_thread_eigen=false"
    slots = hosts.plan_slots(3, [], list(range(7)), environ={})
    assert [s.cores for s in slots] == [[0, 1], [2, 3], [4, 5]]
    assert slots[0].env["OMP_NUM_THREADS"] == "2" and "XLA_FLAGS" not in slots[0].env


@pytest.mark.parametrize(
    "jobs, gpus, cores, message",
    [
        (3, ["0", "1"], list(range(16)), "--jobs 3 but 2 GPUs (0,1): one run per GPU"),
        (3, [], [0, 1], "--jobs 3 but 2 CPU cores and no GPU"),
        (0, [], [0, 1], "--jobs must be at least 1"),
    ],
)
def test_impossible_slots_are_one_line_errors(jobs, gpus, cores, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        hosts.plan_slots(jobs, gpus, cores, environ={})


def test_make_picks_the_executor():
    assert isinstance(executors.make("local"), executors.Sequential)
    assert isinstance(executors.make("local", jobs=1), executors.Sequential)
    with pytest.raises(UserError, match="--address is for --executor ray"):
        executors.make("local", address="head:6379")
    with pytest.raises(UserError, match="--cpus-per-run is for --executor ray"):
        executors.make("local", cpus_per_run=2)
    with pytest.raises(UserError, match="--jobs must be at least 1"):
        executors.make("ray", jobs=0)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--address", "head:6379"], "--address is for --executor ray"),
        (["--executor", "ray", "--jobs", "0"], "--jobs must be at least 1"),
        (["--executor", "dask"], "invalid choice: 'dask'"),
    ],
)
def test_executor_options_are_checked_before_anything_runs(args, message, capfd):
    try:
        code = cli.main(
            ["run", "--profile", "smoke", "--workloads", "mnist_mlp", "--dry-run"] + args
        )
    except SystemExit as e:  # argparse's own errors
        code = e.code
    err = capfd.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_a_returned_run_folder_replaces_the_old_one(tmp_path):
    spec = plan.RunSpec("mnist_mlp", "jax", 0, 0, "smoke", {"epochs": 2}, "default")
    scratch, out = tmp_path / "worker", str(tmp_path / "out")
    worker_folder = plan.run_dir(str(scratch), spec)
    os.makedirs(worker_folder)
    record = {"workload": "mnist_mlp", "status": "ok", "params": {"run_dir": worker_folder}}
    with open(os.path.join(worker_folder, "run.json"), "w") as f:
        json.dump(record, f)
    open(os.path.join(worker_folder, "epochs.csv"), "w").write("epoch\n0\n1\n")
    stale = plan.run_dir(out, spec)
    os.makedirs(stale)
    open(os.path.join(stale, "kernel.log"), "w").write("an earlier attempt")
    relative = os.path.relpath(worker_folder, str(scratch))
    result = {
        "record": record,
        "relative": relative,
        "tar": rayexec._pack(str(scratch), relative),
    }
    got = rayexec.unpack(result, out, spec)
    assert sorted(os.listdir(stale)) == ["epochs.csv", "run.json"]
    assert got["params"]["run_dir"] == stale
    assert json.load(open(os.path.join(stale, "run.json")))["params"]["run_dir"] == stale
    assert not [n for n in os.listdir(os.path.dirname(stale)) if n.startswith(".incoming")]


def test_a_tar_cannot_write_outside_its_folder(tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        data = b"escaped"
        info = tarfile.TarInfo("../../../escaped.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    spec = plan.RunSpec("mnist_mlp", "jax", 0, 0, "smoke", {}, "default")
    with pytest.raises(tarfile.TarError):
        rayexec.unpack(
            {"record": {}, "relative": "runs/mnist_mlp/jax/0", "tar": buffer.getvalue()},
            str(tmp_path / "out"),
            spec,
        )
    assert not (tmp_path / "escaped.txt").exists()


# --- Blocks: one workload in one repeat stays on one slot, one GPU --------------------------------


def study_plan():
    """Two workloads x 2 backends x 2 configurations x 2 repeats: 4 blocks of 4 runs."""
    return plan.plan(
        "smoke", ["mnist_mlp", "mnist_cnn"], ["jax", "torch"], repeats=2, config="default,tuned"
    )


def test_a_plan_groups_into_blocks_in_plan_order():
    runs = study_plan()
    blocks = plan.blocks(runs)
    assert [b[0].block for b in blocks] == [
        ("mnist_mlp", 0),
        ("mnist_cnn", 0),
        ("mnist_mlp", 1),
        ("mnist_cnn", 1),
    ]
    assert [spec for block in blocks for spec in block] == runs  # plan order kept
    for block in blocks:
        assert {s.block for s in block} == {block[0].block}
        assert sorted((s.config, s.backend) for s in block) == [
            (c, b) for c in ("default", "tuned") for b in ("jax", "torch")
        ]
    assert plan.block_name(blocks[1][0]) == "mnist_cnn/0"
    # What a resumed study has left to train groups the same way, less what is done.
    left = [s for i, s in enumerate(runs) if i % 3]
    assert [s for block in plan.blocks(left) for s in block] == left
    assert [len(b) for b in plan.blocks(left)] == [2, 3, 3, 2]  # 0, 3, 6, 9, 12, 15 done
    # A spec that went through JSON (a `local --jobs` child, a Ray task) keeps its block.
    assert handoff.spec_from_json(handoff.spec_to_json(runs[5])).block == ("mnist_cnn", 0)


def overlapping(intervals):
    """Pairs of (start, end) intervals that overlap in time."""
    return [
        (a, b)
        for i, a in enumerate(intervals)
        for b in intervals[i + 1 :]
        if a[0] < b[1] and b[0] < a[1]
    ]


class FakeSlots(object):
    """Stands in for a `local --jobs` child: a short sleep, noting when and on which slot."""

    def __init__(self, fail=()):
        self.seen = []  # (spec, slot, start, end)
        self.fail = fail
        self.lock = threading.Lock()

    def __call__(self, spec, slot, out, data_dir, timeout):
        start = time.monotonic()
        time.sleep(0.05)
        with self.lock:
            self.seen.append((spec, slot, start, time.monotonic()))
        status = "failed" if spec.backend in self.fail else "ok"
        return spec, {"workload": spec.workload, "backend": spec.backend, "status": status}


def test_local_jobs_trains_a_block_on_one_gpu_one_run_at_a_time(monkeypatch, tmp_path):
    fake = FakeSlots(fail=("torch",))
    executor = executors.LocalJobs(2, gpus=["0", "1"], cores=[0, 1, 2, 3])
    monkeypatch.setattr(executor, "_one", fake)
    runs = study_plan()
    started = []
    results = list(executor.run(runs, str(tmp_path), None, started=started.append))
    assert sorted(map(runs.index, (s for s, _ in results))) == list(range(len(runs)))
    assert sorted(map(runs.index, started)) == list(range(len(runs)))
    by_block = {}
    for spec, slot, start, end in fake.seen:
        by_block.setdefault(spec.block, []).append((spec, slot, start, end))
    assert len(by_block) == 4
    for block, seen in by_block.items():
        assert len({slot.gpu for _, slot, _, _ in seen}) == 1, block  # one GPU per block
        assert not overlapping([(start, end) for _, _, start, end in seen]), block
        # in plan order, and a failed run (torch) does not stop its block
        assert [s for s, _, _, _ in sorted(seen, key=lambda x: x[2])] == [
            s for s in runs if s.block == block
        ]
    # Different blocks did train at once, on the two GPUs.
    assert {slot.gpu for _, slot, _, _ in fake.seen} == {"0", "1"}
    spans = {
        block: (min(x[2] for x in seen), max(x[3] for x in seen))
        for block, seen in by_block.items()
    }
    assert overlapping(list(spans.values()))


def test_local_jobs_resumes_what_is_left_of_a_block(monkeypatch, tmp_path):
    fake = FakeSlots()
    executor = executors.LocalJobs(2, gpus=[], cores=[0, 1])
    monkeypatch.setattr(executor, "_one", fake)
    runs = study_plan()
    left = [s for i, s in enumerate(runs) if i % 4 != 1]  # one run of each block is done
    results = list(executor.run(left, str(tmp_path), None))
    assert sorted(map(runs.index, (s for s, _ in results))) == [runs.index(s) for s in left]
    for block in plan.blocks(left):
        seen = [x for x in fake.seen if x[0].block == block[0].block]
        assert len(seen) == 3 and len({slot.index for _, slot, _, _ in seen}) == 1
        assert not overlapping([(start, end) for _, _, start, end in seen])


# --- Blocks on Ray: one task per block, on one GPU, with fakes for the runs -----------------------


@pytest.fixture(scope="class")
def ray_with_two_gpus():
    """A local Ray instance of 2 CPUs and 2 GPUs (Ray's GPU count is only a resource here)."""
    ray = pytest.importorskip("ray")
    ray.init(
        num_cpus=2,
        num_gpus=2,
        include_dashboard=False,
        log_to_driver=False,
        logging_level="ERROR",
        object_store_memory=100 * 1024 * 1024,
    )
    yield ray
    ray.shutdown()


def fake_run(attempts_dir, dies_once=(), dies_always=(), raises=()):
    """Stands in for execute.execute in a Ray worker: writes a run folder noting the worker's
    task, process and GPU, and when it ran; the worker dies (os._exit) at a backend's first
    attempt for `dies_once`, at every attempt for `dies_always`; the task raises for `raises`.
    Attempts are counted in files."""

    def run_one(spec, out, data_dir, timeout):
        import ray

        name = "%s-%s-%d" % (spec.workload, spec.backend, spec.repeat)
        marker = os.path.join(attempts_dir, name)
        with open(marker, "a") as f:
            f.write("%d\n" % os.getpid())
        attempt = len(open(marker).read().split())
        if spec.backend in dies_always or (spec.backend in dies_once and attempt == 1):
            os._exit(1)
        if spec.backend in raises:
            raise RuntimeError("a bug in the task")
        start = time.time()
        time.sleep(0.3)
        folder = plan.run_dir(out, spec)
        os.makedirs(folder)
        seen = {
            "task": ray.get_runtime_context().get_task_id(),
            "pid": os.getpid(),
            "gpu": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "start": start,
            "end": time.time(),
        }
        with open(os.path.join(folder, "seen.json"), "w") as f:
            json.dump(seen, f)
        record = {"workload": spec.workload, "backend": spec.backend, "repeat": spec.repeat}
        record.update(status="ok", params={"run_dir": folder})
        with open(os.path.join(folder, runfiles.RUN_JSON), "w") as f:
            json.dump(record, f)
        return record

    return run_one


def seen_of(out, spec):
    return json.load(open(os.path.join(plan.run_dir(out, spec), "seen.json")))


@pytest.mark.usefixtures("ray_with_two_gpus")
class TestRayBlocks(object):
    def test_a_block_is_one_task_on_one_gpu(self, tmp_path):
        out, attempts = str(tmp_path / "out"), str(tmp_path)
        runs = plan.plan("smoke", ["mnist_mlp", "mnist_cnn"], ["jax", "torch"], repeats=2)
        executor = rayexec.RayExecutor(jobs=2, run_one=fake_run(attempts))
        started = []
        results = list(executor.run(runs, out, str(tmp_path), started=started.append))
        assert sorted(map(runs.index, (s for s, _ in results))) == list(range(8))
        assert [r["status"] for _, r in results] == ["ok"] * 8
        assert sorted(map(runs.index, started)) == list(range(8))
        tasks = {}
        for block in plan.blocks(runs):
            seen = [seen_of(out, spec) for spec in block]
            assert len({s["task"] for s in seen}) == 1  # one Ray task
            assert len({s["gpu"] for s in seen}) == 1 and seen[0]["gpu"] in ("0", "1")
            assert [s["start"] for s in seen] == sorted(s["start"] for s in seen)  # plan order
            assert not overlapping([(s["start"], s["end"]) for s in seen])
            tasks[block[0].block] = seen[0]["task"]
        assert len(set(tasks.values())) == 4  # a task per block
        assert executor.gpus == 2 and "one block each" in executor.describe()

    def test_a_worker_death_mid_block_keeps_the_finished_runs(self, tmp_path):
        out, attempts = str(tmp_path / "out"), str(tmp_path)
        backends = ["jax", "torch", "tensorflow"]
        runs = plan.plan("smoke", ["mnist_mlp"], backends)  # one block: jax, torch, tensorflow
        run_one = fake_run(attempts, dies_once=("tensorflow",), dies_always=("torch",))
        executor = rayexec.RayExecutor(jobs=2, run_one=run_one)
        results = dict((s.backend, r) for s, r in executor.run(runs, out, str(tmp_path)))
        tries = {
            b: open(os.path.join(attempts, "mnist_mlp-%s-0" % b)).read().split() for b in backends
        }
        # jax finished before the first death: kept, never trained again.
        assert results["jax"]["status"] == "ok" and len(tries["jax"]) == 1
        assert seen_of(out, runs[0])["pid"] == int(tries["jax"][0])
        assert tries["torch"][0] == tries["jax"][0]  # the same worker: it died mid-block
        # torch's worker died at both attempts: recorded failed, and the block went on.
        assert len(tries["torch"]) == 2
        assert results["torch"]["status"] == "failed"
        assert "the Ray worker died (2 attempts)" in results["torch"]["error"]
        torch = json.load(open(os.path.join(plan.run_dir(out, runs[1]), runfiles.RUN_JSON)))
        assert torch["status"] == "failed" and torch["repeat"] == 0
        # tensorflow's worker died once: the retry finished it.
        assert len(tries["tensorflow"]) == 2 and results["tensorflow"]["status"] == "ok"
        assert seen_of(out, runs[2])["pid"] == int(tries["tensorflow"][1])

    def test_a_task_that_raises_fails_its_run_and_the_block_goes_on(self, tmp_path):
        out, attempts = str(tmp_path / "out"), str(tmp_path)
        runs = plan.plan("smoke", ["mnist_mlp"], ["jax", "torch"])
        executor = rayexec.RayExecutor(run_one=fake_run(attempts, raises=("jax",)))
        results = dict((s.backend, r) for s, r in executor.run(runs, out, str(tmp_path)))
        assert results["jax"]["status"] == "failed"
        assert "the Ray task failed" in results["jax"]["error"]
        assert "a bug in the task" in results["jax"]["error"]
        assert results["torch"]["status"] == "ok"
        assert os.path.exists(os.path.join(plan.run_dir(out, runs[0]), runfiles.RUN_JSON))


def stopping_run(marks, answers=True):
    """Stands in for execute.execute in a Ray worker, for a runner that stops: starts a stand-in
    kernel (a sleeping process whose command line is a kernel's, in a session of its own, named
    in kernel.pid as KernelWatch names a kernel), logs 2 epochs, marks `marks`/<backend> with
    the kernel's pid and waits for the kernel to die, then records the run failed as execute
    does for a dead kernel. `answers` False: it then sleeps on (a worker that does not answer)."""

    def run_one(spec, out, data_dir, timeout):
        import subprocess
        import sys

        from kerasbench.study import execute

        folder = os.path.abspath(plan.run_dir(out, spec))
        os.makedirs(folder)
        connection = os.path.join(folder, "kernel-1.json")
        code = "import time; time.sleep(120)"
        argv = [sys.executable, "-c", code, "ipykernel_launcher", "-f", connection]
        kernel = subprocess.Popen(argv, start_new_session=True)
        while execute.process_start_time(kernel.pid) is None:
            time.sleep(0.01)
        start = execute.process_start_time(kernel.pid)
        runfiles.write_kernel_pid(folder, kernel.pid, connection, start)
        writer = runfiles.EpochWriter(os.path.join(folder, runfiles.EPOCHS_CSV))
        for epoch in range(2):
            writer.write({"epoch": epoch, "epoch_seconds": 0.1, "loss": 0.5})
        writer.close()
        with open(os.path.join(marks, spec.backend), "w") as f:
            f.write(str(kernel.pid))
        if not answers:
            time.sleep(120)
        deadline = time.time() + 30
        while kernel.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        runfiles.remove_kernel_pid(folder)
        record = {"workload": spec.workload, "backend": spec.backend, "repeat": spec.repeat}
        record.update(status="failed", error="the kernel died (killed by SIGKILL)")
        record.update(params={"run_dir": folder})
        runfiles.write_json_atomic(os.path.join(folder, runfiles.RUN_JSON), record)
        return record

    return run_one


def stop_once_training(marks, backends):
    """The runner's `started`: once every backend's run is training, SIGTERM arrives."""

    def started(spec):
        deadline = time.time() + 60
        while not all(os.path.exists(os.path.join(marks, b)) for b in backends):
            assert time.time() < deadline, "the runs did not start training"
            time.sleep(0.05)
        raise signals.Terminated(signal.SIGTERM)

    return started


def dead(pid, wait=10.0):
    deadline = time.time() + wait
    while time.time() < deadline:
        try:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().rsplit(")", 1)[-1].split()[0] == "Z":
                    return True
        except OSError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.usefixtures("ray_with_two_gpus")
class TestRayStops(object):
    """SIGTERM or SIGHUP to a runner on Ray, as `signals.Terminated` raised in the runner (the
    real signal: tests/test_signals.py). The run each task trains is stopped by the worker's
    watchdog, which kills its kernel, and comes back recorded as a local run would be."""

    def test_the_runs_in_flight_come_back_recorded_interrupted(self, tmp_path):
        out, marks = str(tmp_path / "out"), str(tmp_path)
        runs = plan.plan("smoke", ["mnist_mlp", "mnist_cnn"], ["jax"])  # 2 blocks: 2 tasks
        runs = [runs[0], runs[1]._replace(backend="torch")]  # one mark per run
        executor = rayexec.RayExecutor(jobs=2, run_one=stopping_run(marks))
        started = stop_once_training(marks, ["jax", "torch"])
        t0 = time.time()
        with pytest.raises(signals.Terminated) as stopped:
            list(executor.run(runs, out, str(tmp_path), started=started))
        assert time.time() - t0 < 30
        records = stopped.value.records
        assert sorted(r["backend"] for r in records) == ["jax", "torch"]
        for spec in runs:
            assert dead(int(open(os.path.join(marks, spec.backend)).read())), "kernel killed"
            run = runfiles.read_run(plan.run_dir(out, spec))
            assert run.status == "failed" and not run.damaged, run.why()
            assert run.record["error"] == "interrupted by SIGTERM after 2 epochs logged"
            assert run.record["params"]["run_dir"] == plan.run_dir(out, spec)
            assert len(run.epochs) == 2
            assert not os.path.exists(os.path.join(plan.run_dir(out, spec), runfiles.KERNEL_PID))

    def test_a_run_whose_worker_does_not_answer_is_recorded_by_the_runner(
        self, tmp_path, monkeypatch
    ):
        monkeypatch.setattr(signals, "STOP_WAIT", 3.0)
        out, marks = str(tmp_path / "out"), str(tmp_path)
        runs = plan.plan("smoke", ["mnist_mlp"], ["jax", "torch"])  # one block: jax, then torch
        executor = rayexec.RayExecutor(run_one=stopping_run(marks, answers=False))
        with pytest.raises(signals.Terminated) as stopped:
            list(executor.run(runs, out, str(tmp_path), started=stop_once_training(marks, ["jax"])))
        assert dead(int(open(os.path.join(marks, "jax")).read())), "its watchdog killed it"
        [record] = stopped.value.records
        assert record["backend"] == "jax" and record["error"] == "interrupted by SIGTERM"
        assert runfiles.read_run(plan.run_dir(out, runs[0])).status == "failed"
        assert not os.path.exists(plan.run_dir(out, runs[1])), "torch never started"
        assert not os.path.exists(os.path.join(marks, "torch"))

    def test_a_cluster_that_does_not_answer_leaves_the_records_to_the_runner(
        self, tmp_path, monkeypatch
    ):
        """SIGTERM to the whole process group stops Ray's own processes with the runner: its
        store no longer answers, and the runner records its runs in flight itself, at once."""

        def gone(key, signum):
            raise ConnectionError("the GCS does not answer")

        monkeypatch.setattr(rayexec, "say_stop", gone)
        out, marks = str(tmp_path / "out"), str(tmp_path)
        runs = plan.plan("smoke", ["mnist_mlp"], ["jax"])
        executor = rayexec.RayExecutor(run_one=stopping_run(marks))
        t0 = time.time()
        try:
            with pytest.raises(signals.Terminated) as stopped:
                list(
                    executor.run(
                        runs, out, str(tmp_path), started=stop_once_training(marks, ["jax"])
                    )
                )
        finally:
            kernel = int(open(os.path.join(marks, "jax")).read())
            os.kill(kernel, signal.SIGKILL)  # here Ray lives on: its worker and kernel too
        assert time.time() - t0 < 20 and executor.cluster_gone
        [record] = stopped.value.records
        assert record["error"] == "interrupted by SIGTERM"
        assert (
            runfiles.read_json(os.path.join(plan.run_dir(out, runs[0]), runfiles.RUN_JSON))
            == record
        )


# --- The same matrix through every executor (papermill, minutes) ---------------------------------

MATRIX = [
    "run",
    "--profile",
    "smoke",
    "--workloads",
    "mnist_mlp",
    "--backends",
    "jax,torch",
    "--repeats",
    "2",
    "--no-download",
]  # 4 runs
EXECUTORS = {
    "local": [],
    "local-jobs": ["--jobs", "2"],
    "ray": ["--executor", "ray", "--jobs", "2"],
}


def folder_contents(out):
    """{run folder: its files}, relative to out/runs."""
    runs = os.path.join(out, "runs")
    return {
        os.path.relpath(root, runs): sorted(files)
        for root, _, files in os.walk(runs)
        if "run.json" in files
    }


def report_tables(out):
    """What the report says of the runs, less the timings (and the machine's name)."""
    index = rundata.load_run_index(os.path.join(out, "runs"))
    index = index[
        [
            "workload",
            "backend",
            "config",
            "repeat",
            "run_id",
            "status",
            "ok",
            "data_source",
            "profile",
            "seed",
            "n_epochs",
            "finished",
        ]
    ]
    summary = summary_mod.build(
        rundata.load_study(os.path.join(out, "runs"), []), n_resamples=100, coverage_studies=50
    ).table
    summary = summary[
        [
            "workload",
            "backend",
            "config",
            "runs",
            "not_ok_runs",
            "epochs",
            "final_metric_name",
            "data_source",
            "profile",
        ]
    ]
    return (
        index.sort_values("run_id").reset_index(drop=True),
        summary.sort_values(["workload", "backend"]).reset_index(drop=True),
    )


@pytest.fixture(scope="module")
def matrices(tmp_path_factory, data_dir):
    done = {}
    for name, args in EXECUTORS.items():
        out = str(tmp_path_factory.mktemp(name))
        t0 = time.time()
        code = cli.main(MATRIX + ["--out", out, "--data-dir", data_dir] + args)
        done[name] = (out, code, time.time() - t0)
    return done


@pytest.mark.slow
@pytest.mark.parametrize("name", ["local-jobs", "ray"])
def test_same_runs_and_report_as_local(matrices, name):
    local, code, _ = matrices["local"]
    other, other_code, _ = matrices[name]
    assert code == 0 and other_code == 0
    expected = {"mnist_mlp/%s/%d" % (b, r) for b in ("jax", "torch") for r in (0, 1)}
    assert set(folder_contents(local)) == expected
    assert folder_contents(other) == folder_contents(local)
    for mine, theirs in zip(report_tables(other), report_tables(local)):
        assert mine.equals(theirs), "\n%s\n%s" % (mine, theirs)
    for run_id in expected:
        record = json.load(open(os.path.join(other, "runs", run_id, "run.json")))
        assert record["status"] == "ok", record["error"]
        assert record["params"]["run_dir"] == os.path.join(other, "runs", run_id)


@pytest.mark.slow
def test_wall_times(matrices, capsys):
    with capsys.disabled():
        print(
            "\nsmoke matrix of 4 runs: "
            + ", ".join("%s %.1fs" % (name, wall) for name, (_, _, wall) in matrices.items())
        )


# --- A Ray worker killed mid-run -----------------------------------------------------------------


def _processes():
    """{pid: (parent pid, command line, working folder)} of this machine's processes."""
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
            with open("/proc/%s/cmdline" % name, "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
            cwd = os.readlink("/proc/%s/cwd" % name)
        except (OSError, IndexError, ValueError):
            continue
        found[int(name)] = (parent, cmdline, cwd)
    return found


class WorkerKiller(threading.Thread):
    """Kills (SIGKILL) the Ray worker whose run's kernel works in runs/mnist_mlp/<backend>/:
    once for `once`, at every attempt for `always`."""

    def __init__(self, once, always):
        super(WorkerKiller, self).__init__(daemon=True)
        self.once, self.always = once, always
        self.killed = []  # (backend, worker pid)
        self.seen = set()
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            processes = _processes()
            for pid, (parent, cmdline, cwd) in processes.items():
                if "ipykernel" not in cmdline or "kerasbench-ray-" not in cwd or pid in self.seen:
                    continue
                backend = cwd.rstrip("/").split("/")[-2]
                already = [b for b, _ in self.killed].count(backend)
                wanted = backend == self.always or (backend == self.once and not already)
                if wanted and parent in processes and "ray" in processes[parent][1]:
                    self.seen.add(pid)
                    try:
                        os.kill(parent, signal.SIGKILL)
                        self.killed.append((backend, parent))
                    except ProcessLookupError:
                        pass
            time.sleep(0.1)


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="finds the Ray workers through /proc")
def test_killed_worker_is_retried_then_recorded_and_resumed(tmp_path, data_dir, capfd):
    out = str(tmp_path / "out")
    args = [
        "run",
        "--profile",
        "smoke",
        "--workloads",
        "mnist_mlp",
        "--backends",
        "jax,torch",
        "--out",
        out,
        "--data-dir",
        data_dir,
        "--no-download",
        "--executor",
        "ray",
        "--jobs",
        "2",
    ]
    killer = WorkerKiller(once="jax", always="torch")
    killer.start()
    try:
        code = cli.main(args)
    finally:
        killer.stop.set()
        killer.join()
    capfd.readouterr()
    kills = [b for b, _ in killer.killed]
    assert kills.count("jax") == 1 and kills.count("torch") == 2, killer.killed
    assert code == 1
    # jax: its worker died once mid-run; the retry finished the run.
    jax = json.load(open(os.path.join(out, "runs", "mnist_mlp", "jax", "0", "run.json")))
    assert jax["status"] == "ok", jax["error"]
    # torch: its worker died at both attempts; the run is recorded as failed, not lost.
    torch = json.load(open(os.path.join(out, "runs", "mnist_mlp", "torch", "0", "run.json")))
    assert torch["status"] == "failed"
    assert "the Ray worker died (2 attempts)" in torch["error"]
    assert torch["workload"] == "mnist_mlp" and torch["repeat"] == 0
    # A rerun resumes: the finished run is skipped, the failed one runs again.
    assert cli.main(args) == 0
    err = capfd.readouterr().err
    assert "mnist_mlp jax #0: done earlier, skipped" in err
    assert "mnist_mlp torch #0: ok" in err
    again = json.load(open(os.path.join(out, "runs", "mnist_mlp", "jax", "0", "run.json")))
    assert again == jax


def test_scratch_of_dead_workers_is_swept(tmp_path):
    alive = tmp_path / ("kerasbench-ray-%d-abc" % os.getpid())
    dead = tmp_path / "kerasbench-ray-999999999-abc"
    other = tmp_path / "kerasbench-ray-notes"
    for folder in (alive, dead, other):
        folder.mkdir()
    rayexec.sweep_scratch(str(tmp_path))
    assert alive.exists() and other.exists() and not dead.exists()
