# kerasbench: two commands on a fresh machine, `make study` and `make test`.
# Everything they need is installed here, from requirements.txt (and requirements-cntk.txt).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The data folder: $KERASBENCH_DATA if set; else the study's offline copy beside the checkout
# (../shared/datasets) when there is one; else Keras' own cache.
KERASBENCH_DATA ?= $(if $(wildcard ../shared/datasets/SHA256SUMS),$(abspath ../shared/datasets),$(HOME)/.keras/datasets)
export KERASBENCH_DATA
OUT ?= output
PROFILE ?= quick
REPEATS ?= 1
# The legacy CNTK kernel joins the study and the tests where a Python 3.6 can be found.
PYTHON36 ?= $(firstword $(wildcard $(shell pyenv root 2>/dev/null)/versions/3.6*/bin/python))
export PYTHON36
BACKENDS ?= tensorflow,jax,torch$(if $(PYTHON36),$(comma)cntk)
comma := ,

.PHONY: study test lint venv kernels cntk report browser clean

# Both halves of the question: how fast (run), and does each backend learn the same (parity:
# 10 steps of each workload from the same weights, into OUT/parity, which the report shows).
# A parity difference is a finding, not a failure: the exit status is the runs'.
study: kernels $(if $(PYTHON36),cntk)
	$(BIN)/kerasbench run --profile $(PROFILE) --backends $(BACKENDS) --repeats $(REPEATS) --out $(OUT) --no-next; \
	  status=$$?; \
	  $(BIN)/kerasbench parity --profile $(PROFILE) --workloads all --backends $(BACKENDS) --out $(OUT)/parity \
	    || echo "kerasbench parity exited $$? (1: not every backend learns the same; the report's parity section says where)"; \
	  $(BIN)/kerasbench report --out $(OUT); \
	  exit $$status

test: lint kernels $(if $(PYTHON36),cntk) browser
	$(BIN)/python -m pytest -ra

# ruff (pinned in requirements.txt, configured in pyproject.toml): lint, then the format check.
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

report: venv
	$(BIN)/kerasbench report --out $(OUT)

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@

kernels: venv
	$(BIN)/kerasbench kernels install --backends tensorflow,jax,torch
	@# `jupyter nbconvert --execute --to html notebooks/analysis.ipynb` exports the report offline
	$(BIN)/python -c "from kerasbench.report import build; build.install_nbconvert_config()"

# The legacy kernel: Keras 2.3.1 on CNTK 2.7 in a Python 3.6 environment (scripts/setup_cntk.sh).
cntk: venv
	@test -n "$(PYTHON36)" || { echo "make cntk: no Python 3.6 found: pyenv install 3.6.15, or set PYTHON36=/path/to/python3.6"; exit 2; }
	bash scripts/setup_cntk.sh .venv-cntk > .venv-cntk.log 2>&1 || { tail -20 .venv-cntk.log; exit 1; }
	$(BIN)/kerasbench kernels install --backends cntk \
	  --python "$$(sed -n 's/^KERNEL_PYTHON=//p' .venv-cntk.log | tail -1)" \
	  --ld-library-path "$$(sed -n 's/^KERNEL_LD_LIBRARY_PATH=//p' .venv-cntk.log | tail -1)"

# Headless Chromium for the report's browser test (Debian's package; needs root or sudo).
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } \
	  || echo "warning: could not install chromium: the browser test will be skipped"

clean:
	rm -rf $(VENV) .venv-cntk .venv-cntk.log $(OUT)/runs $(OUT)/report.html $(OUT)/summary.csv
