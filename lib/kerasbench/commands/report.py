"""`kerasbench report`: analyse the runs and write OUT/report.html and OUT/summary.csv."""

from kerasbench import studyfiles
from kerasbench.commands import options
from kerasbench.errors import UserError

NAME = "report"
HELP = "analyse the runs and write OUT/report.html"


def arguments(parser):
    options.out(parser, help="folder for report.html and summary.csv")
    parser.add_argument("--runs", default=None, help="runs folder (default OUT/runs)")
    parser.add_argument(
        "--reference",
        action="append",
        default=None,
        metavar="DIR",
        help="a reference folder of logs in the 2017 format, labelled by its "
        "source.yaml or its folder name; repeat for several (default: the "
        "2017 K80 logs shipped with kerasbench)",
    )
    parser.add_argument("--resamples", type=int, default=10000, help="bootstrap resamples")
    parser.add_argument("--seed", type=options.non_negative_int, default=0, help="bootstrap seed")


def main(args):
    from kerasbench import report
    from kerasbench.study import preflight

    runs_dir = args.runs or studyfiles.study_part(args.out, studyfiles.RUNS)
    try:
        with preflight.claim_output(args.out, NAME, say=options.say):
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
