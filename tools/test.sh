#!/usr/bin/env bash
# Build everything and run the whole test suite (the README's test command).
# Installs its own dependencies first. CUDA kernels are compiled when nvcc is
# present and tested through the SIMT emulator; GPU tests skip without a device.
# Then the hardening checks (HARDENING.md): the CPU suite (sanitize.sh --ci) under
# ASan + UBSan + LeakSanitizer, the emulated CUDA kernels under ThreadSanitizer,
# and every fuzzer for FUZZ_SECONDS (default 3) each. FINEPOSE_SKIP_HARDENING=1
# skips those three. Each phase's wall time is printed at the end. The tests are
# compiled a few files to a program (FINEPOSE_TEST_GROUPS, tests/CMakeLists.txt): the
# build is most of CI's time.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
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
phase "configure + build (Release)" bash -c "cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DFINEPOSE_TEST_GROUPS=ON && cmake --build build -j$jobs"
phase "ctest (Release)" bash -c 'cd build && ctest --output-on-failure -j"$0" "$@"' "$jobs" "$@"
if [ "${FINEPOSE_SKIP_HARDENING:-0}" != 1 ]; then
  phase "ASan+UBSan+LSan suite (--ci)" bash tools/sanitize.sh --ci
  phase "TSan emulated kernels (--tsan)" bash tools/sanitize.sh --tsan
  phase "fuzzers (fuzz.sh)" env FUZZ_SECONDS="${FUZZ_SECONDS:-3}" bash tools/fuzz.sh
fi
