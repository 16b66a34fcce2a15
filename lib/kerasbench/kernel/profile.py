"""The kernel side of `kerasbench profile`: where a Keras training step's time goes, by ablation.

    python -m kerasbench.kernel.profile JOB_JSON

One fresh process per backend, started with the backend kernel's Python and environment
(KERAS_BACKEND fixed before anything imports Keras), as `kerasbench.plain` is. The model and data
come from the workload's own notebook: its code cells run up to, not including, the cell that
trains (the one calling `training.fit`), so the model profiled is the one the study trains.

Each variant has its own model (the notebook's model cell again, with the variant's compile
options; fit_bare and fit_device share one) and trains `steps` batches once to compile and warm up;
then `repeats` rounds time one pass of `steps` batches of every variant, the order rotated each
round, so drift on a shared machine spreads over the variants (the median pass counts). A pass's
time ends with the device synchronised. Variants, from what a user
gets to the bare step (the host side turns their differences into fractions, study/profile.py):

  fit_default   model.fit as the study runs it: NumPy input (device arrays where the configuration
                sets data_on_device), the model's metrics, the epoch logger,
                TerminateOnNaN and verbose=2 (unless the configuration sets
                batch_callbacks=False), the configuration's steps_per_execution
  fit_metrics   the same model without callbacks (only the pass timer) and verbose=0
  fit_bare      the same without callbacks and with no metric beyond the loss
  fit_device    fit_bare with the arrays on the device first (compat.to_device)
  fit_epoch     fit_device with steps_per_execution = steps (one compiled call per pass; not on
                PyTorch, whose Keras trainer requires 1, nor on Keras 2.3.1)
  step_loop     the compiled train step called in a Python loop on device-resident batches
                (JAX: jax.jit(model.train_step) on the state; PyTorch: model.train_function;
                TensorFlow and Keras 2.3.1: model.train_on_batch)
  device        the device compute of step_loop from the framework's profiler (torch.profiler's
                CUDA kernels, jax.profiler's GPU streams: the union of busy intervals); only on a
                GPU; on a CPU there is no separate device and this is recorded as not measured.

No validation pass (the breakdown is of training steps); CIFAR-10 is profiled on its arrays
without augmentation. Writes `profile_kernel.json` in the job's folder (studyfiles). Kernel side: Python 3.6 syntax.
"""

import collections
import json
import os
import shutil
import statistics
import sys
import time
import traceback

import numpy as np

from kerasbench import plain, runfiles, studyfiles
from kerasbench.kernel import settings

TRAIN_CELL_MARK = "training.fit("
MODEL_CELL_MARK = "build_model("


class CannotProfile(Exception):
    pass


def notebook_cells(notebook_path):
    """(cells before the training cell, the model cell's index among them)."""
    cells = plain.code_cells(notebook_path)
    for n, (_, source) in enumerate(cells):
        if TRAIN_CELL_MARK in source:
            before = cells[:n]
            model = [i for i, (_, s) in enumerate(before) if MODEL_CELL_MARK in s]
            if not model:
                raise CannotProfile(
                    "%s: no cell calls %s...) before training" % (notebook_path, MODEL_CELL_MARK)
                )
            return before, model[-1]
    raise CannotProfile("%s has no cell calling %s...)" % (notebook_path, TRAIN_CELL_MARK))


def _exec(cell, notebook_path, namespace):
    index, source = cell
    exec(compile(source, "%s[cell %d]" % (notebook_path, index), "exec"), namespace)


def take(x, n):
    """The first n rows of an array, or of each array of a list/tuple/dict; rows wrap around
    when the data has fewer than n (the profile times steps, not epochs of the data set)."""
    if x is None:
        return None
    if isinstance(x, (list, tuple)):
        return type(x)(take(v, n) for v in x)
    if isinstance(x, dict):
        return dict((k, take(v, n)) for k, v in x.items())
    x = np.asarray(x)
    if len(x) >= n:
        return x[:n]
    return x[np.arange(n) % len(x)]


def batch(x, i, size):
    if isinstance(x, (list, tuple)):
        return type(x)(batch(v, i, size) for v in x)
    if isinstance(x, dict):
        return dict((k, batch(v, i, size)) for k, v in x.items())
    return x[i * size : (i + 1) * size]


# Synchronising the device, so that a pass's time includes its last step's compute.


def sync(backend, model=None):
    if backend == "jax":
        import jax

        if model is not None:
            jax.block_until_ready([v.value for v in model.trainable_variables])
        jax.effects_barrier()
    elif backend == "torch":
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()
    elif backend == "tensorflow" and model is not None and model.trainable_variables:
        model.trainable_variables[0].numpy()


def pass_timer(backend, clock=time.perf_counter):
    """A callback with epoch hooks only: each epoch's seconds, the device synchronised at its end."""
    import keras

    class PassTimer(keras.callbacks.Callback):
        def __init__(self):
            super(PassTimer, self).__init__()
            self.seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self.start = clock()

        def on_epoch_end(self, epoch, logs=None):
            sync(backend, self.model)
            self.seconds.append(clock() - self.start)

    return PassTimer()


class Profiler(object):
    def __init__(self, job):
        self.job = job
        self.backend = job["backend"]
        self.steps = int(job["steps"])
        self.repeats = int(job["repeats"])
        self.out = job["out"]
        self.notebook = job["notebook"]
        self.cells, self.model_index = notebook_cells(self.notebook)
        self.namespace = {"__name__": "__main__"}
        self.notes = []

    def setup(self):
        """Runs the notebook up to training (session.start, data, the first model)."""
        for n, cell in enumerate(self.cells):
            _exec(cell, self.notebook, self.namespace)
            if n == 0:
                self.namespace.update(self.job["parameters"])
        from kerasbench.kernel import compat

        self.compat = compat
        data = self.namespace["data"]
        self.batch_size = int(self.job["parameters"]["batch_size"])
        rows = self.steps * self.batch_size
        self.x = take(data.x_train, rows)
        self.y = take(data.y_train, rows)
        self.base_settings = settings.current()
        self.metrics_names = None

    def build(self, steps_per_execution=None, metrics=True):
        """A fresh model from the notebook's model cell; compiled without metrics if asked."""
        compat = self.compat
        if steps_per_execution is not None:
            settings.use(self.base_settings.replace(steps_per_execution=steps_per_execution))
        original = compat.compile
        if not metrics:

            def compile_loss_only(model, optimizer, loss, metrics=None, loss_weights=None):
                return original(model, optimizer, loss, metrics=None, loss_weights=loss_weights)

            compat.compile = compile_loss_only
        try:
            _exec(self.cells[self.model_index], self.notebook, self.namespace)
        finally:
            compat.compile = original
            settings.use(self.base_settings)
        return self.namespace["model"]

    def fit_pass(self, model, x, y, callbacks=(), verbose=0):
        """One fit() epoch over the profile's rows; its seconds (device synchronised)."""
        timer = pass_timer(self.backend)
        self.compat.fit(
            model,
            x=x,
            y=y,
            batch_size=self.batch_size,
            epochs=1,
            callbacks=[timer] + list(callbacks),
            verbose=verbose,
        )
        return timer.seconds[0]

    def default_callbacks(self):
        """What the study's fit gets under this configuration (training.study_callbacks): the
        epoch logger (here into fit_default_epochs.csv), and, unless the configuration drops
        them, TerminateOnNaN and verbose=2. Returns (callbacks, verbose)."""
        from kerasbench.kernel import epoch_log, training

        logger = epoch_log.EpochLogger(
            os.path.join(self.out, studyfiles.PROFILE_EPOCHS_CSV), self.steps * self.batch_size
        )
        return training.study_callbacks(logger, self.namespace["run"].settings.batch_callbacks)

    def variants(self):
        """name -> a function timing one pass; each variant built and warmed up (compiled) here."""
        compat = self.compat
        xd, yd = compat.to_device(self.x), compat.to_device(self.y)
        # The configuration's input: NumPy, or device arrays where it sets data_on_device (tuned).
        x, y = (xd, yd) if self.namespace["run"].settings.data_on_device else (self.x, self.y)
        timed = collections.OrderedDict()
        m_default = self.build(metrics=True)
        timed["fit_default"] = lambda: self.fit_pass(m_default, x, y, *self.default_callbacks())
        timed["fit_metrics"] = lambda: self.fit_pass(m_default, x, y)
        m_bare = self.build(metrics=False)
        timed["fit_bare"] = lambda: self.fit_pass(m_bare, x, y)
        timed["fit_device"] = lambda: self.fit_pass(m_bare, xd, yd)
        if self.backend == "torch" or not compat.KERAS3:
            self.notes.append(
                "fit_epoch: steps_per_execution must be 1 on %s"
                % ("PyTorch" if self.backend == "torch" else "Keras 2.3.1")
            )
        else:
            m_epoch = self.build(steps_per_execution=self.steps, metrics=False)
            timed["fit_epoch"] = lambda: self.fit_pass(m_epoch, xd, yd)
        m_loop = self.build(metrics=False)
        batches = self.device_batches()
        self.loop_method, run_steps = self.step_function(m_loop, batches)
        self.loop = (run_steps, batches)

        def loop_pass():
            t0 = time.perf_counter()
            run_steps(batches)
            return time.perf_counter() - t0

        timed["step_loop"] = loop_pass
        return timed

    def device_batches(self):
        return [
            (
                self.compat.to_device(batch(self.x, i, self.batch_size)),
                self.compat.to_device(batch(self.y, i, self.batch_size)),
            )
            for i in range(self.steps)
        ]

    def step_function(self, model, batches):
        """(method name, run(batches) -> None) for the bare compiled step on this backend."""
        x0, y0 = batches[0]
        model.train_on_batch(x0, y0)  # builds the model and the optimizer's variables
        if self.backend == "jax":
            import jax

            step = jax.jit(model.train_step, donate_argnums=0)
            holder = {
                "state": model._get_jax_state(
                    trainable_variables=True,
                    non_trainable_variables=True,
                    optimizer_variables=True,
                    metrics_variables=True,
                    purge_model_variables=False,
                )
            }

            def run_steps(bs):
                state = holder["state"]
                for b in bs:
                    _, state = step(state, b)
                jax.block_until_ready(state)
                holder["state"] = state

            return "jax.jit(model.train_step)", run_steps
        if self.backend == "torch":
            model.make_train_function()

            def run_steps(bs):
                for b in bs:
                    model.train_function([b])
                sync("torch")

            return "model.train_function", run_steps

        def run_steps(bs):
            for b in bs:
                model.train_on_batch(b[0], b[1])
            sync(self.backend, model)

        return "model.train_on_batch", run_steps

    def device_compute(self, run_steps, batches):
        """Seconds of device busy time per pass of step_loop, from the framework's profiler."""
        try:
            if self.backend == "torch":
                import torch

                if not torch.cuda.is_available():
                    return {"seconds": None, "how": "not measured: no GPU (torch.cuda)"}
                from torch.profiler import ProfilerActivity, profile

                with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
                    run_steps(batches)
                spans = [
                    (e.time_range.start * 1e-6, e.time_range.end * 1e-6)
                    for e in prof.events()
                    if str(getattr(e, "device_type", "")).endswith("CUDA")
                ]
                return {
                    "seconds": busy_seconds(spans),
                    "kernels": len(spans),
                    "how": "torch.profiler: union of CUDA kernel intervals over one pass",
                }
            if self.backend == "jax":
                import jax

                if jax.default_backend() != "gpu":
                    return {
                        "seconds": None,
                        "how": "not measured: no GPU (jax backend %s)" % jax.default_backend(),
                    }
                trace_dir = os.path.join(self.out, "jax-trace")
                with jax.profiler.trace(trace_dir):
                    run_steps(batches)
                busy = jax_busy(trace_dir)
                shutil.rmtree(trace_dir, ignore_errors=True)  # tens of MB; the sum is kept
                return busy
            return {"seconds": None, "how": "not measured: no profiler wired for %s" % self.backend}
        except Exception as e:  # the breakdown stands without it (upper bound, labelled)
            return {"seconds": None, "how": "profiler failed: %s: %s" % (type(e).__name__, e)}

    def run(self):
        """Every variant warmed up first, then `repeats` rounds of one timed pass each, the
        order rotated per round (drift on a shared machine spreads over the variants)."""
        self.setup()
        timed = self.variants()
        names = list(timed)
        warmup = dict((name, timed[name]()) for name in names)
        passes = dict((name, []) for name in names)
        for r in range(self.repeats):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                passes[name].append(timed[name]())
        results = collections.OrderedDict(
            (name, _timing((passes[name], warmup[name]), self.steps)) for name in names
        )
        results["step_loop"]["method"] = self.loop_method
        device = self.device_compute(*self.loop)
        return results, device


def busy_seconds(spans):
    """The length of the union of (start, end) intervals, in their unit."""
    total, end = 0.0, None
    for s, e in sorted(spans):
        if end is None or s > end:
            total += e - s
            end = e
        elif e > end:
            total += e - end
            end = e
    return total


def jax_busy(trace_dir):
    """The union of the GPU stream events of the newest xplane.pb under trace_dir, in seconds."""
    import jax

    paths = []
    for root, _, files in os.walk(trace_dir):
        paths.extend(os.path.join(root, f) for f in files if f.endswith(".xplane.pb"))
    if not paths:
        return {"seconds": None, "how": "jax.profiler wrote no xplane.pb"}
    data = jax.profiler.ProfileData.from_file(max(paths, key=os.path.getmtime))
    spans, lines = [], set()
    for plane in data.planes:
        if not plane.name.startswith("/device:GPU"):
            continue
        for line in plane.lines:
            if "stream" not in line.name.lower():
                continue
            lines.add(line.name)
            for event in line.events:
                spans.append((event.start_ns * 1e-9, (event.start_ns + event.duration_ns) * 1e-9))
    if not spans:
        return {"seconds": None, "how": "jax.profiler: no GPU stream events in the trace"}
    return {
        "seconds": busy_seconds(spans),
        "kernels": len(spans),
        "how": "jax.profiler: union of GPU stream events (%s) over one pass"
        % ", ".join(sorted(lines)[:4]),
    }


def _timing(result, steps):
    seconds, warmup = result
    return {
        "pass_seconds": list(seconds),
        "warmup_seconds": warmup,
        "steps": steps,
        "step_seconds": statistics.median(seconds) / steps if seconds else None,
    }


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    with open(argv[0]) as f:
        job = json.load(f)
    out = job["out"]
    record = {
        "workload": job["workload"],
        "backend": job["backend"],
        "steps": job["steps"],
        "repeats": job["repeats"],
        "started_at": runfiles.now(),
    }
    try:
        profiler = Profiler(job)
        variants, device = profiler.run()
        run = profiler.namespace["run"]
        run.record_lstm_kernel(profiler.namespace["model"])  # which LSTM kernel the steps ran
        record.update(
            status="ok",
            variants=variants,
            device_compute=device,
            notes=profiler.notes,
            kernel=run.info,
        )
    except Exception as e:
        record.update(
            status="failed",
            error="%s: %s" % (type(e).__name__, e),
            traceback=traceback.format_exc(),
        )
    record["ended_at"] = runfiles.now()
    runfiles.write_json_atomic(os.path.join(out, studyfiles.PROFILE_KERNEL_JSON), record)
    return 0 if record["status"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
