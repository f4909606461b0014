# mlxn — the two commands a fresh machine needs:
#   make run    build, then `mlxn demo`: self-check every op on the best device and print the bench table
#   make test   install what the tests need, build (release + sanitizers), run every test and the peer oracles
# Also: make build, make bench, make install PREFIX=/usr/local, make gpu-check (on a GPU machine), make clean.

BUILD  ?= build
PREFIX ?= /usr/local
JOBS   ?= $(shell nproc 2>/dev/null || echo 2)
GEN    := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")

.PHONY: all build run bench test install gpu-check clean

all: build

build:
	@scripts/ensure-deps.sh build
	@test -f $(BUILD)/CMakeCache.txt || cmake -S . -B $(BUILD) $(GEN) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD) -j $(JOBS)

run: build
	$(BUILD)/mlxn demo

bench: build
	$(BUILD)/mlxn bench

test:
	@scripts/test.sh

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

gpu-check:
	@scripts/gpu-check.sh

clean:
	rm -rf build build-asan build-gpu .venv
