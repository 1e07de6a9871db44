#!/usr/bin/env bash
# Builds the CPU test suite with AddressSanitizer + UndefinedBehaviorSanitizer
# (LeakSanitizer on) in its own build directory and runs it. Any sanitizer
# report fails the run.
#
#   tools/sanitize.sh          the whole CPU suite, minus the parity tests that
#                              generate full-size models in Python (label parity)
#   tools/sanitize.sh --io     only the parsers: io/pickle/json/tokenizer tests,
#                              the hostile-file test and the fuzz regressions (CI)
#   SANITIZE_BUILD_DIR=...     build directory (default build-sanitize)
#   extra arguments after the mode go to ctest
set -euo pipefail
cd "$(dirname "$0")/.."
mode=all
if [ "${1:-}" = "--io" ]; then mode=io; shift; fi
build=${SANITIZE_BUILD_DIR:-$PWD/build-sanitize}
jobs=$(nproc 2>/dev/null || echo 2)
flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1"
examples=ON
[ $mode = io ] && examples=OFF   # the CLI half of test_hostile_files runs in the ordinary build
# Ninja builds the listed test targets side by side (make would build them one after another)
gen=()
if [ ! -f "$build/CMakeCache.txt" ] && command -v ninja >/dev/null; then gen=(-G Ninja); fi
cmake -S . -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" -DFINEPOSE_CUDA=OFF -DFINEPOSE_NATIVE=OFF \
  -DFINEPOSE_BUILD_EXAMPLES=$examples -DFINEPOSE_BUILD_BENCH=OFF >/dev/null

io_tests=(test_io_json test_io_npy test_io_pickle test_io_safetensors test_io_torch_checkpoint test_io_zip
          test_clip_tokenizer test_hostile_files test_fuzz_regressions)
if [ $mode = io ]; then
  present=()
  for t in "${io_tests[@]}"; do [ -f "tests/$t.cpp" ] && present+=("$t"); done
  cmake --build "$build" -j"$jobs" --target "${present[@]}"
  regex="^($(IFS='|'; echo "${present[*]}"))\$"
else
  cmake --build "$build" -j"$jobs"
  regex=""
fi

# halt_on_error: the first report fails the test; leaks are reported at exit
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-}
# OpenMP worker threads are parked at exit, not joined: keep their stacks out of leak reports
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
cd "$build"
if [ -n "$regex" ]; then
  ctest --output-on-failure -j"$jobs" -R "$regex" "$@"
else
  ctest --output-on-failure -j"$jobs" -LE parity "$@"
fi
