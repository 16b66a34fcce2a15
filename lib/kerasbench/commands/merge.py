"""`kerasbench merge`: run folders made on other machines, into one study's runs folder
(study/merge.py)."""

from kerasbench import studyfiles
from kerasbench.commands import options

NAME = "merge"
HELP = (
    "copy the finished runs of study, runs or run folders made elsewhere into OUT/runs: a run "
    "already there with the same files is skipped, one with other files refused, none overwritten"
)


def arguments(parser):
    parser.add_argument(
        "sources",
        nargs="+",
        metavar="SOURCE",
        help="a study folder (its runs/), a runs folder, or run folders",
    )
    options.out(parser, help="the study folder the runs go into (OUT/runs)")


def main(args):
    from kerasbench.study import merge, preflight

    found = merge.find(args.sources)  # a source that is no folder, or holds no run: one line
    with preflight.claim_output(args.out, NAME, say=options.say):
        counts = merge.merge(found, args.out, say=options.say)
    options.say(
        "kerasbench merge: %d copied, %d skipped (there already, the same files), %d refused; "
        "into %s"
        % (
            counts[merge.COPIED],
            counts[merge.SKIPPED],
            counts[merge.REFUSED],
            studyfiles.study_part(args.out, studyfiles.RUNS),
        )
    )
    return 1 if counts[merge.REFUSED] else 0
