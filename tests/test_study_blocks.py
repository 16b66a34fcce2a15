"""scripts/study_blocks.sh: a job's time in blocks, each started only when its estimate fits (the
later blocks' estimate apart, for timing blocks). `kerasbench run` is a stand-in that logs its
arguments: the script's arithmetic and the commands it gives, not training."""

import os
import stat
import subprocess

from conftest import REPO

SCRIPT = os.path.join(REPO, "scripts", "study_blocks.sh")


def blocks(tmp_path, *arguments):
    """(the runs' arguments, one line each; the script's output) of study_blocks.sh with a
    `python3` that only logs what it was asked."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    log = tmp_path / "calls.txt"
    fake = bin_dir / "python3"
    fake.write_text('#!/bin/sh\necho "$@" >> %s\n' % log)
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
