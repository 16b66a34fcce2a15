"""The study's plan: which runs, in which order, with which parameters. Host side.

A plan is a list of RunSpec, every parameter resolved and validated (`params`) before anything
trains; `run_dir` says where each run's folder lies under --out. A *block* is one workload in one
repeat: every backend and configuration asked for, interleaved (`blocks` groups a plan by block).
On a GPU a block is the unit of repetition: every executor trains it on one machine, one run after
another, so that its runs can be compared with each other. A *timing block* (`--timing-epochs`) is
a repeat after the first that trains fewer epochs on the same data and model: its times count,
its accuracy is not reported (the first block, with the profile's epochs, gives that).
"""

import collections
import difflib
import json
import os
import sys

from kerasbench import registry, runfiles
from kerasbench.errors import UserError
from kerasbench.study import params, usermodel


# device: `kerasbench run --device` (auto, gpu, cpu); cpu hides the GPU from the run's kernel.
# timing: a run of a timing block (fewer epochs than its profile's: `--timing-epochs`).
class RunSpec(
    collections.namedtuple(
        "RunSpec",
        [
            "workload",
            "backend",
            "repeat",
            "seed",
            "profile",
            "params",
            "config",
            "device",
            "timing",
        ],
        defaults=("auto", False),
    )
):
    """One planned run. `block` is the block it belongs to: (workload, repeat)."""

    __slots__ = ()

    @property
    def block(self):
        """(workload, repeat): the runs of every backend and configuration of one workload in one
        repeat, interleaved; every executor trains a block on one machine, one run after another."""
        return (self.workload, self.repeat)


DEFAULT_CONFIG = runfiles.DEFAULT_CONFIG
MAX_SEED = 2**32 - 1  # np.random.seed and Keras' seeding take no more
# Epoch 0 carries compilation and warm-up: a timing block needs 2 steady epochs after it.
MIN_TIMING_EPOCHS = 3


def parse_list(text, allowed, what):
    """`all` or a comma-separated list of known names, in the order given."""
    if text in (None, "", "all"):
        return list(allowed)
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise UserError(
            "--%ss %r names no %s (%ss: %s, or all)" % (what, text, what, what, ", ".join(allowed))
        )
    for name in names:
        if name not in allowed:
            raise UserError("unknown %s %r (%ss: %s)" % (what, name, what, ", ".join(allowed)))
    if len(set(names)) != len(names):
        raise UserError("%s listed twice in %r" % (what, text))
    return names


def check_config(config):
    """A configuration label names a folder (runfiles.is_config_name), else one line."""
    if not runfiles.is_config_name(config):
        raise UserError("--config %r: use letters, digits, '_' and '-' (e.g. compiled)" % config)
    return config


def plan(
    profile,
    workloads,
    backends,
    repeats=1,
    base_seed=0,
    overrides=None,
    allow_generated=False,
    params_dir=None,
    config=DEFAULT_CONFIG,
    device="auto",
    warn=None,
    timing_epochs=None,
):
    """The runs in execution order; every parameter resolved and validated first.

    The runs of one block (one workload, one repeat) follow each other. Each repeat visits every
    backend, and the backend order rotates from one repeat to the next (tf, jax, torch; then
    jax, torch, tf) so drift on a shared machine spreads over backends.
    Every backend gets the same seed within a repeat: same initial data order for the same seed.
    `config` is one configuration label or several ("default,tuned", a list): a label named in
    params/configs.yaml adds its per-backend settings; --set overrides win over both.
    `device`: where the runs are to train (runfiles.DEVICE_CHOICES), carried by every RunSpec.
    A model file runs under its file's name, its parameters carrying its fingerprint (a changed
    file is another plan); one whose BACKENDS leaves backends out has no runs on them, and
    `warn` (default: stderr) gets one line saying so.
    `timing_epochs`: repeats after the first are timing blocks, training that many epochs where
    the profile trains more (`timing_run`); None: every repeat trains the profile's epochs.
    """
    if warn is None:

        def warn(line):
            print("kerasbench: " + line, file=sys.stderr)

    check_numbers(device, repeats, base_seed, timing_epochs)
    labels, configs = config_labels(config, overrides, params_dir)
    names, resolved = [], {}
    for workload in workloads:
        name, values = resolve_workload(
            workload, profile, backends, labels, configs, overrides, params_dir, warn
        )
        names.append(name)
        for key, value in values.items():
            if allow_generated and "allow_generated" in value:
                value["allow_generated"] = True
            resolved[key] = value
    runs = []
    for repeat in range(repeats):
        order = backends[repeat % len(backends) :] + backends[: repeat % len(backends)]
        for workload in names:
            for label in labels:
                for backend in order:
                    if (workload, label, backend) not in resolved:
                        continue  # a model file that does not run on this backend
                    values = dict(resolved[workload, label, backend])
                    timing = timing_run(values, repeat, timing_epochs)
                    seed = base_seed + repeat
                    runs.append(
                        RunSpec(
                            workload, backend, repeat, seed, profile, values, label, device, timing
                        )
                    )
    return runs


def timing_run(values, repeat, timing_epochs):
    """Makes `values` (a run's parameters) a timing block's where it is one: a repeat after the
    first, with timing epochs fewer than the profile's. True where it did."""
    epochs = values.get("epochs")
    if not timing_epochs or repeat < 1 or not isinstance(epochs, int) or epochs <= timing_epochs:
        return False
    values["epochs"] = timing_epochs
    return True


def check_numbers(device, repeats, base_seed, timing_epochs=None):
    """--device, --repeats, --seed and --timing-epochs, each one line where it is wrong."""
    if timing_epochs is not None and timing_epochs < MIN_TIMING_EPOCHS:
        raise UserError(
            "--timing-epochs %d: a timing block needs at least %d epochs (the first carries "
            "compilation and warm-up; its time per epoch is the mean of the epochs after it)"
            % (timing_epochs, MIN_TIMING_EPOCHS)
        )
    if device not in runfiles.DEVICE_CHOICES:
        raise UserError("--device %r: one of %s" % (device, ", ".join(runfiles.DEVICE_CHOICES)))
    if repeats < 1:
        raise UserError("--repeats must be at least 1, got %d" % repeats)
    if base_seed < 0 or base_seed + repeats - 1 > MAX_SEED:
        raise UserError(
            "--seed %d: seeds must be within 0..%d (2**32 - 1: NumPy's and the "
            "frameworks' limit)%s"
            % (
                base_seed,
                MAX_SEED,
                "; with --repeats %d the last would be %d" % (repeats, base_seed + repeats - 1)
                if repeats > 1
                else "",
            )
        )


def config_labels(config, overrides, params_dir):
    """(the configuration labels of --config, params/configs.yaml's configurations): --config is
    a string, comma-separated, or a list; each label a folder's name, none twice, each named in
    configs.yaml or given its settings by --set (a typo, tunde, would train the default settings
    under a new label)."""
    labels = config.split(",") if isinstance(config, str) else list(config)
    labels = [check_config(label.strip()) for label in labels]
    if len(set(labels)) != len(labels):
        raise UserError("--config lists a configuration twice: %s" % ",".join(labels))
    configs = params.read_configs(params_dir)
    for label in labels:
        if label != DEFAULT_CONFIG and label not in configs and not overrides:
            known = [DEFAULT_CONFIG] + sorted(configs)
            hint = difflib.get_close_matches(label, known, n=1)
            raise UserError(
                "--config %s: not a configuration of %s (%s)%s; a new label needs "
                "its settings from --set KEY=VALUE"
                % (
                    label,
                    os.path.join(params_dir or registry.PARAMS_DIR, params.CONFIGS_FILE),
                    ", ".join(known),
                    "; did you mean %s?" % hint[0] if hint else "",
                )
            )
    return labels, configs


def resolve_workload(workload, profile, backends, labels, configs, overrides, params_dir, warn):
    """(the runs' workload name, {(name, label, backend): parameters}) of one --workloads entry:
    a built-in workload, or a model file (path/to/my_model.py), which runs under its file's name
    through user_model.ipynb and only on the backends its BACKENDS names."""
    model_file = workload if usermodel.is_model_file(workload) else None
    name = usermodel.name(workload) if model_file else workload
    path = os.path.join(params_dir, workload + ".yaml") if params_dir and not model_file else None
    runs_on = backends
    if model_file:
        runs_on, skipped = usermodel.backends_for(model_file, backends)
        if skipped:
            warn(skipped)
    resolved = {}
    for label in labels:
        for backend in runs_on:
            given = params.config_settings(configs, label, backend)
            given.update(overrides or {})
            if model_file:
                values = usermodel.resolve(model_file, profile, overrides=given)
            else:
                values = params.resolve(workload, profile, path=path, overrides=given)
            params.check_backend("%s (%s, %s)" % (name, label, backend), name, backend, values)
            resolved[name, label, backend] = values
    return name, resolved


def blocks(runs):
    """The runs grouped by block (RunSpec.block), in plan order: the blocks in the order of their
    first run, each block's runs in their order. `plan` lists a block's runs next to each other,
    so this keeps the plan's order; a list with some runs left out (resume) is grouped the same."""
    grouped = {}
    for spec in runs:
        grouped.setdefault(spec.block, []).append(spec)
    return list(grouped.values())


def block_name(spec):
    """'mnist_mlp/0': the block of a run, as printed."""
    return "%s/%d" % spec.block


def run_dir(out, spec):
    """runs/<workload>/<backend>/<repeat>, or .../<config>-<repeat> for a named configuration."""
    return runfiles.run_folder(out, spec.workload, spec.backend, spec.config, spec.repeat)


def plan_json(spec, state=None):
    """One run of the plan as a JSON line (`kerasbench run --dry-run`); `state`, where given, is
    what the output folder holds of it (runner.resume_state: done, todo or conflict)."""
    line = {
        "workload": spec.workload,
        "backend": spec.backend,
        "repeat": spec.repeat,
        "seed": spec.seed,
        "profile": spec.profile,
        "config": spec.config,
        "params": spec.params,
        "device": spec.device,
        "timing": spec.timing,
    }
    if state is not None:
        line["state"] = state
    return json.dumps(line, sort_keys=True)
