#!/usr/bin/env bash
# test.sh — everything `make test` runs, on any machine (CI has no GPU: the CUDA
# code is compiled when nvcc exists, and GPU tests exit 77 and count as skipped).
#   1. release build (CUDA on when nvcc is found), all C tests through CTest
#   2. AddressSanitizer + UndefinedBehaviorSanitizer build, all C tests again
#   3. install into a staging prefix; a consumer project uses find_package(mlxn) and pkg-config
#   4. Python peer oracles (MLX, numpy) in a venv with pinned versions
#   5. 30-second libFuzzer runs of the GGUF and safetensors readers (skipped without clang)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS=$(nproc 2>/dev/null || echo 2)
GEN=""; command -v ninja >/dev/null 2>&1 && GEN="-G Ninja"
scripts/ensure-deps.sh test

step() { printf '\n==== %s ====\n' "$*"; }

step "release build"
cmake -S . -B build $GEN -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$JOBS"
step "C tests (release)"
(cd build && ctest --output-on-failure -j "$JOBS")

step "sanitizer build (ASan + UBSan)"
cmake -S . -B build-asan $GEN -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMLXN_SANITIZE=ON -DMLXN_CUDA=OFF \
      -DMLXN_BUILD_TOOLS=OFF >/dev/null
cmake --build build-asan -j "$JOBS"
step "C tests (ASan + UBSan)"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1 \
   ctest --output-on-failure -j "$JOBS")

step "install + consumer project"
rm -rf build/_stage build/_consumer
cmake --install build --prefix "$ROOT/build/_stage" >/dev/null
cmake -S tests/install -B build/_consumer $GEN -DCMAKE_PREFIX_PATH="$ROOT/build/_stage" >/dev/null
cmake --build build/_consumer >/dev/null
build/_consumer/consumer_cmake
PKG_CONFIG_PATH="$ROOT/build/_stage/lib/pkgconfig" \
  cc tests/install/consumer.c -o build/_consumer/consumer_pc \
     $(PKG_CONFIG_PATH="$ROOT/build/_stage/lib/pkgconfig" pkg-config --cflags --libs mlxn) \
     -Wl,-rpath,"$ROOT/build/_stage/lib"
build/_consumer/consumer_pc

step "Python peer oracles"
if [ ! -x .venv/bin/python ] || ! cmp -s tests/oracle/requirements.txt .venv/requirements.txt; then
  python3 -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r tests/oracle/requirements.txt
  cp tests/oracle/requirements.txt .venv/requirements.txt
fi
MLXN_LIB="$ROOT/build/libmlxn.so" .venv/bin/python -m pytest -q tests/oracle

step "parser fuzz (libFuzzer, 30 s each: GGUF, safetensors + MLX configs)"
if command -v clang >/dev/null 2>&1; then
  CC=clang cmake -S . -B build-fuzz $GEN -DMLXN_FUZZ=ON -DMLXN_CUDA=OFF -DMLXN_BUILD_TESTS=OFF \
        -DMLXN_BUILD_TOOLS=OFF -DMLXN_NATIVE=OFF >/dev/null
  cmake --build build-fuzz --target fuzz_gguf fuzz_safetensors -j "$JOBS"
  # new inputs go to scratch dirs so the checked-in seed corpora stay small
  for p in gguf safetensors; do
    rm -rf build-fuzz/corpus_$p && mkdir -p build-fuzz/corpus_$p
    build-fuzz/fuzz_$p -max_total_time=30 -max_len=4096 -print_final_stats=1 \
        build-fuzz/corpus_$p tests/fuzz/corpus_$p 2>&1 | tail -n 12
  done
else
  echo "clang not found: parser fuzz runs skipped"
fi

step "all tests passed"
