#!/usr/bin/env python3
"""Moves every finished run labelled OLD to label NEW under OUT/runs (runfiles.relabel_run), for
when a configuration in params/configs.yaml is redefined: e.g. once `tuned` adopted
batch_callbacks: false, the H200 runs of the old `tuned` became `tuned-callbacks`, then the
`tuned-quiet` runs (the new definition, exactly) became `tuned`:
    python scripts/relabel_runs.py output/reference/h200 tuned tuned-callbacks
    python scripts/relabel_runs.py output/reference/h200 tuned-quiet tuned
"""

import glob
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from kerasbench import runfiles  # noqa: E402


def main(argv):
    if len(argv) != 3:
        sys.exit("usage: relabel_runs.py OUT OLD NEW")
    out, old, new = argv
    pattern = re.compile(r"^%s-(\d+)$" % re.escape(old))
    moved = 0
    for folder in sorted(glob.glob(os.path.join(out, runfiles.RUNS, "*", "*", old + "-*"))):
        match = pattern.match(os.path.basename(folder))
        if not match or not os.path.isfile(os.path.join(folder, runfiles.RUN_JSON)):
            continue
        backend_dir = os.path.dirname(folder)
        workload, backend = (
            os.path.basename(os.path.dirname(backend_dir)),
            os.path.basename(backend_dir),
        )
        try:
            dst = runfiles.relabel_run(out, workload, backend, int(match.group(1)), old, new)
        except ValueError as e:
            sys.exit("relabel_runs: %s" % e)
        print("%s -> %s" % (folder, dst))
        moved += 1
    print("%d runs relabelled %s -> %s" % (moved, old, new))


if __name__ == "__main__":
    main(sys.argv[1:])
