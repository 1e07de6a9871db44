#!/usr/bin/env bash
# Short training runs of several model sizes on the wide data pipeline (issue 15,
# "a bigger model, chosen by measurement"): each runs EPOCHS x BATCHES batches of
# 4 chunks, and the table gives the held-out MPJPE (the selection figure) against
# training seconds, with HumanEva-I Validate beside it (reported, never chosen by).
#
#   tools/size_study.sh [OUT_DIR]        (default out/size_study; EPOCHS=3 BATCHES=300)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out/size_study}
epochs=${EPOCHS:-3}
batches=${BATCHES:-300}
bin=${FINEPOSE:-build/bin/finepose}
data=${DATA:-../shared/data}
mkdir -p "$out"
# name depth dim heads frames
sizes=("d2w64f27 2 64 4 27" "d4w128f27 4 128 8 27" "d4w128f81 4 128 8 81" "d6w192f81 6 192 8 81")
for s in "${sizes[@]}"; do
  read -r name depth dim heads frames <<<"$s"
  cfg="$out/$name.json"
  printf '{"model": {"depth": %d, "dim": %d, "heads": %d, "mlp_hidden": %d, "frames": %d}, "epochs": %d, "max_batches": %d}\n' \
    "$depth" "$dim" "$heads" $((2 * dim)) "$frames" "$epochs" "$batches" >"$cfg"
  if [ -f "$out/$name/log.tsv" ] && [ "$(wc -l <"$out/$name/log.tsv")" -gt "$epochs" ]; then continue; fi
  "$bin" train --preset base --config "$cfg" --data "$data" --out "$out/$name" --heldout-frames 5000 --quiet --force \
    >"$out/$name.log" 2>&1
done
echo "size  epoch  train_s(cum)  heldout_mpjpe_mm  humaneva_validate_mpjpe_mm"
for s in "${sizes[@]}"; do
  read -r name _ <<<"$s"
  awk -v n="$name" 'NR > 1 { t += $6; printf "%-10s %3d %10.0f %10.1f %10.1f\n", n, $1, t, $5, $4 }' "$out/$name/log.tsv"
done
