// finepose quickstart: 2D keypoints in, 3D poses out, in three calls.
//
//   quickstart MODEL.safetensors [KEYPOINTS.json WIDTH HEIGHT]
//
// Without a keypoint file it lifts a procedural walking person (made by the
// library's demo generator, projected into a 1000x1000 image).
#include <cstdio>
#include <cstdlib>

#include <finepose/finepose.hpp>
#include <finepose/wild/demo_walk.hpp>

int main(int argc, char** argv) {
  if (argc != 2 && argc != 5) {
    std::fprintf(stderr, "usage: quickstart MODEL.safetensors [KEYPOINTS.json WIDTH HEIGHT]\n");
    return 2;
  }
  try {
    // 1. load: an official checkpoint or a finepose .safetensors file
    finepose::Model model = finepose::load(argv[1]);

    // 2. lift: (F, 17, 3) pixels + scores in Human3.6M order, from a detector file or the demo walk
    finepose::Tensor<double> keypoints;
    int width = 1000, height = 1000;
    if (argc == 5) {
      keypoints = finepose::read_keypoints(argv[2]).kp;  // COCO / MMPose / OpenPose / CSV / npz
      width = std::atoi(argv[3]), height = std::atoi(argv[4]);
    } else {
      const auto walk = finepose::wild::make_demo_walk();
      keypoints = finepose::pose::to_h36m17(walk.coco_px, finepose::pose::KeypointLayout::coco17);
    }
    finepose::LiftOptions options;
    options.action = "Walking";  // one of the 15 Human3.6M labels, or "auto"
    options.hypotheses = 5;
    finepose::Lifted result = model.lift(keypoints, width, height, options);

    const auto& p = result.poses;  // (F, 17, 3) millimetres, root-relative
    std::printf("%lld frames lifted; frame 0 right ankle (mm): %.1f %.1f %.1f\n", (long long)p.size(0), p(0, 3, 0), p(0, 3, 1),
                p(0, 3, 2));
    for (const auto& note : result.notes) std::printf("note: %s\n", note.c_str());

    // 3. free (or simply let the model go out of scope)
    finepose::release(model);
  } catch (const finepose::Error& e) {
    std::fprintf(stderr, "quickstart: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
