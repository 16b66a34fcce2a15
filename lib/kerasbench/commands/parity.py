"""`kerasbench parity`: does each backend learn the same? Same initial weights, same batches:
per-step loss, weights and predictions against the first backend."""

import argparse
import os

from kerasbench import registry, studyfiles
from kerasbench.commands import options

NAME = "parity"
HELP = (
    "does each backend learn the same? same initial weights, same batches: per-step loss, "
    "weights and predictions against the first backend"
)


def arguments(parser):
    options.workloads(
        parser, default="mnist_mlp,mnist_cnn,imdb_fasttext", help="comma-separated names, or all"
    )
    options.backends(
        parser,
        default="tensorflow,jax,torch",
        help="comma-separated; the first is the reference",
    )
    parser.add_argument(
        "--steps",
        type=options.positive_int,
        default=10,
        help="training steps (batches); the tolerances assume few (see parity.py)",
    )
    options.out(parser, default=options.part_of_study(studyfiles.PARITY), help=None)
    options.profile(parser, help="the parameters (data subset, batch size, model) of this profile")
    parser.add_argument(
        "--eval-samples",
        type=options.positive_int,
        default=1000,
        help="test samples whose predictions are compared",
    )
    options.overrides(parser, help="override a parameter")
    options.data(parser)
    options.timeout(parser, default=1800.0, help="seconds per backend process (default 1800)")
    parser.add_argument(
        "--keep-weights",
        action="store_true",
        help="keep each backend's weight files (.h5: initial, first step, final) after the "
        "comparisons; by default they go (fastText's come to about 2 GB)",
    )
    # Tests only: BACKEND:LAYER_NAME[:SCALE] perturbs one layer's initial weights on one backend.
    parser.add_argument("--perturb", default=None, help=argparse.SUPPRESS)


def _page_writer():
    """The function that draws OUT/parity.html, or None where plotly is missing (the CSVs are the
    result; `kerasbench report` draws them)."""
    try:
        from kerasbench.report import parity as parity_report
    except ImportError as e:
        options.say(
            "kerasbench parity: no %s here (%s); `kerasbench report` draws these results"
            % (studyfiles.PARITY_HTML, e)
        )
        return None

    def page(folder):
        parity_report.write_html(folder, os.path.join(folder, studyfiles.PARITY_HTML))

    return page


def main(args):
    from kerasbench.study import parity, plan, usermodel

    workloads = usermodel.parse_workloads(args.workloads)
    backends = plan.parse_list(args.backends, list(registry.BACKENDS), "backend")
    overrides = options.parsed_overrides(args)
    perturb = parity.parse_perturb(args.perturb, backends)
    page = _page_writer()
    runs = plan.plan(args.profile, workloads, backends[:1], overrides=overrides)
    with options.prepared(args, NAME, runs, backends) as (data_dir, staging):
        rows = parity.check(
            workloads,
            backends,
            args.steps,
            args.out,
            os.path.abspath(data_dir),
            staging,
            profile=args.profile,
            overrides=overrides,
            eval_samples=args.eval_samples,
            timeout=args.timeout,
            perturb=perturb,
            page=page,
            keep_weights=args.keep_weights,
            say=options.say,
        )
    return _summary(rows, args.out)


def _summary(rows, out):
    """The table, the failures, the notes and one line; exit status 1 where a check failed."""
    from kerasbench.study import parity

    for line in parity.table_lines(rows):
        print(line)
    failed = parity.failures(rows)
    for line in failed:
        print("FAIL " + line)
    for line in parity.odd_one_out(rows):
        print("NOTE " + line)
    for r in rows:
        if r["check"] == "run" and r["passed"] == "":
            print("SKIP %s on %s: %s" % (r["workload"], r["backend"], r["note"] or r["value"]))
    compared = sorted({(r["workload"], r["backend"]) for r in rows if r["check"] != "run"})
    within = [k for k in compared if not any(f.startswith("%s on %s vs" % k) for f in failed)]
    print(
        "kerasbench parity: %d of %d comparisons within tolerance%s; %s"
        % (
            len(within),
            len(compared),
            ""
            if len(compared) == len({(r["workload"], r["backend"]) for r in rows})
            else " (the others did not run or could not join)",
            os.path.join(out, studyfiles.PARITY_CSV),
        )
    )
    return 1 if failed else 0
