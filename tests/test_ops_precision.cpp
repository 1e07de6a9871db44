// The reduced precisions of linear_packed (bf16, int8) and their number formats:
// each SIMD kernel and each portable fallback against a float64 reference of the
// operands it actually multiplies (tight), and against the unrounded operands
// (a stated bound); int8's portable path gives the VNNI kernel's bits exactly.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "finepose/core/philox.hpp"
#include "finepose/ops/packed_linear.hpp"

using namespace finepose;

namespace {
std::vector<float> randv(int64_t n, std::uint64_t s, float scale = 1.f) {
  std::vector<float> v(static_cast<std::size_t>(n));
  NormalStream(9, s).fill(v.data(), n);
  for (float& x : v) x *= scale;
  return v;
}
std::uint32_t bits(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, 4);
  return u;
}
float from_bits(std::uint32_t u) {
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}

struct Case {
  int64_t rows, in, out, ldi_pad, ldo_pad;
  bool bias, acc;
};
const Case kCases[] = {{1, 1, 1, 0, 0, false, false},   {13, 5, 3, 0, 0, true, false},  {12, 64, 32, 0, 0, true, true},
                       {97, 301, 33, 3, 5, true, false}, {200, 514, 70, 0, 7, false, true}, {25, 0, 17, 0, 0, true, true},
                       {191, 256, 512, 0, 0, true, true}, {7, 1027, 64, 1, 0, true, false}};
}  // namespace

TEST_CASE("bf16 rounding: nearest even, subnormals to signed zero, NaN and infinity kept") {
  CHECK(ops::bf16_bits(1.f) == 0x3F80);
  CHECK(ops::bf16_bits(-2.f) == 0xC000);
  CHECK(ops::bf16_bits(from_bits(0x3F808000u)) == 0x3F80);  // tie, even below
  CHECK(ops::bf16_bits(from_bits(0x3F818000u)) == 0x3F82);  // tie, even above
  CHECK(ops::bf16_bits(from_bits(0x3F808001u)) == 0x3F81);  // above the tie
  CHECK(ops::bf16_bits(std::numeric_limits<float>::infinity()) == 0x7F80);
  CHECK(ops::bf16_bits(std::numeric_limits<float>::max()) == 0x7F80);  // rounds up to infinity
  CHECK(ops::bf16_bits(from_bits(0x00000001u)) == 0x0000);
  CHECK(ops::bf16_bits(from_bits(0x80400000u)) == 0x8000);
  CHECK(std::isnan(ops::round_bf16(std::numeric_limits<float>::quiet_NaN())));
  CHECK(std::isnan(ops::round_bf16(from_bits(0x7F800001u))));  // a signalling NaN stays NaN, not infinity
  // the SIMD conversion (where built) gives the scalar bits on random and special values
  auto v = randv(1000, 1, 100.f);
  for (std::uint32_t u : {0x7F800001u, 0x7FC00000u, 0x00000001u, 0x807FFFFFu, 0x7F7FFFFFu, 0x3F808000u, 0x3F818000u})
    v.push_back(from_bits(u));
  std::vector<std::uint16_t> a(v.size()), b(v.size());
  ops::to_bf16(a.data(), v.data(), int64_t(v.size()), true);
  ops::to_bf16(b.data(), v.data(), int64_t(v.size()), false);
  for (std::size_t i = 0; i < v.size(); ++i) {
    CAPTURE(bits(v[i]));
    const bool nan_a = (a[i] & 0x7F80) == 0x7F80 && (a[i] & 0x7F), nan_b = (b[i] & 0x7F80) == 0x7F80 && (b[i] & 0x7F);
    if (nan_b) CHECK(nan_a);
    else CHECK(a[i] == b[i]);
  }
}

TEST_CASE("int8 row quantization: the SIMD and scalar quantizers agree; NaN, zero and tiny rows") {
  for (int64_t n : {1, 15, 16, 17, 300, 1027}) {
    CAPTURE(n);
    const auto x = randv(n, std::uint64_t(n), 3.f);
    const int64_t pad = (n + 3) / 4 * 4;
    std::vector<std::uint8_t> qa(static_cast<std::size_t>(pad)), qb(static_cast<std::size_t>(pad));
    const float sa = ops::quantize_row_u8(qa.data(), x.data(), n, pad, true);
    const float sb = ops::quantize_row_u8(qb.data(), x.data(), n, pad, false);
    CHECK(sa == sb);
    CHECK(qa == qb);
    float amax = 0;
    for (float v : x) amax = std::max(amax, std::fabs(v));
    CHECK(sa == amax / 127.f);
    for (int64_t i = 0; i < n; ++i) CHECK(std::fabs((int(qa[std::size_t(i)]) - 128) * sa - x[std::size_t(i)]) <= 0.5f * sa * 1.0001f);
    for (int64_t i = n; i < pad; ++i) CHECK(qa[std::size_t(i)] == 128);
  }
  std::vector<float> z(40, 0.f);
  std::vector<std::uint8_t> q(40);
  CHECK(ops::quantize_row_u8(q.data(), z.data(), 40, 40) == 0.f);
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    for (bool simd : {true, false}) {
      z.assign(40, 1.f);
      z[20] = bad;
      CHECK(std::isnan(ops::quantize_row_u8(q.data(), z.data(), 40, 40, simd)));
      for (auto c : q) CHECK(c == 128);
    }
  }
  // a row of values so small that 127 / amax overflows: zeros on both paths (no sign flip),
  // and a weight row of them packs to zeros without undefined NaN -> int conversions
  for (bool simd : {true, false}) {
    std::vector<float> tiny(40);
    for (std::size_t i = 0; i < tiny.size(); ++i) tiny[i] = (i % 2 ? 1.f : -1.f) * 1e-38f * float(i + 1) / 40.f;
    tiny[3] = 0.f;
    CHECK(ops::quantize_row_u8(q.data(), tiny.data(), 40, 40, simd) == 0.f);
    for (auto c : q) CHECK(c == 128);
  }
  std::vector<float> W(2 * 40, 1e-38f), x(40, 1.f), b = {0.5f, -0.25f}, y(2);
  for (int64_t k = 0; k < 40; ++k) W[std::size_t(40 + k)] = 0.01f * float(k);
  W[5] = 0.f;
  for (bool portable : {false, true}) {
    ops::PackedWeight pw(W.data(), 40, 2, Precision::int8, portable);
    ops::linear_packed(y.data(), 2, x.data(), 40, 1, pw, b.data(), false);
    CHECK(y[0] == 0.5f);  // the tiny row contributes nothing, and nothing undefined
    CHECK(y[1] == doctest::Approx(-0.25 + 0.01 * 780).epsilon(1e-2));
  }
}

TEST_CASE("bf16 linear_packed (kernel and portable) against float64 references") {
  for (bool portable : {false, true}) {
    for (const Case& c : kCases) {
      CAPTURE(portable);
      CAPTURE(c.rows);
      CAPTURE(c.in);
      CAPTURE(c.out);
      const int64_t ldi = c.in + c.ldi_pad, ldo = c.out + c.ldo_pad;
      auto x = randv(c.rows * ldi, 1), W = randv(c.out * std::max<int64_t>(c.in, 1), 2), b = randv(c.out, 3);
      auto y = randv(c.rows * ldo, 4);
      const auto y0 = y;
      ops::PackedWeight pw(W.data(), c.in, c.out, Precision::bf16, portable);
      CHECK(pw.portable == (portable || !ops::packed_simd(Precision::bf16)));
      ops::linear_packed(y.data(), ldo, x.data(), ldi, c.rows, pw, c.bias ? b.data() : nullptr, c.acc);
      double err_q = 0, err_bound_excess = 0, scale = 1;
      for (int64_t r = 0; r < c.rows; ++r) {
        for (int64_t o = 0; o < c.out; ++o) {
          const double base = (c.acc ? double(y0[r * ldo + o]) : 0.0) + (c.bias ? double(b[o]) : 0.0);
          double sq = base, s = base, mag = 0;
          for (int64_t k = 0; k < c.in; ++k) {
            const double xv = x[r * ldi + k], wv = W[o * c.in + k];
            sq += double(ops::round_bf16(float(xv))) * double(ops::round_bf16(float(wv)));
            s += xv * wv;
            mag += std::fabs(xv * wv);
          }
          const double got = y[r * ldo + o];
          err_q = std::max(err_q, std::fabs(sq - got));
          scale = std::max(scale, std::fabs(sq));
          // rounding both operands to 8 significant bits moves each product by at most
          // 2 * 2^-9 (+ the square) of its size
          err_bound_excess = std::max(err_bound_excess, std::fabs(s - got) - (2.0 * 0x1p-9 + 0x1p-18) * mag - 1e-5 * std::fabs(s));
        }
        for (int64_t o = c.out; o < ldo; ++o) CHECK(y[r * ldo + o] == y0[r * ldo + o]);
      }
      // against the rounded operands only fp32 summation error is left
      CHECK(err_q <= 2e-6 * scale * std::sqrt(double(std::max<int64_t>(c.in, 1))) + 1e-6);
      CHECK(err_bound_excess <= 1e-5);
    }
  }
}

TEST_CASE("int8 linear_packed: the portable path gives the kernel's bits; float64 references") {
  for (const Case& c : kCases) {
    CAPTURE(c.rows);
    CAPTURE(c.in);
    CAPTURE(c.out);
    const int64_t ldi = c.in + c.ldi_pad, ldo = c.out + c.ldo_pad;
    auto x = randv(c.rows * ldi, 11), W = randv(c.out * std::max<int64_t>(c.in, 1), 12, 0.05f), b = randv(c.out, 13);
    auto y = randv(c.rows * ldo, 14);
    const auto y0 = y;
    auto yp = y;
    ops::PackedWeight pw(W.data(), c.in, c.out, Precision::int8), pp(W.data(), c.in, c.out, Precision::int8, true);
    ops::linear_packed(y.data(), ldo, x.data(), ldi, c.rows, pw, c.bias ? b.data() : nullptr, c.acc);
    ops::linear_packed(yp.data(), ldo, x.data(), ldi, c.rows, pp, c.bias ? b.data() : nullptr, c.acc);
    CHECK(y == yp);
    double err_q = 0, excess = 0, scale = 1;
    std::vector<std::uint8_t> qa(std::size_t(std::max<int64_t>(c.in, 1)));
    for (int64_t r = 0; r < c.rows; ++r) {
      const float sa = ops::quantize_row_u8(qa.data(), x.data() + r * ldi, c.in, c.in, false);
      double xabs = 0;
      for (int64_t k = 0; k < c.in; ++k) xabs += std::fabs(x[r * ldi + k]);
      for (int64_t o = 0; o < c.out; ++o) {
        const ops::Int8Scale ws = ops::int8_row_scale(W.data() + o * c.in, c.in, false);
        const double base = (c.acc ? double(y0[r * ldo + o]) : 0.0) + (c.bias ? double(b[o]) : 0.0);
        double sq = base, s = base, wabs = 0;
        for (int64_t k = 0; k < c.in; ++k) {
          const double wv = W[o * c.in + k];
          const int wq = ws.inv == 0.f ? 0 : ops::quantize_int8(float(wv), ws.inv);
          sq += double(int(qa[std::size_t(k)]) - 128) * double(sa) * double(wq) * double(ws.scale);
          s += double(x[r * ldi + k]) * wv;
          wabs += std::fabs(wv);
        }
        const double got = y[r * ldo + o];
        err_q = std::max(err_q, std::fabs(sq - got));
        scale = std::max(scale, std::fabs(sq));
        // |x - xq| <= sa/2, |w - wq| <= sw/2 per element: the products move by at most this
        const double bound = 0.5 * sa * wabs + 0.5 * ws.scale * xabs + 0.25 * sa * ws.scale * double(c.in);
        excess = std::max(excess, std::fabs(s - got) - bound * 1.001 - 1e-5 * std::fabs(s));
      }
    }
    CHECK(err_q <= 1e-6 * scale + 1e-6);  // integer sums are exact; one fp32 scale and add remain
    CHECK(excess <= 1e-5);
  }
}

// (the thread-count independence of every precision: tests/test_ops_packed_linear.cpp)
TEST_CASE("reduced-precision linear_packed: a NaN input gives NaN in its row only") {
  const int64_t rows = 500, in = 300, out = 100;
  auto x = randv(rows * in, 5), W = randv(out * in, 6), b = randv(out, 7);
  for (Precision p : {Precision::bf16, Precision::int8}) {
    CAPTURE(precision_name(p));
    ops::PackedWeight pw(W.data(), in, out, p);
    std::vector<float> y1(std::size_t(rows * out));
    auto xb = x;
    xb[3 * in + 17] = std::numeric_limits<float>::quiet_NaN();
    ops::linear_packed(y1.data(), out, xb.data(), in, rows, pw, b.data(), false);
    for (int64_t o = 0; o < out; ++o) CHECK(std::isnan(y1[std::size_t(3 * out + o)]));
    CHECK(std::isfinite(y1[std::size_t(4 * out)]));
  }
  CHECK(parse_precision("bf16") == Precision::bf16);
  CHECK_THROWS_WITH_AS(parse_precision("fp16", "--precision"), doctest::Contains("'fp16' is not a precision"), Error);
}
