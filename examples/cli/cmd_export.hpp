#pragma once
// finepose export --poses out.npz --out motion.bvh: a lifted sequence (infer's
// npz) as a BVH animation (pose/bvh.hpp): fixed skeleton, fitted rotations,
// the camera-space trajectory when the npz has root_3d.
#include <sys/stat.h>

#include <cstdio>
#include <string>

#include "args.hpp"
#include "finepose/io/file.hpp"
#include "finepose/io/npz.hpp"
#include "finepose/pose/bvh.hpp"

namespace finepose::cli {

inline int cmd_export(int argc, char** argv) {
  Args a("export", "--poses out.npz --out motion.bvh [--fps N] [--up y|z] [--person I]",
         {{"poses", "FILE", "infer's npz: poses_3d (F,17,3) or (P,F,17,3) mm, H36M-17; the root from trajectory (F,3) or root_3d (F,3) / (P,F,3) when written with --intrinsics"},
          {"out", "FILE", ".bvh"},
          {"fps", "N", "frame rate of the video (default 30): the BVH's frame time"},
          {"up", "y|z", "the up axis of the BVH (default y, Blender's BVH import default; z for Z-up tools)"},
          {"person", "I", "with a multi-person npz: which person (index into track_ids, default 0)"},
          {"quiet", "", "print nothing on success"}});
  for (auto& o : overwrite_options("FILE")) a.add(o);
  std::string in_path, out_path;
  pose::BvhOptions o;
  int64_t person = 0;
  try {
    if (!a.parse(argc, argv)) return 0;
    FINEPOSE_CHECK(a.positional().empty(), "export: unexpected argument '", a.positional().empty() ? "" : a.positional()[0], "'");
    in_path = a.require("poses");
    out_path = a.require("out");
    FINEPOSE_CHECK(out_path.size() > 4 && out_path.compare(out_path.size() - 4, 4, ".bvh") == 0,
                   "export: --out must name a .bvh file, got '", out_path, "'");
    o.fps = a.get_double_in("fps", 30, 0.01, 10000);
    const std::string up = a.get("up", "y");
    FINEPOSE_CHECK(up == "y" || up == "z", "export: --up must be y or z, got '", up, "'");
    o.z_up = up == "z";
    person = a.get_int_in("person", 0, 0, 1 << 20);
  } catch (const Error& e) {
    std::fprintf(stderr, "finepose export: usage error: %s\n", e.what());
    return 2;
  }
  io::check_output_path("export", out_path, {in_path});
  check_output_free(a, "export", out_path);
  const io::NpzMap z = io::load_npz(in_path);
  auto it = z.find("poses_3d");
  FINEPOSE_CHECK(it != z.end(), "export: '", in_path, "' has no poses_3d (write it with finepose infer --out FILE.npz)");
  TensorF poses = io::to_tensor<float>(it->second, in_path + ": poses_3d");
  // the camera-space root: root_3d (--persons all, and older files) or trajectory (one person)
  TensorF root;
  const std::string root_key = z.count("root_3d") ? "root_3d" : z.count("trajectory") ? "trajectory" : "";
  if (!root_key.empty()) root = io::to_tensor<float>(z.at(root_key), in_path + ": " + root_key);
  if (poses.dim() == 4) {
    FINEPOSE_CHECK(person < poses.size(0), "export: --person ", person, " but '", in_path, "' holds ", poses.size(0), " persons");
    poses = poses.slice(0, person, person + 1).contiguous().reshape({poses.size(1), poses.size(2), poses.size(3)});
    if (root.defined()) {
      FINEPOSE_CHECK(root.dim() == 3 && root.size(0) > person, "export: ", root_key, " ", shape_str(root.shape()), " does not match poses_3d");
      root = root.slice(0, person, person + 1).contiguous().reshape({root.size(1), root.size(2)});
    }
  } else {
    FINEPOSE_CHECK(!a.has("person") || person == 0, "export: --person ", person, " but '", in_path, "' holds one person");
  }
  const pose::BvhMotion m = pose::fit_bvh(poses, root, o);
  io::write_file(out_path, pose::write_bvh(m), existing_of(a));
  if (!a.has("quiet"))
    std::printf("wrote %s: %lld frames at %g fps, 17 joints (%s up), bones at their median lengths; fitted positions within %.2f mm "
                "of the input on average%s\n",
                out_path.c_str(), (long long)m.frames, m.fps, o.z_up ? "Z" : "Y", m.fit_error_mm,
                root.defined() ? ("; the root moves along " + root_key).c_str() : "");
  return 0;
}

}  // namespace finepose::cli
