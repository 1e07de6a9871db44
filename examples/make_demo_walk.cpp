// Writes the demo's input: a procedural walking person (made here, not taken
// from any data set) filmed by a pinhole camera, as a detector would report it
// (COCO-17 results JSON), plus its ground-truth 3D in camera coordinates.
//
//   make_demo_walk OUT_DIR [FRAMES]
//   -> OUT_DIR/demo_walk_coco.json, OUT_DIR/demo_walk_truth.npz (poses_3d (F,17,3) mm, root-relative)
#include <cstdio>
#include <cstdlib>
#include <string>

#include "finepose/io/npz.hpp"
#include "finepose/wild/demo_walk.hpp"

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: make_demo_walk OUT_DIR [FRAMES]\n");
    return 2;
  }
  try {
    finepose::wild::DemoWalkOptions o;
    if (argc == 3) o.frames = std::atoll(argv[2]);
    if (o.frames < 1 || o.frames > 100000) finepose::fail("FRAMES must be in 1..100000");
    const auto w = finepose::wild::make_demo_walk(o);
    const std::string dir = argv[1];
    finepose::io::write_file(dir + "/demo_walk_coco.json", finepose::wild::demo_walk_coco_json(w));
    finepose::Tensor<double> rel = w.camera_mm.clone();
    for (int64_t f = 0; f < rel.size(0); ++f)
      for (int64_t j = 16; j >= 0; --j)
        for (int c = 0; c < 3; ++c) rel(f, j, c) -= rel(f, 0, c);
    finepose::io::NpzMap m;
    m["poses_3d"] = finepose::io::from_tensor(rel.cast<float>());
    finepose::io::save_npz(dir + "/demo_walk_truth.npz", m);
    std::printf("wrote %s/demo_walk_coco.json (%lld frames, %dx%d pixels, focal %.0f) and demo_walk_truth.npz\n",
                dir.c_str(), (long long)o.frames, o.width, o.height, o.focal);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_demo_walk: error: %s\n", e.what());
    return 1;
  }
}
