#!/usr/bin/env bash
# The accuracy table of --precision (bench/RESULTS.md, README "Reduced precision"):
#   1. the parity presets (tests/fixtures/parity: official weights layout, replayed
#      noise, K=3 H=2): rel L2 of poses_3d against finepose fp32 and against PyTorch;
#   2. the paper-size model with random weights (finepose bench): one denoiser call,
#      rel L2 against fp32;
#   3. the shipped model on HumanEva-I Validate with the model card's eval command:
#      MPJPE / P-MPJPE (J-Agg) per precision and the change against fp32.
# usage: tools/precision_accuracy.sh [BUILD_DIR] [DATA_DIR] [OUT_DIR]   (defaults: build ../shared/data out/precision)
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}; DATA=${2:-../shared/data}; OUT=${3:-out/precision}
FP="$B/bin/finepose"; PY=/usr/bin/python3
[ -x "$FP" ] || { echo "precision_accuracy.sh: no $FP (build the CLI first)" >&2; exit 1; }
mkdir -p "$OUT"
PAR=tests/fixtures/parity
echo '{"heads": 4, "clip_heads": 2, "encoder_heads": 2}' > "$OUT/tiny_config.json"
for preset in tiny 3dhp_tiny; do
  act=(); [ "$preset" = tiny ] && act=(--action Walking)
  for p in fp32 bf16 int8; do
    rm -f "$OUT/${preset}_$p.npz"
    "$FP" sample --model "$PAR/$preset.bin" --config "$OUT/tiny_config.json" --input "$PAR/${preset}_input.npz" \
      --noise "$PAR/${preset}_noise.npz" --hypotheses 2 --steps 3 "${act[@]}" --precision "$p" --quiet --threads 2 \
      --out "$OUT/${preset}_$p.npz"
  done
  "$PY" - "$OUT" "$preset" "$PAR" <<'PY'
import sys, numpy as np
out, preset, par = sys.argv[1:]
f32 = np.load(f"{out}/{preset}_fp32.npz")["poses_3d"].astype(np.float64)
torch = np.load(f"{par}/{preset}_expected.npz")["poses_3d"].astype(np.float64)
rel = lambda a, b: float(np.linalg.norm(a - b) / np.linalg.norm(b))
for p in ("fp32", "bf16", "int8"):
    x = np.load(f"{out}/{preset}_{p}.npz")["poses_3d"].astype(np.float64)
    print(f"preset {preset:9s} {p}: rel L2 vs finepose fp32 {rel(x, f32):.2e}, vs PyTorch fp32 {rel(x, torch):.2e}")
PY
done
for p in bf16 int8; do
  "$FP" bench --precision "$p" --steps 0 --gemm 0 --repeats 1 --threads 2 --json > "$OUT/bench_$p.json"
  "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); print(f'paper-size random model (depth 8, 243 frames) {sys.argv[2]}: denoiser rel L2 vs fp32 {d[\"denoiser_rel_l2_vs_fp32\"]:.2e}')" "$OUT/bench_$p.json" "$p"
done
MODEL=${FINEPOSE_MODEL:-models/finepose_small_h36m17.safetensors}
if [ -e "$DATA/humaneva_i_h36m17.npz" ] || [ -e "$DATA/humaneva/humaneva_i_h36m17.npz" ]; then
  for p in fp32 bf16 int8; do
    "$FP" eval --model "$MODEL" --dataset humaneva --data "$DATA" --hypotheses 5 --steps 2 --flip --precision "$p" \
      --quiet --json > "$OUT/eval_humaneva_$p.json"
  done
  "$PY" - "$OUT" <<'PY'
import sys, json
out = sys.argv[1]
def avg(p, setting, metric):
    return json.load(open(f"{out}/eval_humaneva_{p}.json"))["settings"][setting][metric]["average"]
print("HumanEva-I Validate (shipped model, the model card's eval command), mm; change against fp32 in brackets:")
print("| precision | " + " | ".join(f"{s} MPJPE | {s} P-MPJPE" for s in ("J-Agg", "P-Agg")) + " | largest change |")
print("|---|---|---|---|---|---|")
for p in ("fp32", "bf16", "int8"):
    cells, worst = [], 0.0
    for setting in ("j_agg", "p_agg"):
        for metric in ("mpjpe", "p_mpjpe"):
            v, ref = avg(p, setting, metric), avg("fp32", setting, metric)
            worst = max(worst, abs(v - ref))
            cells.append(f"{v:.3f}" if p == "fp32" else f"{v:.3f} ({v - ref:+.3f})")
    verdict = "" if p == "fp32" else (" (over 0.5 mm: not a default)" if worst > 0.5 else " (within 0.5 mm)")
    print(f"| {p} | " + " | ".join(cells) + f" | {worst:.3f}{verdict} |")
PY
else
  echo "HumanEva-I data not under $DATA: skipped the eval rows"
fi
