"""`kerasbench floor`: the native floor loops beside a study's Keras runs, where the report finds
them (OUT/runs/<workload>/native-<framework>/<mode>-<repeat>; study/floor.py)."""

from kerasbench import runfiles, studyfiles
from kerasbench.commands import options
from kerasbench.errors import UserError
from kerasbench.native import MODES
from kerasbench.native.specs import WORKLOADS

NAME = "floor"
HELP = (
    "train the native JAX and PyTorch loops (the floor) on the data and settings of the "
    "study's runs, into OUT/runs beside them"
)
FASTEST = "scan,compiled"  # each framework's whole-epoch program: JAX scan, PyTorch compiled


def arguments(parser):
    options.profile(parser, help="the epochs, batch size and data subset of this profile's runs")
    options.workloads(
        parser,
        default=",".join(WORKLOADS),
        help="comma-separated, of %s (default: all three)" % ", ".join(WORKLOADS),
    )
    options.backends(
        parser,
        default=",".join(MODES),
        help="comma-separated frameworks, of %s (default: both)" % ", ".join(MODES),
    )
    parser.add_argument(
        "--modes",
        default=FASTEST,
        help="comma-separated loops, each run by the frameworks that have it: %s (default: %s, "
        "the fastest)"
        % ("; ".join("%s: %s" % (f, ", ".join(m)) for f, m in MODES.items()), FASTEST),
    )
    parser.add_argument("--repeats", type=options.positive_int, default=1, help="runs per loop")
    parser.add_argument(
        "--seed",
        type=options.non_negative_int,
        default=0,
        help="seed of repeat 0; repeat r gets seed+r (as `kerasbench run`)",
    )
    options.overrides(
        parser, help="epochs, batch_size, train_samples or test_samples, KEY=VALUE (repeatable)"
    )
    parser.add_argument(
        "--device",
        choices=runfiles.DEVICE_CHOICES,
        default="auto",
        help="auto: the GPU where the framework sees one (default); gpu; cpu",
    )
    options.data(parser)
    parser.add_argument(
        "--force", action="store_true", help="retrain finished loops, of other settings too"
    )
    options.out(parser, help="the study folder (the loops go in OUT/runs)")


def modes_of(text, frameworks):
    """{framework: [mode]} for --modes: each mode run by the chosen frameworks that have it."""
    from kerasbench.study import plan

    known = sorted({m for f in MODES for m in MODES[f]})
    wanted = plan.parse_list(text, known, "mode")
    modes = {f: [m for m in wanted if m in MODES[f]] for f in frameworks}
    idle = [f for f, m in modes.items() if not m]
    if idle:
        raise UserError(
            "--modes %s: no loop for %s (%s)"
            % (
                text,
                " and ".join(idle),
                "; ".join("%s: %s" % (f, ", ".join(MODES[f])) for f in idle),
            )
        )
    return modes


def main(args):
    from kerasbench.study import floor, plan, preflight, progress, signals

    workloads = plan.parse_list(args.workloads, list(WORKLOADS), "workload")
    frameworks = plan.parse_list(args.backends, list(MODES), "backend")
    modes = modes_of(args.modes, frameworks)
    overrides = options.parsed_overrides(args)
    floor.check_overrides(overrides)
    specs = plan.plan(
        args.profile,
        workloads,
        frameworks,
        args.repeats,
        args.seed,
        overrides,
        device=args.device,
    )
    runs = floor.plan_floor(specs, modes)

    def device_check():
        preflight.check_device(args.device, frameworks, say=options.say)

    with (
        signals.handled(),
        options.prepared(args, NAME, specs, frameworks, device_check, staged=False) as (data, _),
    ):
        options.say(
            "kerasbench floor: %d native runs (%s profile's settings) into %s; data from %s"
            % (len(runs), args.profile, studyfiles.study_part(args.out, studyfiles.RUNS), data)
        )
        records = floor.train(runs, args.out, data, force=args.force, say=options.say)
    failed = [r for r in records if r.get("status") != "ok"]
    options.say(
        "kerasbench floor: %d of %d runs ok%s"
        % (
            len(records) - len(failed),
            len(records),
            "; not ok: " + ", ".join(floor.record_label(r) for r in failed) if failed else "",
        )
    )
    options.say("next: " + progress.next_command(args.out, options.program()))
    return 1 if failed else 0
