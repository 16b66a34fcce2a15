"""One Jupyter kernel per backend, `kerasbench-<backend>`, whose environment fixes KERAS_BACKEND.

The kernel sets the backend before anything can import Keras, so a notebook cannot run on the
wrong one by accident. Each kernel may use its own Python (the legacy CNTK kernel runs 3.6; the
GPU image gives each backend its own environment). Host side.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from string import Template

from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

from kerasbench import registry
from kerasbench.errors import UserError, one_line

LIB_DIR = os.path.join(registry.ROOT, "lib")

HOW_TO_GET = {
    "cntk": "run `make cntk` (it needs Python 3.6: `pyenv install 3.6.15`, conda `python=3.6`, "
    "or the python:3.6 image, then PYTHON36=/path/to/python3.6)",
}


def kernel_name(backend):
    return "kerasbench-" + backend


def kernel_spec(backend, python=None, ld_library_path=None):
    env = {
        "KERAS_BACKEND": backend,
        # The kernel imports this checkout's kerasbench, also from a Python without it installed;
        # jupyter_client fills ${...} from the launching environment (packages carried there).
        "PYTHONPATH": LIB_DIR + os.pathsep + "${PYTHONPATH}",
        # TensorFlow's C++ start-up chatter otherwise fills every executed notebook.
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    if ld_library_path:
        env["LD_LIBRARY_PATH"] = ld_library_path + os.pathsep + "${LD_LIBRARY_PATH}"
    return {
        "argv": [python or sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "kerasbench (%s)" % backend,
        "language": "python",
        "env": env,
        "metadata": {"kerasbench_backend": backend},
    }


def install(backends, python=None, ld_library_path=None, prefix=None, user=False):
    """Writes the kernel specs into this environment (sys.prefix) unless `user` is set."""
    manager = KernelSpecManager()
    installed = []
    for backend in backends:
        if backend not in registry.BACKENDS:
            raise UserError(
                "unknown backend %r (backends: %s)" % (backend, ", ".join(registry.BACKENDS))
            )
        tmp = tempfile.mkdtemp()
        try:
            with open(os.path.join(tmp, "kernel.json"), "w") as f:
                json.dump(kernel_spec(backend, python, ld_library_path), f, indent=2)
            path = manager.install_kernel_spec(
                tmp,
                kernel_name(backend),
                user=user,
                prefix=None if user else (prefix or sys.prefix),
            )
        finally:
            shutil.rmtree(tmp)
        installed.append((kernel_name(backend), path))
    return installed


def find(backend):
    """The installed spec of a backend's kernel, or None; a damaged spec is a one-line error."""
    manager = KernelSpecManager()
    try:
        return manager.get_kernel_spec(kernel_name(backend))
    except NoSuchKernel:
        return None
    except (ValueError, KeyError, TypeError, OSError) as e:  # kernel.json not JSON, not a spec
        where = manager.find_kernel_specs().get(kernel_name(backend), "?")
        raise UserError(
            "Jupyter kernel %r is damaged (%s: %s): reinstall it with `kerasbench "
            "kernels install`"
            % (kernel_name(backend), os.path.join(where, "kernel.json"), one_line(e))
        )


def process_env(spec, environ=None):
    """The environment a process gets to run as this kernel does (its KERAS_BACKEND, library
    path...), with the spec's ${VAR} references filled from `environ` as jupyter_client does."""
    environ = dict(os.environ if environ is None else environ)
    environ.update({k: Template(v).safe_substitute(environ) for k, v in spec.env.items()})
    return environ


def require(backends):
    """A one-line error for the first backend whose kernel is not installed."""
    for backend in backends:
        spec = find(backend)
        if spec is None:
            how = HOW_TO_GET.get(backend, "run `kerasbench kernels install` (or `make kernels`)")
            raise UserError("Jupyter kernel %r is not installed: %s" % (kernel_name(backend), how))
        python = spec.argv[0]
        if os.path.isabs(python) and not os.path.exists(python):
            raise UserError(
                "Jupyter kernel %r points at a missing Python (%s): reinstall it with "
                "`kerasbench kernels install`" % (kernel_name(backend), python)
            )
        lib = runs_checkout(spec)
        if lib and os.path.realpath(lib) != os.path.realpath(LIB_DIR):
            raise UserError(
                "Jupyter kernel %r runs the kerasbench of %s, not this checkout's %s "
                "(its spec: %s): reinstall it with `kerasbench kernels install`"
                % (kernel_name(backend), lib, LIB_DIR, spec.resource_dir)
            )


def runs_checkout(spec):
    """The lib/ folder a kernel spec puts first on the kernel's PYTHONPATH (None if none): the
    kerasbench its kernel imports. The kernel records what it did import (kernel.json's code)."""
    first = (spec.env or {}).get("PYTHONPATH", "").split(os.pathsep)[0]
    return first if first and "$" not in first else None


# --- Does each backend see the GPU? ---------------------------------------------------------------

PROBE_TIMEOUT = 180.0  # seconds for all probes together (TensorFlow's import takes the longest)
PROBE_MODULE = "kerasbench.environment"  # `python -m kerasbench.environment BACKEND`: gpu_view


def probe_command(spec, backend):
    """The kernel's own Python running environment.gpu_view for `backend` (it imports only the
    framework, not Keras)."""
    return [spec.argv[0], "-m", PROBE_MODULE, backend]


def _last_line(text):
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def probe(backends, timeout=PROBE_TIMEOUT, environ=None):
    """What each backend's framework sees, asked of the kernel's Python with the kernel's
    environment (process_env), all backends at once: {backend: {"framework", "devices", "gpus",
    "why", "error"}}. `error` (else None) says why a probe gave no answer: the kernel is not
    installed, its Python failed (the probe's last error line), or it ran past `timeout`."""
    started = {}
    results = {}
    for backend in backends:
        spec = find(backend)
        if spec is None:
            results[backend] = {"gpus": [], "error": "%s is not installed" % kernel_name(backend)}
            continue
        out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
        try:
            process = subprocess.Popen(
                probe_command(spec, backend),
                env=process_env(spec, environ),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        except OSError as e:
            out.close()
            err.close()
            results[backend] = {
                "gpus": [],
                "error": "cannot start %s: %s" % (spec.argv[0], e.strerror or e),
            }
            continue
        started[backend] = (process, out, err)
    deadline = time.time() + timeout
    for backend, (process, out, err) in started.items():
        try:
            process.wait(max(deadline - time.time(), 0.01))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except OSError:
                pass
            process.wait()
            results[backend] = {
                "gpus": [],
                "error": "its probe did not answer within %gs" % timeout,
            }
            out.close()
            err.close()
            continue
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
        out.close()
        err.close()
        try:
            answer = json.loads(_last_line(stdout))
            if not isinstance(answer, dict) or not isinstance(answer.get("gpus"), list):
                raise ValueError("not a probe's answer")
        except ValueError:
            why = _last_line(stderr) or "exit code %d, no output" % process.returncode
            results[backend] = {"gpus": [], "error": one_line(why, 300)}
            continue
        answer.setdefault("why", None)
        answer["error"] = None
        results[backend] = answer
    return {backend: results[backend] for backend in backends}


def describe_probe(backend, result):
    """One line: what a backend's framework sees."""
    if result.get("error"):
        return "%s: no answer: %s" % (backend, result["error"])
    seen = ", ".join(result["gpus"]) if result["gpus"] else "no GPU"
    line = "%s (%s): %s" % (backend, result.get("framework") or "?", seen)
    return line + (": " + result["why"] if not result["gpus"] and result.get("why") else "")


def blind_to_gpu(results):
    """The backends whose framework sees no GPU (or gave no answer), with the reason."""
    return [
        "%s (%s)" % (backend, result.get("error") or result.get("why") or "it lists no GPU")
        for backend, result in results.items()
        if result.get("error") or not result.get("gpus")
    ]


def require_gpu(backends, gpu, timeout=PROBE_TIMEOUT, environ=None):
    """Before anything trains on a machine with a GPU (`gpu`: its name): every backend's
    framework must see it, else one line naming each that does not, and why (UserError).
    Returns the probes' answers."""
    results = probe(backends, timeout=timeout, environ=environ)
    blind = blind_to_gpu(results)
    if blind:
        raise UserError(
            "this machine has a GPU (%s) but %s %s not see it: nothing was trained "
            "(--device cpu trains on the CPU)"
            % (gpu, "; ".join(blind), "does" if len(blind) == 1 else "do")
        )
    return results
