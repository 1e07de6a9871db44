#pragma once
// Named parameters. Every module lists its tensors under the exact names of the
// PyTorch state dict ("STEblocks.0.attn.qkv.weight"), so loading an official
// checkpoint is a 1:1 name match with shape checks and nothing to translate.
#include <functional>
#include <string>

#include "finepose/core/tensor.hpp"

namespace finepose::nn {

// Called once per parameter with its full dotted name.
using ParamVisitor = std::function<void(const std::string& name, TensorF& param)>;

inline std::string join_name(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

}  // namespace finepose::nn
