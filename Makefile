# SPDX-License-Identifier: Apache-2.0
# Thin wrapper over CMake presets. The two commands of the README:
#   make run   set up, build, and show the library at work
#   make test  set up, build, and run every test (unit, conformance, interop, fuzz smoke, Python)
# Others: make build, make bench, make fuzz-smoke, make asan, make clean.
SHELL := /bin/bash
JOBS ?= $(shell nproc)
PRESET ?= dev
BUILD := build/$(PRESET)
PYTHON := /usr/bin/python3
FUZZ_SECONDS ?= 10

.PHONY: all bootstrap configure build run test unit python-test fuzz-build fuzz-smoke bench asan clean

all: build

bootstrap:
	@bash scripts/bootstrap.sh

configure: bootstrap
	@cmake --preset $(PRESET) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	@bash scripts/run.sh $(BUILD)

unit: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

python-test: build
	@PYTHONPATH=$(CURDIR)/$(BUILD)/bindings/python MAILKIT_BUILD_DIR=$(CURDIR)/$(BUILD) \
	  $(PYTHON) -m pytest -q -p no:cacheprovider tests/python

fuzz-build: bootstrap
	@cmake --preset fuzz >/dev/null
	@cmake --build build/fuzz -j $(JOBS)

fuzz-smoke: fuzz-build
	@bash tests/fuzz/smoke.sh build/fuzz $(FUZZ_SECONDS)

# Every test tier; any failure fails the target (and so CI).
test: build fuzz-build
	@bash tests/fuzz/smoke.sh build/fuzz $(FUZZ_SECONDS)
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	@PYTHONPATH=$(CURDIR)/$(BUILD)/bindings/python MAILKIT_BUILD_DIR=$(CURDIR)/$(BUILD) \
	  $(PYTHON) -m pytest -q -p no:cacheprovider tests/python
	@bash tests/tsan.sh build/tsan $(JOBS)

bench: bootstrap
	@cmake --preset release >/dev/null
	@cmake --build build/release -j $(JOBS)
	@bash benchmarks/run_all.sh build/release

asan: bootstrap
	@cmake --preset asan >/dev/null
	@cmake --build build/asan -j $(JOBS)
	@cd build/asan && ctest --output-on-failure -j $(JOBS)

clean:
	rm -rf build

# aarch64 (issue 7, docs/arm64.md): cross build in build/arm64 with Debian's cross toolchain and
# multiarch arm64 libraries, tests and benchmarks under qemu-user. Not part of `make test`.
.PHONY: test-arm64 bench-arm64
test-arm64:
	@bash scripts/arm64.sh all

bench-arm64:
	@bash scripts/arm64.sh setup
	@bash scripts/arm64.sh build
	@bash scripts/arm64.sh bench
