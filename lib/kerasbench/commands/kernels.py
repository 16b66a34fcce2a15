"""`kerasbench kernels`: install or list the per-backend Jupyter kernels, or check what each
one's framework sees (GPUs)."""

from kerasbench import registry

NAME = "kernels"
HELP = (
    "install or list the per-backend Jupyter kernels, or check what each one's framework sees "
    "(GPUs)"
)


def arguments(parser):
    parser.add_argument("action", choices=["install", "list", "check"])
    parser.add_argument(
        "--backends",
        default=None,
        help="install: default tensorflow,jax,torch; check: default every installed kernel",
    )
    parser.add_argument("--python", default=None, help="the kernel's Python (default: this one)")
    parser.add_argument("--ld-library-path", default=None, help="LD_LIBRARY_PATH for the kernel")
    parser.add_argument("--user", action="store_true", help="install for the user, not this env")


def main(args):
    return {"install": _install, "check": _check, "list": _list}[args.action](args)


def _install(args):
    from kerasbench.study import kernels

    backends = args.backends.split(",") if args.backends else list(registry.DEFAULT_BACKENDS)
    for name, path in kernels.install(
        backends, python=args.python, ld_library_path=args.ld_library_path, user=args.user
    ):
        print("installed %s in %s" % (name, path))
    return 0


def _check(args):
    from kerasbench import environment
    from kerasbench.study import kernels, plan

    backends = (
        plan.parse_list(args.backends, list(registry.BACKENDS), "backend")
        if args.backends
        else [b for b in registry.BACKENDS if kernels.find(b) is not None]
    )
    gpu = environment.device().get("gpu")
    print("this machine: %s" % ("a GPU (%s)" % gpu if gpu else "no GPU (nvidia-smi lists none)"))
    results = kernels.probe(backends)
    for backend, result in results.items():
        print(kernels.describe_probe(backend, result))
    return 1 if gpu and kernels.blind_to_gpu(results) else 0


def _list(args):
    from kerasbench.study import kernels

    for backend in registry.BACKENDS:
        spec = kernels.find(backend)
        print(
            "%-22s %s" % (kernels.kernel_name(backend), spec.argv[0] if spec else "(not installed)")
        )
    return 0
