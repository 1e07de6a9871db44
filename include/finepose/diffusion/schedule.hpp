#pragma once
// The cosine noise schedule (Nichol & Dhariwal) in float64, as upstream keeps
// its buffers, and the DDIM time pairs upstream derives from a float32 linspace.
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "finepose/core/error.hpp"

namespace finepose {

struct CosineSchedule {
  std::vector<double> betas, alphas_cumprod, sqrt_recip_alphas_cumprod, sqrt_recipm1_alphas_cumprod,
      sqrt_alphas_cumprod, sqrt_one_minus_alphas_cumprod;

  explicit CosineSchedule(int64_t T = 1000, double s = 0.008) {
    FINEPOSE_CHECK(T >= 1 && T <= 100000, "schedule: ", T, " timesteps is out of range");
    const double pi = 3.14159265358979323846;
    std::vector<double> ac(T + 1);
    for (int64_t i = 0; i <= T; ++i) {
      const double x = double(i);  // linspace(0, T, T+1) is exact integers
      const double c = std::cos(((x / double(T)) + s) / (1 + s) * pi * 0.5);
      ac[i] = c * c;
    }
    const double a0 = ac[0];
    for (auto& a : ac) a /= a0;
    betas.resize(T);
    for (int64_t i = 0; i < T; ++i) {
      double b = 1 - ac[i + 1] / ac[i];
      betas[i] = std::min(std::max(b, 0.0), 0.999);
    }
    alphas_cumprod.resize(T);
    double prod = 1;
    for (int64_t i = 0; i < T; ++i) {
      prod *= 1.0 - betas[i];
      alphas_cumprod[i] = prod;
    }
    for (double a : alphas_cumprod) {
      sqrt_alphas_cumprod.push_back(std::sqrt(a));
      sqrt_one_minus_alphas_cumprod.push_back(std::sqrt(1.0 - a));
      sqrt_recip_alphas_cumprod.push_back(std::sqrt(1.0 / a));
      sqrt_recipm1_alphas_cumprod.push_back(std::sqrt(1.0 / a - 1));
    }
  }
  int64_t timesteps() const { return int64_t(betas.size()); }
};

// Upstream: times = torch.linspace(-1, T-1, K+1).int() reversed, paired with the next.
// torch's CPU linspace fills the first half as start + i*step and the second half as
// end - (n-1-i)*step, in float32; .int() truncates toward zero.
inline std::vector<std::pair<int64_t, int64_t>> ddim_time_pairs(int64_t T, int64_t K) {
  FINEPOSE_CHECK(K >= 1 && K <= T, "DDIM: ", K, " sampling steps for a ", T, "-step schedule");
  const int64_t n = K + 1;
  const float start = -1.f, end = float(T - 1);
  const float step = (end - start) / float(n - 1);
  std::vector<int64_t> times(n);
  for (int64_t i = 0; i < n; ++i) {
    const float v = i < n / 2 ? start + step * float(i) : end - step * float(n - 1 - i);
    times[i] = int64_t(int32_t(v));
  }
  std::vector<std::pair<int64_t, int64_t>> pairs;
  for (int64_t i = n - 1; i >= 1; --i) pairs.emplace_back(times[i], times[i - 1]);
  return pairs;
}

}  // namespace finepose
