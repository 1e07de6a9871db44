#pragma once
// finepose convert in.bin out.safetensors: an official checkpoint (or any
// model file finepose reads) to the library's own self-describing format.
// finepose convert --info in.bin: what a torch checkpoint holds (entries, numbers,
// the saved numpy RandomState, tensor count), read as data, nothing converted.
#include <cstdio>

#include <unistd.h>

#include "args.hpp"
#include "finepose/io/torch_checkpoint.hpp"
#include "finepose/model/model_file.hpp"

namespace finepose::cli {

inline int cmd_convert(int argc, char** argv) {
  Args a("convert", "IN OUT.safetensors [--config overrides.json] [--dtype f32|f16|bf16]",
         {{"config", "FILE", "JSON overriding what an official checkpoint cannot tell (heads, clip_heads, encoder_heads, scale)"},
          {"dtype", "T", "storage type of the written tensors: f32 (default), f16 or bf16"},
          {"quiet", "", "print nothing on success"},
          {"allow-non-finite", "", "convert a model whose parameters hold NaN/Inf (refused by default: it gives NaN poses)"},
          {"info", "", "only describe IN (a torch .bin/.pth checkpoint): entries, numbers, random_state, tensors"}});
  for (auto& o : overwrite_options("OUT")) a.add(o);
  if (!a.parse(argc, argv)) return 0;
  if (a.has("info")) {
    FINEPOSE_CHECK(a.positional().size() == 1, "convert --info: expected one checkpoint, got ", a.positional().size(), " paths");
    io::TorchLoadOptions lo;
    lo.keep = [](const std::string&) { return false; };  // describe, do not read tensor data
    const io::TorchCheckpoint ck = io::load_torch_checkpoint(a.positional()[0], lo);
    std::string names;
    for (const auto& e : ck.entries()) names += (names.empty() ? "" : ", ") + e;
    std::printf("%s\nentries: %s\n", a.positional()[0].c_str(), names.c_str());
    for (const auto& kv : ck.scalars) std::printf("%s: %.17g\n", kv.first.c_str(), kv.second);
    if (ck.has_random_state) {
      const auto& rs = ck.random_state;
      std::printf("random_state: numpy RandomState %s, pos %lld, key[0] %u, has_gauss %d, gauss %.17g\n",
                  rs.bit_generator.c_str(), (long long)rs.pos, rs.key.empty() ? 0u : rs.key[0], rs.has_gauss ? 1 : 0,
                  rs.gauss);
    }
    std::printf("tensors: %zu\n", ck.info.size());
    return 0;
  }
  FINEPOSE_CHECK(a.positional().size() == 2, "convert: expected IN and OUT, got ", a.positional().size(), " paths");
  const std::string in = a.positional()[0], out = a.positional()[1];
  io::check_output_path("convert", out, {in, a.get("config")});
  check_output_free(a, "convert", out);
  const std::string dtype = a.get("dtype", "f32");
  FINEPOSE_CHECK(dtype == "f32" || dtype == "f16" || dtype == "bf16", "convert: --dtype must be f32, f16 or bf16, got '", dtype, "'");
  ModelFileOptions mo;
  if (a.has("config")) mo.overrides_json = io::read_text_file(a.get("config"));
  mo.allow_non_finite = a.has("allow-non-finite");
  LoadReport report;
  FinePoseModel model = load_model(in, mo, &report);
  save_model(out, model, dtype, existing_of(a));
  if (!a.has("quiet")) {
    std::printf("wrote %s: %lld tensors (%zu file entries skipped: optimizer, CLIP visual tower, buffers)\n",
                a.positional()[1].c_str(), (long long)report.loaded, report.skipped.size());
    if (report.non_finite)
      std::printf("warning: %lld parameters contain NaN/Inf (first: %s)\n", (long long)report.non_finite,
                  report.non_finite_names.front().c_str());
  }
  return 0;
}

}  // namespace finepose::cli
