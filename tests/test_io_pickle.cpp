// The safe unpickler: values across protocols 0-5 (fixtures written by Python's
// pickle, see tools/reference/make_pickle_fixtures.py), hostile pickles refused
// at the global they name, resource limits, truncation and corruption.
#include <doctest/doctest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "finepose/io/file.hpp"
#include "finepose/io/pickle.hpp"
#include "finepose/io/pickle_numpy.hpp"

using namespace finepose;
using namespace std::string_literals;
using pickle::Kind;
using pickle::Value;

namespace {

const std::string kDir = std::string(FINEPOSE_FIXTURE_DIR) + "/pickle/";
const char* kPwned = "/tmp/finepose_pickle_PWNED";  // what the hostile fixtures would create

std::string fixture(const std::string& name) {
  auto b = io::read_file(kDir + name);
  return std::string(b.begin(), b.end());
}

Value load(const std::string& bytes, pickle::Options o = {}) { return pickle::loads(bytes, o); }

// The error message of loads(), or "" when it loaded.
std::string error_of(const std::string& bytes, pickle::Options o = {}) {
  try {
    pickle::loads(bytes, o);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::string u32(std::uint32_t v) {
  std::string s(4, '\0');
  for (int k = 0; k < 4; ++k) s[k] = char((v >> (8 * k)) & 0xff);
  return s;
}
std::string binunicode(const std::string& s) { return "X" + u32(std::uint32_t(s.size())) + s; }

// The MT19937 key numpy's RandomState(seed) starts from (init_genrand).
std::vector<std::uint32_t> mt19937_init(std::uint32_t seed) {
  std::vector<std::uint32_t> mt(624);
  mt[0] = seed;
  for (std::uint32_t i = 1; i < 624; ++i) mt[i] = 1812433253u * (mt[i - 1] ^ (mt[i - 1] >> 30)) + i;
  return mt;
}

}  // namespace

TEST_CASE("pickle: plain values in every protocol") {
  for (int proto = 0; proto <= 5; ++proto) {
    CAPTURE(proto);
    Value v = load(fixture("plain_p" + std::to_string(proto) + ".pkl"));
    REQUIRE(v.is_dict());
    const pickle::Dict& d = v.as_dict();
    CHECK(d.at("none").is_none());
    CHECK(d.at("true").kind == Kind::boolean);
    CHECK(d.at("true").as_bool());
    CHECK_FALSE(d.at("false").as_bool());

    const std::vector<std::int64_t> ints = {0,     1,     -1,          255,        256, 65535,
                                            65536, -2147483648LL, 2147483648LL, INT64_MAX, INT64_MIN};
    const auto& got = d.at("ints").items();
    REQUIRE(got.size() == ints.size());
    for (std::size_t k = 0; k < ints.size(); ++k) CHECK(got[k].as_int() == ints[k]);

    // 2**70 + 5: little-endian two's complement, 9 bytes.
    const Value& big = d.at("big");
    REQUIRE(big.kind == Kind::big_integer);
    CHECK(big.text() == std::string("\x05\0\0\0\0\0\0\0\x40", 9));

    const auto& fl = d.at("floats").items();
    REQUIRE(fl.size() == 3);
    CHECK(fl[0].as_double() == 0.5);
    CHECK(fl[1].as_double() == -1e300);
    CHECK(fl[2].as_double() == 1.0 / 3.0);

    CHECK(d.at("text").as_string() == "h\xc3\xa9llo \xe2\x98\x83 \xf0\x9f\x98\x80");
    if (proto > 0) CHECK(d.at("bytes").as_bytes() == std::string("\x00\x01\xfe\xff", 4));

    const auto& tup = d.at("tuple").items();
    REQUIRE(d.at("tuple").is_tuple());
    REQUIRE(tup.size() == 3);
    CHECK(tup[0].as_int() == 1);
    CHECK(tup[1].items()[1].as_int() == 3);
    CHECK(tup[2].items().empty());

    CHECK(d.at("set").kind == Kind::set);
    CHECK(d.at("set").items().at(0).as_int() == 7);
    CHECK(d.at("frozenset").items().at(0).as_int() == 8);
    CHECK(d.at("nested").as_dict().at("a").items().at(0).as_dict().at("b").items().at(1).as_int() == 2);

    const Value* int_key = d.find(Value::integer(1));
    REQUIRE(int_key);
    CHECK(int_key->as_string() == "int key");
    const Value* tuple_key = d.find(Value::tuple({Value::integer(1), Value::string("x")}));
    REQUIRE(tuple_key);
    CHECK(tuple_key->as_string() == "tuple key");

    // The memo shares objects as Python does: both entries are one list.
    const auto& shared = d.at("shared").items();
    REQUIRE(shared.size() == 2);
    CHECK(shared[0].identity() == shared[1].identity());
    CHECK(shared[0].items().at(1).as_int() == 2);
  }
}

TEST_CASE("pickle: numpy RandomState state through numpy + _codecs globals") {
  Value v = load(fixture("random_state.pkl"));
  const auto& t = v.items();
  REQUIRE(t.size() == 5);
  CHECK(t[0].as_string() == "MT19937");
  CHECK(t[2].as_int() == 624);
  CHECK(t[3].as_int() == 0);
  CHECK(t[4].as_double() == 0.0);
  // ndarray: _reconstruct(ndarray, (0,), b'b') + BUILD (1, shape, dtype, fortran, raw)
  REQUIRE(t[1].is_object("numpy.ndarray"));
  const pickle::Object& arr = t[1].as_object();
  REQUIRE(arr.has_state);
  const auto& st = arr.state.items();
  REQUIRE(st.size() == 5);
  CHECK(st[1].items().at(0).as_int() == 624);
  REQUIRE(st[2].is_object("numpy.dtype"));
  CHECK(st[2].as_object().args.items().at(0).as_string() == "u4");
  const std::string& raw = st[4].as_bytes();  // bytes via _codecs.encode(str, 'latin1')
  REQUIRE(raw.size() == 624 * 4);
  const auto mt = mt19937_init(0);
  for (std::size_t i = 0; i < 624; ++i) {
    std::uint32_t x = 0;
    for (int k = 0; k < 4; ++k) x |= std::uint32_t(static_cast<unsigned char>(raw[4 * i + k])) << (8 * k);
    if (x != mt[i]) {
      FAIL_CHECK("key[", i, "] = ", x, ", expected ", mt[i]);
      break;
    }
  }
}

TEST_CASE("pickle: hostile globals are refused by name and nothing runs") {
  std::remove(kPwned);
  struct Case {
    const char* file;
    const char* global;
  };
  const Case cases[] = {
      {"hostile_os_system.pkl", "os.system"},
      {"hostile_builtins_eval.pkl", "builtins.eval"},
      {"hostile_subprocess_popen.pkl", "subprocess.Popen"},  // via STACK_GLOBAL
      {"hostile_posix_system.pkl", "posix.system"},          // protocol 0
      {"hostile_nt_system.pkl", "nt.system"},
      {"hostile_nested.pkl", "os.system"},  // inside an otherwise fine OrderedDict
  };
  for (const auto& c : cases) {
    CAPTURE(c.file);
    const std::string msg = error_of(fixture(c.file));
    CHECK(contains(msg, std::string("refusing global '") + c.global + "' (not a tensor/checkpoint type)"));
  }
  std::FILE* f = std::fopen(kPwned, "rb");
  CHECK(f == nullptr);
  if (f) std::fclose(f);

  // More names that must never pass, built here.
  for (const char* g : {"builtins\nexec", "builtins\ngetattr", "__builtin__\neval", "torch\nload", "numpy\nload",
                        "torch._utils\n_rebuild_device_tensor_from_numpy", "collections\ndefaultdict",
                        "torch.serialization\n_get_layout", "numpy.core.multiarray\n_reconstruct_evil"}) {
    const std::string pkl = std::string("\x80\x02" "c") + g + "\n)R.";
    CAPTURE(g);
    CHECK(contains(error_of(pkl), "refusing global"));
  }
  // INST / OBJ / EXT build arbitrary instances: refused as opcodes.
  CHECK(contains(error_of("(ios\nsystem\nS'x'\n."), "refusing opcode INST"));
  CHECK(contains(error_of("\x80\x02(\x82\x01o."), "refusing EXT"));
}

TEST_CASE("pickle: allow-listed globals build data, not calls") {
  // REDUCE on a storage type is not a way to call it.
  CHECK(contains(error_of("\x80\x02" "ctorch\nFloatStorage\n)R."), "storage type"));
  // _codecs.encode only understands latin1.
  const std::string enc = std::string("\x80\x02" "c_codecs\nencode\n") + binunicode("abc") + binunicode("rot13") + "\x86R.";
  CHECK(contains(error_of(enc), "only latin1"));
  const std::string ok = std::string("\x80\x02" "c_codecs\nencode\n") + binunicode("\xc3\xa9z") + binunicode("latin1") + "\x86R.";
  CHECK(load(ok).as_bytes() == "\xe9z");
  // OrderedDict from a list of pairs keeps order; later SETITEM replaces.
  const std::string od = std::string("\x80\x02" "ccollections\nOrderedDict\n]") + "(" + binunicode("b") + "K\x01\x86" +
                         binunicode("a") + "K\x02\x86" + "e\x85R" + binunicode("b") + "K\x03s.";
  Value d = load(od);
  REQUIRE(d.as_dict().size() == 2);
  CHECK(d.as_dict().entries[0].first.as_string() == "b");
  CHECK(d.as_dict().at("b").as_int() == 3);
  CHECK(d.as_dict().at("a").as_int() == 2);
}

TEST_CASE("pickle: deep nesting, cycles and limits are errors, not crashes") {
  const int n = 100000;
  // 100,000 nested MARKs.
  CHECK(contains(error_of("\x80\x02" + std::string(n, '(') + "."), "nested MARKs"));
  // 100,000 nested tuples with a one-value stack: EMPTY_LIST then TUPLE1 x n.
  CHECK(contains(error_of("\x80\x02]" + std::string(n, '\x85') + "."), "nested more than"));
  // 100,000 nested lists grown from the inside through the memo (the root's
  // depth only shows once everything is built): L0=[]; repeat: Lk+1=[]; Lk.append(Lk+1).
  {
    std::string p = "\x80\x02]q\x00"s;  // root list, memo 0 = current innermost
    for (int k = 0; k < n; ++k) p += "h\x00" "]q\x00" "a0"s;  // get innermost, new list → memo, append, pop
    // Stack now holds the root; memo 0 the innermost.
    p += ".";
    CHECK(contains(error_of(p), "nested more than"));
  }
  // The same nesting as nested lists built by APPENDs inside MARKs.
  {
    std::string p = "\x80\x02";
    for (int k = 0; k < 900; ++k) p += "](";
    for (int k = 0; k < 900; ++k) p += "e";
    CHECK_NOTHROW(load(p + "."));
  }
  // A list that contains itself.
  CHECK(contains(error_of("\x80\x02]q\x00h\x00" "a."s), "cycle"));
  // A dict that contains itself as a value.
  CHECK(contains(error_of("\x80\x02}q\x00K\x01h\x00s."s), "cycle"));

  // Shared sub-tuples: a 200-byte pickle whose dict key would be 2^60 long.
  {
    std::string p = "\x80\x02}"s + ")";  // dict, T0 = ()
    for (int k = 0; k < 60; ++k) p += "2\x86";  // Tk+1 = (Tk, Tk) via DUP + TUPLE2
    p += "Ns.";
    CHECK(contains(error_of(p), "dict key longer than 1 MiB"));
  }

  pickle::Options small;
  small.limits.max_values = 100;
  CHECK(contains(error_of("\x80\x02" + std::string(200, 'N') + ".", small), "more than 100 values"));
  small = {};
  small.limits.max_stack = 10;
  CHECK(contains(error_of("\x80\x02" + std::string(20, 'N') + ".", small), "stack holds more than 10"));
  small = {};
  small.limits.max_memo = 4;
  std::string memo = "\x80\x02N";
  for (int k = 0; k < 8; ++k) memo += "q" + std::string(1, char(k));
  CHECK(contains(error_of(memo + ".", small), "memo holds more than 4"));
}

TEST_CASE("pickle: malformed opcode streams") {
  CHECK(contains(error_of(""), "truncated"));
  CHECK(contains(error_of("\x80\x02"), "no STOP"));
  CHECK(contains(error_of("\x80\x02NN."), "2 values on the stack"));
  CHECK(contains(error_of("\x80\x02."), "STOP with 0 values"));
  CHECK(contains(error_of("\x80\x09N."), "protocol 9"));
  CHECK(contains(error_of("\x80\x02\xff."), "unknown opcode 0xff"));
  CHECK(contains(error_of("\x80\x02NNa."), "APPEND to a None"));
  CHECK(contains(error_of("\x80\x02h\x05."), "memo entry 5 was never stored"));
  CHECK(contains(error_of("\x80\x02K\x01)R."), "REDUCE on a int"));
  CHECK(contains(error_of("\x80\x02]]s."), "SETITEM"));
  CHECK(contains(error_of("\x80\x02}]]s."), "unhashable"));
  CHECK(contains(error_of("\x80\x02t."), "without a MARK"));
  CHECK(contains(error_of("\x80\x02(N."), "unclosed MARK"));
  CHECK(contains(error_of("\x80\x02NQ."), "no persistent_load"));
  CHECK(contains(error_of("\x80\x02X\xff\xff\xff\x7f" "abc."), "truncated"));
  CHECK(contains(error_of("\x80\x02\x8d\xff\xff\xff\xff\xff\xff\xff\xff."), "truncated"));
  CHECK(contains(error_of("\x80\x04\x95\xff\xff\xff\xff\x00\x00\x00\x00N."s), "frame"));
  CHECK(contains(error_of("\x80\x02X\x02\x00\x00\x00\xc3(."s), "UTF-8"));
  CHECK(contains(error_of("\x80\x02\x8b\xff\xff\xff\xff."), "negative length"));
  CHECK(contains(error_of("cos\nsystem"), "no end of line"));
  CHECK(contains(error_of("\x80\x05\x97."), "out-of-band"));
  // Persistent ids reach the callback; its errors are reported with position.
  pickle::Options o;
  o.persistent_load = [](const Value& pid) -> Value {
    if (pid.as_string() != "ok") fail("bad id");
    return Value::integer(42);
  };
  CHECK(load("\x80\x02" + binunicode("ok") + "Q.", o).as_int() == 42);
  CHECK(contains(error_of("\x80\x02" + binunicode("no") + "Q.", o), "bad id"));
}

TEST_CASE("pickle: every truncation of real pickles is an error") {
  for (const char* name : {"plain_p2.pkl", "plain_p4.pkl", "plain_p5.pkl", "plain_p0.pkl", "random_state.pkl",
                           "numpy_objects_p3.pkl", "numpy_arrays_p5.pkl"}) {
    CAPTURE(name);
    const std::string full = fixture(name);
    CHECK_NOTHROW(load(full));
    int loaded = 0;
    for (std::size_t len = 0; len < full.size(); ++len)
      if (error_of(full.substr(0, len)).empty()) ++loaded;
    CHECK(loaded == 0);
  }
}

TEST_CASE("pickle: corrupted bytes give errors or values, never crashes") {
  const std::string full = fixture("plain_p2.pkl");
  int errors = 0;
  for (std::size_t pos = 0; pos < full.size(); ++pos)
    for (unsigned char x : {0x01, 0x80, 0xff}) {
      std::string bad = full;
      bad[pos] = char(static_cast<unsigned char>(bad[pos]) ^ x);
      if (!error_of(bad).empty()) ++errors;
    }
  CHECK(errors > 0);
}

TEST_CASE("pickle_numpy: object arrays of dicts of lists of float32 arrays (VideoPose3D layout)") {
  for (const char* name : {"numpy_objects_p3.pkl", "numpy_objects_p2.pkl"}) {
    CAPTURE(name);
    Value v = load(fixture(name));
    pickle::ObjectArray objs = pickle::to_object_array(v, name);
    CHECK(objs.shape.empty());  // 0-d, as np.array(dict, dtype=object)
    REQUIRE(objs.items.size() == 1);
    const pickle::Dict& subjects = objs.items[0].as_dict();
    REQUIRE(subjects.size() == 2);
    const auto& walking = subjects.at("S1").as_dict().at("Walking").items();
    REQUIRE(walking.size() == 2);
    io::NdArray a0 = pickle::to_ndarray(walking[0], "S1/Walking/0");
    CHECK(a0.dtype == io::DType::f32);
    CHECK(a0.shape == Shape{3, 2});
    auto v0 = io::to_vector<double>(a0);
    for (int i = 0; i < 6; ++i) CHECK(v0[i] == 0.5 * i);
    io::NdArray a1 = pickle::to_ndarray(walking[1], "S1/Walking/1");
    CHECK(a1.shape == Shape{2, 2});
    auto v1 = io::to_vector<double>(a1);
    for (int i = 0; i < 4; ++i) CHECK(v1[i] == -1.0 * i + 2.0);
    io::NdArray empty = pickle::to_ndarray(subjects.at("S1").as_dict().at("Sitting 1").items().at(0), "sitting");
    CHECK(empty.shape == Shape{0, 2});
    io::NdArray eat = pickle::to_ndarray(subjects.at("S5").as_dict().at("Eating").items().at(0), "eating");
    CHECK(eat.shape == Shape{1, 3, 2});
    auto ve = io::to_vector<double>(eat);
    for (int i = 0; i < 6; ++i) CHECK(ve[i] == 2.0 * i);
    // Asking for the wrong kind is an error, not garbage.
    CHECK_THROWS_AS(pickle::to_ndarray(v, name), Error);
    CHECK_THROWS_AS(pickle::to_object_array(walking[0], name), Error);
  }
}

TEST_CASE("pickle_numpy: numeric arrays, byte orders, Fortran order, scalars, protocols 2/4/5") {
  for (const char* name : {"numpy_arrays_p2.pkl", "numpy_arrays_p4.pkl", "numpy_arrays_p5.pkl"}) {
    CAPTURE(name);
    Value v = load(fixture(name));
    const pickle::Dict& d = v.as_dict();
    auto arr = [&](const char* key) { return pickle::to_ndarray(d.at(key), key); };

    io::NdArray f16 = arr("f16");
    CHECK(f16.dtype == io::DType::f16);
    auto vf16 = io::to_vector<double>(f16);
    REQUIRE(vf16.size() == 5);
    for (int i = 0; i < 5; ++i) CHECK(vf16[i] == i / 4.0);

    io::NdArray f64 = arr("f64_fortran");  // arange(6).reshape(2,3), stored column-major
    CHECK(f64.shape == Shape{2, 3});
    auto vf64 = io::to_vector<double>(f64);
    for (int i = 0; i < 6; ++i) CHECK(vf64[i] == i);

    io::NdArray be = arr("i64_big_endian");
    CHECK(be.dtype == io::DType::i64);
    auto vbe = io::to_vector<std::int64_t>(be);
    for (int i = 0; i < 4; ++i) CHECK(vbe[i] == i * 300 - 7);

    auto vu8 = io::to_vector<int>(arr("u8"));
    for (int i = 0; i < 4; ++i) CHECK(vu8[i] == 7 * i);
    io::NdArray b = arr("bool");
    CHECK(b.dtype == io::DType::boolean);
    CHECK(io::to_vector<int>(b) == std::vector<int>{1, 0, 1, 1});
    CHECK(io::to_vector<int>(arr("i16")) == std::vector<int>{-1, 0, 1});

    io::NdArray s64 = arr("scalar_f64");
    CHECK(s64.shape.empty());
    CHECK(io::to_vector<double>(s64) == std::vector<double>{2.25});
    io::NdArray s32 = arr("scalar_i32");
    CHECK(s32.dtype == io::DType::i32);
    CHECK(io::to_vector<int>(s32) == std::vector<int>{-5});
    io::NdArray z = arr("zero_d");
    CHECK(z.shape.empty());
    CHECK(io::to_vector<float>(z) == std::vector<float>{1.5f});
  }
}

TEST_CASE("pickle_numpy: RandomState key as a uint32 array") {
  Value v = load(fixture("random_state.pkl"));
  io::NdArray key = pickle::to_ndarray(v.items().at(1), "random_state key");
  CHECK(key.dtype == io::DType::u32);
  CHECK(key.shape == Shape{624});
  auto got = io::to_vector<std::uint32_t>(key);
  CHECK(got == mt19937_init(0));
}

TEST_CASE("pickle_numpy: inconsistent arrays are refused") {
  // shape (3,) of f4 with 8 data bytes.
  std::string p = "\x80\x02"s + "cnumpy.core.multiarray\n_reconstruct\n" + "cnumpy\nndarray\n";
  p += "K\x00"s + "\x85" + "C\x01" + "b" + "\x87" + "R";                      // _reconstruct(ndarray, (0,), b'b')
  p += "(K\x01"s + "K\x03" + "\x85";                                          // (1, (3,),
  p += "cnumpy\ndtype\n"s + binunicode("f4") + "\x89\x88\x87" + "R";            //  dtype('f4', False, True)
  p += "(K\x03"s + binunicode("<") + "NNN" + "J\xff\xff\xff\xff" + "J\xff\xff\xff\xff" + "K\x00"s + "tb";
  p += "\x89"s + "C\x08" + std::string(8, '\0') + "tb.";                       //  False, 8 bytes) BUILD
  Value v = load(p);
  try {
    pickle::to_ndarray(v, "bad");
    FAIL("loaded an array whose data is too short");
  } catch (const Error& e) {
    CHECK(contains(e.what(), "8 data bytes"));
  }
}

// ---- numpy.random.RandomState objects: what the official main.py saves as 'random_state' ----

namespace {

// RandomState(0) after 3 standard normal draws, as numpy's get_state() reports it for the
// fixtures (make_pickle_fixtures.py / make_numpy2_pickles.py): MT19937 twisted once, pos 8, a
// cached Gaussian.
std::vector<std::uint32_t> mt19937_twisted(std::vector<std::uint32_t> mt) {
  for (int i = 0; i < 624; ++i) {
    const std::uint32_t y = (mt[i] & 0x80000000u) | (mt[(i + 1) % 624] & 0x7fffffffu);
    mt[i] = mt[(i + 397) % 624] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
  }
  return mt;
}

// A small RandomState pickle assembled by hand: `ctor` (the REDUCE part) + BUILD with the
// numpy 1.x/2.x state dict, whose entries can be swapped for look-alikes.
std::string rs_ctor_v1() {
  return "\x80\x02"s + "cnumpy.random._pickle\n__randomstate_ctor\n" + binunicode("MT19937") +
         "cnumpy.random._pickle\n__bit_generator_ctor\n" + "\x86" + "R";
}
const std::string kKeyArray = "cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85"s + "C\x01" + "b" + "\x87" + "R";
std::string rs_state(const std::string& key = kKeyArray, const std::string& pos = "K\x08"s,
                     const std::string& extra = "", const std::string& bitgen = binunicode("MT19937")) {
  return "}("s + binunicode("bit_generator") + bitgen + binunicode("state") + "}(" + binunicode("key") + key +
         binunicode("pos") + pos + "u" + binunicode("has_gauss") + "K\x01" + binunicode("gauss") +
         "G\x3f\xe0\x00\x00\x00\x00\x00\x00"s + extra + "u";
}

}  // namespace

TEST_CASE("pickle: numpy RandomState objects in every numpy form read as inert data") {
  const auto key = mt19937_twisted(mt19937_init(0));
  // numpy 1.17-1.26 (Debian's), numpy 2.x (PyPI, with and without memo), numpy < 1.17 (assembled).
  for (const char* name : {"random_state_np1.pkl", "random_state_np2.pkl", "random_state_np2_nomemo.pkl",
                           "random_state_np116.pkl"}) {
    CAPTURE(name);
    Value v = load(fixture(name));
    REQUIRE(pickle::is_random_state(v));
    pickle::NumpyRandomState rs = pickle::to_random_state(v, name);
    CHECK(rs.bit_generator == "MT19937");
    CHECK(rs.pos == 8);
    CHECK(rs.has_gauss);
    CHECK(rs.gauss == 2.240893199201458);  // numpy's get_state() of the same object
    CHECK(rs.key == key);
  }
  // get_state()'s tuple reads the same way.
  pickle::NumpyRandomState t = pickle::to_random_state(load(fixture("random_state.pkl")));
  CHECK(t.pos == 624);
  CHECK(t.key == mt19937_init(0));
  // The hand-made form used below is accepted as it stands (so each refusal is the look-alike's).
  CHECK(error_of(rs_ctor_v1() + rs_state() + "b.") == "");
  CHECK(error_of("\x80\x02"s + "cnumpy.random._pickle\n__randomstate_ctor\n" + binunicode("MT19937") + "\x85R" +
                 rs_state() + "b.") == "");  // numpy 1.17-1.18: ('MT19937',)
}

TEST_CASE("pickle: look-alikes under the RandomState names are refused") {
  const std::string ctor = "cnumpy.random._pickle\n__randomstate_ctor\n";
  const std::string bg = "cnumpy.random._pickle\n__bit_generator_ctor\n";
  struct Case {
    const char* what;
    std::string bytes;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"another bit generator", "\x80\x02"s + ctor + binunicode("PCG64") + bg + "\x86R.", "unexpected arguments"},
      {"three arguments", "\x80\x02"s + ctor + binunicode("MT19937") + bg + "K\x01\x87R.", "unexpected arguments"},
      {"an allowed global as the ctor argument", "\x80\x02"s + ctor + binunicode("MT19937") + "cnumpy\ndtype\n\x86R.",
       "unexpected arguments"},
      {"a code-running global as the argument", "\x80\x02"s + ctor + "cos\nsystem\n\x85R.", "refusing global 'os.system'"},
      {"bit generator ctor with PCG64", "\x80\x02"s + bg + binunicode("PCG64") + "\x85R.", "only MT19937"},
      {"MT19937 class called directly", "\x80\x02"s + "cnumpy.random._mt19937\nMT19937\n)R.", "only passed to"},
      {"NEWOBJ instead of REDUCE", "\x80\x02"s + ctor + binunicode("MT19937") + "\x85\x81.", "with REDUCE"},
      {"old ctor with arguments", "\x80\x02"s + "cnumpy.random\n__RandomState_ctor\n" + "K\x01\x85R.", "numpy writes none"},
      {"an extra state entry", rs_ctor_v1() + rs_state(kKeyArray, "K\x08"s, binunicode("extra") + "N") + "b.",
       "unexpected number of entries"},
      {"a callable as pos", rs_ctor_v1() + rs_state(kKeyArray, ctor) + "b.", "state['pos'] is not an int"},
      {"a RandomState nested as the key", rs_ctor_v1() + rs_state(rs_ctor_v1().substr(2)) + "b.",
       "state['key'] is not an array"},
      {"another bit generator name in the state", rs_ctor_v1() + rs_state(kKeyArray, "K\x08"s, "", binunicode("PCG64")) + "b.",
       "bit_generator is not 'MT19937'"},
      {"a list as the state", rs_ctor_v1() + "]b.", "neither a dict nor a tuple"},
      {"numpy 2 bit generator state with a seed sequence",
       "\x80\x02"s + bg + "cnumpy.random._mt19937\nMT19937\n\x85R" + rs_state() + "K\x01\x86" "b.", "not (dict, None)"},
      {"BUILD twice", rs_ctor_v1() + rs_state() + "b" + rs_state() + "b.", "BUILD twice"},
      {"a generator ctor not on the list", "\x80\x02"s + "cnumpy.random._pickle\n__generator_ctor\n)R.",
       "refusing global 'numpy.random._pickle.__generator_ctor'"},
      {"mtrand's class by name", "\x80\x02"s + "cnumpy.random.mtrand\nRandomState\n)R.", "refusing global"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    const std::string e = error_of(c.bytes);
    CHECK_MESSAGE(contains(e, c.message), e);
  }
  // A RandomState without its state, or with a bad key array, is refused when read as data.
  Value bare = load(rs_ctor_v1() + ".");
  CHECK_THROWS_WITH_AS(pickle::to_random_state(bare), doctest::Contains("without its state"), Error);
  Value bad_key = load(rs_ctor_v1() + rs_state() + "b.");
  CHECK_THROWS_AS(pickle::to_random_state(bad_key), Error);  // the key array has no data
}
