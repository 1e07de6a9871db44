// linear_packed (prepacked weights, AVX-512 micro-kernel) against a float64
// reference: row/column/k tails, several k blocks, bias, fused residual, strides.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "finepose/core/philox.hpp"
#include "finepose/ops/packed_linear.hpp"

using namespace finepose;

namespace {
std::vector<float> randv(int64_t n, std::uint64_t s) {
  std::vector<float> v(static_cast<std::size_t>(n));
  NormalStream(7, s).fill(v.data(), n);
  return v;
}
}  // namespace

TEST_CASE("linear_packed matches a float64 reference") {
  struct Case { int64_t rows, in, out, ldi_pad, ldo_pad; bool bias, acc; };
  for (const Case& c : {Case{1, 1, 1, 0, 0, false, false}, Case{13, 5, 3, 0, 0, true, false},
                        Case{12, 64, 32, 0, 0, true, true}, Case{97, 300, 33, 3, 5, true, false},
                        Case{200, 513, 70, 0, 7, false, true}, Case{25, 0, 17, 0, 0, true, true},
                        Case{191, 256, 512, 0, 0, true, true}}) {
    CAPTURE(c.rows);
    CAPTURE(c.in);
    CAPTURE(c.out);
    const int64_t ldi = c.in + c.ldi_pad, ldo = c.out + c.ldo_pad;
    auto x = randv(c.rows * ldi, 1), W = randv(c.out * std::max<int64_t>(c.in, 1), 2), b = randv(c.out, 3);
    auto y = randv(c.rows * ldo, 4);
    const auto y0 = y;
    ops::PackedWeight pw(W.data(), c.in, c.out);
    ops::linear_packed(y.data(), ldo, x.data(), ldi, c.rows, pw, c.bias ? b.data() : nullptr, c.acc);
    double err = 0, ref_norm = 0;
    for (int64_t r = 0; r < c.rows; ++r) {
      for (int64_t o = 0; o < c.out; ++o) {
        double s = (c.acc ? double(y0[r * ldo + o]) : 0.0) + (c.bias ? double(b[o]) : 0.0);
        for (int64_t k = 0; k < c.in; ++k) s += double(x[r * ldi + k]) * double(W[o * c.in + k]);
        err = std::max(err, std::abs(s - double(y[r * ldo + o])));
        ref_norm = std::max(ref_norm, std::abs(s));
      }
      for (int64_t o = c.out; o < ldo; ++o) CHECK(y[r * ldo + o] == y0[r * ldo + o]);  // padding untouched
    }
    CHECK(err <= 1e-5 * std::max(1.0, ref_norm) * std::sqrt(double(std::max<int64_t>(c.in, 1))));
  }
}

TEST_CASE("linear_packed does not depend on the thread count, at every precision") {
  const int64_t rows = 500, in = 300, out = 100;
  auto x = randv(rows * in, 5), W = randv(out * in, 6), b = randv(out, 7);
  for (Precision p : {Precision::fp32, Precision::bf16, Precision::int8}) {
    CAPTURE(precision_name(p));
    ops::PackedWeight pw(W.data(), in, out, p);
    std::vector<float> y1(std::size_t(rows * out)), y2(y1.size());
    const int t = num_threads();
    set_num_threads(1);
    ops::linear_packed(y1.data(), out, x.data(), in, rows, pw, b.data(), false);
    set_num_threads(std::max(2, t));
    ops::linear_packed(y2.data(), out, x.data(), in, rows, pw, b.data(), false);
    set_num_threads(t);
    CHECK(y1 == y2);
  }
}

TEST_CASE("linear_packed rejects bad strides") {
  std::vector<float> W(12, 1.f), x(12, 1.f), y(12, 0.f);
  ops::PackedWeight pw(W.data(), 4, 3);
  CHECK_THROWS_AS(ops::linear_packed(y.data(), 2, x.data(), 4, 3, pw, nullptr, false), Error);
  CHECK_THROWS_AS(ops::linear_packed(y.data(), 3, x.data(), 3, 3, pw, nullptr, false), Error);
}
