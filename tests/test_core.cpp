#include <doctest/doctest.h>

#include <set>

#include "finepose/core/half.hpp"
#include "finepose/core/philox.hpp"
#include "finepose/core/tensor.hpp"

using namespace finepose;

TEST_CASE("tensor views share storage and index correctly") {
  TensorF t({2, 3, 4});
  for (int i = 0; i < 24; ++i) t.data()[i] = float(i);
  CHECK(t(1, 2, 3) == 23.f);
  auto p = t.permute({2, 0, 1});
  CHECK(p.shape() == Shape{4, 2, 3});
  CHECK(p(3, 1, 2) == 23.f);
  CHECK(!p.is_contiguous());
  auto c = p.contiguous();
  CHECK(c.is_contiguous());
  CHECK(c(3, 1, 2) == 23.f);
  auto s = t.slice(1, 1, 3);
  CHECK(s.shape() == Shape{2, 2, 4});
  CHECK(s(0, 0, 0) == 4.f);
  auto sel = t.select(0, 1);
  CHECK(sel(0, 0) == 12.f);
  auto r = t.reshape({6, -1});
  CHECK(r.shape() == Shape{6, 4});
  CHECK(r(5, 3) == 23.f);
  auto b = TensorF::from({1, 3}, {1, 2, 3}).broadcast_to({4, 3});
  CHECK(b(3, 2) == 3.f);
  CHECK(b.clone()(2, 1) == 2.f);
  s.fill(-1.f);
  CHECK(t(0, 1, 0) == -1.f);
  CHECK(t(0, 0, 0) == 0.f);
  CHECK_THROWS_AS(t.reshape({5, 5}), Error);
  CHECK_THROWS_AS(t(2, 0, 0), Error);
  CHECK_THROWS_AS(t.permute({0, 0, 1}), Error);
}

TEST_CASE("half and bfloat16 round-trip and round to nearest even") {
  for (float f : {0.f, 1.f, -2.5f, 65504.f, 6.1035156e-05f, 5.9604645e-08f, 0.1f}) {
    CHECK(float(half(f)) == doctest::Approx(f).epsilon(1e-3));
  }
  CHECK(float(half(1.0f + 1.0f / 2048)) == 1.0f);  // tie rounds to even
  CHECK(float(bfloat16(1.0f + 1.0f / 256)) == 1.0f);
  CHECK(std::isinf(float(half(1e6f))));
  CHECK(std::isnan(float(bfloat16(std::nanf("")))));
}

TEST_CASE("philox normal stream is deterministic, thread-independent and standard normal") {
  NormalStream s(42, 7);
  auto a = s.normal({10001});
  set_num_threads(1);
  auto b = s.normal({10001});
  set_num_threads(2);
  for (int i = 0; i < 10001; ++i) REQUIRE(a.data()[i] == b.data()[i]);
  double mean = 0, var = 0;
  for (int i = 0; i < 10001; ++i) mean += a.data()[i];
  mean /= 10001;
  for (int i = 0; i < 10001; ++i) var += (a.data()[i] - mean) * (a.data()[i] - mean);
  var /= 10000;
  CHECK(std::abs(mean) < 0.05);
  CHECK(std::abs(var - 1.0) < 0.05);
  // another stream differs
  auto c = NormalStream(42, 8).normal({8});
  CHECK(c.data()[0] != a.data()[0]);
  // known-answer test from the Philox paper (Random123 kat_vectors, philox4x32_10)
  auto k = Philox4x32::generate({0, 0, 0, 0}, {0, 0});
  CHECK(k[0] == 0x6627e8d5u);
  CHECK(k[1] == 0xe169c58du);
  CHECK(k[2] == 0xbc57ac4cu);
  CHECK(k[3] == 0x9b00dbd8u);
}
