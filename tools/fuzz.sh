#!/usr/bin/env bash
# Builds the libFuzzer programs (clang, ASan + UBSan) and runs each for a fixed
# time on a corpus seeded from the test fixtures. Any crash, sanitizer report,
# leak, out-of-memory (> FUZZ_RSS_MB) or slow input (> FUZZ_TIMEOUT s) fails.
#
#   tools/fuzz.sh                      every target, 60 s each
#   FUZZ_SECONDS=3600 tools/fuzz.sh    longer (locally)
#   tools/fuzz.sh npy json             only these targets
#   FUZZ_JOBS=4 tools/fuzz.sh          N fuzzing processes per target
#
# The corpus grows in $FUZZ_DIR/corpus/<target> (default build-fuzz/fuzz-work)
# and is kept between runs. A finding is written as $FUZZ_DIR/findings/<target>/crash-*
# (or leak-*, oom-*, timeout-*): reproduce it with build-fuzz/fuzz/fuzz_<target> FILE,
# fix the parser, then copy the file to tests/fuzz/regressions/<target>/ so that
# tests/test_fuzz_regressions.cpp replays it in every build.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
work=${FUZZ_DIR:-$build/fuzz-work}
seconds=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-1}
rss=${FUZZ_RSS_MB:-2048}
timeout=${FUZZ_TIMEOUT:-10}
all=(npy npz safetensors json model_config unpickle torch_checkpoint tokenizer_vocab)
[ -f include/finepose/wild/keypoint_input.hpp ] && all+=(keypoints_json keypoints_csv)
[ -f examples/cli/cmd_infer.hpp ] && all+=(cli_infer cli_render cli_sample cli_metrics)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")

cxx=${FUZZ_CXX:-$(command -v clang++ || command -v clang++-14 || true)}
[ -n "$cxx" ] || { echo "fuzz.sh: clang++ not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 1; }
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFINEPOSE_FUZZ=ON \
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only -DNDEBUG" \
    -DFINEPOSE_BUILD_TESTS=OFF -DFINEPOSE_BUILD_EXAMPLES=OFF -DFINEPOSE_CUDA=OFF -DFINEPOSE_NATIVE=OFF -DFINEPOSE_MPI=OFF >/dev/null
fi
cmake --build "$build" -j"$(nproc 2>/dev/null || echo 2)" --target $(printf 'fuzz_%s ' "${targets[@]}")

# Seeds: the committed fixtures of each format, members of the torch zips for
# the unpickler, and the hand-written seeds under tests/fuzz/seeds/<target>.
seed() {  # seed TARGET FILES...
  local t=$1; shift
  mkdir -p "$work/corpus/$t"
  for f in "$@"; do [ -f "$f" ] && cp -f "$f" "$work/corpus/$t/seed_$(basename "$f")"; done
  return 0
}
fx=$root/tests/fixtures
gen=$root/build/fixtures
shopt -s nullglob
for t in "${targets[@]}"; do
  case $t in
    npy) seed npy "$fx"/io/*.npy ;;
    npz) seed npz "$fx"/io/*.npz "$fx"/io/*.zip ;;
    safetensors) seed safetensors "$fx"/io/*.safetensors "$fx"/parity/*.safetensors ;;
    json) seed json "$fx"/*.json "$fx"/*/*.json ;;
    torch_checkpoint)
      small=()
      for f in "$fx"/pickle/*.pt "$fx"/pickle/*.bin "$fx"/io/*.pt "$fx"/parity/*.bin; do
        [ "$(stat -c %s "$f")" -le 262144 ] && small+=("$f")
      done
      seed torch_checkpoint "${small[@]}" ;;
    unpickle)
      seed unpickle "$fx"/pickle/*.pkl
      if command -v python3 >/dev/null; then  # data.pkl of each torch.save archive
        python3 - "$work/corpus/unpickle" "$fx"/pickle/*.pt "$fx"/pickle/*.bin "$fx"/io/*.pt <<'PY' || true
import os, sys, zipfile
out = sys.argv[1]
for p in sys.argv[2:]:
    try:
        with zipfile.ZipFile(p) as z:
            for n in z.namelist():
                if n.endswith('.pkl'):
                    open(os.path.join(out, 'seed_' + os.path.basename(p) + '_' + os.path.basename(n)), 'wb').write(z.read(n))
    except zipfile.BadZipFile:
        pass
PY
      fi ;;
    *) mkdir -p "$work/corpus/$t" ;;
  esac
  [ -d "$root/tests/fuzz/seeds/$t" ] && cp -f "$root/tests/fuzz/seeds/$t"/* "$work/corpus/$t/" 2>/dev/null || true
  [ -d "$root/tests/fuzz/regressions/$t" ] && cp -f "$root/tests/fuzz/regressions/$t"/* "$work/corpus/$t/" 2>/dev/null || true
done

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
summary=$work/summary.txt
: >"$summary"
failed=()
for t in "${targets[@]}"; do
  mkdir -p "$work/findings/$t" "$work/logs"
  log=$work/logs/$t.log
  echo "== fuzz_$t: ${seconds}s x $jobs"
  args=(-max_total_time="$seconds" -rss_limit_mb="$rss" -timeout="$timeout" -max_len="${FUZZ_MAX_LEN:-65536}"
        -artifact_prefix="$work/findings/$t/" -print_final_stats=1)
  if [ "$jobs" -gt 1 ]; then args+=(-jobs="$jobs" -workers="$jobs"); fi
  set +e
  (cd "$work/logs" && "$build/fuzz/fuzz_$t" "${args[@]}" "$work/corpus/$t") >"$log" 2>&1
  rc=$?
  set -e
  execs=$(grep -h 'stat::number_of_executed_units' "$log" "$work"/logs/fuzz-*.log 2>/dev/null | awk '{s+=$2} END {print s+0}')
  printf '%-18s rc=%d executions=%s corpus=%s\n' "$t" "$rc" "$execs" "$(ls "$work/corpus/$t" | wc -l)" | tee -a "$summary"
  if [ $rc -ne 0 ]; then
    failed+=("$t")
    grep -E 'ERROR|SUMMARY|==[0-9]+==|Test unit written|terminate called|what\(\)' "$log" | head -20 >&2
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: findings in: ${failed[*]} (see $work/findings and $work/logs)" >&2
  exit 1
fi
echo "fuzz.sh: no findings ($summary)"
