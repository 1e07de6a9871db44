#pragma once
// Helpers for tests that compare finepose with PyTorch fixtures.
#include <cmath>
#include <cstdlib>
#include <string>
#include <sys/stat.h>

#include "finepose/core/tensor.hpp"
#include "test_helpers.hpp"

namespace finepose::test {

inline bool file_exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}


}  // namespace finepose::test
