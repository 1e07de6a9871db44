// Writes a multi-person test scene: procedural walkers (made here, not taken
// from any data set) crossing in front of one camera, hiding each other,
// entering and leaving, as a detector without tracking reports them (COCO-17
// results JSON: no track ids, shuffled per frame, false-positive blips), plus
// the truth (wild/multi_person_scene.hpp).
//
//   make_demo_scene OUT_DIR [FRAMES [PERSONS]]
//   -> OUT_DIR/demo_scene_coco.json (1920x1080, intrinsics 1400,1400,960,540)
//      OUT_DIR/demo_scene_truth.npz: poses_3d (P,F,17,3) mm root-relative, root_3d (P,F,3) mm camera
//      space, present (P,F) the frames the detector reported the person, track_ids (P,)
#include <cstdio>
#include <cstdlib>
#include <string>

#include "finepose/io/npz.hpp"
#include "finepose/wild/multi_person_scene.hpp"

int main(int argc, char** argv) {
  using namespace finepose;
  if (argc < 2 || argc > 4) {
    std::fprintf(stderr, "usage: make_demo_scene OUT_DIR [FRAMES [PERSONS]]\n");
    return 2;
  }
  try {
    wild::WalkerSceneOptions o;
    if (argc >= 3) o.frames = std::atoll(argv[2]);
    if (argc >= 4) o.persons = std::atoll(argv[3]);
    const wild::WalkerScene sc = wild::make_walker_scene(o);  // checks the ranges
    const std::string dir = argv[1];
    io::write_file(dir + "/demo_scene_coco.json", wild::detections_coco_json(sc.detections));
    const int64_t P = int64_t(sc.persons.size()), F = o.frames;
    TensorF rel({P, F, 17, 3}), root({P, F, 3});
    Tensor<uint8_t> present({P, F});
    std::vector<int64_t> ids;
    for (int64_t p = 0; p < P; ++p) {
      const auto& sp = sc.persons[size_t(p)];
      ids.push_back(p);
      for (int64_t f = 0; f < F; ++f) {
        present(p, f) = uint8_t(sp.detected[size_t(f)]);
        for (int c = 0; c < 3; ++c) root(p, f, c) = float(sp.camera_mm(f, 0, c));
        for (int j = 0; j < 17; ++j)
          for (int c = 0; c < 3; ++c) rel(p, f, j, c) = float(sp.camera_mm(f, j, c) - sp.camera_mm(f, 0, c));
      }
    }
    io::NpzMap m;
    m["poses_3d"] = io::from_tensor(rel);
    m["root_3d"] = io::from_tensor(root);
    io::NdArray pr = io::from_tensor(present);
    pr.dtype = io::DType::boolean;
    m["present"] = pr;
    m["track_ids"] = io::from_vector(ids);
    io::save_npz(dir + "/demo_scene_truth.npz", m);
    std::printf("wrote %s/demo_scene_coco.json (%lld persons, %lld frames, %zu detections without ids, %dx%d pixels, "
                "intrinsics %.0f,%.0f,%.0f,%.0f) and demo_scene_truth.npz\n",
                dir.c_str(), (long long)P, (long long)F, sc.detections.dets.size(), o.width, o.height, sc.intrinsics.fx,
                sc.intrinsics.fy, sc.intrinsics.cx, sc.intrinsics.cy);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_demo_scene: error: %s\n", e.what());
    return 1;
  }
}
