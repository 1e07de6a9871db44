// ZipReader / ZipWriter against archives written by Python's zipfile, round
// trips, and hostile inputs (truncation, bit flips, bad CRC, zip bombs).
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "finepose/io/file.hpp"
#include "finepose/io/zip.hpp"

using namespace finepose;
using namespace finepose::io;

namespace {

std::string fixture(const std::string& name) { return std::string(FINEPOSE_FIXTURE_DIR) + "/io/" + name; }

std::vector<std::uint8_t> bytes_of(const std::string& s) { return std::vector<std::uint8_t>(s.begin(), s.end()); }

// The payloads make_io_fixtures.py writes, recomputed here.
std::vector<std::uint8_t> payload_text() {
  std::string s;
  for (int i = 0; i < 200; ++i) s += "line " + std::to_string(i) + " of the zip fixture\n";
  return bytes_of(s);
}
std::vector<std::uint8_t> payload_bin() {
  std::vector<std::uint8_t> v(5000);
  for (int i = 0; i < 5000; ++i) v[i] = std::uint8_t((i * 7 + 3) & 0xff);
  return v;
}

bool have_python() { return std::system("/usr/bin/python3 -c 'import zipfile' >/dev/null 2>&1") == 0; }

std::string temp_path(const std::string& name) {
  const char* t = std::getenv("TMPDIR");
  return std::string(t ? t : "/tmp") + "/finepose_test_io_zip_" + name;
}

void check_python_fixture(const ZipReader& z) {
  REQUIRE(z.entries().size() >= 2);
  CHECK(z.has("stored.txt"));
  CHECK(z.has("deflated.bin"));
  CHECK_FALSE(z.has("missing"));
  CHECK(z.find("missing") == nullptr);
  CHECK(z.find("stored.txt")->method == 0);
  CHECK(z.find("deflated.bin")->method == 8);
  CHECK(z.find("deflated.bin")->compressed_size < 5000);
  CHECK(z.read("stored.txt") == payload_text());
  CHECK(z.read("deflated.bin") == payload_bin());
}

}  // namespace

TEST_CASE("zip: reads an archive written by Python's zipfile (stored, deflate, empty entry, comment)") {
  ZipReader z = ZipReader::open(fixture("plain.zip"));
  CHECK(z.entries().size() == 3);
  check_python_fixture(z);
  CHECK(z.read("dir/empty").empty());
  CHECK(z.entries()[0].name == "stored.txt");
  CHECK(z.entries()[0].uncompressed_size == payload_text().size());
}

TEST_CASE("zip: reads zip64 extra fields (Python force_zip64)") {
  ZipReader z = ZipReader::open(fixture("zip64.zip"));
  CHECK(z.entries().size() == 2);
  check_python_fixture(z);
}

TEST_CASE("zip: writer round trip, stored + deflate, alignment, forced zip64") {
  for (std::size_t align : {std::size_t(1), std::size_t(64)}) {
    for (bool z64 : {false, true}) {
      ZipWriter w(align, z64);
      w.add("a/stored.txt", payload_text(), false);
      w.add("b.bin", payload_bin(), true);
      w.add("empty", std::vector<std::uint8_t>{}, true);
      w.add("x", bytes_of("1"), false);
      auto bytes = w.finish();
      ZipReader z(bytes, "roundtrip");
      REQUIRE(z.entries().size() == 4);
      CHECK(z.read("a/stored.txt") == payload_text());
      CHECK(z.read("b.bin") == payload_bin());
      CHECK(z.read("empty").empty());
      CHECK(z.read("x") == bytes_of("1"));
      CHECK(z.find("b.bin")->method == 8);
      auto view = z.stored_view("a/stored.txt");
      CHECK(std::vector<std::uint8_t>(view.first, view.first + view.second) == payload_text());
      CHECK_THROWS_AS(z.stored_view("b.bin"), Error);
      if (align == 64)
        for (const auto& e : z.entries()) CHECK(e.data_offset % 64 == 0);
    }
  }
}

TEST_CASE("zip: writer refuses duplicates and bad names") {
  ZipWriter w;
  w.add("a", bytes_of("1"));
  CHECK_THROWS_AS(w.add("a", bytes_of("2")), Error);
  CHECK_THROWS_AS(w.add("", bytes_of("2")), Error);
  CHECK_THROWS_AS(w.add(std::string("a\0b", 3), bytes_of("2")), Error);
}

TEST_CASE("zip: Python's zipfile reads what ZipWriter writes (incl. zip64 + alignment)") {
  if (!have_python()) {
    MESSAGE("skipped: /usr/bin/python3 not available");
    return;
  }
  for (bool z64 : {false, true}) {
    ZipWriter w(64, z64);
    w.add("stored.txt", payload_text(), false);
    w.add("deflated.bin", payload_bin(), true);
    std::string p = temp_path(z64 ? "z64.zip" : "plain.zip");
    write_file(p, w.finish());
    std::string cmd =
        "/usr/bin/python3 -c \"import zipfile,sys; z=zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; "
        "t=z.read('stored.txt'); b=z.read('deflated.bin'); "
        "assert t==b''.join(b'line %d of the zip fixture\\n'%i for i in range(200)); "
        "assert b==bytes((i*7+3)&255 for i in range(5000)); "
        "assert z.getinfo('deflated.bin').compress_type==8\" " +
        p;
    CHECK(std::system(cmd.c_str()) == 0);
    std::remove(p.c_str());
  }
}

TEST_CASE("zip: every truncation of a small archive is refused with finepose::Error") {
  auto full = read_file(fixture("plain.zip"));
  for (std::size_t n = 0; n < full.size(); ++n) {
    std::vector<std::uint8_t> cut(full.begin(), full.begin() + n);
    bool threw = false;
    try {
      ZipReader z(cut, "cut");
      for (const auto& e : z.entries()) z.read(e.name);
    } catch (const Error&) {
      threw = true;
    }
    // Even a cut inside the trailing comment is refused: the end record's comment length must fit.
    CHECK_MESSAGE(threw, "truncation at ", n, " was accepted");
  }
}

TEST_CASE("zip: single-byte corruption either errors or reads the same bytes") {
  for (const char* f : {"plain.zip", "zip64.zip"}) {
    auto full = read_file(fixture(f));
    ZipReader good(full, f);
    std::vector<std::vector<std::uint8_t>> want;
    for (const auto& e : good.entries()) want.push_back(good.read(e.name));
    int errors = 0;
    for (std::size_t i = 0; i < full.size(); ++i) {
      for (std::uint8_t mask : {std::uint8_t(0x01), std::uint8_t(0x80), std::uint8_t(0xff)}) {
        auto bad = full;
        bad[i] ^= mask;
        try {
          ZipReader z(bad, "flipped");
          REQUIRE(z.entries().size() == good.entries().size());
          for (std::size_t k = 0; k < z.entries().size(); ++k) {
            auto got = z.read(z.entries()[k].name);
            if (got != want[k]) FAIL_CHECK("silent garbage after flipping byte ", i, " of ", f);
          }
        } catch (const Error&) {
          ++errors;
        }
      }
    }
    CHECK(errors > int(full.size()));  // most flips land in data and must be caught
  }
}

TEST_CASE("zip: bad CRC names the entry") {
  ZipWriter w;
  w.add("stored.txt", payload_text(), false);
  auto bytes = w.finish();
  ZipReader ok(bytes, "crc.zip");
  auto off = ok.find("stored.txt")->data_offset;
  bytes[off + 3] ^= 0x20;
  ZipReader z(bytes, "crc.zip");
  try {
    z.read("stored.txt");
    FAIL("expected a CRC error");
  } catch (const Error& e) {
    std::string m = e.what();
    CHECK(m.find("CRC-32") != std::string::npos);
    CHECK(m.find("stored.txt") != std::string::npos);
    CHECK(m.find("crc.zip") != std::string::npos);
  }
}

TEST_CASE("zip: missing entry and garbage input") {
  ZipReader z = ZipReader::open(fixture("plain.zip"));
  CHECK_THROWS_WITH_AS(z.read("nope"), doctest::Contains("nope"), Error);
  CHECK_THROWS_AS(ZipReader(bytes_of("this is not a zip file at all, just text"), "t"), Error);
  CHECK_THROWS_AS(ZipReader(std::vector<std::uint8_t>{}, "empty"), Error);
  CHECK_THROWS_WITH_AS(ZipReader::open("/nonexistent/dir/x.zip"), doctest::Contains("/nonexistent/dir/x.zip"), Error);
}

TEST_CASE("zip: deflate bomb (ratio > 1000:1) is refused before inflating") {
  std::vector<std::uint8_t> zeros(std::size_t(64) << 20, 0);
  ZipWriter w;
  w.add("zeros", zeros, true);
  auto bytes = w.finish();
  CHECK(bytes.size() < zeros.size() / 1000);
  CHECK_THROWS_WITH_AS(ZipReader(bytes, "bomb.zip"), doctest::Contains("ratio"), Error);
  // A tiny entry with a high ratio is fine.
  ZipWriter t;
  t.add("z", std::vector<std::uint8_t>(100000, 0), true);
  ZipReader small(t.finish(), "small");
  CHECK(small.read("z").size() == 100000);
}

TEST_CASE("zip: lying sizes, counts and overlapping entries are refused") {
  ZipWriter w;
  w.add("one", payload_bin(), false);
  w.add("two", payload_text(), true);
  const auto good = w.finish();
  // The end record is the last 22 bytes (no comment).
  const std::size_t eocd = good.size() - 22;
  {
    auto b = good;  // entry count larger than the directory can hold
    store_le<std::uint16_t>(b.data() + eocd + 8, 60000);
    store_le<std::uint16_t>(b.data() + eocd + 10, 60000);
    CHECK_THROWS_AS(ZipReader(b, "count"), Error);
  }
  {
    auto b = good;  // central directory offset beyond the file
    store_le<std::uint32_t>(b.data() + eocd + 16, 0x7fffffff);
    CHECK_THROWS_AS(ZipReader(b, "cdoff"), Error);
  }
  ZipReader z(good, "ok");
  const std::uint64_t cd = load_le<std::uint32_t>(good.data() + eocd + 16);
  {
    auto b = good;  // first entry claims a huge stored size: runs past the end
    store_le<std::uint32_t>(b.data() + cd + 20, 0x7ffffff0);
    store_le<std::uint32_t>(b.data() + cd + 24, 0x7ffffff0);
    CHECK_THROWS_WITH_AS(ZipReader(b, "size"), doctest::Contains("one"), Error);
  }
  {
    auto b = good;  // first entry's data grows into the second entry's header
    store_le<std::uint32_t>(b.data() + cd + 20, 5100);
    store_le<std::uint32_t>(b.data() + cd + 24, 5100);
    CHECK_THROWS_WITH_AS(ZipReader(b, "overlap"), doctest::Contains("overlaps"), Error);
  }
  {
    auto b = good;  // second entry claims to inflate to 2 bytes more than it does
    std::uint64_t c2 = cd + 46 + 3;
    store_le<std::uint32_t>(b.data() + c2 + 24, std::uint32_t(payload_text().size() + 2));
    ZipReader zz(b, "inflate");
    CHECK_THROWS_WITH_AS(zz.read("two"), doctest::Contains("two"), Error);
  }
}

TEST_CASE("zip: a PyTorch checkpoint (torch.save) with 64-byte aligned, padded local headers") {
  ZipReader z = ZipReader::open(fixture("torch_small.pt"));
  REQUIRE(z.has("torch_small/data.pkl"));
  REQUIRE(z.has("torch_small/data/0"));
  REQUIRE(z.has("torch_small/data/1"));
  for (const char* n : {"torch_small/data/0", "torch_small/data/1"}) {
    const ZipEntry* e = z.find(n);
    CHECK(e->data_offset % 64 == 0);
    // the local header's extra (the padding) is longer than the central one
    CHECK(e->data_offset > e->local_header_offset + 30 + e->name.size());
  }
  auto w = z.read("torch_small/data/0");  // torch.arange(6.) as float32
  REQUIRE(w.size() == 24);
  for (int i = 0; i < 6; ++i) {
    float f;
    std::memcpy(&f, w.data() + 4 * i, 4);
    CHECK(f == float(i));
  }
  auto ints = z.read("torch_small/data/1");  // torch.tensor([1, 2, 3]) as int64
  REQUIRE(ints.size() == 24);
  for (int i = 0; i < 3; ++i) CHECK(load_le<std::int64_t>(ints.data() + 8 * i) == i + 1);
  CHECK(z.read("torch_small/version").size() >= 1);
}
