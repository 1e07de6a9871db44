#!/usr/bin/env bash
# Build everything and run the whole test suite (the README's test command).
# Installs its own dependencies first. CUDA kernels are compiled when nvcc is
# present and tested through the SIMT emulator; GPU tests skip without a device.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install_deps.sh
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j"$jobs" "$@")
# Hardening (HARDENING.md): the parsers' tests under ASan + UBSan + LeakSanitizer,
# then every fuzzer for a short time. FINEPOSE_SKIP_HARDENING=1 skips both.
if [ "${FINEPOSE_SKIP_HARDENING:-0}" != 1 ]; then
  bash tools/sanitize.sh --io
  FUZZ_SECONDS=${FUZZ_SECONDS:-5} bash tools/fuzz.sh
fi
