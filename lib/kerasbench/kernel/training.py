"""Training with the study's callbacks: the epoch log, and a stop when the loss becomes NaN.

Kernel side, Python 3.6. The test set is passed as validation data, as in 2017, so
`val_accuracy` is test accuracy measured every epoch.
"""

import keras
import numpy as np

from kerasbench.kernel import compat


class InjectNaN(keras.callbacks.Callback):
    """Tests only: from epoch `at` (0-based, as in epochs.csv) on, every weight is NaN, so the loss
    is NaN and TerminateOnNaN stops the run (status `nan`). Setting weights at the start of an
    epoch works on Keras 3 (the JAX trainer rereads the variables then) and on Keras 2.3.1."""

    def __init__(self, at):
        super(InjectNaN, self).__init__()
        self.at = int(at)

    def on_epoch_begin(self, epoch, logs=None):
        if epoch >= self.at:
            weights = self.model.get_weights()
            self.model.set_weights(
                [
                    np.full_like(w, np.nan) if np.issubdtype(w.dtype, np.floating) else w
                    for w in weights
                ]
            )


def study_callbacks(logger, batch_callbacks=True):
    """(callbacks, verbose) for the study's fit, around its epoch logger.

    batch_callbacks=True (every configuration but the `quiet` ones): TerminateOnNaN and verbose=2,
    as the study has always run. Both act every batch, and a callback that acts every batch makes
    Keras 3 run the callbacks synchronously: each batch's loss is pulled to the host before the
    next batch is dispatched. False: verbose=0 and the NaN check once an epoch, in the logger
    (a NaN run then finishes the epoch it went NaN in; it is still stopped and marked `nan`).
    """
    if batch_callbacks:
        return [logger, keras.callbacks.TerminateOnNaN()], 2
    logger.stop_on_nan = True
    return [logger], 0


def fit(run, model, data, epochs, batch_size, train_batches=None):
    """Trains `model` on `data` (a datasets.Split) as the run's settings say (run.settings:
    batch_callbacks, data_on_device, nan_at_epoch) and logs every epoch to the run's epochs.csv;
    the names Keras logged, in its order, go to kernel.json `metrics` (the report follows the
    first compiled metric of a model file).

    train_batches: a batch Sequence to train from instead of the arrays (CIFAR-10 augmentation).
    """
    if train_batches is not None:
        samples = len(train_batches) * batch_size
    else:
        samples = compat.sample_count(data.x_train, data.y_train)
    chosen = run.settings
    callbacks, verbose = study_callbacks(run.epoch_logger(samples), chosen.batch_callbacks)
    if chosen.nan_at_epoch > 0:
        callbacks.insert(0, InjectNaN(chosen.nan_at_epoch))
    if hasattr(run, "record_trained_on"):
        run.record_trained_on(model)  # again in run.finish(): a run cut off keeps this one
    history = compat.fit(
        model,
        x=train_batches if train_batches is not None else data.x_train,
        y=None if train_batches is not None else data.y_train,
        batch_size=batch_size,
        epochs=epochs,
        validation_data=(data.x_test, data.y_test) if data.x_test is not None else None,
        callbacks=callbacks,
        steps_per_epoch=len(train_batches) if train_batches is not None else None,
        on_device=chosen.data_on_device,
        verbose=verbose,
    )
    if hasattr(run, "record_metrics"):
        run.record_metrics(compat.logged_metrics(history))
    return history
