#pragma once
// FinePoseConfig <-> JSON. The JSON is what finepose writes into a model file's
// metadata ("finepose.config") and what --config files contain. Reading is
// strict: unknown keys and wrong types are errors that name the key.
#include <string>

#include "finepose/io/json.hpp"
#include "finepose/model/config.hpp"
#include "finepose/model/state_dict.hpp"

namespace finepose {

inline std::string variant_name(PromptVariant v) { return v == PromptVariant::h36m ? "h36m" : "3dhp"; }

inline json::Value config_to_json_value(const FinePoseConfig& c) {
  auto ints = [](const std::vector<int64_t>& v) {
    json::Value a = json::Value::array();
    for (auto x : v) a.push_back(json::Value(static_cast<long long>(x)));
    return a;
  };
  json::Value o = json::Value::object();
  o.set("config_version", FinePoseConfig::kVersion);
  o.set("variant", variant_name(c.variant));
  o.set("depth", static_cast<long long>(c.depth));
  o.set("frames", static_cast<long long>(c.frames));
  o.set("joints", static_cast<long long>(c.joints));
  o.set("in_chans", static_cast<long long>(c.in_chans));
  o.set("dim", static_cast<long long>(c.dim));
  o.set("heads", static_cast<long long>(c.heads));
  o.set("mlp_hidden", static_cast<long long>(c.mlp_hidden));
  o.set("text_vocab", static_cast<long long>(c.text_vocab));
  o.set("text_context", static_cast<long long>(c.text_context));
  o.set("text_width", static_cast<long long>(c.text_width));
  o.set("clip_layers", static_cast<long long>(c.clip_layers));
  o.set("clip_heads", static_cast<long long>(c.clip_heads));
  o.set("encoder_layers", static_cast<long long>(c.encoder_layers));
  o.set("encoder_heads", static_cast<long long>(c.encoder_heads));
  o.set("encoder_ff", static_cast<long long>(c.encoder_ff));
  o.set("ctx_lengths", ints(c.ctx_lengths));
  o.set("prompt_tokens", static_cast<long long>(c.prompt_tokens));
  o.set("timesteps", static_cast<long long>(c.timesteps));
  o.set("scale", c.scale);
  o.set("joints_left", ints(c.joints_left));
  o.set("joints_right", ints(c.joints_right));
  if (!c.default_action.empty()) o.set("default_action", c.default_action);  // absent: none (older files stay byte-identical)
  return o;
}

inline std::string config_to_json(const FinePoseConfig& c) { return json::dump(config_to_json_value(c), 1); }

// Fields present in `text` override `base`; the result is validated.
inline FinePoseConfig config_from_json(const std::string& text, FinePoseConfig c = FinePoseConfig()) {
  const json::Value o = json::parse(text, "model config");
  FINEPOSE_CHECK(o.is_object(), "model config: expected a JSON object");
  auto get_int = [&](const std::string& k, int64_t& dst) {
    const json::Value& v = o.at(k);
    FINEPOSE_CHECK(v.is_int(), "model config: '", k, "' must be an integer");
    dst = v.as_int64();
  };
  auto get_ints = [&](const std::string& k, std::vector<int64_t>& dst) {
    const json::Value& v = o.at(k);
    FINEPOSE_CHECK(v.is_array(), "model config: '", k, "' must be an array of integers");
    dst.clear();
    for (const auto& x : v.items()) {
      FINEPOSE_CHECK(x.is_int(), "model config: '", k, "' must be an array of integers");
      dst.push_back(x.as_int64());
    }
  };
  for (const auto& k : o.keys()) {
    if (k == "config_version") {
      FINEPOSE_CHECK(o.at(k).is_int() && o.at(k).as_int64() <= FinePoseConfig::kVersion, "model config: version ",
                     json::dump(o.at(k)), " is newer than this finepose understands (", FinePoseConfig::kVersion, ")");
    } else if (k == "variant") {
      const std::string v = o.at(k).is_string() ? o.at(k).as_string() : "";
      if (v == "h36m") c.variant = PromptVariant::h36m;
      else if (v == "3dhp") c.variant = PromptVariant::mpi3dhp;
      else fail("model config: variant must be \"h36m\" or \"3dhp\"");
    } else if (k == "scale") {
      FINEPOSE_CHECK(o.at(k).is_number(), "model config: 'scale' must be a number");
      c.scale = o.at(k).as_double();
    } else if (k == "default_action") {
      FINEPOSE_CHECK(o.at(k).is_string() && o.at(k).as_string().size() < 200, "model config: 'default_action' must be a short string");
      c.default_action = o.at(k).as_string();
    } else if (k == "ctx_lengths") get_ints(k, c.ctx_lengths);
    else if (k == "joints_left") get_ints(k, c.joints_left);
    else if (k == "joints_right") get_ints(k, c.joints_right);
    else if (k == "depth") get_int(k, c.depth);
    else if (k == "frames") get_int(k, c.frames);
    else if (k == "joints") get_int(k, c.joints);
    else if (k == "in_chans") get_int(k, c.in_chans);
    else if (k == "dim") get_int(k, c.dim);
    else if (k == "heads") get_int(k, c.heads);
    else if (k == "mlp_hidden") get_int(k, c.mlp_hidden);
    else if (k == "text_vocab") get_int(k, c.text_vocab);
    else if (k == "text_context") get_int(k, c.text_context);
    else if (k == "text_width") get_int(k, c.text_width);
    else if (k == "clip_layers") get_int(k, c.clip_layers);
    else if (k == "clip_heads") get_int(k, c.clip_heads);
    else if (k == "encoder_layers") get_int(k, c.encoder_layers);
    else if (k == "encoder_heads") get_int(k, c.encoder_heads);
    else if (k == "encoder_ff") get_int(k, c.encoder_ff);
    else if (k == "prompt_tokens") get_int(k, c.prompt_tokens);
    else if (k == "timesteps") get_int(k, c.timesteps);
    else fail("model config: unknown key '", k, "'");
  }
  c.validate();
  return c;
}

// For official checkpoints only what shapes cannot tell may be given.
inline UnshapedConfig unshaped_from_json(const std::string& text) {
  const json::Value o = json::parse(text, "--config");
  FINEPOSE_CHECK(o.is_object(), "--config: expected a JSON object");
  UnshapedConfig u;
  for (const auto& k : o.keys()) {
    const json::Value& v = o.at(k);
    if (k == "scale") {
      FINEPOSE_CHECK(v.is_number() && v.as_double() > 0, "--config: 'scale' must be a positive number");
      u.scale = v.as_double();
      continue;
    }
    FINEPOSE_CHECK(v.is_int() && v.as_int64() > 0, "--config: '", k, "' must be a positive integer");
    if (k == "heads") u.heads = v.as_int64();
    else if (k == "clip_heads") u.clip_heads = v.as_int64();
    else if (k == "encoder_heads") u.encoder_heads = v.as_int64();
    else fail("--config: '", k, "' cannot be set for an official checkpoint (its shapes define it); allowed: heads, clip_heads, encoder_heads, scale");
  }
  return u;
}

}  // namespace finepose
