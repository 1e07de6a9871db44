// JSON: values, parsing (incl. errors with line/column, depth, UTF-8,
// surrogates), printing, and agreement with Python's json module.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>

#include "finepose/io/file.hpp"
#include "finepose/io/json.hpp"

using namespace finepose;
namespace json = finepose::json;

TEST_CASE("json: parse values of every type") {
  auto v = json::parse(R"( {"a": 1, "b": [true, false, null], "c": "x\ny", "d": -2.5e3, "e": {}, "f": [],
                             "big": 9007199254740993, "neg": -9223372036854775808, "flt": 1.0} )");
  REQUIRE(v.is_object());
  CHECK(v.size() == 9);
  CHECK(v.keys() == std::vector<std::string>{"a", "b", "c", "d", "e", "f", "big", "neg", "flt"});
  CHECK(v.at("a").is_int());
  CHECK(v.at("a").as_int64() == 1);
  CHECK(v.at("b").size() == 3);
  CHECK(v.at("b").at(0).as_bool());
  CHECK_FALSE(v.at("b").at(1).as_bool());
  CHECK(v.at("b").at(2).is_null());
  CHECK(v.at("c").as_string() == "x\ny");
  CHECK(v.at("d").as_double() == -2500.0);
  CHECK_FALSE(v.at("d").is_int());
  CHECK(v.at("d").as_int64() == -2500);  // integral value written as a float
  CHECK(v.at("e").is_object());
  CHECK(v.at("f").is_array());
  CHECK(v.at("big").as_int64() == 9007199254740993LL);  // 2^53 + 1 stays exact
  CHECK(v.at("neg").as_int64() == std::numeric_limits<std::int64_t>::min());
  CHECK_FALSE(v.at("flt").is_int());
  CHECK(json::parse("18446744073709551615").as_double() == 18446744073709551615.0);  // beyond int64: a double
  CHECK_THROWS_AS(json::parse("2.5").as_int64(), Error);
  CHECK_THROWS_AS(v.at("missing"), Error);
  CHECK_THROWS_AS(v.at("a").as_string(), Error);
  CHECK(v.get_int("a", 7) == 1);
  CHECK(v.get_int("zz", 7) == 7);
  CHECK(v.get_string("c", "") == "x\ny");
}

TEST_CASE("json: escapes, \\u, surrogate pairs and raw UTF-8") {
  CHECK(json::parse(R"("\"\\\/\b\f\n\r\t")").as_string() == "\"\\/\b\f\n\r\t");
  CHECK(json::parse(R"("\u0041\u00e9\u4e2d")").as_string() == "A\xc3\xa9\xe4\xb8\xad");
  CHECK(json::parse(R"("\ud83d\ude00")").as_string() == "\xf0\x9f\x98\x80");  // U+1F600
  CHECK(json::parse("\"caf\xc3\xa9 \xf0\x9f\x98\x80\"").as_string() == "caf\xc3\xa9 \xf0\x9f\x98\x80");
  CHECK_THROWS_AS(json::parse(R"("\ud83d")"), Error);         // lone high surrogate
  CHECK_THROWS_AS(json::parse(R"("\ude00")"), Error);         // lone low surrogate
  CHECK_THROWS_AS(json::parse(R"("\ud83d\u0041")"), Error);   // high + non-low
  CHECK_THROWS_AS(json::parse(R"("\x41")"), Error);
  CHECK_THROWS_AS(json::parse(R"("\u12")"), Error);
  CHECK_THROWS_AS(json::parse("\"\xff\""), Error);            // invalid UTF-8
  CHECK_THROWS_AS(json::parse("\"\xc0\xaf\""), Error);        // overlong
  CHECK_THROWS_AS(json::parse("\"\xed\xa0\x80\""), Error);    // encoded surrogate
  CHECK_THROWS_AS(json::parse("\"a\nb\""), Error);            // raw control character
  // dump escapes what must be escaped and round-trips
  std::string s = "q\"b\\n\n\x01\x7f caf\xc3\xa9";
  std::string d = json::dump(json::Value(s));
  CHECK(d == "\"q\\\"b\\\\n\\n\\u0001\\u007f caf\xc3\xa9\"");
  CHECK(json::parse(d).as_string() == s);
}

TEST_CASE("json: errors give line and column") {
  try {
    json::parse("{\n  \"a\": 1,\n  \"b\": tru\n}", "config.json");
    FAIL("expected an error");
  } catch (const Error& e) {
    std::string m = e.what();
    CHECK(m.find("config.json") != std::string::npos);
    CHECK(m.find("line 3") != std::string::npos);
    CHECK(m.find("column 8") != std::string::npos);
  }
  for (const char* bad : {"", " ", "{", "[", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{1:2}", "01", "1.", "-", "1e", ".5",
                          "+1", "[1 2]", "nul", "truex", "{\"a\":1}{", "\"abc", "[1]]", "'a'", "{\"a\":1,\"a\":2}"})
    CHECK_THROWS_AS(json::parse(bad), Error);
  CHECK_THROWS_WITH_AS(json::parse("{\"k\":1,\"k\":2}"), doctest::Contains("duplicate key"), Error);
}

TEST_CASE("json: nesting depth is limited, also against a stack-smashing input") {
  std::string ok(200, '[');
  ok += std::string(200, ']');
  CHECK(json::parse(ok).is_array());
  std::string deep(300, '[');
  deep += std::string(300, ']');
  CHECK_THROWS_WITH_AS(json::parse(deep), doctest::Contains("nesting"), Error);
  std::string huge(1000000, '[');
  CHECK_THROWS_AS(json::parse(huge), Error);
  std::string objs;
  for (int i = 0; i < 100000; ++i) objs += "{\"a\":";
  CHECK_THROWS_AS(json::parse(objs), Error);
}

TEST_CASE("json: NaN and Infinity like Python's json module") {
  auto v = json::parse("[NaN, Infinity, -Infinity]");
  CHECK(std::isnan(v.at(0).as_double()));
  CHECK(v.at(1).as_double() == HUGE_VAL);
  CHECK(v.at(2).as_double() == -HUGE_VAL);
  CHECK(json::dump(v) == "[NaN, Infinity, -Infinity]");
}

TEST_CASE("json: dump and round trip") {
  json::Value o = json::Value::object();
  o["name"] = "finepose";
  o["layers"] = 8;
  o["lr"] = 6e-5;
  o["third"] = 1.0 / 3.0;
  o["whole"] = 2.0;
  o["flags"] = json::Value::array({true, nullptr, "x"});
  o["nested"]["k"] = -1;
  CHECK(json::dump(o) ==
        "{\"name\": \"finepose\", \"layers\": 8, \"lr\": 6e-05, \"third\": 0.3333333333333333, \"whole\": 2.0, "
        "\"flags\": [true, null, \"x\"], \"nested\": {\"k\": -1}}");
  CHECK(json::dump_compact(o).find("\"layers\":8,") != std::string::npos);
  CHECK(json::dump(json::parse(json::dump(o, 2))) == json::dump(o));
  CHECK(json::parse(json::dump(o, 2)) == o);
  CHECK(json::dump(json::Value::array(), 2) == "[]");
  CHECK(json::dump(json::parse("{\"a\":[1,{\"b\":2}]}"), 2) == "{\n  \"a\": [\n    1,\n    {\n      \"b\": 2\n    }\n  ]\n}");
  // every double survives a round trip
  for (double d : {0.1, 1e-300, 5e-324, 1.7976931348623157e308, -123456.789, 1e21, 3.0})
    CHECK(json::parse(json::dump(json::Value(d))).as_double() == d);
}

TEST_CASE("json: agrees with Python's json module") {
  if (std::system("/usr/bin/python3 -c 'import json' >/dev/null 2>&1") != 0) {
    MESSAGE("skipped: /usr/bin/python3 not available");
    return;
  }
  const char* tmpdir = std::getenv("TMPDIR");
  const std::string dir = tmpdir ? tmpdir : "/tmp";
  const std::string in = dir + "/finepose_test_io_json_py.json", out = dir + "/finepose_test_io_json_cpp.json";
  // Python writes (with ensure_ascii escapes incl. surrogate pairs); we read.
  std::string cmd = "/usr/bin/python3 -c \"import json,sys; json.dump({'s':'caf\\u00e9 \\U0001F600 \\u4e2d','i':-42,"
                    "'big':2**62,'f':0.1,'l':[1.5,None,True],'o':{'z':'\\n\\t\\\"'}}, open(sys.argv[1],'w'))\" " + in;
  REQUIRE(std::system(cmd.c_str()) == 0);
  auto v = json::parse(io::read_text_file(in), in);
  CHECK(v.at("s").as_string() == "caf\xc3\xa9 \xf0\x9f\x98\x80 \xe4\xb8\xad");
  CHECK(v.at("i").as_int64() == -42);
  CHECK(v.at("big").as_int64() == (std::int64_t(1) << 62));
  CHECK(v.at("f").as_double() == 0.1);
  CHECK(v.at("o").at("z").as_string() == "\n\t\"");
  // We write (pretty); Python reads back the same structure.
  io::write_file(out, json::dump(v, 2));
  cmd = "/usr/bin/python3 -c \"import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); "
        "assert a==b, (a,b)\" " + in + " " + out;
  CHECK(std::system(cmd.c_str()) == 0);
  std::remove(in.c_str());
  std::remove(out.c_str());
}

TEST_CASE("json: truncations of a document never crash") {
  std::string doc = R"({"a": [1, 2.5e-3, "x\u00e9\ud83d\ude00", {"b": null, "c": [true, false]}], "d": -0})";
  CHECK(json::parse(doc).is_object());
  for (std::size_t n = 0; n < doc.size(); ++n) CHECK_THROWS_AS(json::parse(doc.substr(0, n)), Error);
}
