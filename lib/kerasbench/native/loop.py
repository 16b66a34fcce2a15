"""The epoch loop shared by both frameworks: timing, epochs.csv (one flushed row per epoch) and
run.json (written last, atomically), in the formats of docs/design.md.

Timing, per epoch: `train_seconds` from the epoch's start until the device has finished the
training pass (the trainer synchronises: block_until_ready / torch.cuda.synchronize); then the
training metrics are read and the test set is evaluated (the validation pass); `epoch_seconds`
is both. `elapsed_seconds` counts from the start of the first epoch, as Keras' on_train_begin:
loading data, building the model and moving data to the device come before it, untimed.
"""

from __future__ import annotations

import contextlib
import math
import platform
import socket
import sys
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from kerasbench import environment, runfiles
from kerasbench.native import MODES, data as data_mod
from kerasbench.native.specs import EVAL_BATCH_SIZE, workload as get_workload

REPO_ROOT = Path(__file__).resolve().parents[3]


@dataclass
class Config:
    workload: str
    framework: str
    mode: str
    out: str
    epochs: int | None = None  # None: the workload's (2017) value
    batch_size: int | None = None  # None: the workload's
    train_samples: int = 0  # 0: all
    test_samples: int = 0
    data_dir: str | None = None
    seed: int = 0
    repeat: int = 0
    device: str | None = None  # None: cuda where the framework sees one, else cpu
    precision: str = "float32"
    eval_batch_size: int = EVAL_BATCH_SIZE
    compile_mode: str = "auto"  # torch compiled mode only

    def validate(self):
        get_workload(self.workload)
        if self.framework not in MODES:
            raise ValueError(f"framework {self.framework!r}: one of {', '.join(MODES)}")
        if self.mode not in MODES[self.framework]:
            raise ValueError(
                f"{self.framework} modes: {', '.join(MODES[self.framework])}, not {self.mode!r}"
            )
        for name in ("epochs", "batch_size", "eval_batch_size"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be positive, not {value}")
        if self.train_samples < 0 or self.test_samples < 0:
            raise ValueError("train_samples and test_samples must be 0 (all) or positive")
        if self.device not in (None, "cpu", "cuda"):
            raise ValueError(f"device {self.device!r}: cpu or cuda")
        if self.precision not in ("float32", "tf32"):
            raise ValueError(f"precision {self.precision!r}: float32 or tf32")


def _default_device(framework):
    if framework == "torch":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    import jax

    return "cuda" if any(d.platform == "gpu" for d in jax.devices()) else "cpu"


def make_trainer(cfg: Config, data, device: str, batch_size: int):
    setup = data_mod.Setup(
        workload=cfg.workload,
        data=data,
        mode=cfg.mode,
        batch_size=batch_size,
        seed=cfg.seed,
        device=device,
        precision=cfg.precision,
        eval_batch_size=cfg.eval_batch_size,
    )
    if cfg.framework == "jax":
        from kerasbench.native import jax_models

        return jax_models.JaxTrainer(setup), jax_models.versions
    from kerasbench.native import torch_models

    return torch_models.TorchTrainer(setup, compile_mode=cfg.compile_mode), torch_models.versions


@dataclass
class Outcome:
    """What a run found out, for its run.json: set as training goes, kept when it fails."""

    status: str = "ok"
    error: str | None = None
    data: dict | None = None
    versions: dict | None = None
    settings: dict | None = None
    n_params: int | None = None
    params: dict | None = None


def train(cfg: Config, out: Path, outcome: Outcome, log) -> None:
    """Loads the data, builds the trainer and trains epoch by epoch into out/epochs.csv (a row
    per epoch, flushed), filling `outcome` as it goes; a NaN loss stops it (status `nan`)."""
    cfg.validate()
    spec = get_workload(cfg.workload)
    epochs = cfg.epochs or spec.epochs
    batch_size = cfg.batch_size or spec.batch_size
    device = cfg.device or _default_device(cfg.framework)
    outcome.params = dict(
        asdict(cfg),
        epochs=epochs,
        batch_size=batch_size,
        device=device,
        optimizer=spec.optimizer,
        **spec.hyper,
    )
    data = data_mod.load(cfg.workload, cfg.data_dir, cfg.train_samples, cfg.test_samples, cfg.seed)
    outcome.data = {"source": data.source, "detail": data.detail}
    trainer, versions_fn = make_trainer(cfg, data, device, batch_size)
    outcome.settings, outcome.n_params = trainer.settings, trainer.param_count()
    outcome.versions = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "keras": None,
        **versions_fn(),
    }
    n_train = len(data.x_train)
    del data
    with contextlib.closing(runfiles.EpochWriter(str(out / runfiles.EPOCHS_CSV))) as csv_file:
        clock = time.perf_counter
        train_start = clock()
        for epoch in range(epochs):
            epoch_start = clock()
            trainer.train_epoch(epoch)
            train_end = clock()
            loss, accuracy = trainer.train_metrics()
            val_loss, val_accuracy = trainer.evaluate()
            epoch_end = clock()
            train_seconds = train_end - epoch_start
            csv_file.write(
                {
                    "epoch": epoch,
                    "epoch_seconds": epoch_end - epoch_start,
                    "train_seconds": train_seconds,
                    "elapsed_seconds": epoch_end - train_start,
                    "samples_per_second": n_train / train_seconds if train_seconds > 0 else None,
                    "loss": loss,
                    "accuracy": accuracy,
                    "val_loss": val_loss,
                    "val_accuracy": val_accuracy,
                }
            )
            print(
                f"{cfg.workload} native-{cfg.framework} {cfg.mode} epoch {epoch}: "
                f"{epoch_end - epoch_start:.3f}s (train {train_seconds:.3f}s) loss {loss:.4f} "
                f"accuracy {accuracy:.4f} val_loss {val_loss:.4f} "
                f"val_accuracy {val_accuracy:.4f}",
                file=log,
                flush=True,
            )
            if not math.isfinite(loss):
                outcome.status = "nan"
                outcome.error = "the loss became NaN; training stopped early"
                break


def trained_on(cfg: Config, settings: dict | None) -> dict | None:
    """Where the loop put its parameters (kernel.json's `trained_on`, as a Keras run records
    it); None where it got no device (a run that failed before)."""
    if not (settings or {}).get("device"):
        return None
    trained = {
        "kind": runfiles.device_kind([settings["device"]]),
        "devices": [str(settings["device"])],
        "framework": cfg.framework,
        "how": "the native loop's device",
        "why": None,
    }
    if trained["kind"] != "gpu" and not cfg.device:
        try:
            trained["why"] = environment.gpu_view(cfg.framework)["why"]
        except Exception as e:  # the reason is a nicety; the record stands without it
            trained["why"] = f"{type(e).__name__}: {e}"
    return trained


def run(cfg: Config, log=sys.stderr) -> dict:
    """Trains and logs one run into cfg.out; returns the run.json record. Never raises for a
    failed run: the error goes into run.json (status "failed") and the traceback to `log`."""
    started, t0 = runfiles.now(), time.time()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    for stale in (runfiles.RUN_JSON, runfiles.EPOCHS_CSV):  # a rerun starts clean
        (out / stale).unlink(missing_ok=True)
    outcome = Outcome()
    try:
        train(cfg, out, outcome, log)
    except Exception as e:
        outcome.status = "failed"
        lines = [line for line in str(e).splitlines() if line.strip()]
        outcome.error = f"{type(e).__name__}: {lines[0] if lines else ''}"[:500]
        traceback.print_exc(file=log)
    # A default device that fell back to the CPU on a machine with a GPU fails the run, as a
    # Keras run would (runfiles.cpu_fallback).
    trained = trained_on(cfg, outcome.settings)
    machine = environment.device()
    fallback = runfiles.cpu_fallback(trained, machine, cfg.device)
    if outcome.status == "ok" and fallback:
        outcome.status, outcome.error = "failed", fallback
    record = runfiles.record(
        cfg.workload,
        f"native-{cfg.framework}",
        "native",
        cfg.repeat,
        cfg.seed,
        cfg.mode,
        outcome.params if outcome.params is not None else asdict(cfg),
        outcome.status,
        outcome.error,
        started,
        time.time() - t0,
        kernel_info={
            "data": outcome.data,
            "backend_settings": outcome.settings or {},
            "parameters": outcome.n_params,
            "versions": outcome.versions
            or {"python": platform.python_version(), "numpy": np.__version__},
            "trained_on": trained,
        },
        device=machine,
        device_requested=cfg.device or "auto",
        git_commit=environment.git_commit(str(REPO_ROOT)),
        code_path=str(REPO_ROOT / "lib"),
        host=socket.gethostname(),
    )
    runfiles.write_json_atomic(str(out / runfiles.RUN_JSON), record)
    return record
