#pragma once
// CLIP's byte-level BPE tokenizer (openai/CLIP simple_tokenizer.py and
// clip.tokenize), reading the merge list bpe_simple_vocab_16e6.txt.gz.
//
//   auto tok = finepose::ClipTokenizer::load("bpe_simple_vocab_16e6.txt.gz");
//   std::vector<int32_t> row = tok.tokenize("A person");  // 77 ids: SOT 320 2533 EOT 0 ...
//
// encode(): clean (text/clean_text.hpp: ftfy subset, html.unescape twice,
// whitespace collapse, lower), split (text/clip_pretokenize.hpp), map each UTF-8
// byte to its byte-level symbol and apply merges by rank. Input must be valid
// UTF-8: malformed bytes throw finepose::Error naming the byte offset (Python's
// tokenizer takes str, so it never sees bytes that are not text).
//
// Thread safety: all methods are const; the BPE cache is shared by copies of a
// tokenizer and guarded by a mutex. It holds at most kCacheLimit words and is
// emptied when full (Python's cache grows without bound).
#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "finepose/core/error.hpp"
#include "finepose/text/clean_text.hpp"
#include "finepose/text/clip_pretokenize.hpp"
#include "finepose/text/utf8.hpp"

namespace finepose {

namespace clip_detail {

// GPT-2/CLIP bytes_to_unicode(): printable Latin-1 bytes map to themselves, the
// other 68 bytes to U+0100.. in byte order. byte_at[i] is the byte whose symbol
// has vocab id i (and id 256 + i with "</w>" appended).
struct ByteSymbols {
  unsigned char byte_at[256];  // vocab order -> byte
  char32_t cp_of[256];         // byte -> code point
  int byte_for_cp[0x144];      // code point -> byte or -1; the symbols span U+0021..U+0143
  ByteSymbols() {
    int n = 0, extra = 0;
    const auto printable = [](int b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE); };
    for (int b = 0; b < 256; ++b)
      if (printable(b)) byte_at[n++] = static_cast<unsigned char>(b), cp_of[b] = static_cast<char32_t>(b);
    for (int b = 0; b < 256; ++b)
      if (!printable(b)) byte_at[n++] = static_cast<unsigned char>(b), cp_of[b] = static_cast<char32_t>(256 + extra++);
    for (int& v : byte_for_cp) v = -1;
    for (int b = 0; b < 256; ++b) byte_for_cp[cp_of[b]] = b;
  }
  int byte_of(char32_t c) const { return c < 0x144 ? byte_for_cp[c] : -1; }
};

inline std::string read_gzip_file(const std::string& path) {
  constexpr size_t kMaxCompressed = size_t(256) << 20, kMaxInflated = size_t(64) << 20;
  std::ifstream f(path, std::ios::binary);
  if (!f) fail_io("ClipTokenizer: cannot open vocab file '", path, "'");
  f.seekg(0, std::ios::end);
  const std::streamoff size = f.tellg();
  f.seekg(0, std::ios::beg);
  if (size < 0) fail("ClipTokenizer: cannot read vocab file '", path, "'");
  if (static_cast<size_t>(size) > kMaxCompressed)
    fail("ClipTokenizer: vocab file '", path, "' is ", size, " bytes; a BPE merge list is a few MB");
  std::string in(static_cast<size_t>(size), '\0');
  if (size > 0 && !f.read(&in[0], size)) fail("ClipTokenizer: cannot read vocab file '", path, "'");
  if (in.size() < 18 || static_cast<unsigned char>(in[0]) != 0x1F || static_cast<unsigned char>(in[1]) != 0x8B)
    fail("ClipTokenizer: vocab file '", path,
         "' is not gzip-compressed (expected the CLIP merge list bpe_simple_vocab_16e6.txt.gz)");

  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) fail("ClipTokenizer: zlib inflateInit2 failed");
  std::string out;
  std::vector<char> buf(1 << 16);
  zs.next_in = reinterpret_cast<Bytef*>(&in[0]);
  zs.avail_in = static_cast<uInt>(in.size());
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(buf.data());
    zs.avail_out = static_cast<uInt>(buf.size());
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      const std::string msg = zs.msg ? zs.msg : (rc == Z_BUF_ERROR ? "stream ends early" : "inflate error");
      inflateEnd(&zs);
      fail("ClipTokenizer: vocab file '", path, "' has corrupt gzip data at compressed byte ", zs.total_in, ": ", msg);
    }
    out.append(buf.data(), buf.size() - zs.avail_out);
    if (out.size() > kMaxInflated) {
      inflateEnd(&zs);
      fail("ClipTokenizer: vocab file '", path, "' inflates past ", kMaxInflated, " bytes; not a BPE merge list");
    }
    if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) {
      inflateEnd(&zs);
      fail("ClipTokenizer: vocab file '", path, "' is a truncated gzip stream (", in.size(), " bytes)");
    }
  }
  inflateEnd(&zs);
  return out;
}

}  // namespace clip_detail

class ClipTokenizer {
 public:
  static constexpr int kSot = 49406, kEot = 49407, kContext = 77;
  static constexpr int kNumMerges = 49152 - 256 - 2;  // 48894 merges after the header line
  static constexpr int kVocabSize = 512 + kNumMerges + 2;
  static constexpr size_t kCacheLimit = size_t(1) << 16;

  static ClipTokenizer load(const std::string& vocab_gz_path) {
    const std::string raw = clip_detail::read_gzip_file(vocab_gz_path);
    const std::u32string text = text::decode_utf8(raw, "ClipTokenizer: vocab file '" + vocab_gz_path + "'");
    return from_merges(text, vocab_gz_path);
  }

  // BPE ids of the cleaned text, without SOT/EOT (SimpleTokenizer.encode)
  std::vector<int32_t> encode(const std::string& text) const { return encode_limited(text, SIZE_MAX); }

  // clip.tokenize for one text: SOT + ids + EOT, zero-padded to `context`. Too long:
  // with truncate, cut to `context` ids and make the last one EOT; without, throw.
  std::vector<int32_t> tokenize(const std::string& text, int context = kContext, bool truncate = true) const {
    if (context < 1) fail("ClipTokenizer::tokenize: context length must be >= 1, got ", context);
    const size_t ctx = static_cast<size_t>(context);
    // only the first context-1 ids can matter: ctx-2 survive, one more proves the text too long
    std::vector<int32_t> ids = encode_limited(text, ctx >= 2 ? ctx - 1 : 0);
    std::vector<int32_t> out;
    out.reserve(std::max(ctx, ids.size() + 2));
    out.push_back(kSot);
    out.insert(out.end(), ids.begin(), ids.end());
    out.push_back(kEot);
    if (out.size() > ctx) {
      if (!truncate) {
        const std::string shown = text.size() > 80 ? text.substr(0, 80) + "..." : text;
        fail("ClipTokenizer::tokenize: input \"", shown, "\" is too long for context length ", context);
      }
      out.resize(ctx);
      out.back() = kEot;
    }
    out.resize(ctx, 0);
    return out;
  }

  // SimpleTokenizer.decode: bytes of the tokens, invalid UTF-8 replaced by U+FFFD,
  // every "</w>" turned into a space. SOT/EOT/padding ids are decoded like any other.
  std::string decode(const std::vector<int32_t>& ids) const {
    std::string bytes;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] < 0 || ids[i] >= static_cast<int32_t>(token_bytes_.size()))
        fail("ClipTokenizer::decode: id ", ids[i], " at position ", i, " is outside [0, ", token_bytes_.size(), ")");
      bytes += token_bytes_[static_cast<size_t>(ids[i])];
    }
    std::string text = text::sanitize_utf8(bytes), out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
      if (text.compare(i, 4, "</w>") == 0) {
        out += ' ';
        i += 4;
      } else {
        out += text[i++];
      }
    }
    return out;
  }

  size_t vocab_size() const { return token_bytes_.size(); }

 private:
  struct BpeCache {
    std::mutex mutex;
    std::unordered_map<std::string, std::vector<int32_t>> words;
  };
  struct Merge {
    int32_t rank, merged;
  };

  static uint64_t pair_key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }

  static ClipTokenizer from_merges(const std::u32string& text, const std::string& path) {
    static const clip_detail::ByteSymbols sym;
    const auto where = [&](size_t line) { return "ClipTokenizer: vocab file '" + path + "' line " + std::to_string(line + 1); };
    // symbol text (byte-level code points) -> raw bytes
    const auto to_bytes = [&](std::u32string_view s, size_t line) {
      std::string b;
      b.reserve(s.size());
      for (char32_t c : s) {
        const int v = sym.byte_of(c);
        if (v < 0) fail(where(line), ": U+", std::hex, static_cast<uint32_t>(c), std::dec,
                        " is not a byte-level BPE symbol character");
        b += static_cast<char>(v);
      }
      return b;
    };

    ClipTokenizer t;
    t.token_bytes_.reserve(kVocabSize);
    for (int i = 0; i < 256; ++i) t.token_bytes_.emplace_back(1, static_cast<char>(sym.byte_at[i]));
    for (int i = 0; i < 256; ++i) t.token_bytes_.push_back(std::string(1, static_cast<char>(sym.byte_at[i])) + "</w>");

    // lines 1..kNumMerges: "left right"
    std::vector<std::pair<std::string, std::string>> merges;
    merges.reserve(kNumMerges);
    size_t pos = text.find(U'\n');
    size_t line = 1;
    while (pos != std::u32string::npos && merges.size() < static_cast<size_t>(kNumMerges)) {
      const size_t begin = pos + 1;
      pos = text.find(U'\n', begin);
      const std::u32string_view l(text.data() + begin, (pos == std::u32string::npos ? text.size() : pos) - begin);
      std::vector<std::u32string_view> parts;
      for (size_t i = 0; i < l.size();) {
        while (i < l.size() && (l[i] == U' ' || (l[i] >= U'\t' && l[i] <= U'\r'))) ++i;
        size_t j = i;
        while (j < l.size() && !(l[j] == U' ' || (l[j] >= U'\t' && l[j] <= U'\r'))) ++j;
        if (j > i) parts.push_back(l.substr(i, j - i));
        i = j;
      }
      if (parts.size() != 2) {
        if (pos == std::u32string::npos && l.empty()) break;  // final newline: count check below reports it
        fail(where(line), ": expected two space-separated symbols, found ", parts.size());
      }
      merges.emplace_back(to_bytes(parts[0], line), to_bytes(parts[1], line));
      ++line;
    }
    if (merges.size() != static_cast<size_t>(kNumMerges))
      fail("ClipTokenizer: vocab file '", path, "' has ", merges.size(), " merge lines after the header; CLIP needs ",
           kNumMerges);
    for (const auto& m : merges) t.token_bytes_.push_back(m.first + m.second);
    t.token_bytes_.emplace_back("<|startoftext|>");
    t.token_bytes_.emplace_back("<|endoftext|>");

    // symbol -> id; a symbol listed twice gets its last id, as dict(zip(vocab, range)) does
    std::unordered_map<std::string, int32_t> encoder;
    encoder.reserve(t.token_bytes_.size() * 2);
    for (size_t i = 0; i < t.token_bytes_.size(); ++i) encoder[t.token_bytes_[i]] = static_cast<int32_t>(i);
    for (int b = 0; b < 256; ++b) {
      const std::string s(1, static_cast<char>(b));
      t.byte_id_[b] = encoder.at(s);
      t.byte_end_id_[b] = encoder.at(s + "</w>");
    }
    t.merges_.reserve(merges.size() * 2);
    for (size_t r = 0; r < merges.size(); ++r) {
      const auto a = encoder.find(merges[r].first), b = encoder.find(merges[r].second);
      if (a == encoder.end() || b == encoder.end()) continue;  // such a pair can never occur in a word
      t.merges_[pair_key(a->second, b->second)] =
          Merge{static_cast<int32_t>(r), encoder.at(merges[r].first + merges[r].second)};
    }
    return t;
  }

  std::vector<int32_t> encode_limited(const std::string& text, size_t max_ids) const {
    const std::u32string clean = text::clip_clean_text(text::decode_utf8(text, "ClipTokenizer: input text"));
    std::vector<int32_t> ids;
    for (const auto& [b, e] : text::clip_pretokenize(clean)) {
      if (ids.size() >= max_ids) break;
      const std::string word = text::to_utf8(std::u32string_view(clean).substr(b, e - b));
      if (word == "<|startoftext|>") {
        ids.push_back(kSot);
      } else if (word == "<|endoftext|>") {
        ids.push_back(kEot);
      } else {
        bpe(word, ids);
      }
    }
    return ids;
  }

  // merges by rank over one pre-token's bytes; appends the ids
  void bpe(const std::string& word, std::vector<int32_t>& out) const {
    {
      std::lock_guard<std::mutex> lock(cache_->mutex);
      const auto it = cache_->words.find(word);
      if (it != cache_->words.end()) {
        out.insert(out.end(), it->second.begin(), it->second.end());
        return;
      }
    }
    std::vector<int32_t> sym = merge_word(word);
    out.insert(out.end(), sym.begin(), sym.end());
    std::lock_guard<std::mutex> lock(cache_->mutex);
    if (cache_->words.size() >= kCacheLimit) cache_->words.clear();
    cache_->words.emplace(word, std::move(sym));
  }

  // Python's loop (take the lowest-ranked adjacent pair, merge all its occurrences
  // left to right, repeat) in O(n log n): a doubly linked list of symbols and a
  // min-heap of (rank, left position). Each round takes every heap entry of the
  // lowest rank and applies the still-valid ones in position order, which is the
  // same left-to-right pass; pairs a merge creates wait for the next round.
  std::vector<int32_t> merge_word(const std::string& word) const {
    const int n = static_cast<int>(word.size());
    std::vector<int32_t> id(static_cast<size_t>(n));
    std::vector<int> prev(static_cast<size_t>(n)), next(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      const auto b = static_cast<unsigned char>(word[static_cast<size_t>(i)]);
      id[i] = i + 1 < n ? byte_id_[b] : byte_end_id_[b];
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
    }
    using Entry = std::pair<int32_t, int>;  // (rank, left position)
    std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap;
    const auto push_pair = [&](int left) {
      if (left < 0 || next[left] < 0) return;
      const auto it = merges_.find(pair_key(id[left], id[next[left]]));
      if (it != merges_.end()) heap.emplace(it->second.rank, left);
    };
    for (int i = 0; i + 1 < n; ++i) push_pair(i);
    std::vector<int> round, touched;
    while (!heap.empty()) {
      const int32_t rank = heap.top().first;
      round.clear();
      while (!heap.empty() && heap.top().first == rank) {
        round.push_back(heap.top().second);
        heap.pop();
      }
      std::sort(round.begin(), round.end());  // positions keep the list order
      touched.clear();
      for (int left : round) {
        const int right = next[left];
        if (id[left] < 0 || right < 0) continue;  // consumed by an earlier merge
        const auto it = merges_.find(pair_key(id[left], id[right]));
        if (it == merges_.end() || it->second.rank != rank) continue;  // pair changed since it was queued
        id[left] = it->second.merged;
        id[right] = -1;
        next[left] = next[right];
        if (next[right] >= 0) prev[next[right]] = left;
        touched.push_back(left);
      }
      // pairs the merged symbols now form, each queued once
      const size_t merged_count = touched.size();
      for (size_t k = 0; k < merged_count; ++k)
        if (prev[touched[k]] >= 0) touched.push_back(prev[touched[k]]);
      std::sort(touched.begin(), touched.end());
      touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
      for (int left : touched)
        if (id[left] >= 0) push_pair(left);
    }
    std::vector<int32_t> out;
    for (int i = 0; i >= 0 && i < n; i = next[i]) out.push_back(id[i]);
    return out;
  }

  ClipTokenizer() : cache_(std::make_shared<BpeCache>()) {}

  int32_t byte_id_[256] = {};      // id of byte b inside a word
  int32_t byte_end_id_[256] = {};  // id of byte b ending a word ("b</w>")
  std::vector<std::string> token_bytes_;
  std::unordered_map<uint64_t, Merge> merges_;
  std::shared_ptr<BpeCache> cache_;
};

}  // namespace finepose
