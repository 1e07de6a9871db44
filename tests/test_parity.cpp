// Parity with the PyTorch reference of the official FinePOSE code: the text
// branch, one denoiser call and DDIM (K steps, replayed noise) with and
// without flip, at relative L2 <= 1e-4. The small presets are committed under
// tests/fixtures/parity; the full-size ones (depth 2 and 8, 27 frames, full CLIP
// text tower) are written at test time (FINEPOSE_PARITY_PRESET=d2|d8, see
// tests/CMakeLists.txt), and also go through the `finepose sample` CLI.
#include <doctest/doctest.h>

#include <cstdio>

#include "finepose/io/npz.hpp"
#include "finepose/io/torch_checkpoint.hpp"
#include "finepose/model/state_dict.hpp"
#include "parity_util.hpp"

using namespace finepose;
using test::rel_l2;

namespace {

constexpr double kTol = 1e-4;

struct Preset {
  std::string dir, name;
  UnshapedConfig unshaped;  // what make_parity_fixtures.py's preset sets in code
  std::string overrides_json;
  std::string action;  // the label the fixture used ("" for 3dhp)
  bool h36m = true;
};

std::string fixture_dir() {
  const char* d = std::getenv("FINEPOSE_PARITY_DIR");  // to try freshly generated small presets
  return d && *d ? std::string(d) : std::string(FINEPOSE_FIXTURE_DIR) + "/parity";
}

std::vector<Preset> presets() {
  std::vector<Preset> v;
  const char* env = std::getenv("FINEPOSE_PARITY_PRESET");
  if (env && *env) {
    Preset p{FINEPOSE_GENERATED_FIXTURES, env, {}, "", "Walking", true};
    v.push_back(p);
    return v;
  }
  UnshapedConfig tiny;
  tiny.heads = 4;
  tiny.clip_heads = 2;
  tiny.encoder_heads = 2;
  const std::string tiny_json = "{\"heads\": 4, \"clip_heads\": 2, \"encoder_heads\": 2}";
  v.push_back({fixture_dir(), "tiny", tiny, tiny_json, "Walking", true});
  v.push_back({fixture_dir(), "3dhp_tiny", tiny, tiny_json, "", false});
  return v;
}

TensorF arr(const io::NpzMap& m, const std::string& k) {
  auto it = m.find(k);
  if (it == m.end()) fail("fixture has no array '", k, "'");
  return io::to_tensor<float>(it->second);
}
std::vector<int32_t> row_tokens(const io::NpzMap& m, const std::string& k, int64_t row) {
  auto t = io::to_tensor<int64_t>(m.at(k));
  std::vector<int32_t> ids;
  for (int64_t i = 0; i < t.size(1); ++i) ids.push_back(int32_t(t(row, i)));
  return ids;
}

void check_preset(const Preset& p, const std::string& expected_file, bool per_sample_text) {
  const std::string base = p.dir + "/" + p.name;
  io::TorchLoadOptions lo;
  lo.keep = [](const std::string& k) { return k.rfind("model_pos.", 0) == 0 && k.find("clip_text.visual.") == std::string::npos; };
  const StateDict sd = io::load_torch_checkpoint(base + ".bin", lo).state_dict("model_pos");
  FinePoseModel model(infer_config(sd, p.unshaped));
  load_state_dict(model, sd);
  const auto& net = model.net();
  const io::NpzMap exp = io::load_npz(expected_file);
  const TensorF x2d = arr(io::load_npz(base + "_input.npz"), "keypoints_2d");
  const io::NpzMap noise = io::load_npz(base + "_noise.npz");
  const int64_t B = x2d.size(0);

  // text branch, per sample
  std::vector<TextFeatures> feats;
  PromptTokens pt;
  for (int i = 0; i < 6; ++i) pt.fixed.push_back(row_tokens(exp, "pre_text_tokens", i));
  const TensorF xf_proj = arr(exp, "xf_proj"), xf_out = arr(exp, "xf_out");
  for (int64_t b = 0; b < B; ++b) {
    if (p.h36m) pt.action = row_tokens(exp, "text_tokens", b);
    feats.push_back(net.encode_text(pt));
    INFO(p.name, " sample ", b);
    CHECK(rel_l2(feats[b].xf_proj, xf_proj.select(0, b)) <= kTol);
    CHECK(rel_l2(feats[b].xf_out, xf_out.select(0, b)) <= kTol);
  }
  std::vector<const TextFeatures*> texts;
  for (auto& f : feats) texts.push_back(&f);

  // one denoiser call
  {
    auto t64 = io::to_tensor<int64_t>(exp.at("den_t"));
    std::vector<int64_t> t(t64.data(), t64.data() + t64.numel());
    const TensorF out = net.forward(x2d, arr(exp, "den_x3d"), t, texts);
    const double e = rel_l2(out, arr(exp, "den_out"));
    MESSAGE(p.name, ": denoiser rel L2 = ", e);
    CHECK(e <= kTol);
  }
  // DDIM with replayed noise, with and without flip
  const TensorF n0 = arr(noise, "noise_init"), ns = arr(noise, "noise_steps");
  const int64_t K = arr(exp, "poses_3d").size(1), H = n0.size(1);
  for (bool flip : {false, true}) {
    SampleOptions o;
    o.hypotheses = H;
    o.steps = K;
    o.flip = flip;
    o.noise_init = &n0;
    o.noise_steps = &ns;
    const TensorF got = ddim_sample(net, model.schedule(), x2d, texts, o);
    const TensorF want = arr(exp, flip ? "poses_3d_flip" : "poses_3d");
    const double e = rel_l2(got, want);
    const std::string what = p.name + (per_sample_text ? " (per-sample labels)" : "") + ": DDIM K=" + std::to_string(K) +
                             (flip ? " flip" : " no flip");
    MESSAGE(what, " rel L2 = ", e);
    CHECK(e <= kTol);
    for (int64_t k = 0; k < K; ++k) {  // every step, not just the total
      INFO("step ", k);
      CHECK(rel_l2(got.slice(1, k, k + 1), want.slice(1, k, k + 1)) <= kTol);
    }
  }
}

// The same through the command-line tool, as a user runs it.
void check_cli(const Preset& p) {
  const std::string cli = FINEPOSE_CLI;
  if (cli.empty()) {
    MESSAGE("skipped: the finepose CLI was not built");
    return;
  }
  const std::string base = p.dir + "/" + p.name;
  const io::NpzMap exp = io::load_npz(base + "_expected.npz");
  const TensorF want0 = arr(exp, "poses_3d");
  const int64_t K = want0.size(1), H = want0.size(2);
  std::string cfg_arg;
  if (!p.overrides_json.empty()) {
    const std::string cfg = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + "/finepose_parity_" + p.name + ".json";
    std::FILE* f = std::fopen(cfg.c_str(), "w");
    REQUIRE(f);
    std::fputs(p.overrides_json.c_str(), f);
    std::fclose(f);
    cfg_arg = " --config " + cfg;
  }
  for (bool flip : {false, true}) {
    const std::string out = base + (flip ? "_cli_flip.npz" : "_cli.npz");
    std::string cmd = cli + " sample --quiet --checkpoint " + base + ".bin" + cfg_arg + " --input " + base + "_input.npz" +
                      (p.h36m ? " --action " + p.action : std::string()) + " --hypotheses " + std::to_string(H) +
                      " --steps " + std::to_string(K) + " --noise " + base + "_noise.npz --out " + out + (flip ? " --flip" : "");
    INFO(cmd);
    REQUIRE(std::system(cmd.c_str()) == 0);
    const double e = rel_l2(arr(io::load_npz(out), "poses_3d"), arr(exp, flip ? "poses_3d_flip" : "poses_3d"));
    const std::string what = p.name + (flip ? ": CLI flip" : ": CLI no flip");
    MESSAGE(what, " rel L2 = ", e);
    CHECK(e <= kTol);
    std::remove(out.c_str());
  }
}

}  // namespace

TEST_CASE("DDIM time pairs and schedule match the fixture") {
  CHECK(ddim_time_pairs(1000, 3) == std::vector<std::pair<int64_t, int64_t>>{{999, 665}, {665, 332}, {332, -1}});
  CHECK(ddim_time_pairs(1000, 1) == std::vector<std::pair<int64_t, int64_t>>{{999, -1}});
  auto p10 = ddim_time_pairs(1000, 10);
  CHECK(p10.front() == std::pair<int64_t, int64_t>{999, 899});
  CHECK(p10.back() == std::pair<int64_t, int64_t>{99, -1});
  for (const auto& p : presets()) {
    const std::string f = p.dir + "/" + p.name + "_expected.npz";
    if (!test::file_exists(f)) continue;
    auto times = io::to_tensor<int64_t>(io::load_npz(f).at("ddim_times"));
    auto pairs = ddim_time_pairs(1000, times.numel() - 1);
    for (int64_t i = 0; i + 1 < times.numel(); ++i) {
      CHECK(pairs[i].first == times(i));
      CHECK(pairs[i].second == times(i + 1));
    }
  }
}

TEST_CASE("parity with the PyTorch reference") {
  for (const auto& p : presets()) {
    const std::string base = p.dir + "/" + p.name;
    if (!test::file_exists(base + ".bin")) {
      if (std::getenv("FINEPOSE_PARITY_PRESET")) FAIL("fixture ", base, ".bin was not generated");
      MESSAGE("skipped: ", base, ".bin is absent");
      continue;
    }
    SUBCASE(p.name.c_str()) {
      check_preset(p, base + "_expected.npz", false);
      check_cli(p);
      if (test::file_exists(base + "_mixed_expected.npz")) check_preset(p, base + "_mixed_expected.npz", true);
    }
  }
}
