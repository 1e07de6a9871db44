#!/usr/bin/env bash
# Builds the CPU test suite with AddressSanitizer + UndefinedBehaviorSanitizer
# (LeakSanitizer on) in its own build directory and runs it. Any sanitizer
# report fails the run.
#
#   tools/sanitize.sh          the whole CPU suite (and the emulated CUDA kernel
#                              tests) with the CLI, minus label parity (full-size
#                              models generated in Python, minutes each even
#                              unsanitized; test_parity itself still runs on the
#                              committed tiny model) and label consumer (they
#                              build an unsanitized application: no coverage)
#   tools/sanitize.sh --ci     the same minus three programs that are slow to
#                              build or run under ASan and whose code other
#                              sanitized tests already run (list below); CI
#   tools/sanitize.sh --io     only the parsers: io/pickle/json/tokenizer tests,
#                              the hostile-file test and the fuzz regressions
#   tools/sanitize.sh --tsan   the emulated CUDA kernel tests (tests/cuda, the
#                              *_tsan programs) under ThreadSanitizer, every CUDA
#                              thread an OS thread, in build-tsan; plus the check
#                              that a deliberately racy kernel is reported
#   SANITIZE_BUILD_DIR=...     build directory (default build-sanitize, build-tsan)
#   extra arguments after the mode go to ctest
set -euo pipefail
cd "$(dirname "$0")/.."
mode=all
if [ "${1:-}" = "--io" ]; then mode=io; shift; fi
if [ "${1:-}" = "--ci" ]; then mode=ci; shift; fi
if [ "${1:-}" = "--tsan" ]; then mode=tsan; shift; fi
jobs=$(nproc 2>/dev/null || echo 2)
gen=()

if [ $mode = tsan ]; then
  build=${SANITIZE_BUILD_DIR:-$PWD/build-tsan}
  if [ ! -f "$build/CMakeCache.txt" ] && command -v ninja >/dev/null; then gen=(-G Ninja); fi
  # tests/cuda/CMakeLists.txt adds -fsanitize=thread -O1 -g to the *_tsan targets only
  cmake -S . -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=None -DFINEPOSE_TSAN=ON -DFINEPOSE_CUDA=OFF \
    -DFINEPOSE_NATIVE=OFF -DFINEPOSE_BUILD_EXAMPLES=OFF -DFINEPOSE_BUILD_BENCH=OFF -DFINEPOSE_MPI=OFF >/dev/null
  # the tsan-labelled tests are named after their programs
  mapfile -t targets < <(cd "$build" && ctest -N -L tsan | sed -n 's/^ *Test *#[0-9]*: *\([A-Za-z0-9_]*\)$/\1/p')
  [ ${#targets[@]} -gt 0 ] || { echo "sanitize.sh --tsan: no tsan tests configured" >&2; exit 1; }
  cmake --build "$build" -j"$jobs" --target "${targets[@]}"
  cd "$build"
  # each test sets OMP_NUM_THREADS=1 and TSAN_OPTIONS=halt_on_error=1 itself (tests/cuda/CMakeLists.txt)
  ctest --output-on-failure -j"$jobs" -L tsan "$@"
  exit
fi
build=${SANITIZE_BUILD_DIR:-$PWD/build-sanitize}
# -g1: line tables are all the reports need, and much cheaper to compile and link than -g
flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g1 -O1"
examples=ON      # the CLI: the tests that run `finepose` (FINEPOSE_CLI) need it
[ $mode = io ] && examples=OFF   # the CLI half of test_hostile_files runs in the ordinary build
exclude="parity|consumer|tsan"
# --ci leaves these out (measured on 2 cores: ~15 min of wall to build and run
# them sanitized, which would push CI past 30 min); each is covered otherwise:
#   test_parity               the tiny official model vs PyTorch + `finepose sample`:
#                             the same loader and forward run sanitized in
#                             test_mixste_fast, test_official_four_settings,
#                             test_hostile_files and test_wild_cli (CLI infer);
#                             the Release ctest runs it unsanitized
#   test_kernel_device_model  every denoiser kernel with the emulator in OS-thread
#                             mode (minutes): its _tsan twin runs in --tsan, and
#                             the per-kernel tests check bounds under ASan here
#   test_train_loop           many optimiser steps of the step that test_train_step
#                             and test_train_grad check sanitized (longest test here)
#   test_shipped_model        the shipped model's full HumanEva-I Validate eval
#                             (22 s in Release, ~10 min under ASan on 2 cores);
#                             the same eval code runs sanitized in test_cli_eval
#                             (--max-clips) and test_baselines
ci_skip=(test_parity test_kernel_device_model test_train_loop test_shipped_model)
skip=""
[ $mode = ci ] && skip="$(IFS=';'; echo "${ci_skip[*]}")"
# Ninja builds the listed test targets side by side (make would build them one after another)
if [ ! -f "$build/CMakeCache.txt" ] && command -v ninja >/dev/null; then gen=(-G Ninja); fi
# FINEPOSE_TEST_GROUPS: a few test files to a program (tests/CMakeLists.txt), the largest cut
# in build time; FINEPOSE_TEST_EXCLUDE is always given, as the modes share the build directory
cmake -S . -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" -DFINEPOSE_CUDA=OFF -DFINEPOSE_NATIVE=OFF \
  -DFINEPOSE_BUILD_EXAMPLES=$examples -DFINEPOSE_BUILD_BENCH=OFF -DFINEPOSE_TEST_GROUPS=ON -DFINEPOSE_MPI=OFF \
  "-DFINEPOSE_TEST_EXCLUDE=$skip" >/dev/null

io_tests=(test_io_json test_io_npy test_io_pickle test_io_safetensors test_io_torch_checkpoint test_io_zip
          test_clip_tokenizer test_hostile_files test_fuzz_regressions)
if [ $mode = io ]; then
  present=()
  for t in "${io_tests[@]}"; do [ -f "tests/$t.cpp" ] && present+=("$t"); done
  cmake --build "$build" -j"$jobs" --target test_group_io
  regex="^($(IFS='|'; echo "${present[*]}"))\$"
else
  # every test program (finepose_tests, tests/CMakeLists.txt) and the CLI; not the other examples
  targets=(finepose_tests)
  [ -f examples/cli/main.cpp ] && targets+=(finepose_cli)
  cmake --build "$build" -j"$jobs" --target "${targets[@]}"
fi

# halt_on_error: the first report fails the test; leaks are reported at exit
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-}
# OpenMP worker threads are parked at exit, not joined: keep their stacks out of leak reports
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
cd "$build"
if [ $mode = io ]; then
  ctest --output-on-failure -j"$jobs" -R "$regex" "$@"
else
  ctest --output-on-failure -j"$jobs" -LE "$exclude" "$@"   # --ci's skipped files are not registered
fi
