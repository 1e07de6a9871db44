#pragma once
// A small command-line parser for the finepose tool: declared options only,
// "--name value" or "--name=value", boolean switches, positionals; unknown or
// malformed options are errors that name the option.
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "finepose/core/error.hpp"
#include "finepose/core/parallel.hpp"
#include "finepose/io/file.hpp"
#include "finepose/ops/packed_linear.hpp"
#include "finepose/ops/precision.hpp"

namespace finepose::cli {

struct OptionSpec {
  std::string name;  // without "--"
  std::string meta;  // e.g. "FILE"; empty for switches
  std::string help;
  std::string alias_of;  // set: an old name kept working, stored (and reported) as --alias_of
  OptionSpec(std::string n, std::string m, std::string h, std::string a = {})
      : name(std::move(n)), meta(std::move(m)), help(std::move(h)), alias_of(std::move(a)) {}
};

// An old option name that keeps working as another's alias: {"checkpoint", "FILE", "", "model"}.
inline OptionSpec alias(std::string old_name, std::string meta, std::string name) {
  return {std::move(old_name), std::move(meta), "", std::move(name)};
}

class Args {
 public:
  Args(std::string command, std::string usage, std::vector<OptionSpec> specs)
      : command_(std::move(command)), usage_(std::move(usage)), specs_(std::move(specs)) {
    specs_.push_back({"help", "", "print this help"});
  }

  // Declares one more option (shared ones, e.g. overwrite_options()); --help stays last.
  void add(OptionSpec s) { specs_.insert(specs_.end() - 1, std::move(s)); }

  // Returns false when --help was given (help already printed).
  bool parse(int argc, char** argv) {
    for (int i = 0; i < argc; ++i) {
      std::string a = argv[i];
      if (a.rfind("--", 0) != 0 || a == "--") {
        positional_.push_back(a);
        continue;
      }
      std::string name = a.substr(2), value;
      bool has_value = false;
      auto eq = name.find('=');
      if (eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
        has_value = true;
      }
      const OptionSpec* s = find(name);
      if (!s) fail(command_, ": unknown option --", name, " (see finepose ", command_, " --help)");
      if (!s->alias_of.empty()) {
        const std::string& canonical = s->alias_of;
        if (given_as_.count(canonical) && given_as_[canonical] != name)
          fail(command_, ": --", name, " is another name for --", canonical, "; give one of them");
        given_as_[canonical] = name;
        name = canonical;
      } else {
        if (given_as_.count(name) && given_as_[name] != name)
          fail(command_, ": --", given_as_[name], " is another name for --", name, "; give one of them");
        given_as_[name] = name;
      }
      if (s->meta.empty()) {
        if (has_value) fail(command_, ": option --", name, " takes no value");
        values_[name] = "1";
      } else {
        if (!has_value) {
          if (i + 1 >= argc) fail(command_, ": option --", name, " needs a value (", s->meta, ")");
          value = argv[++i];
        }
        values_[name] = value;
      }
    }
    if (has("help")) {
      print_help();
      return false;
    }
    return true;
  }

  void print_help() const {
    std::printf("usage: finepose %s %s\n\noptions:\n", command_.c_str(), usage_.c_str());
    for (const auto& s : specs_) {
      std::string left = "--" + s.name + (s.meta.empty() ? "" : " " + s.meta);
      const std::string help = !s.alias_of.empty() && s.help.empty() ? "the same as --" + s.alias_of + " (its old name)" : s.help;
      std::printf("  %-28s %s\n", left.c_str(), help.c_str());
    }
  }

  bool has(const std::string& n) const { return values_.count(n) > 0; }
  std::string get(const std::string& n, const std::string& def = "") const {
    auto it = values_.find(n);
    return it == values_.end() ? def : it->second;
  }
  std::string require(const std::string& n) const {
    if (!has(n)) fail(command_, ": missing required option --", n, " (see finepose ", command_, " --help)");
    return get(n);
  }
  long long get_int(const std::string& n, long long def) const {
    if (!has(n)) return def;
    const std::string v = get(n);
    char* end = nullptr;
    errno = 0;
    long long r = std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || *end || errno) fail(command_, ": --", n, " expects an integer, got '", v, "'");
    return r;
  }
  // An integer in [lo, hi]: every option that sizes something or is cast to a
  // narrower type goes through here, so no value wraps or overflows later.
  long long get_int_in(const std::string& n, long long def, long long lo, long long hi) const {
    const long long r = get_int(n, def);
    if (has(n) && (r < lo || r > hi)) fail(command_, ": --", n, " must be in ", lo, "..", hi, ", got ", r);
    return r;
  }
  // A finite number (NaN and Inf are refused: no option means them).
  double get_double(const std::string& n, double def) const {
    if (!has(n)) return def;
    const std::string v = get(n);
    char* end = nullptr;
    double r = std::strtod(v.c_str(), &end);
    if (v.empty() || *end) fail(command_, ": --", n, " expects a number, got '", v, "'");
    if (!std::isfinite(r)) fail(command_, ": --", n, " must be a finite number, got '", v, "'");
    return r;
  }
  double get_double_in(const std::string& n, double def, double lo, double hi) const {
    const double r = get_double(n, def);
    if (has(n) && !(r >= lo && r <= hi)) fail(command_, ": --", n, " must be in [", lo, ", ", hi, "], got ", r);
    return r;
  }
  // --threads N: 1..kMaxThreads (far more threads than cores only slows a run down,
  // and hundreds of thousands make the OpenMP runtime abort). Absent: all cores.
  void apply_threads() const {
    if (has("threads")) set_num_threads(int(get_int_in("threads", 0, 1, kMaxThreads)));
  }
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  const OptionSpec* find(const std::string& n) const {
    for (const auto& s : specs_)
      if (s.name == n) return &s;
    return nullptr;
  }
  std::string command_, usage_;
  std::vector<OptionSpec> specs_;
  std::map<std::string, std::string> values_;
  std::map<std::string, std::string> given_as_;  // canonical name -> the name it was given under
  std::vector<std::string> positional_;
};

inline std::vector<std::string> split_commas(const std::string& s, char sep = ',') {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

// --precision fp32|bf16|int8 (the denoiser's matrix products on the CPU; default fp32).
inline OptionSpec precision_option() {
  return {"precision", "fp32|bf16|int8", "CPU matrix-product precision (default fp32, the parity reference; bf16/int8: "
                                          "faster, see README \"Reduced precision\" for the measured error)"};
}
// A reduced precision without its SIMD kernel in this build (-march of a CPU without
// AVX-512 BF16 / VNNI) runs the portable path, slower than fp32: said once, on stderr.
inline Precision precision_of(const Args& a) {
  const Precision p = parse_precision(a.get("precision", "fp32"), "--precision");
  static bool warned = false;
  if (p != Precision::fp32 && !ops::packed_simd(p) && !warned) {
    warned = true;
    std::fprintf(stderr, "finepose: warning: --precision %s runs the %s kernel in this build (no %s); expect it slower than fp32\n",
                 precision_name(p), ops::packed_kernel_name(p, true), p == Precision::bf16 ? "AVX-512 BF16" : "AVX-512 VNNI");
  }
  return p;
}

// --overwrite (alias --force): every command that writes a file refuses one that
// exists unless given it, so a typo or a rerun never destroys a result. The
// refusal is checked before any work and again, atomically, when the file is
// put in place (io::Existing::refuse).
inline std::vector<OptionSpec> overwrite_options(const std::string& what = "the output") {
  return {{"overwrite", "", "replace " + what + " if it exists (default: refuse)"}, {"force", "", "the same as --overwrite", "overwrite"}};
}
inline io::Existing existing_of(const Args& a) { return a.has("overwrite") ? io::Existing::replace : io::Existing::refuse; }
inline void check_output_free(const Args& a, const std::string& command, const std::string& path) {
  io::check_not_taken(command, path, existing_of(a), "give --overwrite to replace it");
}

}  // namespace finepose::cli
