#pragma once
// finepose sample: multi-hypothesis DDIM sampling of a FinePOSE model on a
// clip of 2D keypoints, writing every step's x0 estimate.
#include <cstdio>

#include "args.hpp"
#include "finepose/io/npz.hpp"
#include "finepose/model/model_file.hpp"
#include "progress.hpp"
#if defined(FINEPOSE_CUDA)  // set when the CLI links finepose_cuda_runtime (CMake FINEPOSE_CUDA=ON)
#include "finepose/cuda/device_sample.hpp"
#endif

namespace finepose::cli {

inline int cmd_sample(int argc, char** argv) {
  Args a("sample", "--model FILE --input in.npz [--action NAME[,NAME...]] --hypotheses H --steps K [--flip] [--seed S | --noise noise.npz] --out out.npz",
         {{"model", "FILE", "model: official .bin/.pth checkpoint or finepose .safetensors"},
          alias("checkpoint", "FILE", "model"),
          {"input", "FILE", "npz with keypoints_2d (F,J,2) or (B,F,J,2) float32, normalised screen coordinates"},
          {"action", "NAME[,NAME...]", "action label for all items, or one per batch item (Human3.6M models)"},
          {"hypotheses", "H", "number of hypotheses (default 1)"},
          {"steps", "K", "DDIM sampling steps (default 1)"},
          {"flip", "", "flip test-time augmentation"},
          {"seed", "S", "RNG seed for the noise (default 0)"},
          {"noise", "FILE", "npz with noise_init (B,H,F,J,3) and noise_steps (K-1,B,H,F,J,3) to replay"},
          {"out", "FILE", "output npz: poses_3d (B,K,H,F,J,3)"},
          {"vocab", "FILE", "CLIP bpe_simple_vocab_16e6.txt.gz, for labels other than the 15 Human3.6M actions"},
          {"config", "FILE", "JSON overriding what an official checkpoint cannot tell (heads, clip_heads, encoder_heads, scale)"},
          {"threads", "N", "CPU threads (default: all)"},
          {"device", "cpu|cuda", "where to sample (default cpu; cuda needs a build with FINEPOSE_CUDA=ON and a GPU)"},
          {"precision", "fp32|bf16|int8", "matrix-product precision (default fp32; --device cuda: fp32|bf16 storage)"},
          {"quiet", "", "no progress output"},
          {"json", "", "print a JSON summary"}});
  for (auto& o : overwrite_options()) a.add(o);
  if (!a.parse(argc, argv)) return 0;
  const std::string device = a.get("device", "cpu");
  FINEPOSE_CHECK(device == "cpu" || device == "cuda", "sample: --device must be cpu or cuda, got '", device, "'");
  const Precision precision = precision_of(a);
  FINEPOSE_CHECK(device == "cpu" || precision != Precision::int8, "sample: --precision int8 is CPU only (--device cuda: fp32|bf16)");
#if !defined(FINEPOSE_CUDA)
  if (device == "cuda") fail("sample: --device cuda: this finepose was built without CUDA (configure with -DFINEPOSE_CUDA=ON)");
#endif
  a.apply_threads();
  const std::string out_path = a.require("out");
  FINEPOSE_CHECK(out_path.size() > 4 && out_path.compare(out_path.size() - 4, 4, ".npz") == 0, "sample: --out must end in .npz, got '",
                 out_path, "'");
  io::check_output_path("sample", out_path, {a.require("model"), a.require("input"), a.get("noise"), a.get("config"), a.get("vocab")});
  check_output_free(a, "sample", out_path);
  ModelFileOptions mo;
  if (a.has("config")) mo.overrides_json = io::read_text_file(a.get("config"));
  FinePoseModel model = load_model(a.require("model"), mo);
  if (a.has("vocab")) set_tokenizer_from_vocab(model, a.get("vocab"));
  if (device == "cpu") model.set_precision(precision);

  const std::string in_path = a.require("input");
  TensorF x2d = io::to_tensor<float>(io::load_npz_array(in_path, "keypoints_2d"));
  if (x2d.dim() == 3) x2d = x2d.reshape({1, x2d.size(0), x2d.size(1), x2d.size(2)});
  FINEPOSE_CHECK(x2d.dim() == 4, "sample: '", in_path, "': keypoints_2d has shape ", shape_str(x2d.shape()),
                 ", expected (F,J,2) or (B,F,J,2)");
  SampleOptions opt;
  opt.hypotheses = a.get_int_in("hypotheses", 1, 1, 1000);
  opt.steps = a.get_int_in("steps", 1, 1, model.config().timesteps);
  opt.flip = a.has("flip");
  FINEPOSE_CHECK(!(a.has("seed") && a.has("noise")), "sample: give --seed or --noise, not both");
  opt.seed = std::uint64_t(a.get_int("seed", 0));
  TensorF noise_init, noise_steps;
  if (a.has("noise")) {
    auto nz = io::load_npz(a.get("noise"));
    auto need = [&](const char* n) -> TensorF {
      auto it = nz.find(n);
      if (it == nz.end()) fail("sample: noise file '", a.get("noise"), "' has no array '", n, "'");
      return io::to_tensor<float>(it->second);
    };
    noise_init = need("noise_init");
    opt.noise_init = &noise_init;
    if (opt.steps > 1) {
      noise_steps = need("noise_steps");
      opt.noise_steps = &noise_steps;
    }
  }
  std::vector<std::string> actions;
  if (a.has("action")) actions = split_commas(a.get("action"));
  if (model.config().variant == PromptVariant::h36m && actions.empty())
    fail("sample: this model needs --action (e.g. --action Walking)");
  Progress bar("sampling", opt.steps, a.has("quiet") || a.has("json"));
  opt.on_step = [&](int64_t k, int64_t) { bar.update(k + 1); };
  TensorF poses;
  if (device == "cuda") {
#if defined(FINEPOSE_CUDA)
    cuda::DeviceSampleSettings ds;
    ds.precision = a.get("precision", "fp32");
    poses = cuda::device_sample(model, x2d, actions, opt, ds);
#endif
  } else {
    poses = model.sample(x2d, actions, opt);
  }
  bar.finish();
  io::NpzMap out;
  out["poses_3d"] = io::from_tensor(poses);
  io::save_npz(out_path, out, false, existing_of(a));
  if (a.has("json"))
    std::printf("{\"out\": \"%s\", \"shape\": \"%s\", \"seconds\": %.3f}\n", a.get("out").c_str(),
                shape_str(poses.shape()).c_str(), bar.elapsed());
  return 0;
}

}  // namespace finepose::cli
