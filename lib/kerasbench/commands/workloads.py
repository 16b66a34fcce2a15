"""`kerasbench workloads`: list the workloads."""

from kerasbench import registry

NAME = "workloads"
HELP = "list the workloads"


def arguments(parser):
    pass


def main(args):
    for w in registry.WORKLOADS.values():
        print("%-25s %s" % (w.name, w.title))
    return 0
