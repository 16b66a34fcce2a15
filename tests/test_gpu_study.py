"""scripts/gpu_study.sh's stage table: which kerasbench command each stage runs. The GPU time it
plans is scarce (one lent H200, 30 minutes a session), so a stage that runs the wrong plan, or
none, is found here rather than on the device. The script's functions are sourced without its
last part (wheel install, kernels, the stages given), with its runners (run, native, profile,
harness, parity_check) replaced by
echoes (and python3 refused, so no stage reaches kerasbench itself)."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "gpu_study.sh"

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


RUNNERS_STUBBED = """
run() { echo "run $*"; }; native() { echo "native $*"; }; profile() { echo "profile $*"; }
harness() { echo "harness $*"; }; parity_check() { echo "parity_check $*"; }; pack() { :; }
"""


def stages(out, *names, seconds=600, stubs=RUNNERS_STUBBED):
    """The lines each named stage prints, `seconds` before the script's deadline, with the runners
    replaced by `stubs`, in a study folder `out`."""
    program = f"""
names=("$@"); set -- {seconds}
source <(sed '/^python3 -m pip install/,$d' "{SCRIPT}")
out="{out}"
{stubs}
python3() {{ echo "python3 $*: not stubbed" >&2; return 1; }}
for s in "${{names[@]}}"; do stage "$s"; done
"""
    done = subprocess.run(
        ["bash", "-c", program, "gpu_study", *names],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert done.stderr == "", done.stderr  # no stage called kerasbench past the stubs
    return done.stdout.splitlines()


def old_plan_run(out):
    """Slice 1's text-generator repeat 0: a finished run made with allow_generated=true."""
    folder = Path(out, "runs", "text_generator_keras", "jax", "0")
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(
        json.dumps({"status": "ok", "allow_generated": True}, indent=1)
    )


def test_repeat_stages_run_the_default_plan_with_that_many_repeats(tmp_path):
    assert stages(tmp_path, "r1-textgen", "r3-cnn") == [
        "run 330 --workloads text_generator_keras --repeats 1",
        "run 120 --workloads mnist_cnn --repeats 3",
    ]


def test_text_generator_forces_only_while_an_old_plan_run_is_there(tmp_path):
    old_plan_run(tmp_path)
    assert stages(tmp_path, "r1-textgen") == [
        "run 330 --workloads text_generator_keras --repeats 1 --force"
    ]


def test_cifar_stages_run_one_backend_each_on_generated_data(tmp_path):
    assert stages(tmp_path, "cifar-jax", "cifar-torch-tuned") == [
        "run 160 --workloads cifar10_cnn --allow-generated --backends jax --repeats 3",
        "run 530 --workloads cifar10_cnn --allow-generated --backends torch --config tuned",
    ]


def test_text_generator_tuned_checks_the_time_left_per_backend(tmp_path):
    # Slice 8: one fits check for both backends let the PyTorch run start with too little time
    # left, and the call's end cut it off. With 200 s left, JAX (130) runs and PyTorch (290) waits.
    # The script's own `run`, with the command it times echoed instead of run.
    stubs = 'timeout() { echo "timed: ${*:3}"; }; pack() { :; }'
    printed = stages(tmp_path, "tuned-textgen", seconds=200, stubs=stubs)
    assert len(printed) == 3, printed
    assert printed[0].endswith(
        "kerasbench run --workloads text_generator_keras --config tuned --backends jax"
    )
    assert printed[1].startswith("timed: python3 -m kerasbench.cli run --profile full")
    assert printed[-1].startswith("skipped (needs ~290 s")
    assert printed[-1].endswith("--workloads text_generator_keras --config tuned --backends torch")


def test_every_listed_stage_is_known(tmp_path):
    (listed,) = stages(tmp_path, "list")
    # The list abbreviates with brace groups (expanded here) and "..." (left out).
    names = subprocess.run(
        ["bash", "-c", f"echo {listed}"], capture_output=True, text=True, check=True
    ).stdout.split()
    names = [n for n in names if "..." not in n]
    assert {"r1-textgen", "cifar-jax-tuned", "cifar-torch-tuned", "harness", "parity"} <= set(names)
    for name in names:
        printed = stages(tmp_path, name)
        assert printed, name
        assert not any(line.startswith("unknown stage") for line in printed), name


def test_a_stage_that_does_not_fit_the_time_left_is_skipped_and_said(tmp_path):
    # The script's own runners, 30 s before its deadline: each says what it skips, none runs.
    printed = stages(tmp_path, "r1-textgen", "harness", "parity", "profile", seconds=30, stubs="")
    assert [line.split(" s, ")[0] + ": " + line.split(" s left): ")[1] for line in printed] == [
        "skipped (needs ~330: --workloads text_generator_keras --repeats 1",
        "skipped (needs ~300: harness",
        "skipped (needs ~300: parity",
        "skipped (needs ~45: profile mnist_mlp jax default",
        "skipped (needs ~45: profile mnist_mlp torch default",
        "skipped (needs ~60: profile mnist_cnn jax default",
        "skipped (needs ~60: profile mnist_cnn torch default",
        "skipped (needs ~100: profile imdb_bidirectional_lstm jax default",
        "skipped (needs ~100: profile imdb_bidirectional_lstm torch default",
    ]


LAND = ROOT / "scripts" / "land_gpu_runs.sh"


def test_landing_a_call_keeps_finished_runs_and_leaves_out_cut_off_ones(tmp_path):
    # The pack of a call: a finished run, one cut off at the call's end (no run.json), the
    # machine file, and the runs README as the call found it (older than the checkout's).
    packed = tmp_path / "pack" / "runs"
    (packed / "cifar10_cnn" / "jax" / "0").mkdir(parents=True)
    (packed / "cifar10_cnn" / "jax" / "0" / "run.json").write_text('{"status": "ok"}')
    (packed / "cifar10_cnn" / "jax" / "0" / "epochs.csv").write_text("epoch\n0\n")
    (packed / "cifar10_cnn" / "torch" / "1").mkdir(parents=True)
    (packed / "cifar10_cnn" / "torch" / "1" / "epochs.csv").write_text("epoch\n0\n")
    (packed / "gpu-1321.txt").write_text("NVIDIA H200, GPU-f7efa5e8\n")
    (packed / "README.md").write_text("the README the call started from\n")
    (packed.parent / "harness").mkdir()
    (packed.parent / "harness" / "harness.csv").write_text(
        "pair,harness,seconds\n0,papermill,31.2\n"
    )
    (packed.parent / "parity").mkdir()
    (packed.parent / "parity" / "parity.csv").write_text("workload,check\nmnist_mlp,loss\n")
    tarball = tmp_path / "runs.tar.gz"
    subprocess.run(
        ["tar", "-czf", tarball, "-C", packed.parent, "runs", "parity", "harness"], check=True
    )
    dest = tmp_path / "study" / "runs"
    dest.mkdir(parents=True)
    (dest / "README.md").write_text("the checkout's README, with this slice written in\n")

    done = subprocess.run(["bash", LAND, tarball, dest], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"landed: parity (1 checks) in {dest.parent}/parity",
        f"landed: harness.csv in {dest.parent}",
        "landed: cifar10_cnn/jax/0",
        "left out (cut off, no run.json): cifar10_cnn/torch/1",
        f"land_gpu_runs: 1 new or changed run(s) in {dest}",
    ]
    assert (dest / "cifar10_cnn" / "jax" / "0" / "epochs.csv").read_text() == "epoch\n0\n"
    assert not (dest / "cifar10_cnn" / "torch" / "1").exists()
    assert (dest / "gpu-1321.txt").exists()
    assert (dest / "README.md").read_text().startswith("the checkout's README")
    assert (dest.parent / "parity" / "parity.csv").read_text().startswith("workload,check")
    assert (dest.parent / "harness.csv").read_text().startswith("pair,harness")
    assert not (dest / "harness.csv").exists()
    # Landing the same call again changes nothing.
    again = subprocess.run(["bash", LAND, tarball, dest], capture_output=True, text=True)
    assert again.stdout.splitlines()[-1] == f"land_gpu_runs: 0 new or changed run(s) in {dest}"


def test_landing_a_missing_pack_says_so_in_one_line(tmp_path):
    done = subprocess.run(
        ["bash", LAND, tmp_path / "runs.tar.gz", tmp_path], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stderr == f"land_gpu_runs: {tmp_path / 'runs.tar.gz'}: no such file\n"
