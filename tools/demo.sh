#!/usr/bin/env bash
# The demo (the README's first command): builds the CLI, makes a procedural
# walking person filmed by a pinhole camera (our own code, no data set), lifts
# its 2D keypoints to 3D with the model shipped in models/, scores the result
# against the procedural 3D truth, and draws it. The files in OUT_DIR are the
# demo's own: a rerun replaces them (--overwrite).
#   bash tools/demo.sh [OUT_DIR]        (default: out/demo)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out/demo}
# without --model, infer uses the shipped default model (include/finepose/model/default_model.hpp);
# FINEPOSE_DEMO_MODEL=FILE runs the demo with another
model_args=()
[ -n "${FINEPOSE_DEMO_MODEL:-}" ] && model_args=(--model "$FINEPOSE_DEMO_MODEL")
bash tools/install_deps.sh --runtime
cmake -S . -B build-demo -DCMAKE_BUILD_TYPE=Release -DFINEPOSE_BUILD_TESTS=OFF -DFINEPOSE_CUDA=OFF >/dev/null
cmake --build build-demo -j"$(nproc)" --target finepose_cli example_make_demo_walk example_make_demo_scene
fp=build-demo/bin/finepose
mkdir -p "$out"
build-demo/make_demo_walk "$out" 300
"$fp" infer "${model_args[@]}" --keypoints "$out/demo_walk_coco.json" --width 1000 --height 1000 \
  --intrinsics 1145,1145,500,500 --action Walking --hypotheses 5 --steps 2 --flip --keep-hypotheses --overwrite --out "$out/poses.npz"
"$fp" infer "${model_args[@]}" --keypoints "$out/demo_walk_coco.json" --width 1000 --height 1000 \
  --intrinsics 1145,1145,500,500 --action Walking --hypotheses 5 --steps 2 --flip --quiet --overwrite --out "$out/poses.csv"
echo "--- against the procedural 3D truth (root-relative, mm):"
"$fp" metrics --pred "$out/poses.npz" --target "$out/demo_walk_truth.npz"
"$fp" render --poses "$out/poses.npz" --keypoints "$out/demo_walk_coco.json" --out "$out/demo.gif" --quiet --overwrite
echo "--- every person: four walkers crossing, no track ids in the file (tracked, then lifted together)"
build-demo/make_demo_scene "$out"
"$fp" infer "${model_args[@]}" --keypoints "$out/demo_scene_coco.json" --width 1920 --height 1080 \
  --intrinsics 1400,1400,960,540 --persons all --overwrite --out "$out/scene.npz"
"$fp" render --poses "$out/scene.npz" --out "$out/scene.gif" --quiet --overwrite
echo "wrote $out/poses.npz, $out/poses.csv, $out/demo.gif, $out/scene.npz and $out/scene.gif"
