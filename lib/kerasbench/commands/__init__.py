"""The `kerasbench` commands, one module each. Host side.

Each module names its command (`NAME`), says what it does in one line (`HELP`), adds its options
(`arguments(parser)`: the shared ones from `options`, defined once there) and carries it out
(`main(args)`: the exit status). `cli` assembles the parser from `COMMANDS`, in this order, and
dispatches. What a command does beyond reading its options lives in `kerasbench.study` (the
study's steps) or `kerasbench.report`.
"""

from kerasbench.commands import (
    floor,
    harness,
    kernels,
    merge,
    parity,
    profile,
    report,
    run,
    workloads,
)

COMMANDS = (run, report, floor, merge, harness, parity, profile, kernels, workloads)
