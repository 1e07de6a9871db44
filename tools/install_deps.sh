#!/usr/bin/env bash
# Installs what finepose needs to build and test on Debian (run as root).
#   tools/install_deps.sh            build + test dependencies
#   tools/install_deps.sh --runtime  only what the demo needs
set -euo pipefail
pkgs=(cmake make g++ libeigen3-dev zlib1g-dev)
if [ "${1:-}" != "--runtime" ]; then
  # doctest + benchmark for the suites; Debian's PyTorch (CPU) + numpy/scipy write the
  # parity fixtures; OpenBLAS so Debian's torch does not fall back to the reference BLAS.
  pkgs+=(doctest-dev libbenchmark-dev python3 python3-numpy python3-scipy python3-torch libopenblas0-pthread
        libmatio-dev python3-h5py pkg-config
        clang libclang-rt-14-dev  # clang + libFuzzer/sanitizer runtimes: tools/fuzz.sh
        python3-venv python3-dev python3-pytest  # the Python module and its tests: tools/test_python.sh
        libopenmpi-dev openmpi-bin)  # FINEPOSE_MPI: mpirun -np N finepose eval (tests/test_cli_mpi.cpp)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y "${missing[@]}"
fi
