"""Where each backend really trained: the kernel's record, the failure of a run that trained on
the CPU of a machine with a GPU, `--device`, and the GPU check before any run.

There is no GPU here: a machine with one is faked by replacing `environment.device` in the
runner's process, a kernel's answer by a stand-in notebook (no Keras) that writes the
kernel.json a kernel would, and a framework's probe by a kernel spec whose Python is a script
printing a canned answer. The real kernels are used where the answer is the CPU's: a smoke run of
the MNIST MLP on three backends, and their probes.
"""

import json
import os
import stat
import sys
import time

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpec

from kerasbench import cli, environment, registry, runfiles
from kerasbench.errors import UserError
from kerasbench.report import machines, notes, rules, rundata, summary
from kerasbench.study import execute, kernels, plan, runner

from conftest import REPO, SHARED_DATA, smoke_run

H200 = {
    "cpu": "Intel(R) Xeon(R) Processor",
    "cores": 16,
    "gpu": "NVIDIA H200",
    "gpu_count": 1,
    "gpu_memory_mb": 143771,
    "driver": "580.159.04",
    "gpu_uuid": "GPU-e82bb7f6-798f-964c-2d57-81369e01e796",
    "machine": "x86_64",
    "host": "vm",
}
JAX_ON_CPU = {
    "kind": "cpu",
    "devices": ["cpu:0"],
    "framework": "jax",
    "how": "the model's variables",
    "gpus_seen": [],
    "why": "jax sees only cpu:0: its CUDA plugin (jax_cuda13_plugin) did not load",
}
JAX_ON_GPU = dict(JAX_ON_CPU, kind="gpu", devices=["cuda:0"], gpus_seen=["cuda:0"], why=None)


def shared_folder():
    """The shared folder beside the checkout (its datasets' parent), or None."""
    data = os.environ.get("KERASBENCH_DATA") or SHARED_DATA
    parent = os.path.dirname(os.path.normpath(data))
    return parent if os.path.isdir(parent) else None


needs_kernel = pytest.mark.skipif(
    kernels.find("jax") is None, reason="no kerasbench-jax kernel: run `make kernels`"
)


@pytest.fixture
def gpu_machine(monkeypatch):
    """This process sees a machine with an H200 (nvidia-smi's answer, faked)."""
    monkeypatch.setattr(environment, "device", lambda: dict(H200))
    return H200


# --- The record, normalised -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "names, kind",
    [
        (["cuda:0"], "gpu"),
        (["/job:localhost/replica:0/task:0/device:GPU:0"], "gpu"),
        (["GPU:0", "CPU:0"], "gpu"),  # one variable on the GPU: the model is there
        (["cpu:0"], "cpu"),
        (["TFRT_CPU_0"], "cpu"),
        (["CPU:0", "cpu"], "cpu"),
        (["mps:0"], "other"),
        ([], "unknown"),
    ],
)
def test_device_kind_reads_every_frameworks_names(names, kind):
    assert runfiles.device_kind(names) == kind


def test_trained_on_reads_the_kernels_record_and_older_ones():
    assert runfiles.trained_on({"trained_on": JAX_ON_GPU})["kind"] == "gpu"
    assert runfiles.trained_on({"trained_on": JAX_ON_GPU})["recorded"] is True
    # Older records: JAX's arrays' devices, PyTorch's CUDA version on a GPU machine, the native
    # loop's device; TensorFlow's said nothing.
    old_jax = runfiles.trained_on(
        {
            "backend": "jax",
            "versions": {"backend_framework": "jax 0.11.2", "jax_devices": ["cpu:0"]},
        }
    )
    assert (old_jax["kind"], old_jax["devices"], old_jax["recorded"]) == ("cpu", ["cpu:0"], False)
    assert old_jax["from"] == "versions.jax_devices"
    torch = {"backend": "torch", "versions": {"backend_framework": "torch 2.11.0"}, "device": H200}
    assert runfiles.trained_on(dict(torch, versions={"cuda": "13.0"}))["kind"] == "gpu"
    assert runfiles.trained_on(dict(torch, versions={"cuda": None}))["kind"] == "cpu"
    assert runfiles.trained_on(dict(torch, device={"gpu": None})) is None  # no GPU: moot
    native = {"backend": "native-torch", "backend_settings": {"device": "cuda:0"}}
    assert runfiles.trained_on(native)["kind"] == "gpu"
    tf = {"backend": "tensorflow", "versions": {"backend_framework": "tensorflow 2.21.0"}}
    assert runfiles.trained_on(dict(tf, device=H200)) is None
    assert runfiles.trained_on(None) is None


def test_cpu_fallback_only_on_a_gpu_machine_and_only_unasked():
    line = runfiles.cpu_fallback(JAX_ON_CPU, H200, "auto")
    assert line == (
        "jax trained on the CPU although this machine has a GPU (NVIDIA H200): jax sees only "
        "cpu:0: its CUDA plugin (jax_cuda13_plugin) did not load"
    )
    assert runfiles.cpu_fallback(JAX_ON_CPU, H200, "gpu") == line
    assert runfiles.cpu_fallback(JAX_ON_CPU, H200, "cpu") is None  # asked for
    assert runfiles.cpu_fallback(JAX_ON_CPU, dict(H200, gpu=None), "auto") is None  # no GPU
    assert runfiles.cpu_fallback(JAX_ON_GPU, H200, "auto") is None
    assert runfiles.cpu_fallback(None, H200, "auto") is None  # not recorded: not judged here
    # An older record without a reason: what the framework saw.
    old = runfiles.trained_on({"backend": "jax", "versions": {"jax_devices": ["cpu:0"]}})
    assert runfiles.cpu_fallback(old, H200, None).endswith(": jax sees only cpu:0")


def test_gpu_view_of_this_machines_frameworks():
    """The probe's own code, in the test's Python (no GPU here): each framework says why."""
    view = environment.gpu_view("jax")
    assert view["gpus"] == [] and view["devices"] and view["framework"].startswith("jax ")
    assert view["why"].startswith("jax sees only cpu")


# --- The failure rule, in the runner -----------------------------------------------------------


# A stand-in for the MLP's notebook (its parameters cell, then no Keras): writes the epochs and
# the kernel.json a kernel would, and what its environment says about the GPU (--device cpu).
def mlp_parameters():
    cells = nbformat.read(registry.notebook_path("mnist_mlp"), as_version=4).cells
    cell = next(c for c in cells if "parameters" in c.metadata.get("tags", []))
    return cell.source + '\nkernel_record = "{}"\n'


BODY = """import json, os
with open(os.path.join(run_dir, "epochs.csv"), "w") as f:
    f.write("epoch,epoch_seconds,train_seconds,elapsed_seconds,samples_per_second,loss,accuracy,"
            "val_loss,val_accuracy\\n")
    for epoch in range(epochs):
        f.write("%d,0.1,0.08,%.1f,1000.0,0.5,0.8,0.5,0.8\\n" % (epoch, 0.1 * (epoch + 1)))
record = dict(json.loads(kernel_record), backend=backend)
with open(os.path.join(run_dir, "kernel.json"), "w") as f:
    json.dump(record, f)
with open(os.path.join(run_dir, "environment.seen"), "w") as f:
    json.dump({k: os.environ.get(k) for k in ("CUDA_VISIBLE_DEVICES", "JAX_PLATFORMS")}, f)
"""


@pytest.fixture
def stand_in(stand_in_notebook):
    return stand_in_notebook("stand_in", mlp_parameters(), BODY)


def spec_of(record, device="auto", repeat=0):
    return plan.RunSpec(
        "mnist_mlp",
        "jax",
        repeat,
        repeat,
        "smoke",
        {"epochs": 2, "kernel_record": json.dumps(record)},
        "default",
        device,
    )


def seen_environment(out, spec):
    with open(os.path.join(plan.run_dir(out, spec), "environment.seen")) as f:
        return json.load(f)


@needs_kernel
def test_a_run_on_the_cpu_of_a_gpu_machine_is_failed_and_trained_again(
    stand_in, gpu_machine, tmp_path
):
    out = str(tmp_path / "out")
    spec = spec_of({"trained_on": JAX_ON_CPU, "device": H200})
    record = execute.execute(spec, out, None)
    assert record["status"] == "failed"
    assert record["error"] == runfiles.cpu_fallback(JAX_ON_CPU, H200, "auto")
    assert record["trained_on"]["kind"] == "cpu" and record["device_requested"] == "auto"
    assert seen_environment(out, spec) == {"CUDA_VISIBLE_DEVICES": None, "JAX_PLATFORMS": None}
    on_disk = runfiles.read_run(plan.run_dir(out, spec))
    assert on_disk.status == "failed" and not on_disk.damaged
    assert runner.resume_state(out, spec)[0] == runner.TODO  # resume trains it again

    # The same kernel on the GPU: ok.
    gpu_spec = spec_of({"trained_on": JAX_ON_GPU, "device": H200}, repeat=1)
    assert execute.execute(gpu_spec, out, None)["status"] == "ok"
    assert runner.resume_state(out, gpu_spec)[0] == runner.DONE


@needs_kernel
def test_an_older_kernel_record_with_only_jax_devices_is_judged_too(
    stand_in, gpu_machine, tmp_path
):
    out = str(tmp_path / "out")
    spec = spec_of({"versions": {"jax_devices": ["cpu:0"]}, "device": H200})
    record = execute.execute(spec, out, None)
    assert record["status"] == "failed"
    assert record["error"].startswith("jax trained on the CPU although this machine has a GPU")


@needs_kernel
def test_device_cpu_hides_the_gpu_from_the_kernel_and_passes(stand_in, gpu_machine, tmp_path):
    out = str(tmp_path / "out")
    spec = spec_of({"trained_on": JAX_ON_CPU, "device": H200}, device="cpu")
    record = execute.execute(spec, out, None)
    assert record["status"] == "ok", record["error"]
    assert record["device_requested"] == "cpu"
    assert seen_environment(out, spec) == {"CUDA_VISIBLE_DEVICES": "", "JAX_PLATFORMS": "cpu"}
    assert runner.resume_state(out, spec)[0] == runner.DONE
    # Asked for the CPU, then for the GPU: another plan, never silently mixed.
    state, why = runner.resume_state(out, spec._replace(device="auto"))
    assert state == runner.CONFLICT and why == "--device cpu, not auto"


def test_an_older_ok_run_on_the_cpu_of_a_gpu_machine_is_not_skipped(tmp_path):
    """A run recorded ok by older code, though JAX trained on the CPU of the H200."""
    out = str(tmp_path / "out")
    spec = plan.RunSpec("mnist_mlp", "jax", 0, 0, "smoke", {"epochs": 2}, "default")
    folder = plan.run_dir(out, spec)
    os.makedirs(folder)
    record = runfiles.record(
        "mnist_mlp",
        "jax",
        "smoke",
        0,
        0,
        "default",
        {"epochs": 2},
        "ok",
        None,
        runfiles.now(),
        1.0,
        kernel_info={"versions": {"jax_devices": ["cpu:0"]}, "device": H200},
    )
    record.pop("trained_on")
    record.pop("device_requested")
    runfiles.write_json_atomic(os.path.join(folder, runfiles.RUN_JSON), record)
    writer = runfiles.EpochWriter(os.path.join(folder, runfiles.EPOCHS_CSV))
    for epoch in range(2):
        writer.write({"epoch": epoch, "epoch_seconds": 0.1})
    writer.close()
    state, why = runner.resume_state(out, spec)
    assert state == runner.TODO
    assert (
        why
        == "jax trained on the CPU although this machine has a GPU (NVIDIA H200): jax sees only cpu:0"
    )
    on_cpu_machine = dict(record, device=dict(H200, gpu=None, gpu_uuid=None))
    runfiles.write_json_atomic(os.path.join(folder, runfiles.RUN_JSON), on_cpu_machine)
    assert runner.resume_state(out, spec)[0] == runner.DONE


def test_a_native_loop_on_the_cpu_of_a_gpu_machine_is_failed(gpu_machine, tmp_path, data_dir):
    """The floor is judged as the backends are: its default device fell back to the CPU."""
    import dataclasses

    from kerasbench.native import loop

    cfg = loop.Config(
        workload="mnist_mlp",
        framework="torch",
        mode="step",
        out=str(tmp_path / "auto"),
        epochs=1,
        train_samples=256,
        test_samples=128,
        data_dir=data_dir,
    )
    record = loop.run(cfg)
    assert record["status"] == "failed" and record["device_requested"] == "auto"
    assert record["error"] == (
        "torch trained on the CPU although this machine has a GPU (NVIDIA H200): "
        + environment.gpu_view("torch")["why"]
    )
    assert record["trained_on"]["kind"] == "cpu"
    asked = loop.run(dataclasses.replace(cfg, out=str(tmp_path / "cpu"), device="cpu"))
    assert asked["status"] == "ok" and asked["device_requested"] == "cpu"
    assert asked["trained_on"]["devices"] == ["cpu"]


# --- --device on the command line --------------------------------------------------------------


def test_device_gpu_without_a_gpu_is_one_line(tmp_path, capfd, monkeypatch):
    monkeypatch.setattr(environment, "device", lambda: dict(H200, gpu=None))
    code = cli.main(smoke_run(tmp_path / "out", "--device", "gpu", "--no-download"))
    err = capfd.readouterr().err.strip()
    assert code == 2
    assert err == "kerasbench: error: --device gpu: this machine has no GPU (nvidia-smi lists none)"
    assert not os.path.exists(tmp_path / "out" / "runs")


@needs_kernel
def test_device_cpu_on_a_gpu_machine_trains_and_says_so(
    stand_in, gpu_machine, tmp_path, capfd, data_dir
):
    out = str(tmp_path / "out")
    args = ["run", "--profile", "smoke", "--workloads", "mnist_mlp", "--backends", "jax"]
    args += ["--out", out, "--data-dir", data_dir, "--no-download"]
    assert cli.main(args + ["--device", "cpu"]) == 0
    err = capfd.readouterr().err
    assert "--device cpu: the runs do not see the GPU (NVIDIA H200)" in err
    spec = plan.plan("smoke", ["mnist_mlp"], ["jax"], device="cpu")[0]
    record = runfiles.read_run(plan.run_dir(out, spec)).record
    assert record["status"] == "ok" and record["device_requested"] == "cpu"
    assert seen_environment(out, spec) == {"CUDA_VISIBLE_DEVICES": "", "JAX_PLATFORMS": "cpu"}

    # auto on the same (fake) GPU machine: the real jax kernel's probe finds no GPU, and the
    # study stops before anything trains.
    code = cli.main(args + ["--device", "auto", "--force"])
    err = capfd.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert err.startswith(
        "kerasbench: error: this machine has a GPU (NVIDIA H200) but jax (jax sees only cpu"
    )
    assert err.endswith("does not see it: nothing was trained (--device cpu trains on the CPU)")
    assert runfiles.read_run(plan.run_dir(out, spec)).record["device_requested"] == "cpu"


# --- The GPU check before any run: fake kernel specs --------------------------------------------


def fake_python(tmp_path, name, stdout="", stderr="", code=0, sleep=0.0):
    """A stand-in for a kernel's Python: prints a canned answer whatever it is asked, and the
    kernel environment's KERAS_BACKEND to stderr's first line."""
    path = tmp_path / name
    path.write_text(
        "#!%s\nimport sys, os, time\ntime.sleep(%r)\nsys.stderr.write('KERAS_BACKEND=%%s\\n' %% "
        "os.environ.get('KERAS_BACKEND'))\nsys.stderr.write(%r)\nsys.stdout.write(%r)\n"
        "sys.exit(%d)\n" % (sys.executable, sleep, stderr, stdout, code)
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def answer(framework, gpus, why=None):
    devices = ["cpu"] + gpus
    return json.dumps({"framework": framework, "devices": devices, "gpus": gpus, "why": why}) + "\n"


@pytest.fixture
def fake_specs(tmp_path, monkeypatch):
    specs = {}

    def install(backend, python):
        specs[backend] = KernelSpec(
            argv=[python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            env=kernels.kernel_spec(backend)["env"],
            display_name=backend,
            language="python",
        )

    monkeypatch.setattr(kernels, "find", lambda backend: specs.get(backend))
    return install


def test_probe_asks_each_kernels_python_in_its_environment(tmp_path, fake_specs):
    fake_specs("torch", fake_python(tmp_path, "torch", answer("torch 2.11.0", ["cuda:0"])))
    fake_specs(
        "jax",
        fake_python(
            tmp_path,
            "jax",
            answer("jax 0.11.2", [], "jax sees only cpu:0: its CUDA plugin did not load"),
        ),
    )
    fake_specs(
        "tensorflow",
        fake_python(
            tmp_path,
            "tf",
            stderr="Traceback (most recent call last):\n  ...\nImportError: libcudart.so.12: "
            "cannot open shared object file: No such file or directory\n",
            code=1,
        ),
    )
    results = kernels.probe(["tensorflow", "jax", "torch", "cntk"])
    assert list(results) == ["tensorflow", "jax", "torch", "cntk"]
    assert results["torch"]["gpus"] == ["cuda:0"] and results["torch"]["error"] is None
    assert results["tensorflow"]["error"] == (
        "ImportError: libcudart.so.12: cannot open shared object file: No such file or directory"
    )
    assert results["cntk"]["error"] == "kerasbench-cntk is not installed"
    assert kernels.describe_probe("torch", results["torch"]) == "torch (torch 2.11.0): cuda:0"
    assert kernels.describe_probe("jax", results["jax"]) == (
        "jax (jax 0.11.2): no GPU: jax sees only cpu:0: its CUDA plugin did not load"
    )
    with pytest.raises(UserError) as e:
        kernels.require_gpu(["tensorflow", "jax", "torch"], "NVIDIA H200")
    assert str(e.value) == (
        "this machine has a GPU (NVIDIA H200) but tensorflow (ImportError: libcudart.so.12: "
        "cannot open shared object file: No such file or directory); jax (jax sees only cpu:0: "
        "its CUDA plugin did not load) do not see it: nothing was trained (--device cpu trains "
        "on the CPU)"
    )
    assert kernels.require_gpu(["torch"], "NVIDIA H200")["torch"]["gpus"] == ["cuda:0"]


def test_probe_runs_the_backends_at_once_and_stops_one_that_hangs(tmp_path, fake_specs):
    for backend in ("tensorflow", "jax", "torch"):
        fake_specs(backend, fake_python(tmp_path, backend, answer(backend, ["cuda:0"]), sleep=1.5))
    t0 = time.time()
    assert all(
        r["gpus"] == ["cuda:0"] for r in kernels.probe(["tensorflow", "jax", "torch"]).values()
    )
    assert time.time() - t0 < 4.0, "three 1.5 s probes side by side, not one after another"
    fake_specs("jax", fake_python(tmp_path, "slow", answer("jax", ["cuda:0"]), sleep=60))
    t0 = time.time()
    results = kernels.probe(["jax", "torch"], timeout=2.0)
    assert time.time() - t0 < 10.0
    assert results["jax"]["error"] == "its probe did not answer within 2s"
    assert results["torch"]["gpus"] == ["cuda:0"]


def test_the_probe_gets_the_kernels_environment(tmp_path, fake_specs):
    """The spec's KERAS_BACKEND reaches the probe (what the kernel would have)."""
    fake_specs(
        "jax",
        fake_python(tmp_path, "jax", stdout="not json\n"),  # no answer: stderr's last line
    )
    assert kernels.probe(["jax"])["jax"]["error"] == "KERAS_BACKEND=jax"


def test_kernels_check_prints_what_each_backend_sees(tmp_path, fake_specs, gpu_machine, capsys):
    fake_specs("torch", fake_python(tmp_path, "torch", answer("torch 2.11.0", ["cuda:0"])))
    fake_specs("jax", fake_python(tmp_path, "jax", answer("jax 0.11.2", [], "jax sees only cpu:0")))
    assert cli.main(["kernels", "check"]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "this machine: a GPU (NVIDIA H200)",
        "jax (jax 0.11.2): no GPU: jax sees only cpu:0",
        "torch (torch 2.11.0): cuda:0",
    ]
    assert cli.main(["kernels", "check", "--backends", "torch"]) == 0


def test_run_on_a_gpu_machine_checks_every_backend_first(tmp_path, fake_specs, gpu_machine, capfd):
    fake_specs("torch", fake_python(tmp_path, "torch", answer("torch 2.11.0", ["cuda:0"])))
    fake_specs("jax", fake_python(tmp_path, "jax", answer("jax 0.11.2", [], "jax sees only cpu:0")))
    out = tmp_path / "out"
    code = cli.main(
        ["run", "--profile", "smoke", "--workloads", "mnist_mlp", "--backends", "jax,torch"]
        + ["--out", str(out), "--no-download"]
    )
    err = capfd.readouterr().err.strip()
    assert code == 2 and err == (
        "kerasbench: error: this machine has a GPU (NVIDIA H200) but jax (jax sees only cpu:0) "
        "does not see it: nothing was trained (--device cpu trains on the CPU)"
    )
    assert not out.exists()


# --- The real kernels, on this CPU machine -----------------------------------------------------


@pytest.mark.skipif(
    any(kernels.find(b) is None for b in ("tensorflow", "jax", "torch")),
    reason="the kerasbench kernels are not installed: run `make kernels`",
)
def test_a_smoke_run_records_where_each_backend_trained(tmp_path, data_dir, capfd):
    out = str(tmp_path / "out")
    backends = ["tensorflow", "jax", "torch"]
    assert kernels.probe(backends).keys() == set(backends)
    code = cli.main(
        ["run", "--profile", "smoke", "--workloads", "mnist_mlp", "--backends", ",".join(backends)]
        + ["--out", out, "--data-dir", data_dir, "--no-download"]
    )
    assert code == 0
    for spec in plan.plan("smoke", ["mnist_mlp"], backends):
        record = runfiles.read_run(plan.run_dir(out, spec)).record
        trained = record["trained_on"]
        assert record["status"] == "ok" and record["device_requested"] == "auto"
        assert trained["framework"] == spec.backend and trained["kind"] == "cpu"
        assert trained["devices"] and runfiles.device_kind(trained["devices"]) == "cpu"
        assert trained["gpus_seen"] == [] and trained["why"]
        # The same run on a machine with a GPU would have been failed, saying why.
        line = execute.device_failure(record, H200, "auto")
        assert line.startswith("%s trained on the CPU although" % spec.backend)
        assert line.endswith(trained["why"])
        if spec.backend == "jax":  # kept beside the new record
            assert record["versions"]["jax_devices"] == trained["devices"]


# --- The report -----------------------------------------------------------------------------------


def test_the_report_says_an_old_jax_run_trained_on_the_cpu_of_the_h200():
    """The real silent fallback: call1's JAX MLP run, recorded ok on the H200."""
    shared = shared_folder()
    runs = os.path.join(shared or "", "gpu-runs", "h200-2026-12-04-tensorflow", "call1", "runs")
    if not shared or not os.path.isdir(runs):
        pytest.skip("the shared GPU runs are not beside the checkout")
    study = rundata.load_study(runs, references=[])
    index = study.runs.set_index("run_id")
    jax = index.loc["mnist_mlp/jax/0"]
    assert jax["status"] == "ok" and jax["trained_on"]["kind"] == "cpu"
    assert jax["machine"].startswith(machines.CPU_ONLY)
    assert index.loc["mnist_mlp/torch/0", "trained_on"]["kind"] == "gpu"
    assert index.loc["mnist_mlp/tensorflow/0", "trained_on"] == {}
    table = summary.build(study, n_resamples=100, coverage_studies=20).table
    caveats = {
        r["backend"]: rules.caveats(r) for _, r in table.iterrows() if r["workload"] == "mnist_mlp"
    }
    assert "trained on the CPU" in caveats["jax"]
    assert "trained on the CPU" not in caveats["torch"] + caveats["tensorflow"]
    env = machines.environment(study)
    where = env[env["field"] == "trained_on"].set_index("backend")["value"]
    assert where["jax"] == "cpu (cpu:0), from versions.jax_devices"
    assert where["tensorflow"] == "device not recorded"


def test_a_cpu_study_says_nothing_about_devices(tmp_path):
    """On a machine without a GPU, where a run trained is moot: no caveat, no field."""
    runs = os.path.join(REPO, "output", "reference", "cpu", "runs")
    if not os.path.isdir(runs):
        pytest.skip("no committed CPU study")
    study = rundata.load_study(runs, references=[])
    assert not any(str(m).startswith(machines.CPU_ONLY) for m in study.runs["machine"])
    assert "trained_on" not in set(machines.environment(study)["field"])


def test_loaded_gpu_libraries_names_the_real_files_behind_borrowed_names(tmp_path):
    from kerasbench import environment

    real = tmp_path / "cu13" / "libcublas.so.13"
    real.parent.mkdir()
    real.write_bytes(b"")
    borrowed = tmp_path / "links" / "libcublas.so.12"
    borrowed.parent.mkdir()
    borrowed.symlink_to(real)
    cudnn = tmp_path / "libcudnn_graph.so.9"
    cudnn.write_bytes(b"")
    maps = tmp_path / "maps"
    maps.write_text(
        f"7f00-7f01 r-xp 00000000 08:01 1 {borrowed}\n"
        f"7f01-7f02 r--p 00001000 08:01 1 {borrowed}\n"
        f"7f02-7f03 r-xp 00000000 08:01 2 {cudnn}\n"
        "7f03-7f04 r-xp 00000000 08:01 3 /usr/lib/libc.so.6\n"
        "7f04-7f05 rw-p 00000000 00:00 0 [heap]\n"
    )
    found = environment.loaded_gpu_libraries(str(maps))
    assert found == {"libcublas.so.12": str(real), "libcudnn_graph.so.9": str(cudnn)}
    assert environment.loaded_gpu_libraries(str(tmp_path / "no-such-maps")) == {}


def test_the_environment_table_names_the_cuda_files_each_backend_used():
    """On the committed H100 study, TensorFlow's row says it used its own CUDA 12 runtime and
    the machine's CUDA 13 cuBLAS and cuDNN; JAX's only CUDA 13 files (gpu_libraries)."""
    assert machines.gpu_libraries_text({}) is None
    assert machines.gpu_libraries_text(
        {"b.so": "/x/b.so", "a.so": "/x/a.so", "c.so": "/y/c.so"}
    ) == ("a.so, b.so (/x); c.so (/y)")
    study = rundata.load_study(os.path.join(REPO, "output", "reference", "h100", "runs"))
    env = machines.environment(study)
    libraries = env[env["field"] == "gpu_libraries"].set_index("backend")["value"]
    assert set(libraries.index) == {"tensorflow", "jax", "torch"}
    assert (
        "libcudart.so.12 (" in libraries["tensorflow"]
        and "site-tensorflow" in libraries["tensorflow"]
    )
    assert (
        "libcublas.so.13" in libraries["tensorflow"] and "libcudnn.so.9" in libraries["tensorflow"]
    )
    assert "libcudart.so.12" not in libraries["jax"] and "libcudart.so.13" in libraries["jax"]


def test_the_h100_page_puts_tensorflows_fasttext_accuracy_beside_its_parity_verdict():
    """The committed H100 study: the fastText verdict names what parity found (TensorFlow's
    embedding) with its test accuracy beside the others', as for the BiLSTM; the text generator,
    where no two backends agree, gets one sentence; Then and now shows TensorFlow on its own
    against 2017 (no pair of backends ran in both)."""
    from kerasbench.report import summary as summary_mod, tables

    folder = os.path.join(REPO, "output", "reference", "h100")
    study = rundata.load_study(os.path.join(folder, "runs"))
    summary = summary_mod.build(study, n_resamples=200, coverage_studies=20)
    page = str(tables.verdict_table(summary, os.path.join(folder, "parity")))
    assert (
        "kerasbench parity: tensorflow learns differently (weights of embedding, dense); its "
        "test accuracy 0.8798 against 0.9051–0.9059 on the others." in page
    )
    assert (
        "kerasbench parity: tensorflow learns differently (weights of embedding); its test "
        "accuracy 0.8144 against 0.8347–0.8356 on the others." in page
    )  # the BiLSTM
    assert (
        "kerasbench parity: no two of tensorflow, jax, torch learn the same (weights of "
        "embedding, rnn, hidden_1 +4 more); their final training loss 1.2407, 1.2833, 1.2789."
        in page
    )  # the text generator on the H100
    # a parity sentence beside the verdict: BiLSTM, fastText and the text generator (they learn
    # differently); the four that learn the same get none
    assert page.count("kerasbench parity:") == 3
    alone = summary.same_backend.set_index("workload")
    assert set(alone["backend"]) == {"tensorflow"} and len(alone) == 7
    assert (alone["fastest"] == "jax default").all() and (alone["speedup"] > 3).all()
    # CIFAR-10: 5 epochs (--set epochs=5) of generated data; the speed-up is per steady epoch
    assert alone.loc["cifar10_cnn", "speedup_basis"] == (
        "the same workload and data sizes, 5 epochs here against 20; "
        "generated data of that size here"
    )
    said = notes.notes(summary.table, study)
    cifar = said[said["workload"] == "cifar10_cnn"]["note"]
    assert cifar.str.startswith("repeat 0: 5 epochs, set for these runs, against the full").any()


@pytest.mark.parametrize(
    "workload, tensorflow, torch",
    [
        ("mnist_cnn", (1.33, 1.24, 1.43), (3.66, 3.11, 4.31)),
        ("imdb_fasttext", (1.47, 1.42, 1.53), (2.71, 2.20, 3.34)),
        ("lstm_text_generation", (1.69, 1.53, 1.87), (1.89, 1.35, 2.65)),
    ],
)
def test_the_h100_workloads_with_timing_blocks_have_three_blocks_and_intervals(
    workload, tensorflow, torch
):
    """The committed H100 study's MNIST CNN, fastText and char-LSTM: block 1 on one host, timing
    blocks 2 and 3 on another, so every default cell has a 95% interval (ratio to JAX, the
    fastest) from 3 blocks on 2 machines."""
    from kerasbench.report import grid_data, summary as summary_mod

    folder = os.path.join(REPO, "output", "reference", "h100")
    study = rundata.load_study(os.path.join(folder, "runs"))
    summary = summary_mod.build(study, n_resamples=200, coverage_studies=20)
    cells = grid_data.cells(summary)
    rows = cells[cells["workload"] == workload].set_index("backend")
    assert rows.loc["jax", "fastest"] and rows.loc["jax", "decided"]
    assert list(rows["runs"]) == [3, 3, 3] and list(rows["timing_runs"]) == [2, 2, 2]
    for backend, (ratio, low, high) in {"tensorflow": tensorflow, "torch": torch}.items():
        row = rows.loc[backend]
        assert [round(float(row[k]), 2) for k in ("ratio", "low", "high")] == [ratio, low, high]
        assert row["pairing"] == "3 blocks on 2 machines"


def test_the_h100_levers_share_one_block_with_what_they_replace():
    """The committed TensorFlow levers (output/reference/h100-levers): every configuration of a
    workload ran on one GPU, so each lever is paired with its baseline; XLA (`tuned` against
    `tuned-noxla`) is the lever that moves TensorFlow's time most."""
    from kerasbench.report import summary as summary_mod

    folder = os.path.join(REPO, "output", "reference", "h100-levers")
    study = rundata.load_study(os.path.join(folder, "runs"))
    runs = study.runs
    assert len(runs) == 12 and runs["ok"].all() and set(runs["backend"]) == {"tensorflow"}
    assert all(trained["kind"] == "gpu" for trained in runs["trained_on"])
    assert set(runs["machine"]) == {
        "NVIDIA H100 80GB HBM3 GPU-b684b6bb-8779-c4f9-85a0-1e3744f19a6f"
    }
    summary = summary_mod.build(study, n_resamples=200, coverage_studies=20)
    table = summary.table[~summary.table["reference"]].set_index(["workload", "config"])
    others = table[table["pairing"] != "fastest"]  # each against its workload's fastest
    assert len(others) == 10 and (others["paired"] == True).all()  # noqa: E712
    assert set(others["pairing"]) == {"1 block"}
    for workload in ("mnist_mlp", "mnist_cnn"):
        seconds = table.loc[workload, "mean_epoch_seconds"]
        assert seconds["tuned-noxla"] / seconds["tuned"] > 1.9  # XLA on: about 2x faster
        assert seconds.idxmin() == "tuned-epoch"
