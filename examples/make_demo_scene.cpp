// Writes a multi-person test scene: procedural walkers (made here, not taken
// from any data set) or, with --mocap, captured people from ../shared/data
// (held-out clips, train::scene_clips), crossing in front of one camera, hiding
// each other, entering and leaving, as a detector without tracking reports them
// (COCO-17 results JSON: no track ids, shuffled per frame, false-positive
// blips), plus the truth (wild/multi_person_scene.hpp).
//
//   make_demo_scene OUT_DIR [FRAMES [PERSONS]] [--mocap DATA_DIR]
//   -> OUT_DIR/demo_scene_coco.json (1920x1080, intrinsics 1400,1400,960,540)
//      OUT_DIR/demo_scene_truth.npz: poses_3d (P,F,17,3) mm root-relative, root_3d (P,F,3) mm camera
//      space, present (P,F) the frames the detector reported the person, track_ids (P,)
#include <cstdio>
#include <cstdlib>
#include <string>

#include "finepose/io/npz.hpp"
#include "finepose/train/mocap_pool.hpp"
#include "finepose/wild/mocap_body.hpp"
#include "finepose/wild/multi_person_scene.hpp"

int main(int argc, char** argv) {
  using namespace finepose;
  std::vector<std::string> pos;
  std::string mocap;
  for (int i = 1; i < argc; ++i) {
    const std::string s = argv[i];
    if (s == "--mocap" && i + 1 < argc) mocap = argv[++i];
    else pos.push_back(s);
  }
  if (pos.empty() || pos.size() > 3) {
    std::fprintf(stderr, "usage: make_demo_scene OUT_DIR [FRAMES [PERSONS]] [--mocap DATA_DIR]\n");
    return 2;
  }
  try {
    wild::WalkerSceneOptions o;
    if (pos.size() >= 2) o.frames = std::atoll(pos[1].c_str());
    if (pos.size() >= 3) o.persons = std::atoll(pos[2].c_str());
    if (!mocap.empty()) {
      FINEPOSE_CHECK(o.frames > 0 && o.frames <= 100000, "frames out of range");
      const train::MocapPool pool = train::load_mocap_pool(mocap);
      for (const train::MocapClip* c : train::scene_clips(pool)) {
        if (int64_t(o.bodies.size()) == o.persons) break;
        o.bodies.push_back(wild::mocap_body_motion(c->world.data(), c->world.size(0), c->fps, 50, o.frames));
        std::printf("person %zu: %s %s\n", o.bodies.size() - 1, c->name.c_str(), c->motion.c_str());
      }
      FINEPOSE_CHECK(int64_t(o.bodies.size()) == o.persons, mocap, ": ", o.bodies.size(), " held-out mocap clips for the scene, ",
                     o.persons, " wanted (cmu_mocap_h36m17.npz / bandai_namco_h36m17.npz)");
    }
    const wild::WalkerScene sc = wild::make_walker_scene(o);  // checks the ranges
    const std::string dir = pos[0];
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
