"""The epoch log: one flushed row per epoch, the study's columns, timings that add up."""

import csv
import math

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from kerasbench.kernel import epoch_log  # noqa: E402


class FakeClock(object):
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def read_rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_rows_and_timings_with_a_fake_clock(tmp_path):
    clock = FakeClock()
    path = str(tmp_path / "epochs.csv")
    logger = epoch_log.EpochLogger(path, samples_per_epoch=1000, clock=clock)
    logger.on_train_begin()
    for epoch in range(3):
        logger.on_epoch_begin(epoch)
        clock.now += 2.0  # training
        logger.on_test_begin()
        clock.now += 0.5  # validation
        logger.on_test_begin()  # a second validation call does not move the mark
        logger.on_epoch_end(
            epoch,
            {
                "loss": 1.0 / (epoch + 1),
                "acc": 0.5,
                "val_loss": 0.9,
                "val_acc": 0.6,
                "main_out_loss": 0.7,
            },
        )
        rows = read_rows(path)
        assert len(rows) == epoch + 1, "each row is on disk when the epoch ends"
    logger.on_train_end()
    rows = read_rows(path)
    assert list(rows[0])[: len(epoch_log.COLUMNS)] == epoch_log.COLUMNS
    assert list(rows[0])[len(epoch_log.COLUMNS) :] == ["main_out_loss"]
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    assert all(float(r["epoch_seconds"]) == 2.5 for r in rows)
    assert all(float(r["train_seconds"]) == 2.0 for r in rows)
    assert [float(r["elapsed_seconds"]) for r in rows] == [2.5, 5.0, 7.5]
    assert float(rows[0]["samples_per_second"]) == 500.0
    assert float(rows[0]["accuracy"]) == 0.5, "Keras 2's acc is written as accuracy"
    assert float(rows[2]["val_accuracy"]) == 0.6


def test_model_without_validation_leaves_cells_empty(tmp_path):
    clock = FakeClock()
    path = str(tmp_path / "epochs.csv")
    logger = epoch_log.EpochLogger(path, samples_per_epoch=10, clock=clock)
    logger.on_train_begin()
    logger.on_epoch_begin(0)
    clock.now += 1.0
    logger.on_epoch_end(0, {"loss": float("nan")})
    row = read_rows(path)[0]
    assert row["train_seconds"] == "" and row["val_loss"] == "" and row["accuracy"] == ""
    assert row["loss"] == "nan"
    assert float(row["samples_per_second"]) == 10.0


def test_real_fit_writes_one_row_per_epoch(tmp_path):
    x = np.random.RandomState(0).rand(64, 4).astype("float32")
    y = (x.sum(axis=1) > 2).astype("float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    path = str(tmp_path / "epochs.csv")
    logger = epoch_log.EpochLogger(path, samples_per_epoch=64)
    model.fit(x, y, batch_size=16, epochs=3, validation_data=(x, y), callbacks=[logger], verbose=0)
    rows = read_rows(path)
    assert len(rows) == 3
    elapsed = [float(r["elapsed_seconds"]) for r in rows]
    assert elapsed == sorted(elapsed) and elapsed[0] > 0
    for r in rows:
        assert 0 < float(r["train_seconds"]) < float(r["epoch_seconds"])
        assert math.isfinite(float(r["loss"])) and r["val_accuracy"] != ""


def test_without_per_batch_callbacks_keras_dispatches_asynchronously_and_nan_still_stops(tmp_path):
    from kerasbench.kernel import training

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")

    def callback_list(batch_callbacks):
        logger = epoch_log.EpochLogger(str(tmp_path / ("%s.csv" % batch_callbacks)), 64)
        callbacks, verbose = training.study_callbacks(logger, batch_callbacks)
        cbks = keras.callbacks.CallbackList(
            callbacks,
            add_history=True,
            add_progbar=verbose != 0,
            verbose=verbose,
            model=model,
            epochs=2,
            steps=4,
        )
        return logger, verbose, cbks

    _, verbose, cbks = callback_list(True)
    assert (
        verbose == 2 and not cbks._async_train
    )  # TerminateOnNaN and the progress bar: synchronous
    logger, verbose, cbks = callback_list(False)
    # The thread-safe backends (JAX, TensorFlow) dispatch callbacks asynchronously without them.
    assert verbose == 0 and cbks._async_train == keras.src.backend.IS_THREAD_SAFE
    assert logger.stop_on_nan
    # The NaN check moved to the logger: a NaN epoch stops training when it ends.
    logger.set_model(model)
    logger.on_train_begin()
    logger.on_epoch_begin(0)
    logger.on_epoch_end(0, {"loss": 0.5})
    assert not model.stop_training
    logger.on_epoch_begin(1)
    logger.on_epoch_end(1, {"loss": float("nan")})
    assert model.stop_training
    logger.on_train_end()
