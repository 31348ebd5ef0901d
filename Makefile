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

# control_msgs and tf2_msgs have no PyPI wheel: generated from ros2_ws/interfaces and compiled into the venv.
IFACES := $(VENV)/.ros-interfaces
$(IFACES): $(STAMP) ros2_ws/interfaces/build_interfaces.py $(wildcard ros2_ws/interfaces/*/*/*)
	@echo "[install] ROS 2 interfaces without a PyPI wheel: control_msgs, tf2_msgs (gcc; about a minute)"
	@$(PY) ros2_ws/interfaces/build_interfaces.py > $(LOG).interfaces 2>&1 \
	   || { tail -n 40 $(LOG).interfaces; echo "[install] failed: see $(LOG).interfaces" >&2; exit 1; }
	@touch $(IFACES)

install: $(STAMP) $(IFACES) ## create the virtualenv and install roboloop (torch pinned to the CPU build by constraints.txt)

# Cortex-M toolchain and emulator for the C export tests, and g++ plus the Python headers for the ROS 2
# interfaces built from source, from Debian, installed when missing.
ARM_PKGS := gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm
HAVE_PY_H = $(PYTHON) -c "import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()['include'], 'Python.h')))"
toolchain: ## install gcc, g++, Python headers, arm-none-eabi-gcc and qemu-system-arm (apt) when missing
	@if command -v arm-none-eabi-gcc >/dev/null && command -v qemu-system-arm >/dev/null && command -v gcc >/dev/null \
		&& command -v g++ >/dev/null && $(HAVE_PY_H); then :; \
	elif command -v apt-get >/dev/null; then \
		echo "[toolchain] apt-get install gcc g++ python3-dev $(ARM_PKGS)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		{ $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends gcc g++ python3-dev $(ARM_PKGS); } > /tmp/roboloop-apt.log 2>&1 \
		|| { tail -n 20 /tmp/roboloop-apt.log; echo "[toolchain] failed: see /tmp/roboloop-apt.log" >&2; exit 1; }; \
	else \
		echo "error: need arm-none-eabi-gcc, qemu-system-arm, gcc, g++ and the Python headers; no apt-get here: install $(ARM_PKGS), g++ and python3-dev with your package manager" >&2; exit 1; \
	fi

demo: $(STAMP) $(IFACES) ## the main job: train in sim, reality gap, fine-tune through ROS 2, distil + export, run in QEMU
	$(PY) -m roboloop.demo --out $(DEMO)

test: $(STAMP) $(IFACES) ## every test, slow end-to-end learning tests included
	$(PY) -m pytest

test-fast: $(STAMP) $(IFACES) ## every test but the slow learning tests
	$(PY) -m pytest -m "not slow"

bench: $(STAMP) $(IFACES) ## run every benchmark in benchmarks/ (hours on 2 cores; each prints its figures against a baseline)
	@set -e; for b in benchmarks/*.py; do echo "== $(PY) $$b"; $(PY) $$b; done

clean: ## remove the virtualenv and runs/
	rm -rf $(VENV) runs
