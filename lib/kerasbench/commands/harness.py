"""`kerasbench harness`: what papermill costs, one workload through papermill and as a plain
Python process, alternated."""

import os

from kerasbench import registry, studyfiles
from kerasbench.commands import options
from kerasbench.errors import UserError

NAME = "harness"
HELP = (
    "what papermill costs: one workload through papermill and as a plain Python process, alternated"
)


def arguments(parser):
    parser.add_argument("--workload", default="mnist_mlp")
    parser.add_argument("--backend", default="jax")
    parser.add_argument("--profile", choices=registry.PROFILES, default="quick")
    parser.add_argument("--pairs", type=int, default=3, help="papermill/plain pairs (default 3)")
    options.overrides(parser, help="override a parameter")
    options.data(parser)
    options.out(parser, default=options.part_of_study(studyfiles.HARNESS), help=None)


def main(args):
    from kerasbench.study import harness, plan

    plan.parse_list(args.workload, list(registry.WORKLOADS), "workload")
    plan.parse_list(args.backend, list(registry.BACKENDS), "backend")
    if args.pairs < 1:
        raise UserError("--pairs must be at least 1, got %d" % args.pairs)
    overrides = options.parsed_overrides(args)
    runs = plan.plan(args.profile, [args.workload], [args.backend], overrides=overrides)
    with options.prepared(args, NAME, runs, [args.backend]) as (data_dir, staging):
        rows = harness.measure(
            args.workload,
            args.backend,
            args.profile,
            args.pairs,
            args.out,
            data_dir,
            staging,
            overrides=overrides,
        )
    for row in rows:
        print(
            "pair %(pair)d %(harness)-9s %(status)s: wall %(wall_seconds).2f s, "
            "steady epoch %(steady_epoch_seconds)s s" % row
        )
    r = harness.ratios(rows)
    print(
        "papermill / plain over %d pairs: wall time x%s (median), steady epoch x%s (median); "
        "rows in %s"
        % (
            r["pairs"],
            options.fmt(r["median_wall_ratio"]),
            options.fmt(r["median_steady_ratio"]),
            os.path.join(args.out, studyfiles.HARNESS_CSV),
        )
    )
    return 0 if r["pairs"] == args.pairs else 1
