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
cd build
ctest --output-on-failure -j"$jobs" "$@"
