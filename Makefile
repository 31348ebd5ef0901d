# Two entry points for a fresh machine: `make demo` (the main job) and `make test` (the test suite).
# Both create the virtualenv and install everything they need from nothing.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DEMO   ?= runs/demo

.PHONY: install demo test test-fast bench clean toolchain

$(STAMP): pyproject.toml constraints.txt | toolchain
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# constraints.txt pins torch to the CPU build so nothing pulls CUDA wheels.
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev,bench,ros]"
	touch $(STAMP)

install: $(STAMP)

## Cortex-M toolchain and emulator for the C export tests (issue 7), from Debian, installed when missing.
ARM_PKGS := gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm
toolchain:
	@if command -v arm-none-eabi-gcc >/dev/null && command -v qemu-system-arm >/dev/null && command -v gcc >/dev/null; then :; \
	elif command -v apt-get >/dev/null; then \
		echo "installing $(ARM_PKGS) gcc (apt-get)"; \
		$$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq && \
		$$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -qq --no-install-recommends gcc $(ARM_PKGS); \
	else \
		echo "error: need arm-none-eabi-gcc, qemu-system-arm and gcc; no apt-get here: install $(ARM_PKGS) with your package manager" >&2; exit 1; \
	fi

## The main job (roboloop/demo.py): train in sim, fine-tune through ROS 2 against the sim robot, export.
demo: $(STAMP)
	$(PY) -m roboloop.demo --out $(DEMO)

## Every test, slow end-to-end learning tests included.
test: $(STAMP)
	$(PY) -m pytest

## Everything but the slow learning tests.
test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow"

bench: $(STAMP)
	$(PY) benchmarks/learner_throughput.py
	$(PY) benchmarks/sample_efficiency.py
	$(PY) benchmarks/transport.py
	$(PY) benchmarks/export_report.py
	$(PY) benchmarks/sim2real_gap.py
	$(PY) benchmarks/hil_finetune.py

clean:
	rm -rf $(VENV) runs
