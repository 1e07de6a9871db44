#pragma once
// Loads the numpy-computed expected values of tools/reference/pose_reference.py
// for the test_pose_* tests. The script is run at test time into
// FINEPOSE_GENERATED_FIXTURES/pose; when python3 or numpy is missing the
// loader returns nullptr and the test reports "skipped".
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "finepose/core/tensor.hpp"

namespace pose_test {

struct RefArray {
  finepose::Shape shape;
  std::vector<double> values;
  finepose::TensorD tensor() const { return finepose::TensorD::from(shape, values); }
  double operator[](std::size_t i) const { return values.at(i); }
};

using RefMap = std::map<std::string, RefArray>;

inline std::shared_ptr<RefMap> parse_reference(const std::string& path) {
  std::ifstream f(path);
  if (!f) return nullptr;
  auto m = std::make_shared<RefMap>();
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream is(line);
    std::string name, shape;
    if (!(is >> name >> shape)) continue;
    RefArray a;
    std::istringstream ss(shape);
    std::string d;
    while (std::getline(ss, d, ',')) a.shape.push_back(std::stoll(d));
    double v;
    while (is >> v) a.values.push_back(v);
    if (std::int64_t(a.values.size()) != finepose::shape_numel(a.shape)) return nullptr;
    (*m)[name] = std::move(a);
  }
  return m;
}

// Runs the generator once per process; nullptr (with a reason) when it cannot.
inline std::shared_ptr<RefMap> reference(std::string* why = nullptr) {
  static std::shared_ptr<RefMap> cached;
  static std::string reason;
  static bool tried = false;
  if (!tried) {
    tried = true;
    const std::string dir = std::string(FINEPOSE_GENERATED_FIXTURES) + "/pose";
    const std::string cmd = "/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1 && /usr/bin/python3 \"" +
                            std::string(FINEPOSE_SOURCE_DIR) + "/tools/reference/pose_reference.py\" \"" + dir +
                            "\" >/dev/null";
    if (std::system(cmd.c_str()) != 0) {
      reason = "skipped: /usr/bin/python3 with numpy is not available to run tools/reference/pose_reference.py";
    } else {
      cached = parse_reference(dir + "/pose_reference.txt");
      if (!cached) reason = "skipped: could not read " + dir + "/pose_reference.txt";
    }
  }
  if (why) *why = reason;
  return cached;
}

}  // namespace pose_test
