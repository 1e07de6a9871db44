#pragma once
// finepose convert in.bin out.safetensors: an official checkpoint (or any
// model file finepose reads) to the library's own self-describing format.
#include <cstdio>

#include "args.hpp"
#include "finepose/model/model_file.hpp"

namespace finepose::cli {

inline int cmd_convert(int argc, char** argv) {
  Args a("convert", "IN OUT.safetensors [--config overrides.json] [--dtype f32|f16|bf16]",
         {{"config", "FILE", "JSON overriding what an official checkpoint cannot tell (heads, clip_heads, encoder_heads, scale)"},
          {"dtype", "T", "storage type of the written tensors: f32 (default), f16 or bf16"},
          {"quiet", "", "print nothing on success"}});
  if (!a.parse(argc, argv)) return 0;
  FINEPOSE_CHECK(a.positional().size() == 2, "convert: expected IN and OUT, got ", a.positional().size(), " paths");
  ModelFileOptions mo;
  if (a.has("config")) mo.overrides_json = io::read_text_file(a.get("config"));
  LoadReport report;
  FinePoseModel model = load_model(a.positional()[0], mo, &report);
  save_model(a.positional()[1], model, a.get("dtype", "f32"));
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
