"""The documented Keras patches: "jax-scan" (issue 15), tried only as its own configuration
(`keras-patched`), never in `default` or `tuned`: `keras_patch: jax-scan`, applied by session.start.

Keras 3.15's JAX trainer runs steps_per_execution as a Python loop that calls the jitted single
step once per batch (backend/jax/trainer.py, _make_function), so the per-step dispatch stays
however large steps_per_execution is. "jax-scan" stacks the call's batches (consecutive batches
of one shape together: an epoch's last, smaller batch is its own group) and runs them through the
same train step inside one jitted jax.lax.scan; the logs are the last step's (the metrics
accumulate in the state, as in Keras' loop). Small and upstreamable: it replaces one method, the
maths of a step is Keras' own. Kernel side: Python 3.6 syntax.
"""

from kerasbench.kernel import compat

PATCHES = ("", "jax-scan")


def apply(name):
    """Applies a named patch ("" for none); returns what was applied, for kernel.json."""
    if not name:
        return ""
    if name not in PATCHES:
        raise ValueError("unknown keras_patch %r (patches: %s)" % (name, ", ".join(PATCHES[1:])))
    if not compat.KERAS3 or compat.backend_name() != "jax":
        raise ValueError(
            "keras_patch %r patches Keras 3's JAX trainer: this kernel runs %s"
            % (name, compat.backend_name())
        )
    import jax
    import jax.numpy as jnp
    from keras.src.backend.jax import trainer as jax_trainer

    cls = jax_trainer.JAXTrainer
    if getattr(cls, "_kerasbench_patch", None) == name:
        return name
    original = cls._make_function

    def _same_shape_runs(batches):
        runs, key = [], None
        for data in batches:
            leaves, tree = jax.tree_util.tree_flatten(data)
            k = (tree, tuple((tuple(x.shape), str(x.dtype)) for x in leaves))
            if k != key:
                runs.append([])
                key = k
            runs[-1].append(data)
        return runs

    def _make_function(self, step_function, concatenate_outputs=False):
        if self.steps_per_execution <= 1 or concatenate_outputs:
            return original(self, step_function, concatenate_outputs)

        def body(state, data):
            logs, state = step_function(state, data)
            return state, logs

        @jax.jit
        def scan_steps(state, stacked):
            state, logs = jax.lax.scan(body, state, stacked)
            return jax.tree_util.tree_map(lambda x: x[-1], logs), state

        def iterator_step(state, iterator):
            batches = []
            for _ in range(self.steps_per_execution):
                try:
                    batches.append(next(iterator))
                except StopIteration:
                    break
            if not batches:
                raise StopIteration
            logs = None
            for group in _same_shape_runs(batches):
                stacked = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *group)
                logs, state = scan_steps(state, stacked)
            return logs, state

        return iterator_step

    cls._make_function = _make_function
    cls._kerasbench_patch = name
    return name
