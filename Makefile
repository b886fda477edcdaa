# dl2 chores. `make help` lists them.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON := $(BIN)/python
STAMP := $(VENV)/.installed
# make test's pytest-xdist workers: one per core (`make test WORKERS=` runs in one process)
WORKERS ?= -n auto --dist worksteal

.DEFAULT_GOAL := help
.PHONY: help install train test test-all coverage test-slurm test-gpu lint format docs docs-serve sweep-padding sweep-gpt sweep-rotation sweep-gnn report report-offline verify bench bench-suite mutate clean clean-logs

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-15s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(PYTHON) || $(PY) -m venv $(VENV)
	$(PYTHON) -m pip install --upgrade pip
	$(PYTHON) -m pip install -e ".[dev,launchers,search,docs]"
	touch $(STAMP)

install: $(STAMP) ## create .venv and install dl2 with its dev tools

train: $(STAMP) ## train the default experiment (Net1 on the box data, one seed) on the CPU
	$(PYTHON) train.py trainer=cpu

test: $(STAMP) ## the quick suite, in-process, a worker per core: after each change
	$(PYTHON) -m pytest -m "not slow and not gpu" $(WORKERS)

test-all: $(STAMP) ## every test, slow ones (real processes) too, with dl2's line coverage (CI)
	$(PYTHON) -m pytest -m "" --hypothesis-profile=thorough --cov=dl2 --cov-report=term:skip-covered

coverage: $(STAMP) ## test-all's coverage as an HTML report too (build/coverage/index.html)
	$(PYTHON) -m pytest -m "" --hypothesis-profile=thorough --cov=dl2 --cov-report=term --cov-report=html:build/coverage

test-slurm: $(STAMP) ## bring up a one-node SLURM here (root: installs slurm-wlm), run the slurm tests, stop it
	scripts/local-slurm.sh up
	eval "$$(scripts/local-slurm.sh env)" && $(PYTHON) -m pytest -m slurm; \
	  status=$$?; scripts/local-slurm.sh down; exit $$status

test-gpu: $(STAMP) ## run the GPU tests
	$(PYTHON) -m pytest -m gpu

lint: $(STAMP) ## ruff (lint and format), and the architecture's import contracts (import-linter)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

docs: $(STAMP) ## the documentation site into site/ (strict: a broken link or a page out of the nav fails)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

docs-serve: $(STAMP) ## serve the documentation site with live reload (http://127.0.0.1:8000)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

format: $(STAMP) ## ruff fix + format
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

sweep-padding: $(STAMP) ## the padding study (Tables 1 and 2), both protocols: what is missing of it
	$(PYTHON) sweep.py padding-reference
	$(PYTHON) sweep.py padding-independent

sweep-gpt: $(STAMP) ## the GPT study: RoPE vs absolute positions, sdpa vs manual, 3 seeds
	$(PYTHON) sweep.py gpt
	$(PYTHON) sweep.py gpt-cpu

sweep-rotation: $(STAMP) ## the rotation study: CNN and ViT with/without rotation augmentation, 3 seeds
	$(PYTHON) sweep.py rotation-cnn
	$(PYTHON) sweep.py rotation-vit

sweep-gnn: $(STAMP) ## GCN / meanconv / GAT (10 seeds) and the noisy-edge study, on Cora and CiteSeer
	$(PYTHON) sweep.py gnn-models
	$(PYTHON) sweep.py gnn-noise
	$(PYTHON) sweep.py gnn-models-citeseer
	$(PYTHON) sweep.py gnn-noise-citeseer

report: $(STAMP) ## run every declared study (what is missing), rebuild the reports (STUDIES=a,b)
	$(PYTHON) sweep.py all $(if $(STUDIES),--studies $(STUDIES))

report-offline: $(STAMP) ## rebuild every declared study's report from reports/*/jobs.jsonl only
	$(PYTHON) sweep.py all --offline

# the studies whose jobs take a minute or less; ARGS: plumbing for every job (paths.data_dir=...)
CHEAP_STUDIES ?= padding-reference padding-independent gnn-models gnn-noise gnn-models-citeseer gnn-noise-citeseer
verify: $(STAMP) ## rerun one stored job of each cheap study, compare every metric (ARGS=paths.data_dir=...)
	@status=0; for s in $(CHEAP_STUDIES); do \
	  $(PYTHON) sweep.py verify $$s --sample 1 $(ARGS) || status=1; done; exit $$status

mutate: $(STAMP) ## mutation testing of the pure core ([tool.mutmut]; minutes, not in CI), then each mutant's fate
	$(BIN)/mutmut run --max-children $$(nproc)
	$(PYTHON) scripts/mutation_summary.py --write

bench-suite: $(STAMP) ## make test's time over `import dl2.run.job`'s, on this machine (the budget: 20); idle machine
	$(PYTHON) benchmarks/suite_budget.py

bench: $(STAMP) ## speed: each study job vs a plain loop and the matmul ceiling, GPT generation, attention memory
	$(PYTHON) benchmarks/bench.py $(if $(CIFAR_DIR),--cifar-dir $(CIFAR_DIR))
	$(PYTHON) benchmarks/gpt_speed.py
	$(PYTHON) benchmarks/attention_memory.py

clean-logs: ## delete logs/ (all runs and checkpoints)
	rm -rf logs

clean: ## delete caches (keeps .venv and logs)
	rm -rf .pytest_cache .ruff_cache build site *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
