#pragma once
// CLIP token ids of the texts every FinePOSE model uses: its six fixed prompt
// texts and the 15 Human3.6M action labels (as upstream's evaluation passes
// them: "Walking 1" -> "Walking"). With these a Human3.6M model runs without
// the CLIP vocabulary file; other labels need ClipTokenizer and the vocab.
// tests/test_known_prompts.cpp checks every entry against the tokenizer.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "finepose/core/error.hpp"

namespace finepose {

inline const std::vector<std::string>& fixed_prompt_texts() {
  static const std::vector<std::string> t = {"A person", "speed", "head", "body", "arm", "leg"};
  return t;
}

inline const std::vector<std::string>& h36m_action_labels() {
  static const std::vector<std::string> t = {"Directions", "Discussion", "Eating",  "Greeting", "Phoning",
                                             "Photo",      "Posing",     "Purchases", "Sitting", "SittingDown",
                                             "Smoking",    "Waiting",    "WalkDog", "Walking", "WalkTogether"};
  return t;
}

// SOT + BPE ids + EOT (no padding) for the texts above.
inline const std::map<std::string, std::vector<int32_t>>& known_prompt_tokens() {
  static const std::map<std::string, std::vector<int32_t>> m = {
      {"A person", {49406, 320, 2533, 49407}},
      {"speed", {49406, 4163, 49407}},
      {"head", {49406, 1375, 49407}},
      {"body", {49406, 1774, 49407}},
      {"arm", {49406, 4793, 49407}},
      {"leg", {49406, 4924, 49407}},
      {"Directions", {49406, 16440, 49407}},
      {"Discussion", {49406, 5060, 49407}},
      {"Eating", {49406, 4371, 49407}},
      {"Greeting", {49406, 17754, 49407}},
      {"Phoning", {49406, 745, 5197, 49407}},
      {"Photo", {49406, 1125, 49407}},
      {"Posing", {49406, 10518, 49407}},
      {"Purchases", {49406, 21887, 49407}},
      {"Sitting", {49406, 4919, 49407}},
      {"SittingDown", {49406, 42988, 653, 1136, 49407}},
      {"Smoking", {49406, 9038, 49407}},
      {"Waiting", {49406, 2680, 49407}},
      {"WalkDog", {49406, 8588, 1929, 49407}},
      {"Walking", {49406, 3941, 49407}},
      {"WalkTogether", {49406, 8588, 1952, 49407}},
  };
  return m;
}

// The built-in ids of `text` padded with zeros to `context` tokens (CLIP's 77);
// an error naming the text when it is not one of the built-in ones.
inline std::vector<int32_t> builtin_prompt_tokens(const std::string& text, std::int64_t context) {
  const auto& known = known_prompt_tokens();
  auto it = known.find(text);
  if (it == known.end())
    fail("text \"", text, "\" is not one of the built-in labels (the 15 Human3.6M actions); "
         "give the CLIP vocabulary (bpe_simple_vocab_16e6.txt.gz, --vocab) to use other labels");
  std::vector<int32_t> ids = it->second;
  ids.resize(std::size_t(context), 0);
  return ids;
}

}  // namespace finepose
