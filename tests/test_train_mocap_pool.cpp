// The wide training-data pipeline (train/virtual_camera.hpp, train/mocap_pool.hpp):
// cameras stay in their documented ranges and see the person, filming is a pure
// function of (seed, epoch, clip), frame-rate resampling and bone scaling do what
// they say, the 2D errors have the documented size, and (with ../shared/data)
// the held-out split and the fixed prompt list.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>

#include "finepose/train/datasets.hpp"

using namespace finepose;
using namespace finepose::train;

namespace {
// a standing person, 100 frames walking along x at 1 m/s (mm, Z up, 30 fps)
MocapClip walker(int64_t N = 100) {
  MocapClip c;
  c.name = "test/walk";
  c.motion = "walk";
  c.fps = 30;
  c.world = TensorF({N, 17, 3});
  const double base[17][3] = {{0, 0, 900},    {0, -100, 900}, {0, -100, 480}, {0, -100, 80}, {0, 100, 900},  {0, 100, 480},
                              {0, 100, 80},   {0, 0, 1130},   {0, 0, 1380},  {0, 0, 1480}, {0, 0, 1650},   {0, 180, 1380},
                              {0, 200, 1100}, {0, 210, 860},  {0, -180, 1380}, {0, -200, 1100}, {0, -210, 860}};
  for (int64_t f = 0; f < N; ++f)
    for (int j = 0; j < 17; ++j) {
      c.world(f, j, 0) = float(base[j][0] + 1000.0 * double(f) / 30.0);
      c.world(f, j, 1) = float(base[j][1]);
      c.world(f, j, 2) = float(base[j][2]);
    }
  return c;
}
}  // namespace

TEST_CASE("virtual cameras: every draw in its range, the person in the picture") {
  const CameraRanges r;
  const double target[3] = {1.0, 2.0, 0.9};
  int inside = 0;
  const int n = 2000;
  for (int i = 0; i < n; ++i) {
    const VirtualCamera c = sample_camera(r, target, 7, uint64_t(i));
    CHECK(c.height_m >= r.height_min_m);
    CHECK(c.height_m <= r.height_max_m);
    CHECK(c.distance_m >= r.distance_min_m);
    CHECK(c.distance_m <= r.distance_max_m);
    CHECK(c.pitch_deg >= r.pitch_min_deg - 1e-9);
    CHECK(c.pitch_deg <= r.pitch_max_deg + 1e-9);
    CHECK(c.f / c.width >= r.focal_min);
    CHECK(c.f / c.width <= r.focal_max);
    const bool shape = (c.width == 1920 && c.height == 1080) || (c.width == 1440 && c.height == 1080) || (c.width == 1080 && c.height == 1920);
    CHECK(shape);
    // R is a rotation
    for (int a = 0; a < 3; ++a)
      for (int b = 0; b < 3; ++b) {
        double d = 0;
        for (int k = 0; k < 3; ++k) d += c.R[a][k] * c.R[b][k];
        CHECK(d == doctest::Approx(a == b ? 1.0 : 0.0).epsilon(1e-9));
      }
    double cc[3], u, v;
    c.to_camera(target, cc);
    CHECK(cc[2] > 0);  // in front
    c.project(cc, u, v);
    inside += u >= 0 && u < c.width && v >= 0 && v < c.height;
  }
  // the horizontal place is exact; the vertical one only where the pitch range allows it
  CHECK(inside >= n * 95 / 100);
}

TEST_CASE("filming a clip: deterministic per (seed, epoch, clip), resampled, scaled, with detector-like errors") {
  const MocapClip c = walker();
  EpochOptions o;
  const Sequence a = film_clip(c, o, o.cameras, 3, 5, 11), b = film_clip(c, o, o.cameras, 3, 5, 11);
  CHECK(a.x2d.to_vector() == b.x2d.to_vector());
  CHECK(a.x3d.to_vector() == b.x3d.to_vector());
  const Sequence other = film_clip(c, o, o.cameras, 3, 6, 11);
  CHECK(a.x2d.to_vector() != other.x2d.to_vector());
  // frame rate 25..60 from 30 fps: 99 / 30 s
  for (int e = 0; e < 20; ++e) {
    const int64_t N = film_clip(c, o, o.cameras, 3, e, 0).x2d.size(0);
    CHECK(N >= int64_t(99.0 / 30 * 25));
    CHECK(N <= int64_t(99.0 / 30 * 60) + 1);
  }
  // without 2D errors, the 2D is the projection of the 3D (root-relative 3D + the camera's root)
  EpochOptions clean = o;
  clean.noise.enabled = false;
  const Sequence q = film_clip(c, clean, clean.cameras, 3, 5, 11);
  REQUIRE(q.x3d.size(0) == q.x2d.size(0));
  CHECK(q.x3d(0, 0, 0) == 0.f);
  // bone lengths: within the size x limb spread of the original
  for (int j : {2, 3, 12, 13}) {
    const int p = j == 2 ? 1 : j == 3 ? 2 : j == 12 ? 11 : 12;
    const double orig = std::fabs(double(c.world(0, j, 2) - c.world(0, p, 2))) / 1000.0;
    double d = 0;
    for (int k = 0; k < 3; ++k) d += std::pow(double(q.x3d(0, j, k) - q.x3d(0, p, k)), 2);
    const double ratio = std::sqrt(d) / orig;
    CHECK(ratio >= (1 - o.size_spread) * (1 - o.limb_spread) - 1e-6);
    CHECK(ratio <= (1 + o.size_spread) * (1 + o.limb_spread) + 1e-6);
  }
  // the errors: about 1% of the person's height, with outliers
  double sum = 0;
  int64_t n = 0;
  const Sequence noisy = film_clip(c, o, o.cameras, 3, 5, 11);
  REQUIRE(noisy.x2d.size(0) == q.x2d.size(0));
  for (int64_t i = 0; i < q.x2d.numel(); ++i) sum += std::fabs(double(noisy.x2d.data()[i] - q.x2d.data()[i])), ++n;
  double hmin = 1e9, hmax = -1e9;
  for (int j = 0; j < 17; ++j) hmin = std::min(hmin, double(q.x2d(0, j, 1))), hmax = std::max(hmax, double(q.x2d(0, j, 1)));
  const double mean_err = sum / double(n), height = hmax - hmin;
  CHECK(mean_err > 0.002 * height);
  CHECK(mean_err < 0.05 * height);
}

TEST_CASE("motion names map to the Human3.6M labels the prompt knows") {
  CHECK(label_for_motion("walk-turn-left") == "Walking");
  CHECK(label_for_motion("run") == "Walking");
  CHECK(label_for_motion("Jog") == "Walking");
  CHECK(label_for_motion("wave-both-hands") == "Greeting");
  CHECK(label_for_motion("bow") == "Greeting");
  CHECK(label_for_motion("byebye") == "Greeting");
  CHECK(label_for_motion("punch") == "Posing");
  CHECK(label_for_motion("Box") == "Posing");
  CHECK(label_for_motion("raise-up-left-hand") == "Directions");
  CHECK(label_for_motion("Gestures") == "Directions");
}

TEST_CASE("the wide pipeline on the shared data: held-out split, fixed prompt list, epochs differ") {
  const std::string dir = std::string(FINEPOSE_SHARED_DIR) + "/data";
  if (!std::filesystem::exists(dir + "/bandai_namco_h36m17.npz")) {
    MESSAGE("skipped: ", dir, " has no mocap files (the shared data)");
    return;
  }
#if defined(__SANITIZE_ADDRESS__)
  // Three films of the whole 360k-frame pool cost ~45 s of CI under ASan; the filming code runs
  // sanitized in the cases above, and the Release ctest runs this case on the whole pool.
  MESSAGE("skipped under ASan: the whole-pool case runs in the Release build");
  return;
#endif
  TrainingDataOptions opt;
  opt.pipeline = "wide";
  const TrainingData td = load_training_data(dir, opt);
  int64_t held = 0, cmu_train = 0, elderly_train = 0;
  for (const auto& c : td.pool.clips) {
    held += c.heldout;
    cmu_train += !c.heldout && c.name.rfind("cmu/", 0) == 0;
    elderly_train += !c.heldout && c.style == "elderly";
  }
  CHECK(held > 0);
  CHECK(cmu_train == 0);
  CHECK(elderly_train == 0);
  CHECK(td.pool.frames(false) > 300000);  // every training frame, not a sample
  CHECK(td.heldout.frames() > 0);
  CHECK(td.heldout.labels == td.train.labels);
  CHECK(td.validate.labels == td.train.labels);
  const Dataset e0 = td.epoch_set(0), e1 = td.epoch_set(1);
  CHECK(e0.labels == td.train.labels);
  CHECK(e0.seqs.size() == e1.seqs.size());
  CHECK(e0.seqs.back().x2d.to_vector() != e1.seqs.back().x2d.to_vector());
  int64_t generic = 0;
  const int64_t gi = std::find(td.train.labels.begin(), td.train.labels.end(), kGenericLabel) - td.train.labels.begin();
  for (const auto& s : e0.seqs) generic += s.label == gi;
  CHECK(generic > int64_t(e0.seqs.size()) / 10);  // label dropout 0.2
  CHECK(generic < int64_t(e0.seqs.size()) * 3 / 10);
  // --humaneva-repeat 3: HumanEva-I Train three times, copy 0 exactly as with 1 (a run resumes
  // unchanged), copies 1 and 2 starting later in long sequences; the mocap part as before
  TrainingData rep = td;
  size_t first_train = 0;  // the pool up to its first training clip: one filmed sequence, as in e0
  while (rep.pool.clips[first_train].heldout) ++first_train;
  rep.pool.clips.resize(first_train + 1);
  rep.epoch_options.humaneva_repeat = 3;
  const Dataset r0 = rep.epoch_set(0);
  const size_t H = td.humaneva_train.seqs.size();
  REQUIRE(r0.seqs.size() == 3 * H + 1);
  int64_t shifted = 0;
  for (size_t i = 0; i < H; ++i) {
    CHECK(r0.seqs[i].x2d.to_vector() == e0.seqs[i].x2d.to_vector());
    CHECK(r0.seqs[i].label == e0.seqs[i].label);
    for (size_t r = 1; r < 3; ++r) {
      const Sequence& c = r0.seqs[r * H + i];
      const int64_t N = e0.seqs[i].x2d.size(0), n = c.x2d.size(0);
      CHECK(n <= N);
      CHECK(n == c.x3d.size(0));
      if (n < N) {  // the copy is the tail of the original
        ++shifted;
        CHECK(c.x3d.slice(0, 0, 1).to_vector() == e0.seqs[i].x3d.slice(0, N - n, N - n + 1).contiguous().to_vector());
      }
    }
  }
  CHECK(shifted > int64_t(H));
  CHECK(r0.seqs[3 * H].x2d.to_vector() == e0.seqs[H].x2d.to_vector());  // the first filmed clip
  rep.epoch_options.humaneva_repeat = 0;
  CHECK_THROWS_AS(rep.epoch_set(0), Error);
}
