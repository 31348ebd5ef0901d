# Two entry points for a fresh machine: `make demo` (the main job) and `make test` (the test suite).
# Both create the virtualenv and install everything they need from nothing. `make help` lists targets.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DEMO   ?= runs/demo
LOG    := $(VENV)/install.log

.PHONY: help install demo test test-fast bench clean toolchain

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | awk -F'\t' '{printf "  make %-10s %s\n", $$1, $$2}'

# Each stage prints one line; the installers' own output goes to $(LOG) and is shown only on failure.
$(STAMP): pyproject.toml constraints.txt | toolchain
	@echo "[install] virtualenv $(VENV)"
	@$(PYTHON) -m venv $(VENV)
	@echo "[install] pip: roboloop with dev, bench, ros and arms extras (a few minutes the first time; log: $(LOG))"
	@( $(PY) -m pip install --quiet --upgrade pip && \
	   $(PY) -m pip install --quiet -c constraints.txt -e ".[dev,bench,ros,arms]" ) > $(LOG) 2>&1 \
	   || { tail -n 40 $(LOG); echo "[install] failed: see $(LOG)" >&2; exit 1; }
	@touch $(STAMP)
	@echo "[install] done"

install: $(STAMP) ## create the virtualenv and install roboloop (torch pinned to the CPU build by constraints.txt)

# Cortex-M toolchain and emulator for the C export tests, from Debian, installed when missing.
ARM_PKGS := gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm
toolchain: ## install gcc, arm-none-eabi-gcc and qemu-system-arm (apt) when missing
	@if command -v arm-none-eabi-gcc >/dev/null && command -v qemu-system-arm >/dev/null && command -v gcc >/dev/null; then :; \
	elif command -v apt-get >/dev/null; then \
		echo "[toolchain] apt-get install gcc $(ARM_PKGS)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		{ $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends gcc $(ARM_PKGS); } > /tmp/roboloop-apt.log 2>&1 \
		|| { tail -n 20 /tmp/roboloop-apt.log; echo "[toolchain] failed: see /tmp/roboloop-apt.log" >&2; exit 1; }; \
	else \
		echo "error: need arm-none-eabi-gcc, qemu-system-arm and gcc; no apt-get here: install $(ARM_PKGS) with your package manager" >&2; exit 1; \
	fi

demo: $(STAMP) ## the main job: train in sim, reality gap, fine-tune through ROS 2, distil + export, run in QEMU
	$(PY) -m roboloop.demo --out $(DEMO)

test: $(STAMP) ## every test, slow end-to-end learning tests included
	$(PY) -m pytest

test-fast: $(STAMP) ## every test but the slow learning tests
	$(PY) -m pytest -m "not slow"

bench: $(STAMP) ## run every benchmark in benchmarks/ (hours on 2 cores; each prints its figures against a baseline)
	@set -e; for b in benchmarks/*.py; do echo "== $(PY) $$b"; $(PY) $$b; done

clean: ## remove the virtualenv and runs/
	rm -rf $(VENV) runs
