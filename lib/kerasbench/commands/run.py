"""`kerasbench run`: train the matrix of workloads x backends x repeats into OUT/runs."""

from kerasbench import datafiles, registry, runfiles
from kerasbench.commands import options

NAME = "run"
HELP = "train the matrix of workloads x backends x repeats"


def arguments(parser):
    options.profile(parser)
    options.workloads(parser)
    options.backends(parser)
    parser.add_argument("--repeats", type=int, default=1, help="runs per workload and backend")
    parser.add_argument(
        "--seed",
        type=options.non_negative_int,
        default=0,
        help="seed of repeat 0; repeat r gets seed+r",
    )
    parser.add_argument(
        "--timing-epochs",
        type=int,
        default=None,
        metavar="N",
        help="repeats after the first are timing blocks: the same data and model, N epochs "
        "(at least 3) where the profile trains more; their times count, their accuracy is not "
        "reported (default: every repeat trains the profile's epochs)",
    )
    options.out(parser)
    options.data(parser)
    parser.add_argument(
        "--allow-generated",
        action="store_true",
        help="train on generated data where a dataset is missing, also in full",
    )
    parser.add_argument(
        "--config",
        default="default",
        help="configuration label(s), comma-separated: default, tuned, compiled "
        "(params/configs.yaml), or a free label for --set settings",
    )
    parser.add_argument(
        "--params-dir",
        default=None,
        help="folder of <workload>.yaml files (default: the project's params/)",
    )
    options.overrides(parser, help="override a parameter for every workload (repeatable)")
    options.timeout(
        parser,
        help="seconds per run (default 21600, 6 hours): a run past it is killed "
        "and recorded as timeout",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="retrain runs that finished ok, and replace finished runs of another plan in --out",
    )
    _executor_arguments(parser)
    parser.add_argument(
        "--device",
        choices=runfiles.DEVICE_CHOICES,
        default="auto",
        help="auto: the GPU where this machine has one (default); gpu: the GPU, or an error "
        "without one; cpu: the CPU, the GPU hidden from the runs. On a GPU every backend must "
        "see it before anything trains, and a run that trained on the CPU is failed",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the resolved plan as JSON lines, each with its state in OUT (done: a call "
        "would skip it; todo: train it; conflict: refuse it), and train nothing",
    )
    parser.add_argument(
        "--no-next",
        action="store_true",
        help="do not print the report command to run next (for a caller that runs it, as "
        "`make study` does)",
    )


def _executor_arguments(parser):
    parser.add_argument(
        "--executor",
        choices=("local", "ray"),
        default="local",
        help="local: on this host (default: one run at a time); ray: each block (one "
        "workload in one repeat, its runs one after another) a Ray task, on a local Ray "
        "instance or the cluster at --address",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="blocks at a time (a block: one workload in one repeat, its runs one after "
        "another on one GPU; local: default 1; each on its own GPU, or its share of the CPU "
        "cores without GPUs; ray: default as many as fit)",
    )
    parser.add_argument(
        "--address",
        default=None,
        help="Ray cluster to join (e.g. HEAD:6379 or auto; default: start a local one)",
    )
    parser.add_argument(
        "--cpus-per-run",
        type=int,
        default=None,
        help="ray: CPUs each run asks for, and its thread cap (default 1; GPU runs "
        "are capped only when this is given)",
    )


def main(args):
    from kerasbench.study import executors, plan, preflight, progress, runner, signals, usermodel

    workloads = usermodel.parse_workloads(args.workloads)
    backends = plan.parse_list(
        args.backends,
        list(registry.DEFAULT_BACKENDS) if args.backends in (None, "") else list(registry.BACKENDS),
        "backend",
    )
    runs = plan.plan(
        args.profile,
        workloads,
        backends,
        args.repeats,
        args.seed,
        options.parsed_overrides(args),
        allow_generated=args.allow_generated,
        params_dir=args.params_dir,
        config=args.config,
        device=args.device,
        timing_epochs=args.timing_epochs,
    )
    executor = executors.make(
        args.executor,
        jobs=args.jobs,
        address=args.address,
        cpus_per_run=args.cpus_per_run,
        device=args.device,
    )
    if args.dry_run:
        # The state a call would find (skip, train or refuse), so that a job script can tell a
        # finished block from one still to run without reading run folders itself.
        data_dir = datafiles.data_dir(args.data_dir)
        for spec in runs:
            state = runner.TODO if args.force else runner.resume_state(args.out, spec, data_dir)[0]
            print(plan.plan_json(spec, state=state))
        return 0
    # A cluster's nodes are judged run by run; here, every backend must see this machine's GPU.
    device_check = None
    if not (args.executor == "ray" and args.address):

        def device_check():
            preflight.check_device(args.device, backends, say=options.say)

    # One runner per --out, from here to the last run; SIGTERM or SIGHUP stops the runs in flight.
    with (
        signals.handled(),
        options.prepared(args, NAME, runs, backends, device_check, staged=False) as (data_dir, _),
    ):
        records = runner.study(
            runs,
            args.out,
            data_dir,
            executor,
            timeout=args.timeout,
            force=args.force,
            say=options.say,
        )
    failed = runner.outcome(records, runs, args.out, say=options.say)
    if not args.no_next:
        options.say("next: " + progress.next_command(args.out, options.program()))
    return 1 if failed else 0
