"""scripts/study_blocks.sh: a job's time in blocks, each started only when its estimate fits (the
later blocks' estimate apart, for timing blocks). `kerasbench run` is a stand-in that logs its
arguments: the script's arithmetic and the commands it gives, not training."""

import json
import os
import stat
import subprocess

from conftest import REPO

SCRIPT = os.path.join(REPO, "scripts", "study_blocks.sh")


def blocks(tmp_path, *arguments, states=()):
    """(the runs' arguments, one line each; the script's output) of study_blocks.sh with a
    `python3` that only logs what it was asked; its `--dry-run` prints `states` [(repeat,
    state)] as `kerasbench run --dry-run` would, every repeat whatever --repeats says."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    log = tmp_path / "calls.txt"
    plan = tmp_path / "dry-run.txt"
    plan.write_text(
        "".join(
            json.dumps({"workload": "mnist_mlp", "repeat": r, "state": s}, sort_keys=True) + "\n"
            for r, s in states
        )
    )
    fake = bin_dir / "python3"
    fake.write_text(
        '#!/bin/sh\ncase "$*" in *--dry-run*) cat %s; exit 0 ;; esac\necho "$@" >> %s\n'
        % (plan, log)
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    env = dict(os.environ, PATH="%s:%s" % (bin_dir, os.environ["PATH"]))
    env.pop("PACK", None)
    done = subprocess.run(
        ["bash", SCRIPT, "100", str(tmp_path / "out")] + list(arguments),
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    calls = log.read_text().splitlines() if log.exists() else []
    return calls, done.stdout


def test_every_block_that_fits_runs_with_its_repeats_and_the_options(tmp_path):
    calls, said = blocks(tmp_path, "mnist_mlp:3:50:10", "--", "--timing-epochs", "3")
    repeats = [c.split(" --repeats ")[1] for c in calls]
    assert repeats == ["1 --timing-epochs 3", "2 --timing-epochs 3", "3 --timing-epochs 3"]
    assert all(c.startswith("-m kerasbench.cli run --out ") for c in calls)
    assert "study_blocks: done" in said


def test_a_block_that_does_not_fit_is_not_started_and_said(tmp_path):
    calls, said = blocks(tmp_path, "mnist_mlp:2:50:200", "mnist_cnn:1:150")
    assert len(calls) == 1 and "--workloads mnist_mlp --repeats 1" in calls[0]
    assert "--profile full --config default,tuned" in calls[0]  # the default options
    assert "study_blocks: mnist_mlp block 2 not started (needs ~200 s" in said
    assert "study_blocks: mnist_cnn block 1 not started (needs ~150 s" in said


def test_a_block_done_earlier_needs_no_time_and_one_not_done_does(tmp_path):
    """Block 1 is whole in OUT (every run done): passed over, though its estimate would not fit;
    block 2 has a run still to do: it runs."""
    states = [(0, "done"), (0, "done"), (1, "done"), (1, "todo")]
    calls, said = blocks(tmp_path, "mnist_mlp:2:500:50", states=states)
    assert "study_blocks: mnist_mlp block 1 done earlier" in said
    assert [c.split(" --repeats ")[1] for c in calls] == ["2 --profile full --config default,tuned"]


def test_later_blocks_wait_for_an_earlier_one_that_does_not_fit(tmp_path):
    """`--repeats 2` would train repeat 0 too: block 2's short estimate must not start it."""
    calls, said = blocks(tmp_path, "mnist_mlp:3:500:10", "mnist_cnn:1:20")
    assert [c.split(" --workloads ")[1].split()[0] for c in calls] == ["mnist_cnn"]
    assert "study_blocks: mnist_mlp block 1 not started (needs ~500 s" in said
    assert "study_blocks: mnist_mlp blocks 2-3 wait for block 1" in said
    assert "mnist_mlp block 2" not in said.replace("blocks 2-3", "")


def test_a_workload_without_an_estimate_given_gets_the_measured_one(tmp_path):
    """The text generator's block took 690 s on an H100: its default estimate covers that."""
    calls, said = blocks(tmp_path, "text_generator_keras:1", "cifar10_cnn:1")
    assert calls == []
    assert "text_generator_keras block 1 not started (needs ~720 s" in said
    assert "cifar10_cnn block 1 not started (needs ~1500 s" in said


def test_timing_blocks_without_an_estimate_given_get_the_measured_one(tmp_path):
    """Block 1 done: block 2 of MNIST MLP is a timing block with --timing-epochs (about 130 s
    measured on an H100, estimated 150), the first block's 330 s without it."""
    states = [(0, "done"), (1, "todo")]
    _, said = blocks(tmp_path, "mnist_mlp:2", "--", "--timing-epochs", "3", states=states)
    assert "study_blocks: mnist_mlp block 2 not started (needs ~150 s" in said
    _, said = blocks(tmp_path, "mnist_mlp:2", "--", "--timing-epochs=3", states=states)
    assert "study_blocks: mnist_mlp block 2 not started (needs ~150 s" in said
    _, said = blocks(tmp_path, "mnist_mlp:2", states=states)
    assert "study_blocks: mnist_mlp block 2 not started (needs ~330 s" in said
    # a workload without a measured timing block: its first block's estimate, given or not
    _, said = blocks(
        tmp_path, "imdb_bidirectional_lstm:2", "--", "--timing-epochs", "3", states=states
    )
    assert "study_blocks: imdb_bidirectional_lstm block 2 not started (needs ~560 s" in said
    _, said = blocks(
        tmp_path, "imdb_bidirectional_lstm:2:400", "--", "--timing-epochs", "3", states=states
    )
    assert "study_blocks: imdb_bidirectional_lstm block 2 not started (needs ~400 s" in said
