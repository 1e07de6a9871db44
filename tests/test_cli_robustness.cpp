// The command line under hostile and odd input (issue 14): for every command
// and each of its input and output paths, the classes in HARDENING.md
// (extreme integers, non-finite values, shape mismatches, path collisions,
// interrupted writes, huge sparse ranges, odd encodings). Each case expects a
// one-line message and a non-zero exit (1; 2 for a malformed option in infer
// and render), or a documented correct result; none may crash, hang, run a
// shell, or destroy a file. Every CLI run is limited to 60 s and (outside the
// sanitizer build, whose shadow memory needs more) 4 GB of address space.
#include <doctest/doctest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "finepose/io/file.hpp"
#include "finepose/io/json.hpp"
#include "finepose/io/npz.hpp"
#include "finepose/wild/demo_walk.hpp"
#include "finepose/wild/keypoint_input.hpp"
#include "finepose/wild/output_files.hpp"
#include "cli_run.hpp"
#include "wild_test_model.hpp"

using namespace finepose;
namespace fs = std::filesystem;

namespace {

constexpr bool kLimitMemory = !test::kSanitizedBuild;

// single-quoted for sh: any byte but ' stands for itself
std::string q(const std::string& s) {
  std::string o = "'";
  for (char c : s) o += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return o + "'";
}

test::CliRun cli(const std::string& args, const std::string& env = "") {
  // the limits go on a subshell, so that only the CLI runs under them
  std::string pre = "timeout -s KILL 60 ";
  if (kLimitMemory) pre = "sh -c 'ulimit -v 4194304; exec \"$0\" \"$@\"' timeout -s KILL 60 ";
  return test::run_command(env + pre + std::string(FINEPOSE_CLI) + " " + args + " 2>&1");
}

int lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n + (!s.empty() && s.back() != '\n');
}

// A clean refusal: exit `rc`, exactly one line, naming the problem.
void refused(const test::CliRun& r, const std::string& expect, int rc = 1) {
  INFO("output: ", r.out);
  CHECK(r.rc == rc);
  CHECK(lines(r.out) == 1);
  CHECK(r.out.find("error") != std::string::npos);
  CHECK(r.out.find(expect) != std::string::npos);
}

std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

struct Ws {
  fs::path dir = fs::temp_directory_path() / ("finepose_robust_" + std::to_string(::getpid()));
  std::string model, walk;
  Ws() {
    fs::remove_all(dir);
    fs::create_directories(dir);
    model = p("tiny.safetensors");
    FinePoseModel m = test::tiny_model();
    save_model(model, m);
    wild::DemoWalkOptions o;
    o.frames = 30;
    walk = p("walk.json");
    io::write_file(walk, wild::demo_walk_coco_json(wild::make_demo_walk(o)));
  }
  ~Ws() { fs::remove_all(dir); }
  std::string p(const std::string& n) const { return (dir / n).string(); }
  std::string infer(const std::string& kp, const std::string& out, const std::string& extra = "") const {
    return "infer --quiet --model " + q(model) + " --keypoints " + q(kp) + " --width 1000 --height 1000 --out " + q(out) + " " + extra;
  }
  // a COCO detection with 17 joints around (x, y)
  static std::string det(const std::string& id, double x = 500, double y = 500, const char* extra = "") {
    std::string k;
    for (int j = 0; j < 17; ++j) k += (j ? ", " : "") + std::to_string(x + 3 * j) + ", " + std::to_string(y + 20 * j) + ", 0.9";
    return "{\"image_id\": " + id + ", \"category_id\": 1, " + extra + "\"keypoints\": [" + k + "]}";
  }
  std::string write(const std::string& name, const std::string& text) const {
    io::write_file(p(name), text);
    return p(name);
  }
};

bool have_cli() {
  if (!test::have_cli() || !fs::exists(FINEPOSE_CLI)) {
    MESSAGE("skipped: the finepose CLI is not built");
    return false;
  }
  return true;
}

io::NpzMap npz_of(const std::string& path) { return io::load_npz(path); }

}  // namespace

TEST_CASE("robustness, infer: frame numbers at the ends of int64, CSV frames and tracks out of range") {
  if (!have_cli()) return;
  Ws w;
  const std::string out = w.p("o.npz");
  for (const char* id : {"-9223372036854775808", "9223372036854775807", "1e19", "-1", "2.5", "1e300"}) {
    CAPTURE(id);
    const std::string mm = w.write("mm.json", std::string("[{\"frame_id\": ") + id +
                                                  ", \"instances\": [{\"keypoints\": [[1, 2]], \"keypoint_scores\": [1]}]}]");
    refused(cli(w.infer(mm, out)), "not a whole number");
    const std::string coco = w.write("c.json", "[" + Ws::det("0") + ", " + Ws::det(id) + "]");
    refused(cli(w.infer(coco, out)), "not a whole number");
  }
  refused(cli(w.infer(w.write("long.json", "[" + Ws::det("\"frame_1234567890123456789.jpg\"") + "]"), out)), "more than 15 digits");
  std::string row = "1e19";
  for (int j = 0; j < 51; ++j) row += ",1";
  refused(cli(w.infer(w.write("f.csv", row + "\n"), out)), "not a whole number");
  refused(cli(w.infer(w.write("wide.csv", std::string(1 << 20, ',') + "\n"), out)), "more than 80 columns");
  std::string trow = "0,1e19";
  for (int j = 0; j < 51; ++j) trow += ",1";
  refused(cli(w.infer(w.write("t.csv", trow + "\n"), out)), "track id");
  CHECK_FALSE(fs::exists(out));
}

TEST_CASE("robustness, infer: detections far apart in time split the track instead of interpolating millions of frames") {
  if (!have_cli()) return;
  Ws w;
  for (const char* far : {"1000000", "5000000", "999999999999999"}) {
    CAPTURE(far);
    const std::string out = w.p(std::string("split_") + far + ".npz");
    const std::string in = w.write("sparse.json", "[" + Ws::det("0") + ", " + Ws::det("1") + ", " + Ws::det(far) + "]");
    const test::CliRun r = cli(w.infer(in, out, "--json"));
    INFO(r.out);
    REQUIRE(r.rc == 0);
    const json::Value s = json::parse(r.out.substr(0, r.out.find('\n')));
    CHECK(s.at("frames").as_int64() == 2);  // the part with more detections: frames 0..1
    bool noted = false;
    for (const auto& n : s.at("notes").items()) noted |= n.as_string().find("2 parts") != std::string::npos;
    CHECK(noted);
    const auto m = npz_of(out);
    CHECK(io::to_vector<int64_t>(m.at("frame_index")) == std::vector<int64_t>{0, 1});
  }
  // a gap up to --max-gap is bridged (interpolated), one frame more splits
  const std::string in = w.write("gap.json", "[" + Ws::det("0") + ", " + Ws::det("31") + "]");
  test::CliRun r = cli(w.infer(in, w.p("g1.npz"), "--json"));
  REQUIRE(r.rc == 0);
  CHECK(json::parse(r.out.substr(0, r.out.find('\n'))).at("frames").as_int64() == 32);
  r = cli(w.infer(in, w.p("g2.npz"), "--json --max-gap 29"));
  REQUIRE(r.rc == 0);
  CHECK(json::parse(r.out.substr(0, r.out.find('\n'))).at("frames").as_int64() == 1);
  refused(cli(w.infer(in, w.p("g3.npz"), "--max-frames 10")), "--max-frames");
}

TEST_CASE("robustness, infer: option values that do not fit, and thread counts") {
  if (!have_cli()) return;
  Ws w;
  const std::string out = w.p("o.npz");
  const std::string base = "infer --quiet --model " + q(w.model) + " --keypoints " + q(w.walk) + " --out " + q(out);
  for (const char* bad : {"--width 3000000000 --height 100", "--width 100 --height 4294967396", "--width -5 --height 100",
                          "--width 100 --height 100 --overlap -5", "--width 100 --height 100 --threads 300000",
                          "--width 100 --height 100 --threads 0", "--width 100 --height 100 --hypotheses 1e3",
                          "--width 100 --height 100 --min-score nan", "--width 100 --height 100 --steps 99999999999"}) {
    CAPTURE(bad);
    refused(cli(base + " " + bad), "usage error", 2);
  }
  CHECK_FALSE(fs::exists(out));
  // a sane thread count works
  CHECK(cli(base + " --width 1000 --height 1000 --threads 3").rc == 0);
  fs::remove(out);
  // npz image_size that does not fit an int
  TensorF kp({12, 17, 2});
  for (int64_t i = 0; i < kp.numel(); ++i) kp.data()[i] = 300.f + float(i % 34) * 10;
  for (const std::vector<int64_t>& size : {std::vector<int64_t>{3000000000LL, 100}, {100, -2}, {0, 0}, {5}}) {
    io::NpzMap m;
    m["keypoints_2d"] = io::from_tensor(kp);
    m["image_size"] = io::from_vector(size);
    io::save_npz(w.p("kp.npz"), m);
    refused(cli("infer --quiet --model " + q(w.model) + " --keypoints " + q(w.p("kp.npz")) + " --out " + q(out)), "image_size");
  }
}

TEST_CASE("robustness, infer: keypoints far outside the image, non-finite weights, NaN never written") {
  if (!have_cli()) return;
  Ws w;
  const std::string out = w.p("o.json");
  refused(cli(w.infer(w.write("far.json", "[" + Ws::det("0", 1e12, 1e12) + "]"), out)), "outside the 1000x1000 picture");
  CHECK_FALSE(fs::exists(out));
  // a model whose weights hold NaN: refused at load, nothing written
  {
    FinePoseModel m = test::tiny_model();
    bool poisoned = false;
    m.visit([&](const std::string&, TensorF& t) {
      if (!poisoned && t.numel() > 4) t.data()[3] = std::nanf(""), poisoned = true;
    });
    save_model(w.p("nan.safetensors"), m);
  }
  refused(cli("infer --quiet --model " + q(w.p("nan.safetensors")) + " --keypoints " + q(w.walk) +
              " --width 1000 --height 1000 --out " + q(out)),
          "NaN/Inf");
  CHECK_FALSE(fs::exists(out));
  // the JSON a good run writes is JSON (no bare NaN), and holds every frame
  const test::CliRun r = cli(w.infer(w.walk, out));
  REQUIRE(r.rc == 0);
  const json::Value v = json::parse(slurp(out));
  CHECK(v.at("frames").size() == 30);
  CHECK(slurp(out).find("NaN") == std::string::npos);
}

TEST_CASE("robustness, infer: odd encodings (UTF-8 BOM in a CSV, OpenPose directories in natural order)") {
  if (!have_cli()) return;
  Ws w;
  std::string csv;
  for (int f = 0; f < 12; ++f) {
    csv += std::to_string(f);
    for (int j = 0; j < 17; ++j) csv += "," + std::to_string(400 + 5 * j + f) + "," + std::to_string(300 + 25 * j) + ",0.9";
    csv += "\n";
  }
  const std::string plain = w.write("plain.csv", csv), bom = w.write("bom.csv", "\xef\xbb\xbf" + csv);
  const auto a = wild::read_keypoints(plain), b = wild::read_keypoints(bom);
  CHECK(b.kp.size(0) == 12);
  CHECK(b.first_frame == 0);
  CHECK(a.kp.to_vector() == b.kp.to_vector());
  REQUIRE(cli(w.infer(bom, w.p("bom.npz"))).rc == 0);
  CHECK(io::to_vector<int64_t>(npz_of(w.p("bom.npz")).at("frame_index")).size() == 12);

  // frame_2.json before frame_10.json; the x coordinate records the true frame
  fs::create_directories(w.dir / "op");
  for (int f : {0, 1, 2, 10, 11, 100}) {
    std::string k;
    for (int j = 0; j < 25; ++j) k += (j ? ", " : "") + std::to_string(100 + f) + ", " + std::to_string(100 + 10 * j) + ", 0.9";
    io::write_file(w.p("op/frame_" + std::to_string(f) + "_keypoints.json"), "{\"people\": [{\"pose_keypoints_2d\": [" + k + "]}]}");
  }
  const wild::DetectionSet set = wild::read_detections(w.p("op"));
  REQUIRE(set.dets.size() == 6);
  std::vector<double> xs;
  for (const auto& d : set.dets) xs.push_back(d.kp[0]);
  CHECK(xs == std::vector<double>{100, 101, 102, 110, 111, 200});
  CHECK(wild::detail::natural_less("frame_2.json", "frame_10.json"));
  CHECK_FALSE(wild::detail::natural_less("frame_10.json", "frame_2.json"));
  CHECK(wild::detail::natural_less("a_007.json", "a_08.json"));
  CHECK(wild::detail::natural_less("a.json", "b.json"));
}

TEST_CASE("robustness, every command: an output that names an input is refused, the input kept") {
  if (!have_cli()) return;
  Ws w;
  const std::string walk_bytes = slurp(w.walk), model_bytes = slurp(w.model);
  refused(cli(w.infer(w.walk, w.walk)), "would destroy the input");  // (.json is also a valid output)
  CHECK(slurp(w.walk) == walk_bytes);
  // the same file under another name: a hard link
  const std::string link = w.p("link.json");
  REQUIRE(::link(w.walk.c_str(), link.c_str()) == 0);
  refused(cli(w.infer(w.walk, link)), "would destroy the input");
  CHECK(slurp(w.walk) == walk_bytes);
  // output == --model (models are recognised by content, so a model may be called m.npz)
  fs::copy_file(w.model, w.p("m.npz"));
  refused(cli("infer --quiet --model " + q(w.p("m.npz")) + " --keypoints " + q(w.walk) + " --width 1000 --height 1000 --out " +
              q(w.dir.string() + "/./m.npz")),
          "would destroy the input");
  CHECK(slurp(w.p("m.npz")) == model_bytes);
  fs::create_directories(w.dir / "d.npz");
  refused(cli(w.infer(w.walk, w.p("d.npz"))), "is a directory");
  // render: --out == --poses
  // render: --out == --poses (an npz read by content, named .gif)
  REQUIRE(cli(w.infer(w.walk, w.p("lifted.npz"))).rc == 0);
  fs::rename(w.p("lifted.npz"), w.p("lifted.gif"));
  const std::string lifted = slurp(w.p("lifted.gif"));
  refused(cli("render --quiet --poses " + q(w.p("lifted.gif")) + " --out " + q(w.p("lifted.gif"))), "would destroy the input");
  CHECK(slurp(w.p("lifted.gif")) == lifted);
  // sample: --out == --input
  TensorF x({1, 9, 17, 2});
  for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] = 0.01f * float(i % 17);
  io::NpzMap in;
  in["keypoints_2d"] = io::from_tensor(x);
  io::save_npz(w.p("clip.npz"), in);
  const std::string clip = slurp(w.p("clip.npz"));
  refused(cli("sample --quiet --checkpoint " + q(w.model) + " --action Walking --input " + q(w.p("clip.npz")) + " --out " +
              q(w.p("clip.npz"))),
          "would destroy the input");
  CHECK(slurp(w.p("clip.npz")) == clip);
  // convert: OUT == IN, and an existing OUT without --force
  refused(cli("convert " + q(w.model) + " " + q(w.model)), "would destroy the input");
  io::write_file(w.p("precious.safetensors"), std::string("keep me"));
  refused(cli("convert --quiet " + q(w.model) + " " + q(w.p("precious.safetensors"))), "exists; give --overwrite");
  CHECK(slurp(w.p("precious.safetensors")) == "keep me");
  CHECK(cli("convert --quiet --force " + q(w.model) + " " + q(w.p("precious.safetensors"))).rc == 0);
  CHECK(slurp(w.p("precious.safetensors")) == model_bytes);
  CHECK(slurp(w.model) == model_bytes);
  // train: an earlier run's log is not emptied (--epochs 0 or a repeated command)
  fs::create_directories(w.dir / "run");
  io::write_file(w.p("run/log.tsv"), std::string("epoch\tlr\n1\t0.1\n"));
  refused(cli("train --data " + q(w.p("nodata")) + " --out " + q(w.p("run")) + " --epochs 0"), "--epochs");
  refused(cli("train --data " + q(w.p("nodata")) + " --out " + q(w.p("run")) + " --epochs 2"), "--resume");
  refused(cli("train --data " + q(w.p("nodata")) + " --out " + q(w.p("run_ema")) + " --ema 1"), "--ema must be below 1");
  refused(cli("train --data " + q(w.p("nodata")) + " --out " + q(w.p("run_ema")) + " --ema -0.5"), "--ema");
  CHECK(slurp(w.p("run/log.tsv")) == "epoch\tlr\n1\t0.1\n");
}

TEST_CASE("robustness, every command: an existing output is kept unless --overwrite (or --force)") {
  if (!have_cli()) return;
  Ws w;
  // infer, one person and --persons all; npz and json
  for (const std::string name : {"o.npz", "o.json"}) {
    const std::string out = w.write(name, "keep me");
    for (const std::string extra : {"", "--persons all"}) {
      CAPTURE(name);
      CAPTURE(extra);
      refused(cli(w.infer(w.walk, out, extra)), "infer: '" + out + "' exists; give --overwrite to replace it");
      CHECK(slurp(out) == "keep me");
    }
    REQUIRE(cli(w.infer(w.walk, out, "--overwrite")).rc == 0);
    CHECK(slurp(out) != "keep me");
    CHECK(cli(w.infer(w.walk, out, "--force --persons all")).rc == 0);  // convert's and export's name for it
    refused(cli(w.infer(w.walk, out, "--force --overwrite")), "give one of them", 2);
  }
  // render: a GIF, and a PNG sequence of which one frame exists: nothing is drawn, no frame replaced
  const std::string poses = w.p("o.npz");
  const std::string gif = w.write("a.gif", "keep me");
  refused(cli("render --quiet --poses " + q(poses) + " --out " + q(gif)), "exists; give --overwrite");
  CHECK(slurp(gif) == "keep me");
  REQUIRE(cli("render --quiet --overwrite --poses " + q(poses) + " --out " + q(gif)).rc == 0);
  CHECK(slurp(gif).rfind("GIF89a", 0) == 0);
  const std::string frame3 = w.write("f_00003.png", "keep me");
  refused(cli("render --quiet --stride 1 --poses " + q(poses) + " --out " + q(w.p("f.png"))), "f_00003.png' exists");
  CHECK(slurp(frame3) == "keep me");
  CHECK_FALSE(fs::exists(w.p("f_00000.png")));
  REQUIRE(cli("render --quiet --stride 1 --overwrite --poses " + q(poses) + " --out " + q(w.p("f.png"))).rc == 0);
  CHECK(slurp(frame3) != "keep me");
  CHECK(fs::exists(w.p("f_00000.png")));
  // sample
  TensorF x({1, 9, 17, 2});
  for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] = 0.01f * float(i % 17);
  io::NpzMap in;
  in["keypoints_2d"] = io::from_tensor(x);
  io::save_npz(w.p("clip.npz"), in);
  const std::string s = w.write("s.npz", "keep me");
  const std::string sample = "sample --quiet --checkpoint " + q(w.model) + " --action Walking --input " + q(w.p("clip.npz")) + " --out " + q(s);
  refused(cli(sample), "sample: '" + s + "' exists");
  CHECK(slurp(s) == "keep me");
  REQUIRE(cli(sample + " --overwrite").rc == 0);
  CHECK(npz_of(s).count("poses_3d") == 1);
  // convert and export keep --force, and take --overwrite too
  const std::string st = w.write("m.safetensors", "keep me");
  refused(cli("convert --quiet " + q(w.model) + " " + q(st)), "exists; give --overwrite");
  CHECK(slurp(st) == "keep me");
  REQUIRE(cli("convert --quiet --overwrite " + q(w.model) + " " + q(st)).rc == 0);
  CHECK(slurp(st) == slurp(w.model));
}

TEST_CASE("robustness, sample: absurd coordinates, NaN noise, an empty batch, option ranges") {
  if (!have_cli()) return;
  Ws w;
  const std::string out = w.p("s.npz");
  auto sample = [&](const TensorF& x, const std::string& extra = "") {
    io::NpzMap in;
    in["keypoints_2d"] = io::from_tensor(x);
    io::save_npz(w.p("in.npz"), in);
    return cli("sample --quiet --checkpoint " + q(w.model) + " --action Walking --input " + q(w.p("in.npz")) + " --out " + q(out) +
               " " + extra);
  };
  TensorF x({1, 9, 17, 2});
  for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] = 0.01f * float(i % 17);
  REQUIRE(sample(x).rc == 0);
  fs::remove(out);
  TensorF huge = x.clone();
  huge.data()[5] = 3e38f;
  refused(sample(huge), "normalised screen coordinates");
  refused(sample(TensorF({0, 9, 17, 2})), "empty batch");
  // NaN in a noise file
  TensorF noise({1, 1, 9, 17, 3});
  for (int64_t i = 0; i < noise.numel(); ++i) noise.data()[i] = 0.1f;
  noise.data()[7] = std::nanf("");
  io::NpzMap nz;
  nz["noise_init"] = io::from_tensor(noise);
  io::save_npz(w.p("noise.npz"), nz);
  refused(sample(x, "--noise " + q(w.p("noise.npz"))), "noise_init");
  for (const char* bad : {"--threads 300000", "--threads 0", "--hypotheses 0", "--steps 100000", "--hypotheses 1e9"}) {
    CAPTURE(bad);
    refused(sample(x, bad), std::string(bad).substr(0, std::string(bad).find(' ')));
  }
  CHECK_FALSE(fs::exists(out));
}

TEST_CASE("robustness, render: auxiliary arrays shape-checked, option ranges, no shell for ffmpeg, interrupted writes") {
  if (!have_cli()) return;
  Ws w;
  const int64_t F = 10;
  TensorF poses({F, 17, 3});
  for (int64_t i = 0; i < poses.numel(); ++i) poses.data()[i] = float((i * 37) % 400) - 200;
  auto poses_file = [&](const std::string& name, const std::map<std::string, TensorF>& extra) {
    io::NpzMap m;
    m["poses_3d"] = io::from_tensor(poses);
    for (const auto& kv : extra) m[kv.first] = io::from_tensor(kv.second);
    io::save_npz(w.p(name), m);
    return w.p(name);
  };
  TensorF kp({F, 17, 2});
  for (int64_t i = 0; i < kp.numel(); ++i) kp.data()[i] = 100 + float(i % 50);
  const std::string gif = w.p("r.gif");
  auto render = [&](const std::string& poses_path, const std::string& extra = "") {
    return cli("render --quiet --poses " + q(poses_path) + " --out " + q(gif) + " " + extra);
  };
  refused(render(poses_file("a.npz", {{"keypoints_2d", kp}, {"scores", TensorF({5, 17})}})), "scores must be");
  refused(render(poses_file("b.npz", {{"keypoints_2d", TensorF({F, 17, 3})}})), "keypoints must be");
  refused(render(poses_file("c.npz", {{"keypoints_2d", TensorF({F - 1, 17, 2})}})), "keypoints must be");
  refused(render(poses_file("d.npz", {{"hypotheses", TensorF({F, 2, 17, 2})}})), "hypotheses must be");
  TensorF hyp({F, 2, 17, 3});
  hyp.data()[4] = INFINITY;
  refused(render(poses_file("e.npz", {{"hypotheses", hyp}})), "non-finite");
  CHECK_FALSE(fs::exists(gif));
  // far-away but finite coordinates draw (clipped), they do not overflow
  TensorF far = kp.clone();
  far.data()[0] = 1e30f;
  CHECK(render(poses_file("f.npz", {{"keypoints_2d", far}})).rc == 0);
  fs::remove(gif);
  const std::string good = poses_file("g.npz", {{"keypoints_2d", kp}});
  for (const char* bad : {"--size 5000000000", "--size 10", "--frame -2", "--frame 9223372036854775807000", "--fps 0.001",
                          "--fps nan", "--stride 0", "--stride -3"}) {
    CAPTURE(bad);
    refused(render(good, bad), "usage error", 2);
  }
  refused(render(good, "--frame 10"), "out of range");
  refused(render(good, "--fps 0.01 --stride 10"), "longer than a GIF can store");
  CHECK_FALSE(fs::exists(gif));

  // MP4: ffmpeg is started with an argument vector; a fake ffmpeg records what it got
  fs::create_directories(w.dir / "bin");
  const std::string fake = w.p("bin/ffmpeg");
  io::write_file(fake, "#!/bin/sh\nfor a in \"$@\"; do last=$a; done\nprintf '%s\\n' \"$@\" > \"$FAKE_FFMPEG_ARGS\"\n"
                       "cat > /dev/null\nprintf 'mp4' > \"$last\"\n");
  ::chmod(fake.c_str(), 0755);
  const std::string evil = w.p("x'; touch PWNED; echo '.mp4");
  const std::string env = "PATH=" + q(w.p("bin")) + ":/usr/bin:/bin FAKE_FFMPEG_ARGS=" + q(w.p("args.txt")) + " ";
  const test::CliRun r = cli("render --quiet --poses " + q(good) + " --out " + q(evil), env);
  INFO(r.out);
  CHECK(r.rc == 0);
  CHECK_FALSE(fs::exists(w.p("PWNED")));
  CHECK_FALSE(fs::exists("PWNED"));
  CHECK(slurp(evil) == "mp4");
  const std::string args = slurp(w.p("args.txt"));
  CHECK(args.find("rawvideo") != std::string::npos);
  CHECK(args.find(evil + ".tmp.") != std::string::npos);  // written to a temporary sibling, then renamed
  // ffmpeg failing leaves nothing behind and keeps an earlier file
  io::write_file(fake, "#!/bin/sh\ncat > /dev/null\nexit 3\n");
  CHECK(cli("render --quiet --poses " + q(good) + " --out " + q(evil), env).rc == 1);
  CHECK(slurp(evil) == "mp4");

  // an interrupted GIF render (killed mid-way) leaves the previous good file untouched
  REQUIRE(render(good).rc == 0);
  const std::string before = slurp(gif);
  REQUIRE(before.size() > 100);
  TensorF long_poses({4000, 17, 3});
  for (int64_t i = 0; i < long_poses.numel(); ++i) long_poses.data()[i] = float((i * 37) % 400) - 200;
  io::NpzMap lm;
  lm["poses_3d"] = io::from_tensor(long_poses);
  io::save_npz(w.p("long.npz"), lm);
  const test::CliRun k =
      test::run_cli("render --quiet --poses " + q(w.p("long.npz")) + " --out " + q(gif) + " --stride 1 --size 1024 & "
                    "p=$!; sleep 1; kill -9 $p; wait $p; echo killed");
  INFO(k.out);
  CHECK(slurp(gif) == before);
}

TEST_CASE("robustness, metrics: shape mismatches, non-finite and absurd values end with a message") {
  if (!have_cli()) return;
  Ws w;
  TensorF t({6, 17, 3});
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = float((i * 13) % 300);
  auto file = [&](const std::string& name, const TensorF& x) {
    io::NpzMap m;
    m["poses_3d"] = io::from_tensor(x);
    io::save_npz(w.p(name), m);
    return w.p(name);
  };
  const std::string target = file("t.npz", t);
  auto metrics = [&](const TensorF& pred) { return cli("metrics --pred " + q(file("p.npz", pred)) + " --target " + q(target)); };
  CHECK(metrics(t).rc == 0);
  refused(metrics(TensorF({5, 17, 3})), "predictions");
  TensorF bad = t.clone();
  bad.data()[3] = std::nanf("");
  refused(metrics(bad), "non-finite");
  bad.data()[3] = 1e30f;
  refused(metrics(bad), "not a coordinate");
}

TEST_CASE("robustness, npz: a member whose size is not what its array header says is refused before it is inflated") {
  Ws w;
  // a (4,) float32 array followed by 2 MB more than its header declares
  io::NdArray a = io::from_vector(std::vector<float>{1, 2, 3, 4});
  std::vector<std::uint8_t> npy = io::serialize_npy(a);
  std::uint32_t x = 12345;
  for (int i = 0; i < (2 << 20); ++i) x = x * 1664525u + 1013904223u, npy.push_back(std::uint8_t(x >> 24));
  io::ZipWriter zw;
  zw.add("keypoints_2d.npy", npy, true);
  io::write_file(w.p("lying.npz"), zw.finish());
  CHECK_THROWS_WITH_AS(io::load_npz(w.p("lying.npz")), doctest::Contains("the array header"), Error);
  // an honest array over the reader's byte budget
  io::NpzMap m;
  m["x"] = io::from_vector(std::vector<float>(1000, 0.f));
  io::save_npz(w.p("big.npz"), m, true);
  CHECK_THROWS_WITH_AS(io::load_npz(w.p("big.npz"), 1000), doctest::Contains("limit"), Error);
  CHECK(io::load_npz(w.p("big.npz")).at("x").shape == Shape{1000});
  if (have_cli()) refused(cli(w.infer(w.p("lying.npz"), w.p("o.npz"))), "the array header");
}

TEST_CASE("robustness: a detection file holds at most max_detections, refused as soon as it is seen") {
  Ws w;
  std::string arr = "[";
  for (int i = 0; i < 50; ++i) arr += (i ? ", " : "") + Ws::det(std::to_string(i));
  const std::string json = w.write("many.json", arr + "]");
  CHECK(wild::read_detections(json).dets.size() == 50);
  CHECK_THROWS_WITH_AS(wild::read_detections(json, wild::InputFormat::auto_detect, std::nullopt, 40), doctest::Contains("more than 40 detections"),
                       Error);
  io::NpzMap m;
  m["keypoints_2d"] = io::from_tensor(TensorF({50, 17, 2}));
  io::save_npz(w.p("many.npz"), m);
  CHECK_THROWS_WITH_AS(wild::read_detections(w.p("many.npz"), wild::InputFormat::auto_detect, std::nullopt, 40),
                       doctest::Contains("50 frames, more than 40"), Error);
}

TEST_CASE("robustness, JSON: parsing costs tens of bytes per number, not hundreds") {
  CHECK(sizeof(json::Value) <= 32);
  std::string text = "[";
  for (int i = 0; i < 100000; ++i) text += (i ? "," : "") + std::to_string(i % 977) + ".5";
  text += "]";
  const json::Value v = json::parse(text);
  CHECK(v.size() == 100000);
  CHECK(v.items().capacity() == v.size());  // no growth slack kept
  // objects: small ones are scanned, large ones indexed; both find every key
  json::Value o = json::Value::object();
  for (int i = 0; i < 40; ++i) o["k" + std::to_string(i)] = i;
  for (int i = 0; i < 40; ++i) CHECK(o.at("k" + std::to_string(i)).as_int64() == i);
  const json::Value back = json::parse(json::dump(o));
  CHECK(back == o);
  // a value budget: refused before memory runs out; per element when streamed
  CHECK_THROWS_WITH_AS(json::parse(text, "big", json::kMaxDepth, 1000), doctest::Contains("more than 1000 values"), Error);
  std::size_t seen = 0;
  CHECK(json::parse_array_elements(text, [&](json::Value&&, std::size_t) { ++seen; }, "big", json::kMaxDepth, 1));
  CHECK(seen == 100000);
  std::string dup = json::dump(o);
  dup.insert(dup.size() - 1, ", \"k3\": 0");  // a duplicate key in a large (indexed) object
  CHECK_THROWS_WITH_AS(json::parse(dup), doctest::Contains("duplicate key"), Error);
}

TEST_CASE("robustness: writing 150k frames as JSON, CSV or npz fits in 1 GB of address space") {
  if (!kLimitMemory) {
    MESSAGE("skipped under ASan (an address-space limit breaks its shadow memory)");
    return;
  }
  Ws w;
  const int64_t F = 150000;
  wild::LiftedSequence seq;
  seq.lifted.poses = TensorF({F, 17, 3});
  for (int64_t i = 0; i < seq.lifted.poses.numel(); ++i) seq.lifted.poses.data()[i] = float((i * 7919) % 2000) - 1000.5f;
  seq.width = 1000, seq.height = 1000;
  for (const char* ext : {"json", "csv", "npz"}) {
    CAPTURE(ext);
    const std::string out = w.p(std::string("big.") + ext);
    const pid_t pid = fork();
    if (pid == 0) {
      // the child: the sequence is already in memory (~30 MB); writing it must need well under 1 GB more
      struct rlimit lim = {std::uint64_t(1) << 30, std::uint64_t(1) << 30};
      setrlimit(RLIMIT_AS, &lim);
      try {
        wild::save_lifted(out, seq);
      } catch (...) {
        _exit(3);
      }
      _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st));
    CHECK(WEXITSTATUS(st) == 0);
    CHECK(fs::file_size(out) > 1000000);
  }
  const json::Value v = json::parse(slurp(w.p("big.json")));
  CHECK(v.at("frames").size() == size_t(F));
  CHECK(v.at("frames").at(F - 1).at("pose").size() == 17);
}
