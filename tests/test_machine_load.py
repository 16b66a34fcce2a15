"""How busy the machine was during a run: environment.machine_load (written by kernel.session at a
run's start and end, in kernel.json and run.json) and runfiles.load_during (read back; runs of
older code have none). The unit tests use known loads; one real smoke run checks the record."""

import glob
import json
import os

import pytest

from kerasbench import cli, environment, runfiles

from conftest import REPO, smoke_run


def test_machine_load_is_the_one_minute_average_and_the_cpu_count(monkeypatch):
    monkeypatch.setattr(os, "getloadavg", lambda: (1.2345, 0.5, 0.25))
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert environment.machine_load() == {"load_1min": 1.23, "cpus": 2}


def test_machine_load_without_a_load_average(monkeypatch):
    def none():
        raise OSError("no load average")

    monkeypatch.setattr(os, "getloadavg", none)
    assert environment.machine_load()["load_1min"] is None


@pytest.mark.parametrize(
    "record, expected",
    [
        (
            {
                "machine_load": {
                    "start": {"load_1min": 1.5, "cpus": 2},
                    "end": {"load_1min": 2.5, "cpus": 2},
                }
            },
            {"load_1min": 2.0, "cpus": 2},
        ),
        # a run cut off before finish(): its start only
        (
            {"machine_load": {"start": {"load_1min": 0.75, "cpus": 16}}},
            {"load_1min": 0.75, "cpus": 16},
        ),
        # a system without a load average at one moment: the other one counts
        (
            {
                "machine_load": {
                    "start": {"load_1min": None, "cpus": 4},
                    "end": {"load_1min": 3.0, "cpus": 4},
                }
            },
            {"load_1min": 3.0, "cpus": 4},
        ),
        ({"machine_load": {"start": {"load_1min": None, "cpus": 4}}}, None),
        ({"machine_load": {"start": {"load_1min": True, "cpus": "2"}}}, None),
        ({"machine_load": {"start": {"load_1min": float("nan"), "cpus": 2}}}, None),
        ({"machine_load": [1.5]}, None),
        ({"schema": 1, "status": "ok"}, None),  # a run of older code
        (None, None),
    ],
)
def test_load_during_known_answers(record, expected):
    assert runfiles.load_during(record) == expected


def test_record_carries_the_kernels_load_and_check_record_holds_its_type():
    load = {"start": {"load_1min": 1.0, "cpus": 2}, "end": {"load_1min": 2.0, "cpus": 2}}
    args = ("mnist_mlp", "jax", "smoke", 0, 0, "default", {}, "ok", None, runfiles.now(), 1.0)
    record = runfiles.record(*args, kernel_info={"machine_load": load})
    assert record["machine_load"] == load and runfiles.check_record(record) == []
    assert runfiles.record(*args)["machine_load"] is None  # a kernel that recorded none
    record["machine_load"] = [1.0]
    assert any("machine_load is a list" in p for p in runfiles.check_record(record))


def test_committed_runs_without_the_record_still_read():
    """The committed studies made before the record (cpu, cpu-quick, h200) read as "not
    recorded"; the H100 study, made after, has it in every run (16 cores there)."""
    for study in ("cpu", "cpu-quick", "h200", "h100"):
        paths = glob.glob(
            os.path.join(REPO, "output", "reference", study, "runs", "**", runfiles.RUN_JSON),
            recursive=True,
        )
        assert paths, study
        for path in paths[:40]:
            run = runfiles.read_run(os.path.dirname(path))
            load = runfiles.load_during(run.record)
            assert run.problems == [], path
            if study == "h100":
                assert load["cpus"] == 16 and 0 < load["load_1min"] < 16, path
            else:
                assert load is None, path


@pytest.mark.slow
def test_a_real_run_records_the_load_at_its_start_and_end(tmp_path, data_dir):
    code = cli.main(smoke_run(tmp_path, "--data-dir", data_dir, "--no-download"))
    assert code == 0
    folder = runfiles.run_folder(str(tmp_path), "mnist_mlp", "jax", "default", 0)
    with open(os.path.join(folder, runfiles.RUN_JSON)) as f:
        record = json.load(f)
    with open(os.path.join(folder, runfiles.KERNEL_JSON)) as f:
        kernel = json.load(f)
    assert record["machine_load"] == kernel["machine_load"]
    assert set(record["machine_load"]) == {"start", "end"}
    for moment in record["machine_load"].values():
        assert moment["cpus"] == os.cpu_count() and moment["load_1min"] >= 0
    found = runfiles.load_during(record)
    loads = [m["load_1min"] for m in record["machine_load"].values()]
    assert found == {"load_1min": sum(loads) / 2, "cpus": os.cpu_count()}
