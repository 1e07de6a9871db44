#pragma once
// A progress bar with ETA on stderr, only when stderr is a terminal (or forced),
// silent with --quiet.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

namespace finepose::cli {

class Progress {
 public:
  Progress(std::string label, long long total, bool quiet)
      : label_(std::move(label)), total_(total), quiet_(quiet || !isatty(2)), t0_(clock::now()) {}
  void update(long long done) {
    done_ = done;
    if (quiet_) return;
    const double el = elapsed();
    const double eta = done > 0 ? el / double(done) * double(total_ - done) : 0.0;
    const int width = 30;
    const int fill = total_ > 0 ? int(double(width) * double(done) / double(total_)) : width;
    std::fprintf(stderr, "\r%s [%s%s] %lld/%lld  %.1fs elapsed, ETA %.1fs ", label_.c_str(),
                 std::string(fill, '#').c_str(), std::string(width - fill, '.').c_str(), done, total_, el, eta);
    std::fflush(stderr);
  }
  void finish() {
    if (!quiet_) std::fprintf(stderr, "\n");
  }
  double elapsed() const { return std::chrono::duration<double>(clock::now() - t0_).count(); }

 private:
  using clock = std::chrono::steady_clock;
  std::string label_;
  long long total_, done_ = 0;
  bool quiet_;
  clock::time_point t0_;
};

}  // namespace finepose::cli
