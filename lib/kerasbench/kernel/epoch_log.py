"""The per-epoch log: one `epochs.csv` row per epoch, flushed at epoch end. Kernel side, Python 3.6.

The rows go through `runfiles.EpochWriter` (appended, flushed and synced row by row), so a run that
dies keeps every finished epoch.
"""

import math
import time

import keras

from kerasbench import runfiles
from kerasbench.kernel import compat

COLUMNS = runfiles.COLUMNS  # epochs.csv's leading columns (runfiles owns the format)


class EpochLogger(keras.callbacks.Callback):
    """Times each epoch (training apart from validation) and logs the metrics Keras reports."""

    def __init__(self, path, samples_per_epoch, clock=time.perf_counter):
        super(EpochLogger, self).__init__()
        self.csv = runfiles.EpochWriter(path)
        self.samples_per_epoch = samples_per_epoch
        self.clock = clock
        self.losses = []
        # The NaN check at epoch end: training.study_callbacks turns it on when the per-batch
        # callbacks (TerminateOnNaN among them) are left out.
        self.stop_on_nan = False

    def on_train_begin(self, logs=None):
        self.train_start = self.clock()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start = self.clock()
        self.validation_start = None

    def on_test_begin(self, logs=None):
        # fit() runs validation through the same callbacks; the first call marks the end of training.
        if getattr(self, "epoch_start", None) is not None and self.validation_start is None:
            self.validation_start = self.clock()

    def on_epoch_end(self, epoch, logs=None):
        now = self.clock()
        epoch_seconds = now - self.epoch_start
        train_seconds = (
            self.validation_start - self.epoch_start if self.validation_start is not None else None
        )
        timed = train_seconds if train_seconds else epoch_seconds
        row = {
            "epoch": epoch,
            "epoch_seconds": epoch_seconds,
            "train_seconds": train_seconds,
            "elapsed_seconds": now - self.train_start,
            "samples_per_second": self.samples_per_epoch / timed if timed > 0 else None,
        }
        logs = compat.exact_validation_metrics(self.model, compat.normalize_logs(logs))
        for key, value in logs.items():
            row[key] = float(value)
        self.losses.append(row.get("loss"))
        self.csv.write(row)
        self.epoch_start = None
        loss = row.get("loss")
        if self.stop_on_nan and loss is not None and not math.isfinite(loss):
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        self.csv.close()
