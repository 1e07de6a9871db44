#!/usr/bin/env bash
# Short training runs of several model sizes on the wide data pipeline (issue 15,
# "a bigger model, chosen by measurement"). Two protocols:
#   - the same number of batches for every size: EPOCHS x BATCHES batches of 4 chunks;
#   - the same wall-clock budget for every size (BUDGET_S=seconds): each size trains
#     epochs of BATCHES batches until the budget runs out (the unfinished epoch is
#     dropped), which answers "what does a size reach on 2 cores in this time".
# The table gives the held-out MPJPE (the selection figure) against cumulative training
# seconds, with HumanEva-I Validate beside it (reported, never chosen by; VALIDATE_FRAMES
# of it, evenly spaced sequences, to keep validation cheap).
#
#   tools/size_study.sh [OUT_DIR]        (default out/size_study; EPOCHS=3 BATCHES=300)
#   BUDGET_S=480 BATCHES=100 tools/size_study.sh out/size_study_8min
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out/size_study}
epochs=${EPOCHS:-3}
batches=${BATCHES:-300}
budget=${BUDGET_S:-0}
vframes=${VALIDATE_FRAMES:-3000}
hframes=${HELDOUT_FRAMES:-5000}
bin=${FINEPOSE:-build/bin/finepose}
data=${DATA:-../shared/data}
[ "$budget" -gt 0 ] && epochs=100000
mkdir -p "$out"
# name depth dim heads frames
# (SIZES="name depth dim heads frames;..." replaces the list)
sizes=("d2w64f27 2 64 4 27" "d4w128f27 4 128 8 27" "d4w128f81 4 128 8 81" "d6w192f81 6 192 8 81")
if [ -n "${SIZES:-}" ]; then IFS=';' read -r -a sizes <<<"$SIZES"; fi
for s in "${sizes[@]}"; do
  read -r name depth dim heads frames <<<"$s"
  cfg="$out/$name.json"
  printf '{"model": {"depth": %d, "dim": %d, "heads": %d, "mlp_hidden": %d, "frames": %d}, "epochs": %d, "max_batches": %d}\n' \
    "$depth" "$dim" "$heads" $((2 * dim)) "$frames" "$epochs" "$batches" >"$cfg"
  if [ "$budget" -eq 0 ] && [ -f "$out/$name/log.tsv" ] && [ "$(wc -l <"$out/$name/log.tsv")" -gt "$epochs" ]; then continue; fi
  cmd=("$bin" train --preset base --config "$cfg" --data "$data" --out "$out/$name" --heldout-frames "$hframes"
       --validate-frames "$vframes" --quiet --force)
  if [ "$budget" -gt 0 ]; then
    rc=0
    timeout -s INT "$budget" "${cmd[@]}" >"$out/$name.log" 2>&1 || rc=$?
    # 124: the budget ran out (the expected end)
    [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ] || { echo "size_study: $name failed (rc $rc), see $out/$name.log" >&2; exit 1; }
  else
    "${cmd[@]}" >"$out/$name.log" 2>&1
  fi
done
echo "size  epoch  train_s(cum)  heldout_mpjpe_mm  humaneva_validate_mpjpe_mm"
for s in "${sizes[@]}"; do
  read -r name _ <<<"$s"
  awk -v n="$name" 'NR > 1 { t += $6; printf "%-10s %3d %10.0f %10.1f %10.1f\n", n, $1, t, $5, $4 }' "$out/$name/log.tsv"
done
