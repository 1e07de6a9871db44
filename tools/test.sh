#!/usr/bin/env bash
# Build everything and run the whole test suite (the README's test command).
# Installs its own dependencies first. CUDA kernels are compiled when nvcc is
# present and tested through the SIMT emulator; GPU tests skip without a device.
# Then the hardening checks (HARDENING.md): the CPU suite (sanitize.sh --ci) under
# ASan + UBSan + LeakSanitizer, the emulated CUDA kernels under ThreadSanitizer,
# and every fuzzer for FUZZ_SECONDS (default 2) each. FINEPOSE_SKIP_HARDENING=1
# skips those three. The Python module is built into a venv and tested with pytest
# (tools/test_python.sh). Each phase's wall time is printed at the end. The tests are
# compiled a few files to a program (FINEPOSE_TEST_GROUPS, tests/CMakeLists.txt): the
# build is most of CI's time.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
# ctest runs $jobs test programs at once, each with $jobs OpenMP threads: threads that
# spin while waiting (libgomp's default) take the cores from the other program. Passive
# waiting measured 22% less wall time under ASan (4 programs on 2 cores: 109 s against 140 s).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
timings=()
phase() {  # phase NAME COMMAND...: run it, remember its wall time
  local name=$1 start=$SECONDS
  shift
  echo "== test.sh: $name"
  "$@"
  timings+=("$(printf '%-34s %4d s' "$name" $((SECONDS - start)))")
}
report() {
  echo "== test.sh: wall time per phase"
  for t in "${timings[@]}"; do echo "  $t"; done
}
trap report EXIT

phase "dependencies" bash tools/install_deps.sh
phase "configure + build (Release)" bash -c "cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DFINEPOSE_TEST_GROUPS=ON -DFINEPOSE_MPI=ON && cmake --build build -j$jobs"
phase "ctest (Release)" bash -c 'cd build && ctest --output-on-failure -j"$0" "$@"' "$jobs" "$@"
phase "Python module (pip + pytest)" bash tools/test_python.sh build
if [ "${FINEPOSE_SKIP_HARDENING:-0}" != 1 ]; then
  phase "ASan+UBSan+LSan suite (--ci)" bash tools/sanitize.sh --ci
  phase "TSan emulated kernels (--tsan)" bash tools/sanitize.sh --tsan
  phase "fuzzers (fuzz.sh)" env FUZZ_SECONDS="${FUZZ_SECONDS:-2}" bash tools/fuzz.sh
fi
