"""Checks before anything trains: the output folder, the data folder and the data files. Host side.
"""
import collections
import os

from kerasbench import datafiles, registry
from kerasbench.errors import UserError


def check_output_dir(out):
    try:
        os.makedirs(out, exist_ok=True)
        probe = os.path.join(out, ".kerasbench-write-test")
        with open(probe, "w") as f:
            f.write("ok")
        os.remove(probe)
    except OSError as e:
        raise UserError("cannot write to output folder %s: %s" % (out, e.strerror or e))


def check_data_dir(folder, given=True):
    """A data folder named by --data-dir or $KERASBENCH_DATA must exist: a typo there would
    otherwise turn into downloads, or generated data, without a word. (Keras' own cache folder
    may be missing on a fresh machine: the downloads create it.)"""
    if given and not os.path.isdir(folder):
        raise UserError("data folder not found: %s (--data-dir or $KERASBENCH_DATA; create it to "
                        "download into it)" % folder)


def check_data(runs, folder, download=True, warn=print):
    """Every dataset the plan needs is present and verified, or fetched now, before any training.

    Where it cannot be had, a run that may use generated data goes on with one warning; a run
    that may not (the `full` profile) stops the study with a one-line error. A corrupt file is
    an error in every profile.
    """
    needed = collections.OrderedDict()
    for spec in runs:
        known = registry.WORKLOADS.get(spec.workload)  # a model file reads its own data
        for dataset in (known.datasets if known else ()):
            needed.setdefault(dataset, []).append(spec)
    for dataset, specs in needed.items():
        try:
            datafiles.ensure(dataset, folder, download=download)
        except datafiles.DataError as e:
            if e.problem == "corrupt":
                # A damaged file is the user's to fix, in every profile: generated data in its
                # place would hide it.
                raise UserError(str(e))
            strict = sorted({s.workload for s in specs if not s.params["allow_generated"]})
            if strict:
                raise UserError("%s (needed by %s in the %s profile)"
                                % (e, ", ".join(strict), specs[0].profile))
            warn("warning: %s; %s will train on generated data" % (
                e, ", ".join(sorted({s.workload for s in specs}))))
