#pragma once
// finepose render: the 2D input beside the 3D skeleton, as PNG frames, an
// animated GIF, or an MP4 (through an ffmpeg binary, when one is installed).
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "args.hpp"
#include "finepose/io/npz.hpp"
#include "finepose/render/gif.hpp"
#include "finepose/render/png.hpp"
#include "finepose/render/pose_view.hpp"
#include "finepose/render/scene_view.hpp"
#include "finepose/wild/keypoint_input.hpp"
#include "progress.hpp"

namespace finepose::cli {

namespace render_detail {
// The ffmpeg executable on PATH, or "" (looked up directly: no shell anywhere).
inline std::string find_ffmpeg() {
  const char* path = std::getenv("PATH");
  for (const std::string& dir : split_commas(std::string(path ? path : "/usr/bin:/bin"), ':')) {
    const std::string p = (dir.empty() ? "." : dir) + "/ffmpeg";
    struct stat st {};
    if (::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0) return p;
  }
  return "";
}

// ffmpeg reading raw RGB frames from a pipe, started with an argument vector
// (posix_spawn, no shell: an output name is one argument, whatever it holds).
// It writes `tmp`; the caller renames it into place when ffmpeg succeeded.
class FfmpegPipe {
 public:
  FfmpegPipe(const std::string& exe, int w, int h, double fps, const std::string& tmp) {
    int fds[2];
    if (::pipe(fds) != 0) fail("render: cannot make a pipe for ffmpeg: ", std::strerror(errno));
    char rate[32];
    std::snprintf(rate, sizeof rate, "%.6g", fps);
    const std::string size = std::to_string(w) + "x" + std::to_string(h);
    std::vector<std::string> args = {exe, "-nostdin", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
                                     "-s", size, "-r", rate, "-i", "pipe:0", "-pix_fmt", "yuv420p", "-vcodec", "libx264",
                                     "-f", "mp4", tmp};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[0], 0);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    const int rc = ::posix_spawn(&pid_, exe.c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(fds[0]);
    if (rc != 0) {
      ::close(fds[1]);
      fail("render: cannot start ffmpeg (", exe, "): ", std::strerror(rc));
    }
    fd_ = fds[1];
    old_sigpipe_ = std::signal(SIGPIPE, SIG_IGN);  // ffmpeg exiting early is an error, not a signal
  }
  FfmpegPipe(const FfmpegPipe&) = delete;
  FfmpegPipe& operator=(const FfmpegPipe&) = delete;
  ~FfmpegPipe() {
    if (pid_ > 0) wait();
  }
  // false when ffmpeg stopped reading
  bool write(const std::vector<std::uint8_t>& b) {
    size_t off = 0;
    while (off < b.size()) {
      const ssize_t n = ::write(fd_, b.data() + off, b.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      off += size_t(n);
    }
    return true;
  }
  // closes the pipe and returns true when ffmpeg exited with status 0
  bool wait() {
    if (fd_ >= 0) ::close(fd_), fd_ = -1;
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    std::signal(SIGPIPE, old_sigpipe_);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  void (*old_sigpipe_)(int) = SIG_DFL;
};

inline std::string stem_of(const std::string& p) {
  const auto dot = p.find_last_of('.');
  return dot == std::string::npos ? p : p.substr(0, dot);
}
}  // namespace render_detail

inline int cmd_render(int argc, char** argv) {
  Args a("render", "--poses out.npz [--keypoints FILE] --out FILE.gif|.png|.mp4 [--view AZIM,ELEV] [--fps N]",
         {{"poses", "FILE", "npz from finepose infer: poses_3d (F,17,3) mm; hypotheses and keypoints_2d are used when present"},
          {"keypoints", "FILE", "2D input to draw on the left (default: keypoints_2d from the poses file); any infer --keypoints format"},
          {"format", "F", "format of --keypoints (as for infer)"},
          {"layout", "L", "joint layout of --keypoints (as for infer)"},
          {"track", "ID", "person to draw from --keypoints (as for infer)"},
          {"out", "FILE", ".gif (animation), .png (one PNG per frame: NAME_00000.png ...; with --frame: that frame only) or .mp4 (needs ffmpeg)"},
          {"view", "AZIM,ELEV", "3D viewpoint in degrees (default 45,15; 0,0 = as the camera saw it)"},
          {"fps", "N", "frames per second of the input, 0.01..100 (default 25); with --stride the animation plays at fps / stride"},
          {"stride", "N", "draw every N-th frame (default: 1, or enough to keep a GIF under 300 frames)"},
          {"frame", "N", "draw only frame N (0 = the first)"},
          {"size", "PX", "panel size in pixels, 64..4096 (default 400)"},
          {"no-hypotheses", "", "do not draw the hypotheses"},
          {"quiet", "", "no progress output"},
          {"json", "", "print a JSON summary"}});
  for (auto& o : overwrite_options("FILE (or any of its PNG frames)")) a.add(o);
  std::string poses_path, out_path, kind;
  render::View view;
  double fps = 25;
  int64_t stride = 0, only = -1;
  int panel = 400;
  try {
    if (!a.parse(argc, argv)) return 0;
    FINEPOSE_CHECK(a.positional().empty(), "render: unexpected argument '", a.positional().empty() ? "" : a.positional()[0], "'");
    poses_path = a.require("poses");
    out_path = a.require("out");
    const auto dot = out_path.find_last_of('.');
    kind = dot == std::string::npos ? "" : out_path.substr(dot + 1);
    FINEPOSE_CHECK(kind == "gif" || kind == "png" || kind == "mp4", "render: --out must end in .gif, .png or .mp4, got '", out_path, "'");
    if (a.has("view")) {
      const auto v = split_commas(a.get("view"));
      FINEPOSE_CHECK(v.size() == 2, "render: --view needs AZIM,ELEV");
      char* e1 = nullptr;
      char* e2 = nullptr;
      view.azimuth = std::strtod(v[0].c_str(), &e1);
      view.elevation = std::strtod(v[1].c_str(), &e2);
      FINEPOSE_CHECK(!v[0].empty() && !v[1].empty() && !*e1 && !*e2 && std::isfinite(view.azimuth) && std::isfinite(view.elevation),
                     "render: --view '", a.get("view"), "' is not two numbers");
    }
    fps = a.get_double_in("fps", 25, 0.01, 100);
    stride = a.get_int_in("stride", 0, 1, int64_t(1) << 30);
    only = a.get_int_in("frame", -1, 0, wild::kMaxFrameIndex);
    panel = int(a.get_int_in("size", 400, 64, 4096));
  } catch (const Error& e) {
    std::fprintf(stderr, "finepose render: usage error: %s\n", e.what());
    return 2;
  }
  io::check_output_path("render", out_path, {poses_path, a.get("keypoints")});
  const std::string ffmpeg = kind == "mp4" ? render_detail::find_ffmpeg() : "";
  if (kind == "mp4" && ffmpeg.empty())
    fail("render: MP4 needs an ffmpeg binary on PATH, and there is none; write a .gif or .png instead");

  auto arrays = io::load_npz(poses_path);
  auto need = [&](const char* n) {
    auto it = arrays.find(n);
    if (it == arrays.end()) fail(poses_path, ": no array '", n, "' (expected the output of finepose infer)");
    return io::to_tensor<float>(it->second, poses_path + ":" + n);
  };
  // several persons (infer --persons all): one scene; one person: the sequence view
  const TensorF poses = need("poses_3d");
  std::unique_ptr<render::PoseRenderer> one;
  std::unique_ptr<render::SceneRenderer> scene;
  if (poses.dim() == 4) {
    FINEPOSE_CHECK(!a.has("keypoints"), "render: --keypoints is for one person; a multi-person poses file carries its 2D");
    render::SceneDrawing d;
    d.poses = poses;
    auto it = arrays.find("present");
    if (it == arrays.end()) fail(poses_path, ": poses_3d is (P, F, 17, 3) but there is no 'present' (P, F)");
    d.present = io::to_tensor<uint8_t>(it->second, poses_path + ":present");
    it = arrays.find("track_ids");
    if (it == arrays.end()) fail(poses_path, ": poses_3d is (P, F, 17, 3) but there is no 'track_ids' (P,)");
    d.track_ids = io::to_tensor<int64_t>(it->second, poses_path + ":track_ids").to_vector();
    if (arrays.count("root_3d")) d.root = need("root_3d");
    if (arrays.count("keypoints_2d")) d.keypoints = need("keypoints_2d");
    d.view = view;
    d.panel = panel;
    scene = std::make_unique<render::SceneRenderer>(d);
  } else {
    FINEPOSE_CHECK(poses.dim() == 3 && poses.size(1) == 17 && poses.size(2) == 3, poses_path, ": poses_3d has shape ",
                   shape_str(poses.shape()), ", expected (F, 17, 3) or (P, F, 17, 3)");
    render::SequenceDrawing d;
    d.poses = poses;
    const int64_t F = d.poses.size(0);
    FINEPOSE_CHECK(F > 0, poses_path, ": poses_3d has no frames");
    // every auxiliary array must match poses_3d frame for frame (PoseRenderer checks the shapes)
    if (arrays.count("hypotheses") && !a.has("no-hypotheses")) d.hypotheses = need("hypotheses");
    if (a.has("keypoints")) {
      std::optional<pose::KeypointLayout> layout;
      std::optional<int64_t> track;
      if (a.has("layout")) layout = pose::layout_from_name(a.get("layout"));
      if (a.has("track")) track = a.get_int_in("track", -1, 0, wild::kMaxFrameIndex);
      auto in = wild::read_keypoints(a.get("keypoints"), wild::input_format_from_name(a.get("format")), layout, track);
      FINEPOSE_CHECK(in.kp.size(0) == F, "render: --keypoints has ", in.kp.size(0), " frames, the poses ", F);
      d.keypoints = TensorF({F, 17, 2});
      d.scores = TensorF({F, 17});
      for (int64_t i = 0; i < F * 17; ++i) {
        d.keypoints.data()[2 * i] = float(in.kp.data()[3 * i]);
        d.keypoints.data()[2 * i + 1] = float(in.kp.data()[3 * i + 1]);
        d.scores.data()[i] = float(in.kp.data()[3 * i + 2]);
      }
    } else if (arrays.count("keypoints_2d")) {
      d.keypoints = need("keypoints_2d");
      if (arrays.count("scores")) d.scores = need("scores");
    }
    d.view = view;
    d.panel = panel;
    one = std::make_unique<render::PoseRenderer>(d);
  }
  struct Frames {
    const render::PoseRenderer* one;
    const render::SceneRenderer* scene;
    int width() const { return one ? one->width() : scene->width(); }
    int height() const { return one ? one->height() : scene->height(); }
    render::Image frame(int64_t f) const { return one ? one->frame(f) : scene->frame(f); }
  } r{one.get(), scene.get()};
  const int64_t F = one ? one->frames() : scene->frames();

  std::vector<int64_t> frames;
  if (only >= 0) {
    FINEPOSE_CHECK(only < F, "render: --frame ", only, " out of range 0..", F - 1);
    frames = {only};
  } else {
    if (stride == 0) stride = kind == "gif" ? std::max<int64_t>(1, (F + 299) / 300) : 1;
    for (int64_t f = 0; f < F; f += stride) frames.push_back(f);
  }
  // one PNG per frame: a (compressed) poses file of millions of frames must not fill the disk with files
  constexpr size_t kMaxPngFiles = 100000;
  if (kind == "png" && only < 0 && frames.size() > kMaxPngFiles)
    fail("render: ", frames.size(), " frames would be ", frames.size(), " PNG files, more than ", kMaxPngFiles,
         "; give --stride N or --frame N");
  const double play_fps = fps / double(only >= 0 ? 1 : stride);
  if (kind == "gif" && play_fps < render::GifWriter::kMinFps)
    fail("render: --fps ", fps, " with --stride ", stride, " shows a frame for ", 1 / play_fps,
         " s, longer than a GIF can store (655 s); raise --fps or lower --stride");
  const bool quiet = a.has("quiet") || a.has("json");
  // every file this run writes is checked before the first is drawn: a refusal leaves nothing half done
  std::vector<std::string> png_paths;
  if (kind == "png") {
    for (size_t i = 0; i < frames.size(); ++i) {
      char name[32];
      std::snprintf(name, sizeof name, "_%05lld.png", (long long)frames[i]);
      png_paths.push_back(only >= 0 ? out_path : render_detail::stem_of(out_path) + name);
      if (png_paths.back() != out_path) io::check_output_path("render", png_paths.back(), {poses_path, a.get("keypoints")});
      check_output_free(a, "render", png_paths.back());
    }
  } else {
    check_output_free(a, "render", out_path);
  }
  Progress bar("rendering", int64_t(frames.size()), quiet);
  std::vector<std::string> written;
  if (kind == "png") {
    for (size_t i = 0; i < frames.size(); ++i) {
      const std::string& p = png_paths[i];
      render::write_png(p, r.frame(frames[i]), existing_of(a));
      written.push_back(p);
      bar.update(int64_t(i + 1));
    }
  } else if (kind == "gif") {
    render::GifWriter gif(out_path, r.width(), r.height(), play_fps, existing_of(a));  // appears at out_path only when complete
    for (size_t i = 0; i < frames.size(); ++i) {
      gif.add(r.frame(frames[i]));
      bar.update(int64_t(i + 1));
    }
    gif.close();
    written.push_back(out_path);
  } else {
    // ffmpeg writes a temporary sibling, renamed into place only when it succeeded
    const std::string tmp = io::temporary_sibling(out_path, ".mp4");
    struct RemoveTmp {
      const std::string& p;
      ~RemoveTmp() { std::remove(p.c_str()); }
    } remove_tmp{tmp};
    render_detail::FfmpegPipe pipe(ffmpeg, r.width(), r.height(), play_fps, tmp);
    for (size_t i = 0; i < frames.size(); ++i) {
      if (!pipe.write(r.frame(frames[i]).rgb)) {
        pipe.wait();
        fail("render: ffmpeg stopped reading (see its message above); nothing written to '", out_path, "'");
      }
      bar.update(int64_t(i + 1));
    }
    if (!pipe.wait()) fail("render: ffmpeg failed writing '", out_path, "' (see its message above)");
    io::rename_into_place(tmp, out_path, existing_of(a));
    written.push_back(out_path);
  }
  bar.finish();
  if (a.has("json")) {
    std::printf("{\"out\": \"%s\", \"files\": %zu, \"frames\": %zu, \"width\": %d, \"height\": %d}\n", out_path.c_str(),
                written.size(), frames.size(), r.width(), r.height());
  } else if (!a.has("quiet")) {
    std::fprintf(stderr, "wrote %s (%zu frames, %dx%d)\n", written.size() == 1 ? written[0].c_str() : (render_detail::stem_of(out_path) + "_*.png").c_str(),
                 frames.size(), r.width(), r.height());
  }
  return 0;
}

}  // namespace finepose::cli
