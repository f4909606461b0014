#!/usr/bin/env bash
# gpu-check.sh — the one call to make on a GPU machine before calling GPU work done:
#   1. build with CUDA (sm_80 + sm_90), release
#   2. every C test on CPU and CUDA (CTest), then the Python oracles where pytest exists
#   3. compute-sanitizer memcheck on the differential harness and the core tests (CUDA)
#   4. `mlxn demo --device cuda`: self-check against float64 + the bench table
# Logs go to build-gpu/logs/, and are gathered into $OUT/gpu-check.log when $OUT is set.
# Environment: STEPS="build ctest ..." runs only the named steps (default: all of
#   configure build ctest oracles memcheck_ops memcheck_core racecheck demo bench_hot);
#   CUDA_ARCHS="90" builds for those architectures only (default 80 and 90);
#   STEP_TIMEOUT seconds per step (default 240).
# Exit status: non-zero if any step failed; the summary is printed last.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
LOG=$ROOT/build-gpu/logs
mkdir -p "$LOG"
JOBS=$(nproc 2>/dev/null || echo 8)
GEN=""; command -v ninja >/dev/null 2>&1 && GEN="-G Ninja"
declare -a SUMMARY
FAIL=0
want() { [ -z "${STEPS:-}" ] || [[ " $STEPS " == *" $1 "* ]]; }
run() { # run NAME CMD...
  local name=$1; shift
  want "$name" || return 0
  local t0=$SECONDS
  # every step is bounded, so one hang cannot eat the device lease (the lent
  # machine allows 10 minutes a call): STEP_TIMEOUT seconds, default 240
  if timeout "${STEP_TIMEOUT:-240}" "$@" >"$LOG/$name.log" 2>&1; then SUMMARY+=("ok    $name ($((SECONDS - t0)) s)")
  else SUMMARY+=("FAIL  $name ($((SECONDS - t0)) s): see $name.log"); FAIL=1; tail -30 "$LOG/$name.log"; fi
}

nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.mem --format=csv >"$LOG/gpu.txt" 2>&1 || true
ARCHS=""; [ -n "${CUDA_ARCHS:-}" ] && ARCHS="-DCMAKE_CUDA_ARCHITECTURES=$CUDA_ARCHS"
run configure cmake -S . -B build-gpu $GEN -DCMAKE_BUILD_TYPE=Release -DMLXN_CUDA=ON $ARCHS
run build cmake --build build-gpu -j "$JOBS"
run ctest bash -c "cd build-gpu && ctest --output-on-failure -j 4"
grep -E 'tests passed|tests failed' "$LOG/ctest.log" | tail -1 | sed 's/^/      ctest: /' >>"$LOG/summary.txt"
if python3 -c 'import pytest, numpy' >/dev/null 2>&1; then
  run oracles env MLXN_LIB="$ROOT/build-gpu/libmlxn.so" python3 -m pytest -q tests/oracle
else
  SUMMARY+=("skip  oracles (no pytest/numpy here)")
fi
if command -v compute-sanitizer >/dev/null 2>&1; then
  run memcheck_ops compute-sanitizer --tool memcheck --error-exitcode 3 build-gpu/tests/test_ops -b cuda
  # test_core asks for 32 TiB on purpose: that API error is expected, memory errors are not
  run memcheck_core compute-sanitizer --tool memcheck --report-api-errors no --error-exitcode 3 \
      build-gpu/tests/test_core -b cuda
  # shared-memory kernels, family by family in parallel (racecheck is ~100x slower than a
  # plain run; the f32 cases of each family, a few families with their short cases only)
  run racecheck bash -c '
    fams="rope/f32 rope_multi/f32 rms_norm/f32 softmax/f32 add_rms_norm/f32 rms_norm_gate/f32 argmax/f32
          argsort/f32 sample/f32/B4.V32000/ sample/f32/B1.V262144/ sample/f32/B3.V151936/ sample/f32/B8.V4097/ sample/f32/B7.V2/ moe_topk/f32 moe_reduce/f32 head_norm_rope/f32 triple_norm/f32 moe_wsum
          backward/ quant_ggml/dq rms_norm_mul/f32 permute/f16 top_k/f32.to.f32/r1.n262144.k1/ cumsum/f32/r3.n131076/"
    i=0; for f in $fams; do i=$((i+1))
      (compute-sanitizer --tool racecheck --error-exitcode 3 build-gpu/tests/test_ops -b cuda -o "$f" \
         >"build-gpu/logs/rc_$i.txt" 2>&1; echo "exit $? $f" >>"build-gpu/logs/rc_$i.txt") &
    done; wait
    bad=0; for j in $(seq 1 $i); do tail -1 "build-gpu/logs/rc_$j.txt"; grep -h "RACECHECK SUMMARY" "build-gpu/logs/rc_$j.txt"
      tail -1 "build-gpu/logs/rc_$j.txt" | grep -q "^exit 0 " || bad=1; done; exit $bad' 
else
  SUMMARY+=("skip  compute-sanitizer (not installed)"); FAIL=1
fi
run demo build-gpu/mlxn demo --device cuda
run bench_hot build-gpu/mlxn bench --device cuda --hot
[ -f "$LOG/demo.log" ] && sed -n '/== benchmark ==/,$p' "$LOG/demo.log"
[ -f "$LOG/bench_hot.log" ] && { echo; echo "== bench, cache-warm inputs (ggml's perf method) =="; tail -n +4 "$LOG/bench_hot.log"; }
echo
echo "== gpu-check summary =="
cat "$LOG/gpu.txt" 2>/dev/null | tail -1
for l in "${SUMMARY[@]}"; do echo "$l"; done
for f in ctest oracles memcheck_ops memcheck_core racecheck; do
  [ -f "$LOG/$f.log" ] && grep -hE '[0-9]+ passed|tests passed|ERROR SUMMARY|RACECHECK SUMMARY' "$LOG/$f.log" | tail -2 | sed "s/^/      $f: /"
done
if [ -n "${OUT:-}" ]; then # the device tool brings back at most 8 files
  for f in "$LOG"/*.log "$LOG"/gpu.txt; do echo "######## $(basename "$f")"; cat "$f"; done >"$OUT/gpu-check.log"
  cp "$LOG/demo.log" "$OUT/demo.log" 2>/dev/null || true
fi
exit $FAIL
