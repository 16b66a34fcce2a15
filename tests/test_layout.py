"""The package's layout holds: the host side never loads Keras, a framework or the kernel side;
the import graph has no loop and no upward import; no module reaches into another's private
names; the kernel side and the ground floor stay Python 3.6. Fast: source parsing and one
fresh process per check.
"""

import ast
import glob
import os
import subprocess
import sys

import pytest

import kerasbench

from conftest import REPO

LIB = os.path.join(REPO, "lib")
PACKAGE = os.path.dirname(kerasbench.__file__)

# The two sides and the floor under them (docs/design.md).
GROUND = {
    "kerasbench.registry",
    "kerasbench.errors",
    "kerasbench.environment",
    "kerasbench.runfiles",
    "kerasbench.runpaths",
    "kerasbench.trainedon",
    "kerasbench.studyfiles",
    "kerasbench.datafiles",
}
KERNEL_SIDE = ("kerasbench.kernel", "kerasbench.workloads", "kerasbench.plain")
FRAMEWORKS = ("keras", "tensorflow", "jax", "jaxlib", "torch", "cntk")


def all_modules():
    """{dotted name: source path} of every module of the package (reference data excluded)."""
    modules = {}
    for path in glob.glob(os.path.join(PACKAGE, "**", "*.py"), recursive=True):
        relative = os.path.relpath(path, LIB)[:-3].replace(os.sep, ".")
        name = relative[: -len(".__init__")] if relative.endswith(".__init__") else relative
        modules[name] = path
    return modules


def in_part(name, prefixes):
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def host_modules():
    """Everything that is neither kernel side nor the native loops (which import a framework)."""
    return sorted(
        n
        for n in all_modules()
        if not in_part(n, KERNEL_SIDE + ("kerasbench.native",)) and not n.endswith("__main__")
    )


def imports_of(name, path):
    """The kerasbench modules `name` imports, anywhere in its source (also inside functions),
    and {local alias: module} for those bound to a name."""
    tree = ast.parse(open(path).read(), path)
    known = all_modules()
    found, aliases = set(), {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("kerasbench"):
                    found.add(a.name)
                    aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else "kerasbench"
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and node.module
            and node.module.startswith("kerasbench")
        ):
            for a in node.names:
                full = node.module + "." + a.name
                if full in known:  # `from kerasbench.study import plan`: a module
                    found.add(full)
                    aliases[a.asname or a.name] = full
                else:  # `from kerasbench.errors import UserError`: a name of the module
                    found.add(node.module)
    return found, aliases, tree


def test_host_side_loads_no_framework_and_no_kernel_module():
    """Every host module, imported in a fresh process: no Keras, no framework, no kernel/."""
    modules = host_modules()
    assert "kerasbench.study.runner" in modules and "kerasbench.cli" in modules
    code = (
        "import importlib, sys\n"
        "for name in sys.argv[1:]:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in %r\n"
        "             or any(m == p or m.startswith(p + '.') for p in %r))\n"
        "print('\\n'.join(bad))\n" % (FRAMEWORKS, KERNEL_SIDE)
    )
    env = dict(os.environ, PYTHONPATH=LIB)
    env.pop("KERAS_BACKEND", None)
    done = subprocess.run(
        [sys.executable, "-c", code] + modules, capture_output=True, text=True, env=env, cwd=REPO
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", "host modules loaded: %s" % done.stdout.split()


def test_no_import_loop_and_no_upward_import():
    modules = all_modules()
    graph = {name: imports_of(name, path)[0] - {name} for name, path in modules.items()}
    # Importing a package's submodule runs the package's __init__: not an edge of interest.
    graph = {
        name: {d for d in deps if d != "kerasbench" and not name.startswith(d + ".")}
        for name, deps in graph.items()
    }
    for name, deps in graph.items():
        if name in GROUND:
            assert deps <= GROUND, "%s (ground floor) imports %s" % (name, sorted(deps - GROUND))
        if in_part(name, KERNEL_SIDE):
            up = {d for d in deps if not in_part(d, KERNEL_SIDE) and d not in GROUND}
            assert not up, "%s (kernel side) imports %s" % (name, sorted(up))
        if in_part(name, ("kerasbench.study",)):
            down = {d for d in deps if in_part(d, KERNEL_SIDE + ("kerasbench.native",))}
            assert not down, "%s (host side) imports %s" % (name, sorted(down))
    # No loop: a depth-first search that meets a module on its own path.
    state = {}

    def visit(name, path):
        state[name] = "open"
        for dep in sorted(graph.get(name, ())):
            if state.get(dep) == "open":
                pytest.fail("import loop: %s" % " -> ".join(path + [name, dep]))
            if dep not in state:
                visit(dep, path + [name])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [])


def test_no_private_names_across_modules():
    problems = []
    for name, path in all_modules().items():
        _, aliases, tree = imports_of(name, path)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith("kerasbench")
            ):
                problems += [
                    "%s imports %s.%s" % (name, node.module, a.name)
                    for a in node.names
                    if a.name.startswith("_") and not a.name.startswith("__")
                ]
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                problems.append("%s uses %s.%s" % (name, aliases[node.value.id], node.attr))
    assert not problems, problems


def python36():
    candidates = [os.environ.get("PYTHON36", ""), os.path.join(REPO, ".venv-cntk", "bin", "python")]
    candidates += glob.glob(os.path.expanduser("~/.pyenv/versions/3.6*/bin/python"))
    return next((p for p in candidates if p and os.access(p, os.X_OK)), None)


def test_kernel_side_and_ground_floor_under_python36():
    """The CNTK kernel's Python compiles every kernel-side and ground-floor module and imports the
    ones that need no Keras (the ground floor, the data loaders, plain)."""
    python = python36()
    if python is None:
        pytest.skip("no Python 3.6 here")
    modules = all_modules()
    sources = [
        p
        for n, p in sorted(modules.items())
        if in_part(n, KERNEL_SIDE) or n in GROUND or n == "kerasbench"
    ]
    plain_imports = sorted(GROUND) + ["kerasbench.plain"]
    code = (
        "import importlib, sys\n"
        "for path in sys.argv[1:]:\n"
        "    compile(open(path, encoding='utf-8').read(), path, 'exec')\n"
        "for name in %r:\n"
        "    importlib.import_module(name)\n"
        "try:\n"
        "    import numpy\n"
        "except ImportError:\n"
        "    pass\n"
        "else:\n"
        "    import kerasbench.kernel.datasets\n"
        "print(sys.version_info[:2])\n" % plain_imports
    )
    env = dict(os.environ, PYTHONPATH=LIB)
    done = subprocess.run([python, "-c", code] + sources, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(3, 6)"
