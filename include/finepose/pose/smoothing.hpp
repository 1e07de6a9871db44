#pragma once
// Temporal smoothing of lifted pose sequences: the jitter users ask lifters to
// remove (mmpose#2648, DWPose#70), applied to every coordinate on its own.
//
//   one-euro   Casiez, Roussel & Vogel, "1 Euro Filter" (CHI 2012): a causal
//              low-pass whose cutoff grows with the speed, so that slow
//              motion is smoothed hard and fast motion lags little. Live use
//              (PersonsStream, StreamingLifter output) can run it frame by frame.
//              min_cutoff (Hz) sets the smoothing at rest, beta (1/mm) how fast
//              the cutoff rises with speed (mm/s), d_cutoff (Hz) the speed's own low-pass.
//   savgol     Savitzky-Golay: each frame replaced by a least-squares polynomial
//              (order) fitted over `window` frames centred on it; near the ends
//              the polynomial of the first / last full window is evaluated
//              (scipy's mode="interp"). Offline, no lag, keeps peaks better than
//              a moving average.
// Which is the default and with which parameters is a measurement
// (`finepose smooth-study`, README "Smoothing"), chosen on held-out data.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "finepose/core/error.hpp"
#include "finepose/core/tensor.hpp"

namespace finepose::pose {

enum class Smoother { none, one_euro, savgol };

struct SmoothOptions {
  Smoother kind = Smoother::none;
  double fps = 50;           // frames per second of the sequence (one-euro)
  double min_cutoff = 1.0;   // Hz
  double beta = 0.01;        // per mm/s
  double d_cutoff = 1.0;     // Hz
  int64_t window = 9;        // frames, odd (savgol)
  int64_t order = 2;         // polynomial order < window (savgol)
};

// What `finepose infer` smooths with when --smooth is not given: the setting
// `finepose smooth-study` found best on the held-out split for the default model
// (README "Smoothing"). Measured 2026-12-07 for the shipped base model: savgol
// 21/3 had the lowest held-out MPJPE of the grid (54.54 mm against 55.47
// unsmoothed) and an 11x lower acceleration error. (For the small model the same
// rule chose 31/3.)
inline SmoothOptions default_smooth_options() {
  SmoothOptions o;
  o.kind = Smoother::savgol;
  o.window = 21;
  o.order = 3;
  return o;
}

inline Smoother parse_smoother(const std::string& s) {
  if (s == "none") return Smoother::none;
  if (s == "one-euro" || s == "one_euro" || s == "oneeuro") return Smoother::one_euro;
  if (s == "savgol" || s == "savitzky-golay") return Smoother::savgol;
  fail("smoothing: unknown filter '", s, "' (none, one-euro or savgol)");
}

inline std::string smoother_name(Smoother k) {
  return k == Smoother::none ? "none" : k == Smoother::one_euro ? "one-euro" : "savgol";
}

inline void check_smooth_options(const SmoothOptions& o) {
  auto finite_pos = [](double v) { return std::isfinite(v) && v > 0; };
  if (o.kind == Smoother::one_euro) {
    FINEPOSE_CHECK(finite_pos(o.fps) && o.fps <= 10000, "one-euro: fps must be in (0, 10000], got ", o.fps);
    FINEPOSE_CHECK(finite_pos(o.min_cutoff), "one-euro: min cutoff must be > 0 Hz, got ",
                   o.min_cutoff);
    FINEPOSE_CHECK(std::isfinite(o.beta) && o.beta >= 0, "one-euro: beta must be >= 0, got ", o.beta);
    FINEPOSE_CHECK(finite_pos(o.d_cutoff), "one-euro: derivative cutoff must be > 0 Hz, got ", o.d_cutoff);
  }
  if (o.kind == Smoother::savgol) {
    FINEPOSE_CHECK(o.window >= 3 && o.window <= 1001 && o.window % 2 == 1, "savgol: window must be odd, 3..1001, got ", o.window);
    FINEPOSE_CHECK(o.order >= 0 && o.order < o.window && o.order <= 6, "savgol: order must be 0..6 and < window, got ", o.order);
  }
}

// One causal 1-euro filter over a series of scalars (x[i * stride], i < n), in place.
inline void one_euro_series(float* x, int64_t n, int64_t stride, const SmoothOptions& o) {
  if (n < 2) return;
  const double te = 1.0 / o.fps;
  auto alpha = [te](double cutoff) {
    const double tau = 1.0 / (2 * M_PI * cutoff);
    return 1.0 / (1.0 + tau / te);
  };
  const double ad = alpha(o.d_cutoff);
  double prev = x[0], dprev = 0;
  for (int64_t i = 1; i < n; ++i) {
    const double v = x[i * stride];
    const double dx = (v - prev) / te;
    dprev = ad * dx + (1 - ad) * dprev;
    const double a = alpha(o.min_cutoff + o.beta * std::fabs(dprev));
    prev = a * v + (1 - a) * prev;
    x[i * stride] = float(prev);
  }
}

namespace detail {
// Weights w[k] (k < window) such that sum_k w[k] y[k] is the value at offset
// `at` (0..window-1) of the least-squares polynomial of `order` through
// y[0..window-1] at offsets 0..window-1. Solved in double on the normal
// equations of the centred offsets (well conditioned for order <= 6).
inline std::vector<double> savgol_weights(int64_t window, int64_t order, int64_t at) {
  const int64_t m = order + 1;
  const double c = 0.5 * double(window - 1);
  auto pw = [](double v, int64_t e) {
    double r = 1;
    for (int64_t i = 0; i < e; ++i) r *= v;
    return r;
  };
  // normal matrix A^T A (m x m) and its inverse applied to the basis at `at`
  std::vector<double> M(static_cast<size_t>(m * m), 0.0), rhs(static_cast<size_t>(m));
  for (int64_t k = 0; k < window; ++k)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < m; ++j) M[size_t(i * m + j)] += pw(double(k) - c, i + j);
  for (int64_t i = 0; i < m; ++i) rhs[size_t(i)] = pw(double(at) - c, i);
  // solve M z = rhs (Gauss-Jordan with partial pivoting); then w[k] = sum_i z_i (k - c)^i
  for (int64_t col = 0; col < m; ++col) {
    int64_t piv = col;
    for (int64_t r = col + 1; r < m; ++r)
      if (std::fabs(M[size_t(r * m + col)]) > std::fabs(M[size_t(piv * m + col)])) piv = r;
    for (int64_t j = 0; j < m; ++j) std::swap(M[size_t(col * m + j)], M[size_t(piv * m + j)]);
    std::swap(rhs[size_t(col)], rhs[size_t(piv)]);
    const double d = M[size_t(col * m + col)];
    for (int64_t r = 0; r < m; ++r) {
      if (r == col) continue;
      const double f = M[size_t(r * m + col)] / d;
      for (int64_t j = 0; j < m; ++j) M[size_t(r * m + j)] -= f * M[size_t(col * m + j)];
      rhs[size_t(r)] -= f * rhs[size_t(col)];
    }
  }
  std::vector<double> w(static_cast<size_t>(window), 0.0);
  for (int64_t k = 0; k < window; ++k)
    for (int64_t i = 0; i < m; ++i) w[size_t(k)] += rhs[size_t(i)] / M[size_t(i * m + i)] * pw(double(k) - c, i);
  return w;
}
}  // namespace detail

// Savitzky-Golay over a series of n scalars (x[i * stride]), in place. A
// series shorter than the window uses the largest odd window it holds (and
// an order below it); fewer than 3 frames are left as they are.
inline void savgol_series(float* x, int64_t n, int64_t stride, const SmoothOptions& o) {
  int64_t W = std::min(o.window, n % 2 ? n : n - 1);
  if (W < 3) return;
  const int64_t P = std::min(o.order, W - 1), half = W / 2;
  std::vector<std::vector<double>> wts(static_cast<size_t>(W));  // by the offset evaluated in the window
  for (int64_t a = 0; a < W; ++a) wts[size_t(a)] = detail::savgol_weights(W, P, a);
  std::vector<double> y(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) y[size_t(i)] = x[i * stride];
  for (int64_t i = 0; i < n; ++i) {
    const int64_t s = std::clamp<int64_t>(i - half, 0, n - W);  // the window's first frame
    const std::vector<double>& w = wts[size_t(i - s)];
    double v = 0;
    for (int64_t k = 0; k < W; ++k) v += w[size_t(k)] * y[size_t(s + k)];
    x[i * stride] = float(v);
  }
}

// Every coordinate of a (F, ...) sequence over its frames, in place.
inline void smooth_sequence(TensorF& seq, const SmoothOptions& o) {
  check_smooth_options(o);
  if (o.kind == Smoother::none || !seq.defined() || seq.dim() < 1 || seq.size(0) < 2) return;
  FINEPOSE_CHECK(seq.is_contiguous(), "smoothing: the sequence must be contiguous");
  const int64_t F = seq.size(0), D = seq.numel() / F;
  for (int64_t d = 0; d < D; ++d) {
    if (o.kind == Smoother::one_euro) one_euro_series(seq.data() + d, F, D, o);
    else savgol_series(seq.data() + d, F, D, o);
  }
}

// Short form for tables: "one-euro 1/0.01" (min cutoff Hz / beta), "savgol 21/3" (window / order).
inline std::string smooth_label(const SmoothOptions& o) {
  char b[64];
  if (o.kind == Smoother::one_euro) std::snprintf(b, sizeof b, "one-euro %g/%g", o.min_cutoff, o.beta);
  else if (o.kind == Smoother::savgol) std::snprintf(b, sizeof b, "savgol %lld/%lld", (long long)o.window, (long long)o.order);
  else std::snprintf(b, sizeof b, "none");
  return b;
}

inline std::string smooth_description(const SmoothOptions& o) {
  char b[160];
  if (o.kind == Smoother::one_euro)
    std::snprintf(b, sizeof b, "one-euro (min cutoff %g Hz, beta %g, d cutoff %g Hz, %g fps)", o.min_cutoff, o.beta, o.d_cutoff, o.fps);
  else if (o.kind == Smoother::savgol)
    std::snprintf(b, sizeof b, "savgol (window %lld, order %lld)", (long long)o.window, (long long)o.order);
  else
    std::snprintf(b, sizeof b, "none");
  return b;
}

}  // namespace finepose::pose
