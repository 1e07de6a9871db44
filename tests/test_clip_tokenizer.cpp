// CLIP BPE tokenizer: ids against CLIP's own tokenizer (shared/clip/tokens_reference.json,
// tests/fixtures/clip_tokens_extra.json), clip.tokenize padding/truncation, decode,
// load errors, and the text-cleaning pieces against values from Python's html/str/unicodedata.
#include <doctest/doctest.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "finepose/text/clip_tokenizer.hpp"

using finepose::ClipTokenizer;
namespace text = finepose::text;

namespace {

const std::string kVocab = std::string(FINEPOSE_SHARED_DIR) + "/clip/bpe_simple_vocab_16e6.txt.gz";
const std::string kReference = std::string(FINEPOSE_SHARED_DIR) + "/clip/tokens_reference.json";

bool file_exists(const std::string& p) { return std::ifstream(p).good(); }

std::string read_all(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Minimal parser for {"text": [int, ...], ...} as json.dump writes it.
struct TokenJson {
  const std::string& s;
  size_t i = 0;
  void ws() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t')) ++i;
  }
  void expect(char c) {
    ws();
    if (i >= s.size() || s[i] != c) throw std::runtime_error(std::string("json: expected '") + c + "' at " + std::to_string(i));
    ++i;
  }
  unsigned hex4() {
    if (i + 4 > s.size()) throw std::runtime_error("json: short \\u escape");
    const unsigned v = static_cast<unsigned>(std::stoul(s.substr(i, 4), nullptr, 16));
    i += 4;
    return v;
  }
  std::string str() {
    expect('"');
    std::string out;
    while (i < s.size() && s[i] != '"') {
      if (s[i] != '\\') {
        out += s[i++];
        continue;
      }
      const char e = s[++i];
      ++i;
      switch (e) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'u': {
          char32_t c = hex4();
          if (c >= 0xD800 && c <= 0xDBFF && i + 6 <= s.size() && s[i] == '\\' && s[i + 1] == 'u') {
            i += 2;
            c = 0x10000 + ((c - 0xD800) << 10) + (hex4() - 0xDC00);
          }
          text::append_utf8(out, c);
          break;
        }
        default: out += e;
      }
    }
    expect('"');
    return out;
  }
  std::vector<std::pair<std::string, std::vector<int32_t>>> parse() {
    std::vector<std::pair<std::string, std::vector<int32_t>>> out;
    expect('{');
    ws();
    while (i < s.size() && s[i] != '}') {
      std::string key = str();
      expect(':');
      expect('[');
      std::vector<int32_t> ids;
      ws();
      while (i < s.size() && s[i] != ']') {
        size_t used = 0;
        ids.push_back(std::stoi(s.substr(i, 12), &used));
        i += used;
        ws();
        if (s[i] == ',') ++i;
        ws();
      }
      expect(']');
      out.emplace_back(std::move(key), std::move(ids));
      ws();
      if (i < s.size() && s[i] == ',') ++i;
      ws();
    }
    expect('}');
    return out;
  }
};

std::vector<std::pair<std::string, std::vector<int32_t>>> load_reference(const std::string& path) {
  const std::string s = read_all(path);
  return TokenJson{s}.parse();
}

const ClipTokenizer* tokenizer() {
  static const ClipTokenizer* t = file_exists(kVocab) ? new ClipTokenizer(ClipTokenizer::load(kVocab)) : nullptr;
  return t;
}

#define REQUIRE_VOCAB()                                                         \
  const ClipTokenizer* tok_ptr = tokenizer();                                   \
  if (!tok_ptr) {                                                               \
    MESSAGE("skipped: CLIP vocab not found at " << kVocab);                     \
    return;                                                                     \
  }                                                                             \
  const ClipTokenizer& tok = *tok_ptr

// tokenize() must equal the reference ids followed by zeros
void check_against(const ClipTokenizer& tok, const std::string& text, const std::vector<int32_t>& want) {
  CAPTURE(text);
  const std::vector<int32_t> got = tok.tokenize(text);
  REQUIRE(got.size() == 77u);
  REQUIRE(want.size() <= 77u);
  CHECK(std::vector<int32_t>(got.begin(), got.begin() + static_cast<long>(want.size())) == want);
  CHECK(std::all_of(got.begin() + static_cast<long>(want.size()), got.end(), [](int32_t v) { return v == 0; }));
}

// a scratch file in the system temp directory, removed when the object goes away
struct TempFile {
  std::string path;
  TempFile(const std::string& name, const std::string& bytes)
      : path((std::filesystem::temp_directory_path() / ("finepose_clip_tok_test_" + name)).string()) {
    std::ofstream(path, std::ios::binary) << bytes;
  }
  ~TempFile() { std::remove(path.c_str()); }
};

std::string gzip_bytes(const std::string& plain) {
  z_stream zs{};
  deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, plain.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(plain.data()));
  zs.avail_in = static_cast<uInt>(plain.size());
  zs.next_out = reinterpret_cast<Bytef*>(&out[0]);
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::u32string U(const std::string& utf8) { return text::decode_utf8(utf8); }

}  // namespace

TEST_CASE("clip tokenizer: every entry of tokens_reference.json") {
  REQUIRE_VOCAB();
  if (!file_exists(kReference)) {
    MESSAGE("skipped: " << kReference << " not found");
    return;
  }
  const auto ref = load_reference(kReference);
  REQUIRE(ref.size() >= 21u);
  bool saw_long = false;
  for (const auto& [t, ids] : ref) {
    check_against(tok, t, ids);
    const std::vector<int32_t> enc = tok.encode(t);
    if (ids.size() < 77) {
      CHECK(enc == std::vector<int32_t>(ids.begin() + 1, ids.end() - 1));
    } else {  // the long text: CLIP truncates to 77 and forces EOT last
      saw_long = true;
      CHECK(ids.back() == ClipTokenizer::kEot);
      CHECK(enc.size() > 75u);
      CHECK(std::vector<int32_t>(enc.begin(), enc.begin() + 75) == std::vector<int32_t>(ids.begin() + 1, ids.end() - 1));
      CHECK_THROWS_AS(tok.tokenize(t, 77, false), finepose::Error);
    }
  }
  CHECK(saw_long);
}

TEST_CASE("clip tokenizer: FinePOSE prompt texts and Human3.6M actions are in the reference") {
  REQUIRE_VOCAB();
  if (!file_exists(kReference)) {
    MESSAGE("skipped: " << kReference << " not found");
    return;
  }
  std::map<std::string, std::vector<int32_t>> ref;
  for (auto& kv : load_reference(kReference)) ref.insert(kv);
  const char* texts[] = {"A person", "speed", "head", "body", "arm", "leg",
                         "Directions", "Discussion", "Eating", "Greeting", "Phoning", "Photo", "Posing",
                         "Purchases", "Sitting", "SittingDown", "Smoking", "Waiting", "WalkDog", "Walking",
                         "WalkTogether"};
  for (const char* t : texts) {
    CAPTURE(t);
    REQUIRE(ref.count(t) == 1u);
    check_against(tok, t, ref[t]);
  }
}

TEST_CASE("clip tokenizer: extra edge cases from CLIP's tokenizer (tests/fixtures/clip_tokens_extra.json)") {
  REQUIRE_VOCAB();
  const std::string path = std::string(FINEPOSE_FIXTURE_DIR) + "/clip_tokens_extra.json";
  if (!file_exists(path)) {
    MESSAGE("skipped: " << path << " not found (tools/reference/gen_clip_tokens.py writes it)");
    return;
  }
  const auto ref = load_reference(path);
  REQUIRE(ref.size() >= 10u);
  for (const auto& [t, ids] : ref) check_against(tok, t, ids);
}

TEST_CASE("clip tokenizer: tokenize pads with zeros and EOT is the argmax") {
  REQUIRE_VOCAB();
  const auto row = tok.tokenize("A person");
  REQUIRE(row.size() == 77u);
  CHECK(row[0] == ClipTokenizer::kSot);
  const auto eot = std::find(row.begin(), row.end(), ClipTokenizer::kEot) - row.begin();
  CHECK(eot == 3);
  CHECK(std::max_element(row.begin(), row.end()) - row.begin() == eot);  // CLIP pools at text.argmax(-1)
  CHECK(std::count(row.begin(), row.end(), 0) == 77 - 4);
  // empty text: SOT EOT
  const auto empty = tok.tokenize("   ");
  CHECK(empty[0] == ClipTokenizer::kSot);
  CHECK(empty[1] == ClipTokenizer::kEot);
  CHECK(std::count(empty.begin(), empty.end(), 0) == 75);
  // other context lengths
  const auto small = tok.tokenize("a person walks fast", 4);
  CHECK(small == std::vector<int32_t>{ClipTokenizer::kSot, 320, 2533, ClipTokenizer::kEot});
  CHECK_THROWS_AS(tok.tokenize("a person walks fast", 4, false), finepose::Error);
  CHECK(tok.tokenize("a person", 1) == std::vector<int32_t>{ClipTokenizer::kEot});
  CHECK_THROWS_AS(tok.tokenize("a person", 0), finepose::Error);
  CHECK(tok.tokenize("a person", 4, false) == std::vector<int32_t>{ClipTokenizer::kSot, 320, 2533, ClipTokenizer::kEot});
}

TEST_CASE("clip tokenizer: special tokens inside text") {
  REQUIRE_VOCAB();
  CHECK(tok.encode("<|startoftext|>a person<|endoftext|>") ==
        std::vector<int32_t>{ClipTokenizer::kSot, 320, 2533, ClipTokenizer::kEot});
  CHECK(tok.encode("<|ENDOFTEXT|>") == std::vector<int32_t>{ClipTokenizer::kEot});  // lower-cased first
}

TEST_CASE("clip tokenizer: decode") {
  REQUIRE_VOCAB();
  CHECK(tok.decode(tok.encode("A person walks fast, then stops!")) == "a person walks fast , then stops ! ");
  CHECK(tok.decode(tok.encode("SittingDown 2")) == "sittingdown 2 ");
  CHECK(tok.decode(tok.encode("don't")) == "don 't ");
  CHECK(tok.decode(tok.encode("Café Ñandú naïve")) == "café ñandú naïve ");
  CHECK(tok.decode(tok.encode("日本語のテキスト")) == "日本語のテキスト ");
  CHECK(tok.decode({ClipTokenizer::kSot, 320, ClipTokenizer::kEot}) == "<|startoftext|>a <|endoftext|>");
  CHECK(tok.decode({}) == "");
  CHECK_THROWS_AS(tok.decode({-1}), finepose::Error);
  CHECK_THROWS_AS(tok.decode({49408}), finepose::Error);
  CHECK(tok.vocab_size() == 49408u);
}

TEST_CASE("clip tokenizer: decode replaces broken UTF-8 like errors='replace'") {
  REQUIRE_VOCAB();
  // vocab ids 0..255 are single bytes; 0xC3 alone (a UTF-8 lead byte) is id 0xC3 - 0xAE + 94 + 12 = 127
  CHECK(tok.decode({127}) == "\xEF\xBF\xBD");
  CHECK(tok.decode({127, 127 + 256}) == "\xEF\xBF\xBD\xEF\xBF\xBD ");
  CHECK(text::sanitize_utf8("a\xc3") == "a\xEF\xBF\xBD");
  CHECK(text::sanitize_utf8("\xed\xa0\x80x") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBDx");
  CHECK(text::sanitize_utf8("\xe2\x82x") == "\xEF\xBF\xBDx");
  CHECK(text::sanitize_utf8("\xf0\x9f\x98\x80") == "\xf0\x9f\x98\x80");
}

TEST_CASE("clip tokenizer: invalid UTF-8 input is an error naming the offset") {
  REQUIRE_VOCAB();
  try {
    tok.encode("ab\xff");
    FAIL("no exception");
  } catch (const finepose::Error& e) {
    CHECK(std::string(e.what()).find("byte 2") != std::string::npos);
  }
  CHECK_THROWS_AS(tok.tokenize("\xc0\x80"), finepose::Error);        // overlong
  CHECK_THROWS_AS(tok.tokenize("\xed\xa0\x80"), finepose::Error);    // surrogate
  CHECK_THROWS_AS(tok.tokenize("\xf4\x90\x80\x80"), finepose::Error);  // past U+10FFFF
  CHECK_THROWS_AS(tok.tokenize("x\xe2\x82"), finepose::Error);       // truncated
}

TEST_CASE("clip tokenizer: load errors") {
  auto message_of = [](const std::string& path) {
    try {
      ClipTokenizer::load(path);
    } catch (const finepose::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(message_of("/nonexistent/bpe.txt.gz").find("cannot open") != std::string::npos);
  CHECK(message_of(TempFile("plain.txt", "#version\ni n\n").path).find("not gzip") != std::string::npos);
  std::string bad = gzip_bytes("#version\ni n\nt h\n");
  for (size_t k = 12; k < bad.size() - 8; ++k) bad[k] = static_cast<char>(0xFF ^ bad[k]);
  CHECK(message_of(TempFile("corrupt.gz", bad).path).find("corrupt gzip") != std::string::npos);
  CHECK(message_of(TempFile("few.gz", gzip_bytes("#version\ni n\nt h\n")).path).find("has 2 merge lines") !=
        std::string::npos);
  CHECK(message_of(TempFile("three.gz", gzip_bytes("#version\ni n x\n")).path).find("line 2") != std::string::npos);
  CHECK(message_of(TempFile("ctrl.gz", gzip_bytes("#version\ni \x01\n")).path).find("line 2") != std::string::npos);
  CHECK(message_of(TempFile("badutf8.gz", gzip_bytes("#version\ni \xff\n")).path).find("invalid UTF-8") !=
        std::string::npos);
  if (file_exists(kVocab)) {
    const std::string real = read_all(kVocab);
    CHECK(message_of(TempFile("truncated.gz", real.substr(0, real.size() / 2)).path).find("truncated") !=
          std::string::npos);
  }
}

TEST_CASE("clip tokenizer: concurrent encode shares one cache safely") {
  REQUIRE_VOCAB();
  const std::vector<std::string> texts = {"a person walks fast", "SittingDown 2", "xxxxxxxxxxxxxxxxxxxx", "Purchases"};
  std::vector<std::vector<int32_t>> want;
  for (const auto& t : texts) want.push_back(tok.encode(t));
  const ClipTokenizer copy = tok;  // copies share the cache
  std::vector<int> bad(4, 0);
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k)
    threads.emplace_back([&, k] {
      for (int r = 0; r < 200; ++r)
        for (size_t i = 0; i < texts.size(); ++i)
          if ((k % 2 ? copy : tok).encode(texts[(i + k) % texts.size()]) != want[(i + k) % texts.size()]) ++bad[k];
    });
  for (auto& th : threads) th.join();
  CHECK(bad == std::vector<int>(4, 0));
}

TEST_CASE("text cleaning: html.unescape (values from Python's html module)") {
  auto un = [](const std::string& s) { return text::to_utf8(text::html_unescape(U(s))); };
  CHECK(un("a &amp; b") == "a & b");
  CHECK(un("&amp;amp;") == "&amp;");
  CHECK(un("&lt;tag&gt;") == "<tag>");
  CHECK(un("&ampx") == "&x");            // legacy entity without ';'
  CHECK(un("&notit;") == "\xC2\xACit;");  // longest legacy prefix
  CHECK(un("&notin;") == "\xE2\x88\x89");
  CHECK(un("&#65;&#x42;&#X43") == "ABC");
  CHECK(un("&#0;") == "\xEF\xBF\xBD");
  CHECK(un("&#x80;") == "\xE2\x82\xAC");  // windows-1252 fix-up
  CHECK(un("&#1;x") == "x");               // invalid code point -> nothing
  CHECK(un("&#xD800;") == "\xEF\xBF\xBD");
  CHECK(un("&#99999999999999;") == "\xEF\xBF\xBD");
  CHECK(un("&#;&#x;&;& x") == "&#;&#x;&;& x");
  CHECK(un("&nosuch;") == "&nosuch;");
  CHECK(un("&NotEqualTilde;") == "\xE2\x89\x82\xCC\xB8");  // two code points
}

TEST_CASE("text cleaning: ftfy subset") {
  auto fx = [](const std::string& s) { return text::to_utf8(text::ftfy_fix_text(U(s))); };
  CHECK(fx("Broken text&hellip; it&#x2019;s \xEF\xAC\x82ubberi\xEF\xAC\x81" "c!") ==
        "Broken text\xE2\x80\xA6 it's flubberific!");  // ftfy's own docstring example, minus mojibake
  CHECK(fx("\xEF\xBC\xAC\xEF\xBC\xAF\xEF\xBC\xB5\xEF\xBC\xA4\xE3\x80\x80\xEF\xBC\xAE") == "LOUD N");  // fullwidth
  CHECK(fx("\xE2\x80\x9Chere\xE2\x80\x99s a test\xE2\x80\x9D") == "\"here's a test\"");
  CHECK(fx("P&EACUTE;REZ") == "P\xC3\x89REZ");
  CHECK(fx("&ntilde; &Ntilde; &NTILDE; &nTILDE;") == "\xC3\xB1 \xC3\x91 \xC3\x91 &nTILDE;");
  CHECK(fx("&#59;") == "&#59;");  // ftfy keeps it, html.unescape later decodes it
  CHECK(fx("\x1b[36;44mblue\x1b[0m") == "blue");
  CHECK(fx("a\x01" "b\xEF\xBB\xBF" "c") == "abc");
  CHECK(fx("\xC2\x93quoted\xC2\x94") == "\"quoted\"");  // C1 controls as Windows-1252, then uncurled
  CHECK(fx("e\xCC\x81") == "\xC3\xA9");                     // NFC
  CHECK(fx("a < b &amp; c") == "a < b &amp; c");            // '<' turns ftfy's unescaping off
  CHECK(fx("x &amp;\n<\n&amp;") == "x &\n<\n&amp;");         // ... from that line on
  CHECK(fx("a\r\nb\rc") == "a\nb\nc");
}

TEST_CASE("text cleaning: lowercase, NFC, whitespace (values from Python's str/unicodedata)") {
  auto lo = [](const std::string& s) { return text::to_utf8(text::to_lower(U(s))); };
  CHECK(lo("ABC xyz") == "abc xyz");
  CHECK(lo("\xC3\x80\xC3\x89\xC3\x8E\xC3\x95\xC3\x9C\xC3\x9E") == "\xC3\xA0\xC3\xA9\xC3\xAE\xC3\xB5\xC3\xBC\xC3\xBE");  // ÀÉÎÕÜÞ
  CHECK(lo("\xC4\x80\xC5\x81\xC5\xBD") == "\xC4\x81\xC5\x82\xC5\xBE");  // ĀŁŽ
  CHECK(lo("\xC4\xB0") == "i\xCC\x87");                                  // İ
  CHECK(lo("\xD0\x9C\xD0\x9E\xD0\xA1\xD0\x9A\xD0\x92\xD0\x90") == "\xD0\xBC\xD0\xBE\xD1\x81\xD0\xBA\xD0\xB2\xD0\xB0");  // МОСКВА
  // ΟΔΟΣ ΣΟΦΟΣ. Σ -> οδος σοφος. σ  (final sigma rule)
  CHECK(lo("\xCE\x9F\xCE\x94\xCE\x9F\xCE\xA3 \xCE\xA3\xCE\x9F\xCE\xA6\xCE\x9F\xCE\xA3. \xCE\xA3") ==
        "\xCE\xBF\xCE\xB4\xCE\xBF\xCF\x82 \xCF\x83\xCE\xBF\xCF\x86\xCE\xBF\xCF\x82. \xCF\x83");
  CHECK(lo("A\xCE\xA3'") == "a\xCF\x82'");  // apostrophe is case-ignorable
  CHECK(lo("A\xCE\xA3'B") == "a\xCF\x83'b");
  CHECK(text::to_utf8(text::nfc(U("\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8"))) == "\xEA\xB0\x81");  // Hangul L V T -> 각
  CHECK(text::to_utf8(text::nfc(U("a\xCC\xA3\xCC\x87"))) == "\xE1\xBA\xA1\xCC\x87");  // ạ̇ : dot below composes first
  CHECK(text::to_utf8(text::nfc(U("a\xCC\x87\xCC\xA3"))) == "\xE1\xBA\xA1\xCC\x87");  // reordered, same result
  CHECK(text::to_utf8(text::nfc(U("\xCC\x81" "e"))) == "\xCC\x81" "e");
  CHECK(text::to_utf8(text::nfc(U("\xE2\x84\xAB"))) == "\xC3\x85");  // Angstrom sign -> Å (singleton)
  CHECK(text::to_utf8(text::clip_clean_text(U("  Multiple \xC2\xA0 spaces\tand\nTABS \xE3\x80\x80"))) ==
        "multiple spaces and tabs");
}

TEST_CASE("pre-tokenizer: CLIP's regex alternatives") {
  auto split = [](const std::string& s) {
    const std::u32string u = U(s);
    std::vector<std::string> out;
    for (auto [b, e] : text::clip_pretokenize(u)) out.push_back(text::to_utf8(u.substr(b, e - b)));
    return out;
  };
  using V = std::vector<std::string>;
  CHECK(split("don't can't it's") == V{"don", "'t", "can", "'t", "it", "'s"});
  CHECK(split("we're i've i'm we'll he'd x'y") == V{"we", "'re", "i", "'ve", "i", "'m", "we", "'ll", "he", "'d", "x", "'", "y"});
  CHECK(split("walks fast, then stops!") == V{"walks", "fast", ",", "then", "stops", "!"});
  CHECK(split("word12 3.5") == V{"word", "1", "2", "3", ".", "5"});
  CHECK(split("!?'s") == V{"!?'", "s"});
  CHECK(split("a<|endoftext|>b") == V{"a", "<|endoftext|>", "b"});
  CHECK(split("x!<|endoftext|>") == V{"x", "!<|", "endoftext", "|>"});
  CHECK(split("\xC5\xBF'\xC5\xBF") == V{"\xC5\xBF", "'\xC5\xBF"});  // long s folds to 's'
  CHECK(split("x\xCD\x85!\xCC\xA3\xCD\x85\xCC\x80") == V{"x", "!\xCC\xA3", "\xCC\x80"});  // U+0345 matches nothing
  CHECK(split("caf\xC3\xA9 \xE2\x85\xA0\xC2\xB2") == V{"caf\xC3\xA9", "\xE2\x85\xA0", "\xC2\xB2"});  // letters; N one at a time
}
