"""`kerasbench profile`: where a Keras step's time goes, in one fresh kernel process."""

import os

from kerasbench import registry, studyfiles
from kerasbench.commands import options
from kerasbench.errors import UserError

NAME = "profile"
HELP = (
    "where a Keras step's time goes: fit as the study runs it, without callbacks, with data on "
    "the device, a whole epoch per call, the bare step (one fresh kernel process)"
)


def arguments(parser):
    parser.add_argument("--workload", required=True)
    parser.add_argument("--backend", required=True)
    parser.add_argument(
        "--config",
        default="default",
        help="configuration whose settings the default fit uses (params/configs.yaml)",
    )
    options.profile(
        parser, default="full", help="parameter profile: model sizes and data (default full)"
    )
    parser.add_argument("--steps", type=int, default=100, help="training steps per timed pass")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per variant (median)")
    options.overrides(parser, help="override a parameter")
    options.data(parser)
    options.timeout(parser, help="seconds for the whole profile")
    options.out(parser, required=True, help="folder for profile.json and profile.csv")


def main(args):
    from kerasbench.study import plan
    from kerasbench.study import profile as profile_mod

    plan.parse_list(args.workload, list(registry.WORKLOADS), "workload")
    plan.parse_list(args.backend, list(registry.BACKENDS), "backend")
    if args.steps < 2 or args.repeats < 1:
        raise UserError(
            "--steps must be at least 2 and --repeats at least 1, got %d and %d"
            % (args.steps, args.repeats)
        )
    overrides = options.parsed_overrides(args)
    runs = plan.plan(
        args.profile, [args.workload], [args.backend], overrides=overrides, config=args.config
    )
    with options.prepared(args, NAME, runs, [args.backend]) as (data_dir, staging):
        record = profile_mod.profile(
            args.workload,
            args.backend,
            args.out,
            staging,
            profile=args.profile,
            config=args.config,
            steps=args.steps,
            repeats=args.repeats,
            overrides=overrides,
            data_dir=data_dir,
            timeout=args.timeout,
        )
    print(profile_mod.describe(record))
    print("written: %s" % os.path.join(args.out, studyfiles.PROFILE_JSON))
    return 0 if record.get("status") == "ok" else 1
