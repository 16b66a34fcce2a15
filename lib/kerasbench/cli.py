"""`kerasbench`: run the study, write the report, install the kernels. Host side.

A user mistake is one line on stderr and exit code 2, never a traceback.
"""

import argparse
import contextlib
import os
import signal
import sys

from kerasbench import registry, runfiles, studyfiles
from kerasbench.errors import UserError

DEFAULT_OUT = "output"


def _say(line):
    print(line, file=sys.stderr)


def _run(args):
    from kerasbench.study import executors, params, plan, preflight, runner, signals, usermodel

    workloads = usermodel.parse_workloads(args.workloads)
    backends = plan.parse_list(
        args.backends,
        list(registry.DEFAULT_BACKENDS) if args.backends in (None, "") else list(registry.BACKENDS),
        "backend",
    )
    overrides = dict(params.parse_override(s) for s in args.set or [])
    runs = plan.plan(
        args.profile,
        workloads,
        backends,
        args.repeats,
        args.seed,
        overrides,
        allow_generated=args.allow_generated,
        params_dir=args.params_dir,
        config=args.config,
        device=args.device,
    )
    executor = executors.make(
        args.executor,
        jobs=args.jobs,
        address=args.address,
        cpus_per_run=args.cpus_per_run,
        device=args.device,
    )
    if args.dry_run:
        for spec in runs:
            print(plan.plan_json(spec))
        return 0
    # One runner per --out, from here to the last run; SIGTERM or SIGHUP stops the runs in flight.
    with (
        signals.handled(),
        preflight.prepared(
            "run",
            args.out,
            runs,
            backends,
            data_dir=args.data_dir,
            download=not args.no_download,
            # a cluster's nodes: judged run by run
            device_check=None
            if args.executor == "ray" and args.address
            else lambda: _check_device(args.device, backends),
            say=_say,
        ) as data_dir,
    ):
        print(
            "kerasbench: %d runs (%s profile) into %s; data from %s"
            % (len(runs), args.profile, os.path.join(args.out, studyfiles.RUNS), data_dir),
            file=sys.stderr,
        )
        if hasattr(executor, "start"):
            executor.start()  # Ray: start or join the cluster now, so its errors come first
        print("kerasbench: executor %s: %s" % (executor.name, executor.describe()), file=sys.stderr)
        records = runner.run_matrix(
            runs, args.out, data_dir, timeout=args.timeout, force=args.force, executor=executor
        )
    failed = [r for r in records if r["status"] != "ok"]
    from kerasbench.study import progress

    print("", file=sys.stderr)
    for line in progress.results_table(records, [plan.run_dir(args.out, spec) for spec in runs]):
        print(line, file=sys.stderr)
    print(
        "kerasbench: %d of %d runs ok%s"
        % (
            len(records) - len(failed),
            len(records),
            "; not ok: "
            + ", ".join(
                "%s/%s/%d (%s)" % (r["workload"], r["backend"], r["repeat"], r["status"])
                for r in failed
            )
            if failed
            else "",
        ),
        file=sys.stderr,
    )
    if not args.no_next:
        print("next: " + progress.next_command(args.out, _program()), file=sys.stderr)
    return 1 if failed else 0


def _check_device(device, backends):
    """--device against this machine, before anything trains: gpu without a GPU is one line;
    with a GPU (auto or gpu), every backend's framework must see it (kernels.require_gpu)."""
    from kerasbench import environment
    from kerasbench.study import kernels

    gpu = environment.device().get("gpu")
    if device == "gpu" and not gpu:
        raise UserError("--device gpu: this machine has no GPU (nvidia-smi lists none)")
    if device == "cpu":
        if gpu:
            print(
                "kerasbench: --device cpu: the runs do not see the GPU (%s)" % gpu, file=sys.stderr
            )
        return
    if gpu:
        results = kernels.require_gpu(backends, gpu)
        print(
            "kerasbench: every backend sees the GPU (%s): %s"
            % (gpu, "; ".join(kernels.describe_probe(b, r) for b, r in results.items())),
            file=sys.stderr,
        )


def _program():
    """How the user called kerasbench (".venv/bin/kerasbench", or "kerasbench" on the PATH)."""
    called = sys.argv[0] if sys.argv and sys.argv[0] else "kerasbench"
    return called if os.path.basename(called) == "kerasbench" else "kerasbench"


def _harness(args):
    from kerasbench.study import harness, params, plan, preflight

    plan.parse_list(args.workload, list(registry.WORKLOADS), "workload")
    plan.parse_list(args.backend, list(registry.BACKENDS), "backend")
    if args.pairs < 1:
        raise UserError("--pairs must be at least 1, got %d" % args.pairs)
    overrides = dict(params.parse_override(s) for s in args.set or [])
    with (
        preflight.prepared(
            "harness",
            args.out,
            plan.plan(args.profile, [args.workload], [args.backend], overrides=overrides),
            [args.backend],
            data_dir=args.data_dir,
            download=not args.no_download,
            say=_say,
        ) as data_dir,
        preflight.Staging.begin(args.out, "harness") as staging,
    ):
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
            _fmt(r["median_wall_ratio"]),
            _fmt(r["median_steady_ratio"]),
            os.path.join(args.out, studyfiles.HARNESS_CSV),
        )
    )
    return 0 if r["pairs"] == args.pairs else 1


def _profile(args):
    from kerasbench.study import params, plan, preflight
    from kerasbench.study import profile as profile_mod

    plan.parse_list(args.workload, list(registry.WORKLOADS), "workload")
    plan.parse_list(args.backend, list(registry.BACKENDS), "backend")
    if args.steps < 2 or args.repeats < 1:
        raise UserError(
            "--steps must be at least 2 and --repeats at least 1, got %d and %d"
            % (args.steps, args.repeats)
        )
    overrides = dict(params.parse_override(s) for s in args.set or [])
    with (
        preflight.prepared(
            "profile",
            args.out,
            plan.plan(
                args.profile,
                [args.workload],
                [args.backend],
                overrides=overrides,
                config=args.config,
            ),
            [args.backend],
            data_dir=args.data_dir,
            download=not args.no_download,
            say=_say,
        ) as data_dir,
        preflight.Staging.begin(args.out, "profile") as staging,
    ):
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


def _fmt(value):
    return "-" if value is None else "%.3f" % value


def _parity(args):
    from kerasbench.study import params, parity, plan, preflight, usermodel

    workloads = usermodel.parse_workloads(args.workloads)
    backends = plan.parse_list(args.backends, list(registry.BACKENDS), "backend")
    overrides = dict(params.parse_override(s) for s in args.set or [])
    perturb = parity.parse_perturb(args.perturb, backends)
    try:
        from kerasbench.report import parity as parity_report
    except ImportError as e:  # the GPU machine carries no plotly: the CSVs are the result
        print(
            "kerasbench parity: no %s here (%s); `kerasbench report` draws these results"
            % (studyfiles.PARITY_HTML, e),
            file=sys.stderr,
        )
        page = None
    else:

        def page(folder):
            parity_report.write_html(folder, os.path.join(folder, studyfiles.PARITY_HTML))

    with (
        preflight.prepared(
            "parity",
            args.out,
            plan.plan(args.profile, workloads, backends[:1], overrides=overrides),
            backends,
            data_dir=args.data_dir,
            download=not args.no_download,
            say=_say,
        ) as data_dir,
        preflight.Staging.begin(args.out, "parity") as staging,
    ):
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
            say=_say,
        )
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
    print(
        "kerasbench parity: %d of %d comparisons within tolerance%s; %s"
        % (
            len(compared)
            - len(
                [k for k in compared if any(line.startswith("%s on %s vs" % k) for line in failed)]
            ),
            len(compared),
            ""
            if len(compared) == len({(r["workload"], r["backend"]) for r in rows})
            else " (the others did not run or could not join)",
            os.path.join(args.out, studyfiles.PARITY_CSV),
        )
    )
    return 1 if failed else 0


def _report(args):
    from kerasbench import report
    from kerasbench.study import preflight

    runs_dir = args.runs or os.path.join(args.out, studyfiles.RUNS)
    try:
        with preflight.claim_output(args.out, "report", say=_say):
            path = report.build_report(
                runs_dir,
                args.out,
                references=args.reference,
                n_resamples=args.resamples,
                seed=args.seed,
            )
    except report.ReportError as e:
        raise UserError(str(e))
    print(path)
    return 0


def _kernels(args):
    from kerasbench.study import kernels

    if args.action == "install":
        backends = args.backends.split(",") if args.backends else list(registry.DEFAULT_BACKENDS)
        for name, path in kernels.install(
            backends, python=args.python, ld_library_path=args.ld_library_path, user=args.user
        ):
            print("installed %s in %s" % (name, path))
    elif args.action == "check":
        from kerasbench import environment

        backends = (
            plan_backends(args.backends)
            if args.backends
            else [b for b in registry.BACKENDS if kernels.find(b) is not None]
        )
        gpu = environment.device().get("gpu")
        print(
            "this machine: %s" % ("a GPU (%s)" % gpu if gpu else "no GPU (nvidia-smi lists none)")
        )
        results = kernels.probe(backends)
        for backend, result in results.items():
            print(kernels.describe_probe(backend, result))
        return 1 if gpu and kernels.blind_to_gpu(results) else 0
    else:
        for backend in registry.BACKENDS:
            spec = kernels.find(backend)
            print(
                "%-22s %s"
                % (kernels.kernel_name(backend), spec.argv[0] if spec else "(not installed)")
            )
    return 0


def plan_backends(text):
    from kerasbench.study import plan

    return plan.parse_list(text, list(registry.BACKENDS), "backend")


def _workloads(args):
    for w in registry.WORKLOADS.values():
        print("%-25s %s" % (w.name, w.title))
    return 0


def _non_negative_int(text):
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError("must be an integer >= 0, got %r" % text)
    return value


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError("must be an integer >= 1, got %r" % text)
    return value


def _seconds(text):
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("must be a positive number of seconds, got %r" % text)
    return value


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line (with a pointer to --help) and exit code 2."""

    def error(self, message):
        self.exit(2, "%s: error: %s (see %s --help)\n" % (self.prog, message, self.prog))


def build_parser():
    parser = _Parser(
        prog="kerasbench",
        description="Which Keras backend trains my model fastest, and does it learn the same?",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="train the matrix of workloads x backends x repeats")
    run.add_argument(
        "--profile",
        choices=registry.PROFILES,
        default="quick",
        help="smoke: seconds per run; quick: minutes for the matrix; full: 2017",
    )
    run.add_argument(
        "--workloads",
        default="all",
        help="comma-separated names and model files (path/to/my_model.py), or all",
    )
    run.add_argument(
        "--backends", default=None, help="comma-separated: tensorflow,jax,torch (default) and cntk"
    )
    run.add_argument("--repeats", type=int, default=1, help="runs per workload and backend")
    run.add_argument(
        "--seed", type=_non_negative_int, default=0, help="seed of repeat 0; repeat r gets seed+r"
    )
    run.add_argument("--out", default=DEFAULT_OUT, help="output folder (runs go in OUT/runs)")
    run.add_argument(
        "--data-dir",
        default=None,
        help="data folder (default $KERASBENCH_DATA, else ~/.keras/datasets)",
    )
    run.add_argument(
        "--allow-generated",
        action="store_true",
        help="train on generated data where a dataset is missing, also in full",
    )
    run.add_argument("--no-download", action="store_true", help="never download a missing file")
    run.add_argument(
        "--config",
        default="default",
        help="configuration label(s), comma-separated: default, tuned, compiled "
        "(params/configs.yaml), or a free label for --set settings",
    )
    run.add_argument(
        "--params-dir",
        default=None,
        help="folder of <workload>.yaml files (default: the project's params/)",
    )
    run.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a parameter for every workload (repeatable)",
    )
    run.add_argument(
        "--timeout",
        type=_seconds,
        default=None,
        help="seconds per run (default 21600, 6 hours): a run past it is killed "
        "and recorded as timeout",
    )
    run.add_argument(
        "--force",
        action="store_true",
        help="retrain runs that finished ok, and replace finished runs of another plan in --out",
    )
    run.add_argument(
        "--executor",
        choices=("local", "ray"),
        default="local",
        help="local: on this host (default: one run at a time); ray: each block (one "
        "workload in one repeat, its runs one after another) a Ray task, on a local Ray "
        "instance or the cluster at --address",
    )
    run.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="blocks at a time (a block: one workload in one repeat, its runs one after "
        "another on one GPU; local: default 1; each on its own GPU, or its share of the CPU "
        "cores without GPUs; ray: default as many as fit)",
    )
    run.add_argument(
        "--address",
        default=None,
        help="Ray cluster to join (e.g. HEAD:6379 or auto; default: start a local one)",
    )
    run.add_argument(
        "--cpus-per-run",
        type=int,
        default=None,
        help="ray: CPUs each run asks for, and its thread cap (default 1; GPU runs "
        "are capped only when this is given)",
    )
    run.add_argument(
        "--device",
        choices=runfiles.DEVICE_CHOICES,
        default="auto",
        help="auto: the GPU where this machine has one (default); gpu: the GPU, or an error "
        "without one; cpu: the CPU, the GPU hidden from the runs. On a GPU every backend must "
        "see it before anything trains, and a run that trained on the CPU is failed",
    )
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="print the resolved plan as JSON lines and train nothing",
    )
    run.add_argument(
        "--no-next",
        action="store_true",
        help="do not print the report command to run next (for a caller that runs it, as "
        "`make study` does)",
    )
    run.set_defaults(func=_run)

    rep = sub.add_parser("report", help="analyse the runs and write OUT/report.html")
    rep.add_argument("--out", default=DEFAULT_OUT, help="folder for report.html and summary.csv")
    rep.add_argument("--runs", default=None, help="runs folder (default OUT/runs)")
    rep.add_argument(
        "--reference",
        action="append",
        default=None,
        metavar="DIR",
        help="a reference folder of logs in the 2017 format, labelled by its "
        "source.yaml or its folder name; repeat for several (default: the "
        "2017 K80 logs shipped with kerasbench)",
    )
    rep.add_argument("--resamples", type=int, default=10000, help="bootstrap resamples")
    rep.add_argument("--seed", type=_non_negative_int, default=0, help="bootstrap seed")
    rep.set_defaults(func=_report)

    har = sub.add_parser(
        "harness",
        help="what papermill costs: one workload through papermill "
        "and as a plain Python process, alternated",
    )
    har.add_argument("--workload", default="mnist_mlp")
    har.add_argument("--backend", default="jax")
    har.add_argument("--profile", choices=registry.PROFILES, default="quick")
    har.add_argument("--pairs", type=int, default=3, help="papermill/plain pairs (default 3)")
    har.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a parameter")
    har.add_argument("--data-dir", default=None)
    har.add_argument("--no-download", action="store_true", help="never download a missing file")
    har.add_argument("--out", default=os.path.join(DEFAULT_OUT, studyfiles.HARNESS))
    har.set_defaults(func=_harness)

    par = sub.add_parser(
        "parity",
        help="does each backend learn the same? same initial weights, "
        "same batches: per-step loss, weights and predictions against the first "
        "backend",
    )
    par.add_argument(
        "--workloads",
        default="mnist_mlp,mnist_cnn,imdb_fasttext",
        help="comma-separated names, or all",
    )
    par.add_argument(
        "--backends",
        default="tensorflow,jax,torch",
        help="comma-separated; the first is the reference",
    )
    par.add_argument(
        "--steps",
        type=_positive_int,
        default=10,
        help="training steps (batches); the tolerances assume few (see parity.py)",
    )
    par.add_argument("--out", default=os.path.join(DEFAULT_OUT, studyfiles.PARITY))
    par.add_argument(
        "--profile",
        choices=registry.PROFILES,
        default="quick",
        help="the parameters (data subset, batch size, model) of this profile",
    )
    par.add_argument(
        "--eval-samples",
        type=_positive_int,
        default=1000,
        help="test samples whose predictions are compared",
    )
    par.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a parameter")
    par.add_argument("--data-dir", default=None)
    par.add_argument("--no-download", action="store_true", help="never download a missing file")
    par.add_argument(
        "--timeout",
        type=_seconds,
        default=1800.0,
        help="seconds per backend process (default 1800)",
    )
    # Tests only: BACKEND:LAYER_NAME[:SCALE] perturbs one layer's initial weights on one backend.
    par.add_argument("--perturb", default=None, help=argparse.SUPPRESS)
    par.set_defaults(func=_parity)

    pro = sub.add_parser(
        "profile",
        help="where a Keras step's time goes: fit as the study runs "
        "it, without callbacks, with data on the device, a whole epoch per call, "
        "the bare step (one fresh kernel process)",
    )
    pro.add_argument("--workload", required=True)
    pro.add_argument("--backend", required=True)
    pro.add_argument(
        "--config",
        default="default",
        help="configuration whose settings the default fit uses (params/configs.yaml)",
    )
    pro.add_argument(
        "--profile",
        choices=registry.PROFILES,
        default="full",
        help="parameter profile: model sizes and data (default full)",
    )
    pro.add_argument("--steps", type=int, default=100, help="training steps per timed pass")
    pro.add_argument("--repeats", type=int, default=3, help="timed passes per variant (median)")
    pro.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a parameter")
    pro.add_argument("--data-dir", default=None)
    pro.add_argument("--no-download", action="store_true", help="never download a missing file")
    pro.add_argument("--timeout", type=_seconds, default=None, help="seconds for the whole profile")
    pro.add_argument("--out", required=True, help="folder for profile.json and profile.csv")
    pro.set_defaults(func=_profile)

    ker = sub.add_parser(
        "kernels",
        help="install or list the per-backend Jupyter kernels, or check what each one's "
        "framework sees (GPUs)",
    )
    ker.add_argument("action", choices=["install", "list", "check"])
    ker.add_argument(
        "--backends",
        default=None,
        help="install: default tensorflow,jax,torch; check: default every installed kernel",
    )
    ker.add_argument("--python", default=None, help="the kernel's Python (default: this one)")
    ker.add_argument("--ld-library-path", default=None, help="LD_LIBRARY_PATH for the kernel")
    ker.add_argument("--user", action="store_true", help="install for the user, not this env")
    ker.set_defaults(func=_kernels)

    wl = sub.add_parser("workloads", help="list the workloads")
    wl.set_defaults(func=_workloads)
    return parser


def _check_out(args):
    """An empty --out would write into the current folder: refused, as a folder none names."""
    if getattr(args, "out", None) == "":
        raise UserError("--out '' names no folder: give a folder (default %s)" % DEFAULT_OUT)


def main(argv=None):
    from kerasbench.study.signals import Terminated

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        _check_out(args)
        return args.func(args)
    except UserError as e:
        print("kerasbench: error: %s" % e, file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("kerasbench: interrupted", file=sys.stderr)
        return 130
    except Terminated as e:
        stopped = sum(1 for r in e.records if str(r.get("error")).startswith("interrupted by"))
        with contextlib.suppress(OSError):  # SIGHUP: the terminal may be gone
            print(
                "kerasbench: stopped by %s: %s; rerun the same command to go on"
                % (
                    e.name,
                    "%d run%s in flight recorded failed (interrupted)"
                    % (stopped, "" if stopped == 1 else "s")
                    if stopped
                    else "no run was in flight",
                ),
                file=sys.stderr,
            )
        return e.exit_code
    except BrokenPipeError:
        # `kerasbench run --dry-run | head`: the reader has gone; so does the rest of the output.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE


if __name__ == "__main__":
    sys.exit(main())
