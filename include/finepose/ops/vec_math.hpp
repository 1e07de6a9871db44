#pragma once
// Vectorised exp-based row kernels on Eigen's packet math (pexp: cephes
// polynomial, about 1 ulp). Scalar std::exp would dominate softmax and SiLU
// at our sizes. Every element, tail included, goes through the same packet
// code (the tail through a padded copy), so a value never depends on where
// its buffer starts or on how work was split.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // see gemm.hpp
#endif
#include <Eigen/Core>
#include <cstdint>
#include <unsupported/Eigen/SpecialFunctions>
#include <limits>

namespace finepose::ops::vec {

using Packet = Eigen::internal::packet_traits<float>::type;
constexpr std::int64_t kLanes = Eigen::internal::packet_traits<float>::size;

// Fixed-order packet reduction: sum over j of term(packet at j) for full
// packets (two interleaved accumulators), then scalar terms for the tail.
// Plain float loops would not vectorise (no -ffast-math) and are latency bound.
template <class PacketTerm, class ScalarTerm>
float reduce_sum(std::int64_t n, PacketTerm pterm, ScalarTerm sterm) {
  namespace ei = Eigen::internal;
  Packet a0 = ei::pset1<Packet>(0.f), a1 = a0;
  std::int64_t j = 0;
  for (; j + 2 * kLanes <= n; j += 2 * kLanes) {
    a0 = ei::padd(a0, pterm(j));
    a1 = ei::padd(a1, pterm(j + kLanes));
  }
  if (j + kLanes <= n) {
    a0 = ei::padd(a0, pterm(j));
    j += kLanes;
  }
  float s = ei::predux(ei::padd(a0, a1));
  for (; j < n; ++j) s += sterm(j);
  return s;
}

inline float sum(const float* x, std::int64_t n) {
  namespace ei = Eigen::internal;
  return reduce_sum(n, [&](std::int64_t j) { return ei::ploadu<Packet>(x + j); },
                    [&](std::int64_t j) { return x[j]; });
}

// sum of (x - m)^2
inline float sum_sq_centered(const float* x, std::int64_t n, float m) {
  namespace ei = Eigen::internal;
  const Packet pm = ei::pset1<Packet>(m);
  return reduce_sum(n, [&](std::int64_t j) {
        const Packet d = ei::psub(ei::ploadu<Packet>(x + j), pm);
        return ei::pmul(d, d);
      }, [&](std::int64_t j) { return (x[j] - m) * (x[j] - m); });
}

// sum of a * (x - m)
inline float dot_centered(const float* a, const float* x, std::int64_t n, float m) {
  namespace ei = Eigen::internal;
  const Packet pm = ei::pset1<Packet>(m);
  return reduce_sum(n, [&](std::int64_t j) {
        return ei::pmul(ei::ploadu<Packet>(a + j), ei::psub(ei::ploadu<Packet>(x + j), pm));
      }, [&](std::int64_t j) { return a[j] * (x[j] - m); });
}

// sum of a * b
inline float dot(const float* a, const float* b, std::int64_t n) {
  namespace ei = Eigen::internal;
  return reduce_sum(n, [&](std::int64_t j) { return ei::pmul(ei::ploadu<Packet>(a + j), ei::ploadu<Packet>(b + j)); },
                    [&](std::int64_t j) { return a[j] * b[j]; });
}

// Largest element of x[0, n); -inf for n == 0.
inline float row_max(const float* x, std::int64_t n) {
  namespace ei = Eigen::internal;
  const float ninf = -std::numeric_limits<float>::infinity();
  Packet m = ei::pset1<Packet>(ninf);
  std::int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes) m = ei::pmax(m, ei::ploadu<Packet>(x + j));
  float r = ei::predux_max(m);
  for (; j < n; ++j) r = x[j] > r ? x[j] : r;
  return r;
}

// y[j] = exp(x[j] - shift); exactly 0 where that underflows float (x - shift
// below -87.3, -inf included: pexp itself clamps instead). Returns sum of y.
// x may equal y. shift must be finite.
inline float exp_shifted_sum(float* y, const float* x, std::int64_t n, float shift) {
  namespace ei = Eigen::internal;
  const Packet s = ei::pset1<Packet>(shift);
  const Packet lo = ei::pset1<Packet>(-87.3f);
  Packet acc = ei::pzero(s);
  std::int64_t j = 0;
  auto one = [&](const Packet& v) {
    const Packet d = ei::psub(v, s);
    return ei::pandnot(ei::pexp(d), ei::pcmp_lt(d, lo));  // NaN compares false: stays NaN
  };
  for (; j + kLanes <= n; j += kLanes) {
    const Packet e = one(ei::ploadu<Packet>(x + j));
    ei::pstoreu(y + j, e);
    acc = ei::padd(acc, e);
  }
  float sum = ei::predux(acc);
  if (j < n) {
    alignas(64) float buf[kLanes];
    for (std::int64_t l = 0; l < kLanes; ++l) buf[l] = j + l < n ? x[j + l] : -std::numeric_limits<float>::infinity();
    ei::pstoreu(buf, one(ei::ploadu<Packet>(buf)));
    for (std::int64_t l = 0; j + l < n; ++l) {
      y[j + l] = buf[l];
      sum += buf[l];
    }
  }
  return sum;
}

// y[j] = x[j] * sigmoid(k * x[j]) (SiLU for k = 1, QuickGELU for k = 1.702). x may equal y.
inline void mul_sigmoid(float* y, const float* x, std::int64_t n, float k) {
  namespace ei = Eigen::internal;
  const Packet one = ei::pset1<Packet>(1.f), nk = ei::pset1<Packet>(-k);
  auto f = [&](const Packet& v) { return ei::pdiv(v, ei::padd(one, ei::pexp(ei::pmul(nk, v)))); };
  std::int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes) ei::pstoreu(y + j, f(ei::ploadu<Packet>(x + j)));
  if (j < n) {
    alignas(64) float buf[kLanes] = {};
    for (std::int64_t l = 0; j + l < n; ++l) buf[l] = x[j + l];
    ei::pstoreu(buf, f(ei::ploadu<Packet>(buf)));
    for (std::int64_t l = 0; j + l < n; ++l) y[j + l] = buf[l];
  }
}

// y[j] = sigmoid(x[j]). x may equal y.
inline void sigmoid(float* y, const float* x, std::int64_t n) {
  namespace ei = Eigen::internal;
  const Packet one = ei::pset1<Packet>(1.f);
  auto f = [&](const Packet& v) { return ei::pdiv(one, ei::padd(one, ei::pexp(ei::pnegate(v)))); };
  std::int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes) ei::pstoreu(y + j, f(ei::ploadu<Packet>(x + j)));
  if (j < n) {
    alignas(64) float buf[kLanes] = {};
    for (std::int64_t l = 0; j + l < n; ++l) buf[l] = x[j + l];
    ei::pstoreu(buf, f(ei::ploadu<Packet>(buf)));
    for (std::int64_t l = 0; j + l < n; ++l) y[j + l] = buf[l];
  }
}

// Apply a packet function to x[0, n) -> y (may alias), tail through a padded copy.
template <class F>
void map_packets(float* y, const float* x, std::int64_t n, F f) {
  namespace ei = Eigen::internal;
  std::int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes) ei::pstoreu(y + j, f(ei::ploadu<Packet>(x + j), j));
  if (j < n) {
    alignas(64) float buf[kLanes] = {};
    for (std::int64_t l = 0; j + l < n; ++l) buf[l] = x[j + l];
    ei::pstoreu(buf, f(ei::ploadu<Packet>(buf), j));
    for (std::int64_t l = 0; j + l < n; ++l) y[j + l] = buf[l];
  }
}

// Standard normal CDF Phi(x) = 0.5 (1 + erf(x / sqrt 2)) with Eigen's float
// erf (rational approximation, ~1e-7 absolute), as torch's vectorised GELU does.
inline Packet normal_cdf(const Packet& x) {
  namespace ei = Eigen::internal;
  const Packet half = ei::pset1<Packet>(0.5f), r2 = ei::pset1<Packet>(0.70710678118654752f);
  return ei::pmadd(half, ei::perf(ei::pmul(x, r2)), half);
}

// y = x * Phi(x) (exact-erf GELU).
inline void gelu(float* y, const float* x, std::int64_t n) {
  map_packets(y, x, n, [](const Packet& v, std::int64_t) { return Eigen::internal::pmul(v, normal_cdf(v)); });
}

// dx = dy * (Phi(x) + x * phi(x)); dx may alias dy.
inline void gelu_grad(float* dx, const float* dy, const float* x, std::int64_t n) {
  namespace ei = Eigen::internal;
  const Packet c = ei::pset1<Packet>(0.39894228040143268f), mh = ei::pset1<Packet>(-0.5f);
  // map over x; read dy by offset (the tail copy of dy is handled the same way)
  std::int64_t j = 0;
  auto f = [&](const Packet& v, const Packet& g) {
    const Packet pdf = ei::pmul(c, ei::pexp(ei::pmul(mh, ei::pmul(v, v))));
    return ei::pmul(g, ei::pmadd(v, pdf, normal_cdf(v)));
  };
  for (; j + kLanes <= n; j += kLanes)
    ei::pstoreu(dx + j, f(ei::ploadu<Packet>(x + j), ei::ploadu<Packet>(dy + j)));
  if (j < n) {
    alignas(64) float bx[kLanes] = {}, bg[kLanes] = {};
    for (std::int64_t l = 0; j + l < n; ++l) {
      bx[l] = x[j + l];
      bg[l] = dy[j + l];
    }
    ei::pstoreu(bx, f(ei::ploadu<Packet>(bx), ei::ploadu<Packet>(bg)));
    for (std::int64_t l = 0; j + l < n; ++l) dx[j + l] = bx[l];
  }
}

}  // namespace finepose::ops::vec

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
