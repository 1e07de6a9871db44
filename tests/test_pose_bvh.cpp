// BVH export (pose/bvh.hpp, finepose export): the written file read back by a
// reader of its own here (a plain BVH parser and forward kinematics that know
// nothing of the writer but the format) gives the fitted positions within 1 mm;
// the fit itself is close to the input; angles do not flip between frames; and
// Blender's own importer, where Blender is installed.
#include <doctest/doctest.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "finepose/io/file.hpp"
#include "finepose/io/npz.hpp"
#include "finepose/pose/bvh.hpp"
#include "finepose/wild/demo_walk.hpp"
#include "cli_run.hpp"

using namespace finepose;
namespace fs = std::filesystem;

namespace {

// ---- an independent BVH reader ------------------------------------------------
struct BvhJoint {
  std::string name;
  int parent = -1;
  double offset[3] = {0, 0, 0};
  std::vector<std::string> channels;
};
struct BvhFile {
  std::vector<BvhJoint> joints;
  std::vector<std::vector<double>> frames;
  double frame_time = 0;
};

BvhFile read_bvh_text(const std::string& text) {
  std::istringstream in(text);
  BvhFile b;
  std::string tok;
  std::vector<int> stack;
  bool end_site = false;
  int depth_at_end = 0;
  in >> tok;
  REQUIRE(tok == "HIERARCHY");
  while (in >> tok) {
    if (tok == "ROOT" || tok == "JOINT") {
      BvhJoint j;
      in >> j.name;
      j.parent = stack.empty() ? -1 : stack.back();
      b.joints.push_back(j);
    } else if (tok == "End") {
      in >> tok;  // Site
      end_site = true;
    } else if (tok == "{") {
      if (end_site) ++depth_at_end;
      else stack.push_back(int(b.joints.size()) - 1);
    } else if (tok == "}") {
      if (depth_at_end > 0) --depth_at_end, end_site = false;
      else stack.pop_back();
    } else if (tok == "OFFSET") {
      double o[3];
      in >> o[0] >> o[1] >> o[2];
      if (!end_site) std::copy(o, o + 3, b.joints.back().offset);
    } else if (tok == "CHANNELS") {
      int n;
      in >> n;
      for (int i = 0; i < n; ++i) in >> tok, b.joints.back().channels.push_back(tok);
    } else if (tok == "MOTION") {
      break;
    }
  }
  int frames = 0;
  in >> tok >> frames;  // Frames: N
  in >> tok >> tok >> b.frame_time;  // Frame Time: t
  size_t nch = 0;
  for (const auto& j : b.joints) nch += j.channels.size();
  for (int f = 0; f < frames; ++f) {
    std::vector<double> v(nch);
    for (auto& x : v) in >> x;
    b.frames.push_back(v);
  }
  return b;
}

using Mat = std::array<double, 9>;
Mat matmul(const Mat& a, const Mat& b) {
  Mat c{};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 3; ++k) c[size_t(i * 3 + j)] += a[size_t(i * 3 + k)] * b[size_t(k * 3 + j)];
  return c;
}
Mat axis_rotation(char axis, double deg) {
  const double r = deg * M_PI / 180, c = std::cos(r), s = std::sin(r);
  if (axis == 'X') return {1, 0, 0, 0, c, -s, 0, s, c};
  if (axis == 'Y') return {c, 0, s, 0, 1, 0, -s, 0, c};
  return {c, -s, 0, s, c, 0, 0, 0, 1};
}

// World positions of every joint in frame f: each joint = parent's position +
// parent's rotation * offset; rotation = parent's * the channels in file order.
std::vector<std::array<double, 3>> forward_kinematics(const BvhFile& b, size_t f) {
  std::vector<std::array<double, 3>> pos(b.joints.size());
  std::vector<Mat> rot(b.joints.size());
  size_t c = 0;
  for (size_t j = 0; j < b.joints.size(); ++j) {
    const BvhJoint& J = b.joints[j];
    Mat r = J.parent < 0 ? Mat{1, 0, 0, 0, 1, 0, 0, 0, 1} : rot[size_t(J.parent)];
    std::array<double, 3> p{};
    if (J.parent >= 0) {
      const Mat& pr = rot[size_t(J.parent)];
      for (int i = 0; i < 3; ++i)
        p[size_t(i)] = pos[size_t(J.parent)][size_t(i)] + pr[size_t(i * 3)] * J.offset[0] + pr[size_t(i * 3 + 1)] * J.offset[1] +
                       pr[size_t(i * 3 + 2)] * J.offset[2];
    } else {
      for (int i = 0; i < 3; ++i) p[size_t(i)] = J.offset[i];
    }
    for (const std::string& ch : J.channels) {
      const double v = b.frames[f][c++];
      if (ch == "Xposition") p[0] += v;
      else if (ch == "Yposition") p[1] += v;
      else if (ch == "Zposition") p[2] += v;
      else r = matmul(r, axis_rotation(ch[0], v));
    }
    pos[j] = p;
    rot[j] = r;
  }
  return pos;
}

// A walk in camera space with its trajectory: the procedural walker (fixed bones)
struct Walk {
  TensorF poses, root;
};
Walk walk(int64_t F) {
  wild::DemoWalkOptions o;
  o.frames = F;
  const wild::DemoWalk w = wild::make_demo_walk(o);
  Walk r;
  r.poses = TensorF({F, 17, 3});
  r.root = TensorF({F, 3});
  for (int64_t f = 0; f < F; ++f)
    for (int j = 0; j < 17; ++j)
      for (int k = 0; k < 3; ++k) {
        r.poses(f, j, k) = float(w.camera_mm(f, j, k) - w.camera_mm(f, 0, k));
        if (j == 0) r.root(f, k) = float(w.camera_mm(f, 0, k));
      }
  return r;
}

// the fitted positions (camera axes) in the BVH's axes
std::array<double, 3> to_bvh_axes(const TensorF& fitted, int64_t f, int j, bool z_up) {
  const double x = fitted(f, j, 0), y = fitted(f, j, 1), z = fitted(f, j, 2);
  return z_up ? std::array<double, 3>{x, z, -y} : std::array<double, 3>{x, -y, -z};
}

}  // namespace

TEST_CASE("BVH: read back by an independent reader, forward kinematics gives the fitted positions within 1 mm") {
  const Walk w = walk(120);
  for (bool z_up : {false, true}) {
    pose::BvhOptions o;
    o.fps = 50, o.z_up = z_up;
    const pose::BvhMotion m = pose::fit_bvh(w.poses, w.root, o);
    MESSAGE((z_up ? "Z up" : "Y up"), ": fit error ", m.fit_error_mm, " mm");
    CHECK(m.fit_error_mm < 1.0);  // the walker's bones are fixed: the fit is all but exact
    const BvhFile b = read_bvh_text(pose::write_bvh(m));
    REQUIRE(b.joints.size() == 17);
    REQUIRE(b.frames.size() == 120);
    CHECK(b.frame_time == doctest::Approx(0.02));
    double worst = 0;
    for (size_t f = 0; f < b.frames.size(); ++f) {
      const auto pos = forward_kinematics(b, f);
      for (size_t j = 0; j < 17; ++j) {
        // the file's joints are named; map them to H36M order by name
        int h = -1;
        for (int k = 0; k < 17; ++k)
          if (m.names[size_t(k)] == b.joints[j].name) h = k;
        REQUIRE(h >= 0);
        const auto e = to_bvh_axes(m.fitted, int64_t(f), h, z_up);
        worst = std::max(worst, std::hypot(pos[j][0] - e[0], pos[j][1] - e[1], pos[j][2] - e[2]));
      }
    }
    MESSAGE("worst FK vs fitted: ", worst, " mm");
    CHECK(worst < 1.0);
    // up is up: the head above the feet in the file's up axis
    const auto pos = forward_kinematics(b, 0);
    const int upa = z_up ? 2 : 1;
    CHECK(pos[10][size_t(upa)] - pos[3][size_t(upa)] > 1000);
  }
}

TEST_CASE("BVH: no flips between frames; real-looking input (noisy bones) fits within a few mm") {
  Walk w = walk(200);
  const TensorF n = NormalStream(4, 4).normal({200, 17, 3});
  for (int64_t i = 0; i < w.poses.numel(); ++i)
    if (i % 51 >= 3) w.poses.data()[i] += 5 * n.data()[i];  // 5 mm of noise per coordinate, root kept at 0
  const pose::BvhMotion m = pose::fit_bvh(w.poses, w.root);
  MESSAGE("fit error with 5 mm noise: ", m.fit_error_mm, " mm");
  CHECK(m.fit_error_mm < 15);
  double max_step = 0;
  for (int64_t f = 1; f < 200; ++f)
    for (int j = 0; j < 17; ++j)
      for (int k = 0; k < 3; ++k) {
        double d = std::fabs(m.euler[size_t(f)][size_t(j)][size_t(k)] - m.euler[size_t(f - 1)][size_t(j)][size_t(k)]);
        d = std::min(d, 360 - d);
        max_step = std::max(max_step, d);
      }
  MESSAGE("largest angle change between frames: ", max_step, " degrees");
  CHECK(max_step < 30);
  // bad input
  CHECK_THROWS_AS(pose::fit_bvh(TensorF({10, 16, 3}), TensorF()), Error);
  TensorF nan = w.poses.clone();
  nan.data()[100] = std::nanf("");
  CHECK_THROWS_WITH_AS(pose::fit_bvh(nan, TensorF()), doctest::Contains("not a position"), Error);
  CHECK_THROWS_AS(pose::fit_bvh(w.poses, TensorF({3, 3})), Error);
}

TEST_CASE("finepose export: an infer npz to BVH; refuses to overwrite, bad flags and files named") {
  if (!test::have_cli() || !fs::exists(FINEPOSE_CLI)) {
    MESSAGE("skipped: the finepose CLI is not built");
    return;
  }
  const fs::path dir = fs::temp_directory_path() / ("finepose_bvh_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const Walk w = walk(60);
  io::NpzMap z;
  z["poses_3d"] = io::from_tensor(w.poses);
  z["root_3d"] = io::from_tensor(w.root);
  io::save_npz((dir / "p.npz").string(), z);
  const std::string out = (dir / "m.bvh").string();
  test::CliRun r = test::run_cli("export --poses " + (dir / "p.npz").string() + " --out " + out + " --fps 25");
  REQUIRE_MESSAGE(r.rc == 0, r.out);
  CHECK(r.out.find("60 frames at 25 fps") != std::string::npos);
  const BvhFile b = read_bvh_text(io::read_text_file(out));
  CHECK(b.frames.size() == 60);
  CHECK(b.frame_time == doctest::Approx(0.04));
  // the root moves along root_3d (Y up: camera z forward is -Z)
  CHECK(b.frames[0][2] == doctest::Approx(-w.root(0, 2)).epsilon(1e-4));
  // infer's single-person npz names it trajectory (F, 3): the same BVH
  io::NpzMap zt;
  zt["poses_3d"] = io::from_tensor(w.poses);
  zt["trajectory"] = io::from_tensor(w.root);
  io::save_npz((dir / "t.npz").string(), zt);
  r = test::run_cli("export --poses " + (dir / "t.npz").string() + " --out " + (dir / "t.bvh").string() + " --fps 25");
  REQUIRE_MESSAGE(r.rc == 0, r.out);
  CHECK(r.out.find("along trajectory") != std::string::npos);
  CHECK(io::read_text_file((dir / "t.bvh").string()) == io::read_text_file(out));
  r = test::run_cli("export --poses " + (dir / "p.npz").string() + " --out " + out);
  CHECK(r.rc == 1);
  CHECK(r.out.find("exists; give --overwrite") != std::string::npos);
  CHECK(test::run_cli("export --poses " + (dir / "p.npz").string() + " --out " + out + " --overwrite --quiet").rc == 0);
  CHECK(test::run_cli("export --poses " + (dir / "p.npz").string() + " --out " + out + " --force --quiet").rc == 0);  // its old name
  CHECK(test::run_cli("export --poses " + (dir / "p.npz").string() + " --out " + (dir / "x.bvh").string() + " --up w").rc == 2);
  CHECK(test::run_cli("export --poses " + (dir / "p.npz").string() + " --out " + (dir / "x.txt").string()).rc == 2);
  io::NpzMap e;
  e["other"] = io::from_tensor(w.root);
  io::save_npz((dir / "e.npz").string(), e);
  r = test::run_cli("export --poses " + (dir / "e.npz").string() + " --out " + (dir / "x.bvh").string());
  CHECK(r.rc == 1);
  CHECK(r.out.find("no poses_3d") != std::string::npos);
  CHECK(!fs::exists(dir / "x.bvh"));
  // Blender's own BVH importer, where Blender is installed: every joint of every frame
  // as Blender places it (world position of each pose bone's head) equals the fitted
  // position within 1 mm, in Blender's axes (the importer's Y-up -> Z-up conversion:
  // x, -z, y of the file's axes)
  if (std::system("command -v blender >/dev/null 2>&1") != 0) {
    MESSAGE("skipped: Blender's BVH importer (blender is not installed; apt-get install blender)");
  } else {
    const std::string py = (dir / "read.py").string();
    io::write_file(py,
                   "import builtins, bpy, sys\n"
                   "_open = builtins.open\n"
                   "# Debian's Blender 3.4 importer opens the file with mode 'rU', which Python 3.11 refuses\n"
                   "builtins.open = lambda f, mode='r', *a, **k: _open(f, mode.replace('U', ''), *a, **k)\n"
                   "bpy.ops.wm.read_factory_settings(use_empty=True)\n"
                   "bpy.ops.import_anim.bvh(filepath=sys.argv[-1], global_scale=1.0, axis_forward='-Z', axis_up='Y')\n"
                   "ob = bpy.context.selected_objects[0]\n"
                   "print('BONES', len(ob.pose.bones))\n"
                   "for f in range(1, int(sys.argv[-2]) + 1):\n"
                   "    bpy.context.scene.frame_set(f)\n"
                   "    for b in ob.pose.bones:\n"
                   "        p = ob.matrix_world @ b.head\n"
                   "        print('P', f - 1, b.name, repr(p.x), repr(p.y), repr(p.z))\n");
    r = test::run_command("blender -b --python " + py + " -- 60 " + out + " 2>&1");
    REQUIRE_MESSAGE(r.out.find("BONES 17") != std::string::npos, r.out);
    pose::BvhOptions bo;
    bo.fps = 25;
    const pose::BvhMotion m = pose::fit_bvh(w.poses, w.root, bo);
    std::istringstream lines(r.out);
    double worst = 0;
    int64_t seen = 0;
    for (std::string line; std::getline(lines, line);) {
      std::istringstream ls(line);
      std::string tag, name;
      int64_t f = -1;
      double p[3];
      if (!(ls >> tag) || tag != "P" || !(ls >> f >> name >> p[0] >> p[1] >> p[2])) continue;
      int h = -1;
      for (int k = 0; k < 17; ++k)
        if (m.names[size_t(k)] == name) h = k;
      REQUIRE_MESSAGE(h >= 0, "Blender names a bone '", name, "'");
      REQUIRE(f < 60);
      const auto e = to_bvh_axes(m.fitted, f, h, false);  // the file's Y-up axes
      worst = std::max(worst, std::hypot(p[0] - e[0], p[1] + e[2], p[2] - e[1]));
      ++seen;
    }
    CHECK(seen == 60 * 17);
    MESSAGE("Blender's importer vs the fitted positions: worst ", worst, " mm over ", seen, " joints");
    CHECK(worst < 1.0);
  }
  fs::remove_all(dir);
}
