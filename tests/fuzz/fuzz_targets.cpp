// All fuzz target bodies compiled once (the headers are large); each
// fuzz_<name> program is fuzz_entry.cpp + this object.
#include <cstring>

#include "fuzz_targets.hpp"

namespace finepose::fuzz {

Target target_by_name(const char* name) {
  for (const auto& t : all_targets())
    if (std::strcmp(t.name, name) == 0) return t.run;
  return nullptr;
}

}  // namespace finepose::fuzz
