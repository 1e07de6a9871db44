#pragma once
// A safe unpickler for the pickles that PyTorch checkpoints and numpy .npy /
// .npz object arrays contain. It is a data parser, not a Python VM: nothing is
// ever called. GLOBAL / STACK_GLOBAL accept only an allow-list of names whose
// meaning is pure data (OrderedDict, torch tensor rebuild functions and storage
// types, numpy array/dtype reconstruction, _codecs.encode, set); REDUCE and
// NEWOBJ on them build plain values or inert `Object` records that the caller
// interprets (torch_checkpoint.hpp turns tensor records into tensors,
// pickle_numpy.hpp turns numpy records into NdArrays). Every other global is
// refused at the opcode that names it.
//
// Hostile input is bounded: stack, mark and memo sizes, total values created,
// nesting depth of the result (checked without recursion, cycles refused) and
// every length against the bytes that remain. Destruction of deep graphs is
// iterative, so even a refused 100,000-deep pickle cannot overflow the stack.
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "finepose/core/error.hpp"
#include "finepose/io/bytes.hpp"

namespace finepose {
namespace pickle {

enum class Kind {
  none,
  boolean,
  integer,      // fits in int64
  big_integer,  // wider than 64 bits: text() holds the little-endian two's complement bytes
  floating,
  string,       // UTF-8 text
  bytes,
  list,
  tuple,
  set,          // set or frozenset, kept in insertion order
  dict,         // dict or OrderedDict, kept in insertion order
  global,       // an allow-listed "module.name", never called
  object,       // the inert result of REDUCE/NEWOBJ on an allow-listed global
};

inline const char* kind_name(Kind k) {
  switch (k) {
    case Kind::none: return "None";
    case Kind::boolean: return "bool";
    case Kind::integer: return "int";
    case Kind::big_integer: return "big int";
    case Kind::floating: return "float";
    case Kind::string: return "str";
    case Kind::bytes: return "bytes";
    case Kind::list: return "list";
    case Kind::tuple: return "tuple";
    case Kind::set: return "set";
    case Kind::dict: return "dict";
    case Kind::global: return "global";
    case Kind::object: return "object";
  }
  return "?";
}

struct Value;
struct Sequence;
struct Dict;
struct Object;

// A pickled value. Containers are shared (the memo hands out references, and
// SETITEMS on a memoised dict must be seen by everyone holding it), so copying
// a Value is cheap and aliases containers, as in Python.
struct Value {
  Kind kind = Kind::none;
  union {
    bool b;
    std::int64_t i;
    double f;
  };
  std::shared_ptr<const std::string> text_;  // string, bytes, big_integer, global name
  std::shared_ptr<Sequence> seq_;           // list, tuple, set
  std::shared_ptr<Dict> dict_;
  std::shared_ptr<Object> obj_;

  Value() : i(0) {}

  static Value none() { return Value(); }
  static Value boolean(bool v) {
    Value r;
    r.kind = Kind::boolean;
    r.b = v;
    return r;
  }
  static Value integer(std::int64_t v) {
    Value r;
    r.kind = Kind::integer;
    r.i = v;
    return r;
  }
  static Value floating(double v) {
    Value r;
    r.kind = Kind::floating;
    r.f = v;
    return r;
  }
  static Value text_of(Kind k, std::string s) {
    Value r;
    r.kind = k;
    r.text_ = std::make_shared<const std::string>(std::move(s));
    return r;
  }
  static Value string(std::string s) { return text_of(Kind::string, std::move(s)); }
  static Value bytes(std::string s) { return text_of(Kind::bytes, std::move(s)); }
  static Value global(std::string s) { return text_of(Kind::global, std::move(s)); }
  static Value list(std::vector<Value> items = {});
  static Value tuple(std::vector<Value> items = {});
  static Value set(std::vector<Value> items = {});
  static Value dict();
  static Value object(std::string global, Value args);

  bool is_none() const { return kind == Kind::none; }
  bool is_int() const { return kind == Kind::integer || kind == Kind::boolean; }
  bool is_number() const { return is_int() || kind == Kind::floating; }
  bool is_string() const { return kind == Kind::string; }
  bool is_bytes() const { return kind == Kind::bytes; }
  bool is_list() const { return kind == Kind::list; }
  bool is_tuple() const { return kind == Kind::tuple; }
  bool is_dict() const { return kind == Kind::dict; }
  bool is_global() const { return kind == Kind::global; }
  bool is_object() const { return kind == Kind::object; }
  bool is_object(const char* global_name) const;
  bool is_container() const { return bool(seq_) || bool(dict_) || bool(obj_); }

  // Checked accessors: a wrong kind is an Error naming `what`.
  bool as_bool(const char* what = "value") const {
    if (kind != Kind::boolean && kind != Kind::integer) wrong(what, "bool");
    return kind == Kind::boolean ? b : i != 0;
  }
  std::int64_t as_int(const char* what = "value") const {
    if (kind == Kind::boolean) return b ? 1 : 0;
    if (kind != Kind::integer) wrong(what, "int");
    return i;
  }
  double as_double(const char* what = "value") const {
    if (kind == Kind::floating) return f;
    return double(as_int(what));
  }
  const std::string& text(const char* what = "value") const {
    if (!text_) wrong(what, "str/bytes");
    return *text_;
  }
  const std::string& as_string(const char* what = "value") const {
    if (kind != Kind::string) wrong(what, "str");
    return *text_;
  }
  const std::string& as_bytes(const char* what = "value") const {
    if (kind != Kind::bytes) wrong(what, "bytes");
    return *text_;
  }
  const std::string& global_name(const char* what = "value") const {
    if (kind != Kind::global) wrong(what, "global");
    return *text_;
  }
  // Items of a list, tuple or set.
  const std::vector<Value>& items(const char* what = "value") const;
  std::vector<Value>& mutable_items(const char* what = "value");
  const Dict& as_dict(const char* what = "value") const {
    if (!dict_) wrong(what, "dict");
    return *dict_;
  }
  Dict& mutable_dict(const char* what = "value") {
    if (!dict_) wrong(what, "dict");
    return *dict_;
  }
  const Object& as_object(const char* what = "value") const {
    if (!obj_) wrong(what, "object");
    return *obj_;
  }
  Object& mutable_object(const char* what = "value") {
    if (!obj_) wrong(what, "object");
    return *obj_;
  }

  // Identity of the container (for sharing / cycle checks); null for scalars.
  const void* identity() const {
    if (seq_) return seq_.get();
    if (dict_) return dict_.get();
    if (obj_) return obj_.get();
    return nullptr;
  }

  // Short human-readable description for error messages (never recursive).
  std::string describe() const;

  [[noreturn]] void wrong(const char* what, const char* want) const {
    fail("pickle: ", what, " is ", kind_name(kind), ", expected ", want);
  }
};

namespace detail {
// Containers hand their children to this queue instead of destroying them
// recursively: a 100,000-deep chain is torn down in a loop, not on the stack.
struct Graveyard {
  std::vector<Value> pending;
  bool draining = false;
};
inline Graveyard& graveyard() {
  thread_local Graveyard g;
  return g;
}
inline void bury(std::vector<Value>& vs) {
  Graveyard& g = graveyard();
  for (auto& v : vs)
    if (v.is_container()) g.pending.push_back(std::move(v));
  vs.clear();
  if (g.draining) return;
  g.draining = true;
  while (!g.pending.empty()) {
    Value v = std::move(g.pending.back());
    g.pending.pop_back();
    // v's destructor may bury more children: they join `pending`.
  }
  g.draining = false;
}

// A printable, bounded rendering of untrusted text for error messages.
inline std::string printable(const std::string& s, std::size_t max_len = 80) {
  std::string r;
  for (std::size_t k = 0; k < s.size() && k < max_len; ++k) {
    unsigned char c = static_cast<unsigned char>(s[k]);
    if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\') {
      r += char(c);
    } else {
      static const char* hex = "0123456789abcdef";
      r += "\\x";
      r += hex[c >> 4];
      r += hex[c & 15];
    }
  }
  if (s.size() > max_len) r += "...";
  return r;
}
}  // namespace detail

struct Sequence {
  std::vector<Value> items;
  Sequence() = default;
  explicit Sequence(std::vector<Value> v) : items(std::move(v)) {}
  Sequence(const Sequence&) = delete;
  Sequence& operator=(const Sequence&) = delete;
  ~Sequence() { detail::bury(items); }
};

// Insertion-ordered dict with hashable keys (str, bytes, int, bool, float,
// None and tuples of those), looked up by a canonical key string.
struct Dict {
  std::vector<std::pair<Value, Value>> entries;
  std::unordered_map<std::string, std::size_t> index;
  Value attributes;  // BUILD state on an OrderedDict (torch's `_metadata`), else None

  Dict() = default;
  Dict(const Dict&) = delete;
  Dict& operator=(const Dict&) = delete;
  ~Dict() {
    std::vector<Value> all;
    all.reserve(entries.size() * 2 + 1);
    for (auto& kv : entries) {
      all.push_back(std::move(kv.first));
      all.push_back(std::move(kv.second));
    }
    all.push_back(std::move(attributes));
    entries.clear();
    detail::bury(all);
  }

  std::size_t size() const { return entries.size(); }
  void set(Value key, Value value);
  const Value* find(const Value& key) const;
  const Value* find(const std::string& key) const { return find(Value::string(key)); }
  const Value& at(const std::string& key) const {
    const Value* v = find(key);
    if (!v) fail("pickle: dict has no key '", detail::printable(key), "'");
    return *v;
  }
  bool has(const std::string& key) const { return find(key) != nullptr; }
};

// What REDUCE / NEWOBJ on an allow-listed global made, plus BUILD's state.
struct Object {
  std::string global;  // e.g. "torch._utils._rebuild_tensor_v2"
  Value args;          // the argument tuple
  Value state;         // BUILD state, None when there was none
  bool has_state = false;

  Object() = default;
  Object(const Object&) = delete;
  Object& operator=(const Object&) = delete;
  ~Object() {
    std::vector<Value> all;
    all.push_back(std::move(args));
    all.push_back(std::move(state));
    detail::bury(all);
  }
};

inline Value Value::list(std::vector<Value> items) {
  Value r;
  r.kind = Kind::list;
  r.seq_ = std::make_shared<Sequence>(std::move(items));
  return r;
}
inline Value Value::tuple(std::vector<Value> items) {
  Value r;
  r.kind = Kind::tuple;
  r.seq_ = std::make_shared<Sequence>(std::move(items));
  return r;
}
inline Value Value::set(std::vector<Value> items) {
  Value r;
  r.kind = Kind::set;
  r.seq_ = std::make_shared<Sequence>(std::move(items));
  return r;
}
inline Value Value::dict() {
  Value r;
  r.kind = Kind::dict;
  r.dict_ = std::make_shared<Dict>();
  return r;
}
inline Value Value::object(std::string global, Value args) {
  Value r;
  r.kind = Kind::object;
  r.obj_ = std::make_shared<Object>();
  r.obj_->global = std::move(global);
  r.obj_->args = std::move(args);
  return r;
}
inline bool Value::is_object(const char* global_name) const {
  return kind == Kind::object && obj_->global == global_name;
}
inline const std::vector<Value>& Value::items(const char* what) const {
  if (!seq_) wrong(what, "list/tuple");
  return seq_->items;
}
inline std::vector<Value>& Value::mutable_items(const char* what) {
  if (!seq_) wrong(what, "list/tuple");
  return seq_->items;
}
inline std::string Value::describe() const {
  switch (kind) {
    case Kind::none: return "None";
    case Kind::boolean: return b ? "True" : "False";
    case Kind::integer: return std::to_string(i);
    case Kind::floating: return std::to_string(f);
    case Kind::string: return "'" + detail::printable(*text_) + "'";
    case Kind::bytes: return "bytes[" + std::to_string(text_->size()) + "]";
    case Kind::big_integer: return "int of " + std::to_string(text_->size()) + " bytes";
    case Kind::global: return "global " + *text_;
    case Kind::object: return "object " + obj_->global;
    case Kind::dict: return "dict[" + std::to_string(dict_->size()) + "]";
    default: return std::string(kind_name(kind)) + "[" + std::to_string(seq_ ? seq_->items.size() : 0) + "]";
  }
}

namespace detail {
// Canonical text of a hashable key; equal Python keys give equal text
// (True == 1 == 1.0, as in Python).
inline void key_text(const Value& v, std::string& out, int depth) {
  if (depth > 64) fail("pickle: dict key nested more than 64 deep");
  // Shared sub-tuples can make a small pickle's key exponentially long.
  if (out.size() > (std::size_t(1) << 20)) fail("pickle: dict key longer than 1 MiB");
  switch (v.kind) {
    case Kind::none: out += "N"; return;
    case Kind::boolean: out += v.b ? "i1;" : "i0;"; return;
    case Kind::integer: out += "i" + std::to_string(v.i) + ";"; return;
    case Kind::floating:
      if (std::isfinite(v.f) && v.f == std::floor(v.f) && std::fabs(v.f) < 9.2e18) {
        out += "i" + std::to_string(std::int64_t(v.f)) + ";";
      } else {
        char buf[40];
        std::snprintf(buf, sizeof buf, "f%.17g;", v.f);
        out += buf;
      }
      return;
    case Kind::big_integer:
    case Kind::string:
    case Kind::bytes:
    case Kind::global:
      out += v.kind == Kind::string ? "s" : v.kind == Kind::bytes ? "b" : v.kind == Kind::global ? "g" : "I";
      out += std::to_string(v.text_->size()) + ":" + *v.text_;
      return;
    case Kind::tuple:
      out += "(";
      for (const auto& it : v.seq_->items) key_text(it, out, depth + 1);
      out += ")";
      return;
    default: fail("pickle: unhashable dict key of type ", kind_name(v.kind));
  }
}
inline std::string key_text(const Value& v) {
  std::string s;
  key_text(v, s, 0);
  return s;
}
}  // namespace detail

inline void Dict::set(Value key, Value value) {
  std::string k = detail::key_text(key);
  auto it = index.find(k);
  if (it != index.end()) {
    entries[it->second].second = std::move(value);
    return;
  }
  index.emplace(std::move(k), entries.size());
  entries.emplace_back(std::move(key), std::move(value));
}
inline const Value* Dict::find(const Value& key) const {
  auto it = index.find(detail::key_text(key));
  return it == index.end() ? nullptr : &entries[it->second].second;
}

// ---------------------------------------------------------------------------
// Allow-list. Returns true for the globals a checkpoint or numpy pickle may
// name; `module.name` is how they are reported.

inline bool is_torch_storage_type(const std::string& name) {
  static const char* const kStorages[] = {
      "torch.FloatStorage",  "torch.DoubleStorage", "torch.HalfStorage",        "torch.BFloat16Storage",
      "torch.LongStorage",   "torch.IntStorage",    "torch.ShortStorage",       "torch.CharStorage",
      "torch.ByteStorage",   "torch.BoolStorage",   "torch.ComplexFloatStorage", "torch.ComplexDoubleStorage",
      "torch.cuda.FloatStorage", "torch.cuda.DoubleStorage", "torch.cuda.HalfStorage", "torch.cuda.BFloat16Storage",
      "torch.cuda.LongStorage",  "torch.cuda.IntStorage",    "torch.cuda.ShortStorage", "torch.cuda.CharStorage",
      "torch.cuda.ByteStorage",  "torch.cuda.BoolStorage"};
  for (const char* s : kStorages)
    if (name == s) return true;
  return false;
}

inline bool is_allowed_global(const std::string& name) {
  static const char* const kAllowed[] = {
      "collections.OrderedDict",
      "torch._utils._rebuild_tensor",
      "torch._utils._rebuild_tensor_v2",
      "torch._utils._rebuild_parameter",
      "torch._utils._rebuild_parameter_with_state",
      "torch.Size",
      "numpy.core.multiarray._reconstruct",
      "numpy._core.multiarray._reconstruct",
      "numpy.core.multiarray.scalar",
      "numpy._core.multiarray.scalar",
      "numpy.core.numeric._frombuffer",
      "numpy._core.numeric._frombuffer",
      "numpy.ndarray",
      "numpy.dtype",
      // numpy.random.RandomState objects (what main.py saves as 'random_state'):
      // read as inert records, never constructed (see random_state_call / check_random_state).
      "numpy.random._pickle.__randomstate_ctor",
      "numpy.random._pickle.__bit_generator_ctor",
      "numpy.random._mt19937.MT19937",
      "numpy.random.__RandomState_ctor",
      "_codecs.encode",
      "builtins.set",
      "builtins.frozenset",
      "builtins.bytes",
      "__builtin__.bytes",
      "__builtin__.set",
      "__builtin__.frozenset",
  };
  for (const char* s : kAllowed)
    if (name == s) return true;
  return is_torch_storage_type(name);
}

// ---------------------------------------------------------------------------

struct Limits {
  std::size_t max_depth = 1000;             // nesting of the result and of MARKs
  std::size_t max_stack = std::size_t(1) << 22;  // values on the stack at once
  std::size_t max_memo = std::size_t(1) << 22;   // memo entries
  std::size_t max_values = std::size_t(1) << 28;  // values created in all
};

// Called for BINPERSID / PERSID with the persistent id; returns what stands
// in its place (torch: a storage record). Without one, persistent ids are refused.
using PersistentLoad = std::function<Value(const Value& pid)>;

struct Options {
  std::string source = "input";  // names the input in error messages (file, zip entry)
  PersistentLoad persistent_load;
  Limits limits;
};

namespace detail {

// Python's latin-1 codec over our UTF-8 text: _codecs.encode(s, 'latin1').
inline std::string utf8_to_latin1(const std::string& s, const std::string& where) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t k = 0; k < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[k]);
    if (c < 0x80) {
      out += char(c);
      ++k;
    } else if ((c & 0xe0) == 0xc0 && k + 1 < s.size()) {
      unsigned cp = ((c & 0x1fu) << 6) | (static_cast<unsigned char>(s[k + 1]) & 0x3fu);
      if (cp > 0xff) fail(where, ": _codecs.encode: character U+", cp, " does not fit latin-1");
      out += char(cp);
      k += 2;
    } else {
      fail(where, ": _codecs.encode: text is not latin-1 encodable");
    }
  }
  return out;
}

using io::append_utf8;

class Unpickler {
 public:
  Unpickler(const std::uint8_t* data, std::size_t size, const Options& opt)
      : p_(data), n_(size), opt_(opt), lim_(opt.limits) {}

  Value run() {
    try {
      Value result = loop();
      check_shape(result);
      return result;
    } catch (...) {
      dismantle();
      throw;
    }
  }

 private:
  const std::uint8_t* p_;
  std::size_t n_;
  std::size_t pos_ = 0;
  std::size_t op_pos_ = 0;
  const Options& opt_;
  const Limits& lim_;
  std::vector<Value> stack_;
  std::vector<std::vector<Value>> marks_;
  std::unordered_map<std::uint64_t, Value> memo_;
  std::size_t created_ = 0;
  // Every container made here, to break cycles and chains if we give up.
  std::vector<std::weak_ptr<Sequence>> made_seq_;
  std::vector<std::weak_ptr<Dict>> made_dict_;
  std::vector<std::weak_ptr<Object>> made_obj_;

  template <class... A>
  [[noreturn]] void bad(const A&... a) const {
    fail(opt_.source, ": pickle: ", a..., " (opcode at byte ", op_pos_, ")");
  }

  // ---- reading --------------------------------------------------------------
  void need(std::uint64_t k) const {
    if (k > n_ - pos_) bad("truncated: need ", k, " more bytes, ", n_ - pos_, " left");
  }
  std::uint8_t u8() {
    need(1);
    return p_[pos_++];
  }
  std::uint64_t le(int bytes) {
    need(std::uint64_t(bytes));
    std::uint64_t v = 0;
    for (int k = 0; k < bytes; ++k) v |= std::uint64_t(p_[pos_ + k]) << (8 * k);
    pos_ += std::size_t(bytes);
    return v;
  }
  std::string take(std::uint64_t k) {
    need(k);
    std::string s(reinterpret_cast<const char*>(p_ + pos_), std::size_t(k));
    pos_ += std::size_t(k);
    return s;
  }
  std::string line() {
    std::size_t start = pos_;
    while (pos_ < n_ && p_[pos_] != '\n') {
      if (pos_ - start > 4096) bad("text line longer than 4096 bytes");
      ++pos_;
    }
    if (pos_ >= n_) bad("truncated: text argument has no end of line");
    std::string s(reinterpret_cast<const char*>(p_ + start), pos_ - start);
    ++pos_;
    return s;
  }

  // ---- stack ------------------------------------------------------------------
  void push(Value v) {
    if (stack_.size() >= lim_.max_stack) bad("stack holds more than ", lim_.max_stack, " values");
    if (++created_ > lim_.max_values) bad("more than ", lim_.max_values, " values");
    if (v.seq_) made_seq_.push_back(v.seq_);
    if (v.dict_) made_dict_.push_back(v.dict_);
    if (v.obj_) made_obj_.push_back(v.obj_);
    stack_.push_back(std::move(v));
  }
  Value pop(const char* what) {
    if (stack_.empty()) bad(what, " on an empty stack");
    Value v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  Value& top(const char* what) {
    if (stack_.empty()) bad(what, " on an empty stack");
    return stack_.back();
  }
  void mark() {
    if (marks_.size() >= lim_.max_depth) bad("more than ", lim_.max_depth, " nested MARKs");
    marks_.push_back(std::move(stack_));
    stack_.clear();
  }
  // Items since the last MARK; the stack before the MARK is restored.
  std::vector<Value> pop_mark(const char* what) {
    if (marks_.empty()) bad(what, " without a MARK");
    std::vector<Value> items = std::move(stack_);
    stack_ = std::move(marks_.back());
    marks_.pop_back();
    return items;
  }

  void memo_put(std::uint64_t idx) {
    const Value& v = top("memo put");
    if (memo_.size() >= lim_.max_memo && !memo_.count(idx)) bad("memo holds more than ", lim_.max_memo, " entries");
    memo_[idx] = v;
  }
  void memo_get(std::uint64_t idx) {
    auto it = memo_.find(idx);
    if (it == memo_.end()) bad("memo entry ", idx, " was never stored");
    push(it->second);
  }

  // ---- the opcode loop ----------------------------------------------------------
  Value loop() {
    for (;;) {
      op_pos_ = pos_;
      if (pos_ >= n_) bad("truncated: no STOP opcode");
      const std::uint8_t op = p_[pos_++];
      switch (op) {
        case 0x80: {  // PROTO
          int proto = u8();
          if (proto > 5) bad("protocol ", proto, " is newer than 5");
          break;
        }
        case 0x95: {  // FRAME: advisory; its length must still fit
          std::uint64_t len = le(8);
          if (len > n_ - pos_) bad("truncated: frame of ", len, " bytes, ", n_ - pos_, " left");
          break;
        }
        case '.': {  // STOP
          if (!marks_.empty()) bad("STOP inside an unclosed MARK");
          if (stack_.size() != 1) bad("STOP with ", stack_.size(), " values on the stack (expected 1)");
          Value r = std::move(stack_.back());
          stack_.clear();
          return r;
        }
        // -- constants
        case 'N': push(Value::none()); break;
        case 0x88: push(Value::boolean(true)); break;
        case 0x89: push(Value::boolean(false)); break;
        case 'J': push(Value::integer(std::int32_t(std::uint32_t(le(4))))); break;  // BININT
        case 'K': push(Value::integer(u8())); break;                                    // BININT1
        case 'M': push(Value::integer(std::int64_t(le(2)))); break;                     // BININT2
        case 0x8a: push(long_bytes(u8())); break;                                       // LONG1
        case 0x8b: {                                                                    // LONG4
          std::int64_t len = std::int32_t(std::uint32_t(le(4)));
          if (len < 0) bad("LONG4 with negative length");
          push(long_bytes(std::uint64_t(len)));
          break;
        }
        case 'G': {  // BINFLOAT, big-endian
          need(8);
          std::uint64_t bits = 0;
          for (int k = 0; k < 8; ++k) bits = (bits << 8) | p_[pos_ + k];
          pos_ += 8;
          double d;
          std::memcpy(&d, &bits, 8);
          push(Value::floating(d));
          break;
        }
        case 'I': push(text_int(line())); break;  // INT (protocol 0)
        case 'L': {                                // LONG (protocol 0)
          std::string s = line();
          if (!s.empty() && s.back() == 'L') s.pop_back();
          push(text_int(s));
          break;
        }
        case 'F': {  // FLOAT (protocol 0)
          std::string s = line();
          char* end = nullptr;
          double d = std::strtod(s.c_str(), &end);
          if (s.empty() || end != s.c_str() + s.size()) bad("FLOAT argument '", printable(s), "' is not a number");
          push(Value::floating(d));
          break;
        }
        // -- strings and bytes
        case 'X': push(Value::string(checked_utf8(take(le(4))))); break;     // BINUNICODE
        case 0x8c: push(Value::string(checked_utf8(take(u8())))); break;     // SHORT_BINUNICODE
        case 0x8d: push(Value::string(checked_utf8(take(le(8))))); break;    // BINUNICODE8
        case 'B': push(Value::bytes(take(le(4)))); break;                    // BINBYTES
        case 'C': push(Value::bytes(take(u8()))); break;                     // SHORT_BINBYTES
        case 0x8e: push(Value::bytes(take(le(8)))); break;                   // BINBYTES8
        case 0x96: push(Value::bytes(take(le(8)))); break;                   // BYTEARRAY8
        // Python 2 str (numpy/torch pickles loaded with encoding='latin1'): latin-1 text.
        case 'T': push(Value::string(latin1_to_utf8(take(le(4))))); break;   // BINSTRING
        case 'U': push(Value::string(latin1_to_utf8(take(u8())))); break;    // SHORT_BINSTRING
        case 'V': push(Value::string(raw_unicode_escape(line()))); break;    // UNICODE (protocol 0)
        // -- containers
        case '}': push(Value::dict()); break;
        case ']': push(Value::list()); break;
        case ')': push(Value::tuple()); break;
        case 0x8f: push(Value::set()); break;  // EMPTY_SET
        case '(': mark(); break;
        case 't': push(Value::tuple(pop_mark("TUPLE"))); break;
        case 0x85: {  // TUPLE1
          Value a = pop("TUPLE1");
          push(Value::tuple({std::move(a)}));
          break;
        }
        case 0x86: {  // TUPLE2
          Value b2 = pop("TUPLE2"), a = pop("TUPLE2");
          push(Value::tuple({std::move(a), std::move(b2)}));
          break;
        }
        case 0x87: {  // TUPLE3
          Value c = pop("TUPLE3"), b2 = pop("TUPLE3"), a = pop("TUPLE3");
          push(Value::tuple({std::move(a), std::move(b2), std::move(c)}));
          break;
        }
        case 'l': push(Value::list(pop_mark("LIST"))); break;  // LIST (protocol 0/1)
        case 'd': {                                             // DICT (protocol 0/1)
          std::vector<Value> kv = pop_mark("DICT");
          Value d = Value::dict();
          set_items(d, kv, "DICT");
          push(std::move(d));
          break;
        }
        case 0x91: push(Value::set(pop_mark("FROZENSET"))); break;  // FROZENSET
        case 'a': {                                                   // APPEND
          Value v = pop("APPEND");
          Value& l = top("APPEND");
          if (l.kind != Kind::list) bad("APPEND to a ", kind_name(l.kind), ", not a list");
          l.seq_->items.push_back(std::move(v));
          break;
        }
        case 'e': {  // APPENDS
          std::vector<Value> vs = pop_mark("APPENDS");
          Value& l = top("APPENDS");
          if (l.kind != Kind::list) bad("APPENDS to a ", kind_name(l.kind), ", not a list");
          for (auto& v : vs) l.seq_->items.push_back(std::move(v));
          break;
        }
        case 0x90: {  // ADDITEMS
          std::vector<Value> vs = pop_mark("ADDITEMS");
          Value& s = top("ADDITEMS");
          if (s.kind != Kind::set) bad("ADDITEMS to a ", kind_name(s.kind), ", not a set");
          for (auto& v : vs) s.seq_->items.push_back(std::move(v));
          break;
        }
        case 's': {  // SETITEM
          Value v = pop("SETITEM"), k = pop("SETITEM");
          std::vector<Value> kv{std::move(k), std::move(v)};
          set_items(top("SETITEM"), kv, "SETITEM");
          break;
        }
        case 'u': {  // SETITEMS
          std::vector<Value> kv = pop_mark("SETITEMS");
          set_items(top("SETITEMS"), kv, "SETITEMS");
          break;
        }
        // -- stack manipulation
        case '0': pop("POP"); break;
        case '1': pop_mark("POP_MARK"); break;
        case '2': push(top("DUP")); break;
        // -- memo
        case 'q': memo_put(u8()); break;      // BINPUT
        case 'r': memo_put(le(4)); break;     // LONG_BINPUT
        case 0x94: memo_put(memo_.size()); break;  // MEMOIZE
        case 'p': memo_put(text_index(line())); break;  // PUT
        case 'h': memo_get(u8()); break;      // BINGET
        case 'j': memo_get(le(4)); break;     // LONG_BINGET
        case 'g': memo_get(text_index(line())); break;  // GET
        // -- globals and construction
        case 'c': {  // GLOBAL "module\nname\n"
          std::string module = line();
          std::string name = line();
          push(global(module, name));
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          Value name = pop("STACK_GLOBAL"), module = pop("STACK_GLOBAL");
          if (!module.is_string() || !name.is_string()) bad("STACK_GLOBAL needs two strings");
          push(global(*module.text_, *name.text_));
          break;
        }
        case 'R': {  // REDUCE
          Value args = pop("REDUCE"), fn = pop("REDUCE");
          push(call(fn, args, "REDUCE"));
          break;
        }
        case 0x81: {  // NEWOBJ: cls.__new__(cls, *args)
          Value args = pop("NEWOBJ"), cls = pop("NEWOBJ");
          push(call(cls, args, "NEWOBJ"));
          break;
        }
        case 0x92: {  // NEWOBJ_EX
          Value kwargs = pop("NEWOBJ_EX"), args = pop("NEWOBJ_EX"), cls = pop("NEWOBJ_EX");
          if (!kwargs.is_dict() || kwargs.dict_->size() != 0) bad("NEWOBJ_EX with keyword arguments");
          push(call(cls, args, "NEWOBJ_EX"));
          break;
        }
        case 'b': {  // BUILD
          Value state = pop("BUILD");
          build(top("BUILD"), std::move(state));
          break;
        }
        case 'Q': {  // BINPERSID
          Value pid = pop("BINPERSID");
          push(persistent(pid));
          break;
        }
        case 'P': push(persistent(Value::string(line()))); break;  // PERSID
        case 'i':  // INST
        case 'o':  // OBJ
          bad("refusing opcode ", op == 'i' ? "INST" : "OBJ", " (builds arbitrary class instances)");
        case 0x82:
        case 0x83:
        case 0x84:
          bad("refusing EXT opcode (extension registry globals)");
        case 0x97:
        case 0x98:
          bad("out-of-band buffers (protocol 5 NEXT_BUFFER/READONLY_BUFFER) are not supported");
        case 'S':
          bad("protocol-0 STRING opcode is not supported");
        default: {
          static const char* hex = "0123456789abcdef";
          bad("unknown opcode 0x", hex[op >> 4], hex[op & 15]);
        }
      }
    }
  }

  static std::string printable(const std::string& s) { return detail::printable(s); }

  // Python's str → UTF-8 check: refuse invalid UTF-8 so later text handling is sane.
  std::string checked_utf8(std::string s) const {
    std::size_t k = 0;
    while (k < s.size()) {
      unsigned char c = static_cast<unsigned char>(s[k]);
      std::size_t extra = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : 9;
      if (extra > 3 || extra >= s.size() - k) bad("string is not valid UTF-8");
      for (std::size_t e = 1; e <= extra; ++e)
        if ((static_cast<unsigned char>(s[k + e]) & 0xc0) != 0x80) bad("string is not valid UTF-8");
      k += extra + 1;
    }
    return s;
  }
  static std::string latin1_to_utf8(const std::string& s) {
    std::string out;
    out.reserve(s.size());
    for (unsigned char c : s) append_utf8(out, c);
    return out;
  }
  std::string raw_unicode_escape(const std::string& s) const {
    std::string out;
    for (std::size_t k = 0; k < s.size(); ++k) {
      if (s[k] == '\\' && k + 1 < s.size() && (s[k + 1] == 'u' || s[k + 1] == 'U')) {
        std::size_t len = s[k + 1] == 'u' ? 4 : 8;
        if (k + 2 + len > s.size()) bad("UNICODE escape is truncated");
        std::uint32_t cp = 0;
        for (std::size_t d = 0; d < len; ++d) {
          char h = s[k + 2 + d];
          int v = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
          if (v < 0) bad("UNICODE escape has a non-hex digit");
          cp = cp * 16 + std::uint32_t(v);
        }
        if (cp > 0x10ffff) bad("UNICODE escape beyond U+10FFFF");
        append_utf8(out, cp);
        k += 1 + len;
      } else {
        append_utf8(out, static_cast<unsigned char>(s[k]));
      }
    }
    return out;
  }
  Value text_int(const std::string& s) const {
    if (s == "00") return Value::boolean(false);
    if (s == "01") return Value::boolean(true);
    char* end = nullptr;
    errno = 0;
    long long v = std::strtoll(s.c_str(), &end, 10);
    if (s.empty() || end != s.c_str() + s.size()) bad("integer argument '", printable(s), "' is not a number");
    if (errno != ERANGE) return Value::integer(v);
    // Wider than 64 bits: decimal → little-endian two's complement, as LONG1 holds it.
    const bool negative = s[0] == '-';
    std::vector<std::uint8_t> mag{0};
    if (s.size() > 100000) bad("integer argument of ", s.size(), " digits");
    for (std::size_t k = (s[0] == '-' || s[0] == '+') ? 1 : 0; k < s.size(); ++k) {
      unsigned carry = unsigned(s[k] - '0');
      for (auto& byte : mag) {
        unsigned t = unsigned(byte) * 10 + carry;
        byte = std::uint8_t(t & 0xff);
        carry = t >> 8;
      }
      if (carry) mag.push_back(std::uint8_t(carry));
    }
    mag.push_back(0);  // room for the sign bit
    if (negative) {    // two's complement
      unsigned carry = 1;
      for (auto& byte : mag) {
        unsigned t = unsigned(std::uint8_t(~byte)) + carry;
        byte = std::uint8_t(t & 0xff);
        carry = t >> 8;
      }
    }
    return twos_complement(std::string(mag.begin(), mag.end()));
  }
  std::uint64_t text_index(const std::string& s) const {
    char* end = nullptr;
    unsigned long long v = std::strtoull(s.c_str(), &end, 10);
    if (s.empty() || end != s.c_str() + s.size()) bad("memo index '", printable(s), "' is not a number");
    return v;
  }
  Value long_bytes(std::uint64_t len) {
    if (len > (std::uint64_t(1) << 20)) bad("integer of ", len, " bytes");
    return twos_complement(take(len));
  }
  // Little-endian two's complement bytes → int64 when it fits, else big_integer
  // (with redundant sign-extension bytes dropped).
  static Value twos_complement(const std::string& raw) {
    if (raw.empty()) return Value::integer(0);
    const bool negative = static_cast<unsigned char>(raw.back()) & 0x80;
    std::size_t used = raw.size();
    while (used > 1) {
      unsigned char hi = static_cast<unsigned char>(raw[used - 1]);
      unsigned char next = static_cast<unsigned char>(raw[used - 2]);
      if ((hi == 0x00 && !(next & 0x80)) || (hi == 0xff && (next & 0x80))) --used;
      else break;
    }
    if (used <= 8) {
      std::uint64_t v = negative ? ~std::uint64_t(0) : 0;
      for (std::size_t k = 0; k < used; ++k) {
        v &= ~(std::uint64_t(0xff) << (8 * k));
        v |= std::uint64_t(static_cast<unsigned char>(raw[k])) << (8 * k);
      }
      std::int64_t s;
      std::memcpy(&s, &v, 8);
      return Value::integer(s);
    }
    return Value::text_of(Kind::big_integer, raw.substr(0, used));
  }

  // ---- dicts --------------------------------------------------------------------
  void set_items(Value& target, std::vector<Value>& kv, const char* what) {
    if (target.kind != Kind::dict) bad(what, " on a ", kind_name(target.kind), ", not a dict");
    if (kv.size() % 2) bad(what, " with an odd number of items");
    for (std::size_t k = 0; k < kv.size(); k += 2) {
      try {
        target.dict_->set(std::move(kv[k]), std::move(kv[k + 1]));
      } catch (const Error& e) {
        bad(what, ": ", e.what());
      }
    }
  }

  // ---- globals: the allow-list is the only door -------------------------------------
  Value global(const std::string& module, const std::string& name) {
    std::string full = module + "." + name;
    if (!is_allowed_global(full))
      bad("refusing global '", printable(full), "' (not a tensor/checkpoint type)");
    // Python 2 pickles name the builtins module __builtin__.
    if (module == "__builtin__") full = "builtins." + name;
    return Value::global(full);
  }

  // REDUCE / NEWOBJ: build data, never run code.
  Value call(const Value& fn, const Value& args, const char* op) {
    if (!fn.is_global()) bad(op, " on a ", kind_name(fn.kind), ", not an allowed global");
    if (!args.is_tuple()) bad(op, " arguments are a ", kind_name(args.kind), ", not a tuple");
    const std::string& name = *fn.text_;
    const std::vector<Value>& a = args.seq_->items;
    if (name == "collections.OrderedDict") {
      Value d = Value::dict();
      if (a.size() > 1) bad("OrderedDict() with ", a.size(), " arguments");
      if (a.size() == 1) {  // OrderedDict([(k, v), ...])
        if (!a[0].seq_) bad("OrderedDict() argument is a ", kind_name(a[0].kind), ", not a list of pairs");
        for (const auto& kv : a[0].seq_->items) {
          if (!kv.is_tuple() && !kv.is_list()) bad("OrderedDict() item is not a pair");
          if (kv.seq_->items.size() != 2) bad("OrderedDict() item has ", kv.seq_->items.size(), " elements, not 2");
          std::vector<Value> pair = kv.seq_->items;
          set_items(d, pair, "OrderedDict()");
        }
      }
      return d;
    }
    if (name == "builtins.set" || name == "builtins.frozenset") {
      if (a.empty()) return Value::set();
      if (a.size() != 1 || !a[0].seq_) bad(name, "() needs one list/tuple argument");
      return Value::set(a[0].seq_->items);
    }
    if (name == "builtins.bytes") {  // protocol < 3 writes b'' as bytes()
      if (!a.empty()) bad("bytes() with arguments (only bytes() is understood)");
      return Value::bytes("");
    }
    if (name == "torch.Size") {
      if (a.size() != 1 || !a[0].seq_) bad("torch.Size() needs one tuple argument");
      return Value::tuple(a[0].seq_->items);
    }
    if (name == "_codecs.encode") {
      if (a.size() != 2 || !a[0].is_string() || !a[1].is_string()) bad("_codecs.encode needs (str, encoding)");
      const std::string& enc = *a[1].text_;
      if (enc != "latin1" && enc != "latin-1" && enc != "iso-8859-1" && enc != "iso8859-1")
        bad("_codecs.encode with encoding '", printable(enc), "' (only latin1 is understood)");
      return Value::bytes(utf8_to_latin1(*a[0].text_, opt_.source));
    }
    if (name == "torch._utils._rebuild_parameter" || name == "torch._utils._rebuild_parameter_with_state") {
      // Parameter(data, requires_grad, hooks): the data is all we need.
      if (a.size() < 2 || !a[0].is_object()) bad(name, " needs a tensor as its first argument");
      return a[0];
    }
    if (is_torch_storage_type(name)) bad(op, " on storage type ", name, " (storages come from persistent ids)");
    if (name == "numpy.ndarray" || name == "numpy.core.multiarray._reconstruct" ||
        name == "numpy._core.multiarray._reconstruct") {
      return Value::object("numpy.ndarray", args);
    }
    if (name == "numpy.random._pickle.__bit_generator_ctor" || name == "numpy.random._pickle.__randomstate_ctor" ||
        name == "numpy.random.__RandomState_ctor" || name == "numpy.random._mt19937.MT19937")
      return random_state_call(name, a, op);
    if (name == "numpy._core.multiarray.scalar") return Value::object("numpy.core.multiarray.scalar", args);
    if (name == "numpy._core.numeric._frombuffer") return Value::object("numpy.core.numeric._frombuffer", args);
    // torch._utils._rebuild_tensor(_v2), numpy.dtype, numpy.core.multiarray.scalar:
    // inert records for the caller to interpret.
    return Value::object(name, args);
  }

  // numpy.random pickles, accepted in exactly the forms numpy writes (nothing is called):
  //   numpy 1.17-1.26: __randomstate_ctor('MT19937', __bit_generator_ctor) (1.17-1.18: ('MT19937',))
  //   numpy 2.x:       __randomstate_ctor(__bit_generator_ctor(MT19937))   (+ BUILD on the bit generator)
  //   numpy < 1.17:    numpy.random.__RandomState_ctor()                   (+ BUILD with a state tuple)
  // The results are inert records "numpy.random.RandomState" / "numpy.random.MT19937";
  // check_random_state() checks the BUILD state, pickle_numpy.hpp's to_random_state() reads it.
  Value random_state_call(const std::string& name, const std::vector<Value>& a, const char* op) {
    if (std::string(op) != "REDUCE") bad(op, " on ", name, " (numpy pickles it with REDUCE)");
    auto is_mt_name = [](const Value& v) { return v.is_string() && *v.text_ == "MT19937"; };
    if (name == "numpy.random._pickle.__bit_generator_ctor") {
      if (a.size() > 1 ||
          (a.size() == 1 && !is_mt_name(a[0]) &&
           !(a[0].is_global() && *a[0].text_ == "numpy.random._mt19937.MT19937")))
        bad("numpy.random bit generator ctor with arguments other than MT19937 (only MT19937 is understood)");
      return Value::object("numpy.random.MT19937", Value::tuple());
    }
    if (name == "numpy.random._pickle.__randomstate_ctor") {
      const bool v1 = (a.size() == 1 || a.size() == 2) && is_mt_name(a[0]) &&
                      (a.size() == 1 || (a[1].is_global() && *a[1].text_ == "numpy.random._pickle.__bit_generator_ctor"));
      const bool v2 = a.size() == 1 && a[0].is_object("numpy.random.MT19937");
      if (!v1 && !v2) bad("numpy.random RandomState ctor with unexpected arguments (not a numpy-written RandomState)");
      return Value::object("numpy.random.RandomState", Value::tuple());
    }
    if (name == "numpy.random.__RandomState_ctor") {
      if (!a.empty()) bad("numpy.random.__RandomState_ctor with arguments (numpy writes none)");
      return Value::object("numpy.random.RandomState", Value::tuple());
    }
    bad(op, " on numpy.random._mt19937.MT19937 (only passed to the bit generator ctor)");
  }

  // The BUILD state of a RandomState / its MT19937 bit generator: exactly the keys
  // and kinds numpy writes, the key an ndarray record, no callables anywhere.
  void check_random_state(const std::string& global, const Value& state) {
    auto need = [&](bool ok, const char* what) {
      if (!ok) bad("BUILD on ", global, ": ", what, " (not a numpy-written RandomState)");
    };
    auto is_key_array = [](const Value& v) {
      return v.is_object("numpy.ndarray") || v.is_object("numpy.core.numeric._frombuffer");
    };
    auto check_keys = [&](const Dict& d, std::initializer_list<const char*> keys) {
      need(d.size() == keys.size(), "unexpected number of entries");
      for (const char* k : keys) need(d.has(k), "a missing entry");
    };
    auto check_mt_state = [&](const Dict& d) {  // {'bit_generator': 'MT19937', 'state': {'key': ..., 'pos': int}}
      const Value& bg = d.at("bit_generator");
      need(bg.is_string() && *bg.text_ == "MT19937", "bit_generator is not 'MT19937'");
      const Value& st = d.at("state");
      need(st.is_dict(), "state is not a dict");
      check_keys(st.as_dict(), {"key", "pos"});
      need(is_key_array(st.as_dict().at("key")), "state['key'] is not an array");
      need(st.as_dict().at("pos").kind == Kind::integer, "state['pos'] is not an int");
    };
    if (global == "numpy.random.MT19937") {  // numpy 2.x: (state dict, seed sequence: None when legacy-seeded)
      const Value* st = &state;
      if (state.is_tuple()) {
        need(state.seq_->items.size() == 2 && state.seq_->items[1].is_none(), "state tuple is not (dict, None)");
        st = &state.seq_->items[0];
      }
      need(st->is_dict(), "state is not a dict");
      check_keys(st->as_dict(), {"bit_generator", "state"});
      check_mt_state(st->as_dict());
      return;
    }
    if (state.is_tuple()) {  // numpy < 1.17: ('MT19937', key, pos, has_gauss, cached_gaussian)
      const auto& t = state.seq_->items;
      need(t.size() == 5, "state tuple without 5 items");
      need(t[0].is_string() && *t[0].text_ == "MT19937", "state[0] is not 'MT19937'");
      need(is_key_array(t[1]), "state[1] is not an array");
      need(t[2].kind == Kind::integer && t[3].kind == Kind::integer, "pos / has_gauss are not ints");
      need(t[4].kind == Kind::floating, "cached_gaussian is not a float");
      return;
    }
    need(state.is_dict(), "state is neither a dict nor a tuple");
    const Dict& d = state.as_dict();
    check_keys(d, {"bit_generator", "state", "has_gauss", "gauss"});
    check_mt_state(d);
    need(d.at("has_gauss").kind == Kind::integer, "has_gauss is not an int");
    need(d.at("gauss").kind == Kind::floating, "gauss is not a float");
  }

  void build(Value& target, Value state) {
    if (target.is_object()) {
      Object& o = *target.obj_;
      if (o.has_state) bad("BUILD twice on ", o.global);
      if (o.global == "numpy.random.RandomState" || o.global == "numpy.random.MT19937") check_random_state(o.global, state);
      o.state = std::move(state);
      o.has_state = true;
      return;
    }
    if (target.is_dict()) {  // attributes of an OrderedDict subclass instance (torch's _metadata)
      if (!state.is_dict() && !state.is_none()) bad("BUILD on a dict with a ", kind_name(state.kind), " state");
      target.dict_->attributes = std::move(state);
      return;
    }
    bad("BUILD on a ", kind_name(target.kind));
  }

  Value persistent(const Value& pid) {
    if (!opt_.persistent_load) bad("persistent id ", pid.describe(), " but no persistent_load was given");
    try {
      return opt_.persistent_load(pid);
    } catch (const Error& e) {
      bad("persistent id: ", e.what());
    }
  }

  // ---- the result's shape: depth and cycles, checked without recursion ------------
  void check_shape(const Value& root) {
    enum : std::uint8_t { kOpen = 1, kDone = 2 };
    std::unordered_map<const void*, std::uint8_t> state;
    struct Frame {
      std::vector<const Value*> children;
      std::size_t next = 0;
      const void* id;
    };
    auto children_of = [](const Value& v) {
      std::vector<const Value*> c;
      if (v.seq_) {
        for (const auto& x : v.seq_->items) c.push_back(&x);
      } else if (v.dict_) {
        for (const auto& kv : v.dict_->entries) {
          c.push_back(&kv.first);
          c.push_back(&kv.second);
        }
        c.push_back(&v.dict_->attributes);
      } else if (v.obj_) {
        c.push_back(&v.obj_->args);
        c.push_back(&v.obj_->state);
      }
      return c;
    };
    if (!root.identity()) return;
    std::vector<Frame> path;
    path.push_back({children_of(root), 0, root.identity()});
    state[root.identity()] = kOpen;
    while (!path.empty()) {
      Frame& f = path.back();
      if (f.next == f.children.size()) {
        state[f.id] = kDone;
        path.pop_back();
        continue;
      }
      const Value* c = f.children[f.next++];
      const void* id = c->identity();
      if (!id) continue;
      auto it = state.find(id);
      if (it != state.end()) {
        if (it->second == kOpen) fail(opt_.source, ": pickle: the data contains a reference cycle");
        continue;  // shared, already checked
      }
      if (path.size() >= lim_.max_depth)
        fail(opt_.source, ": pickle: data nested more than ", lim_.max_depth, " levels deep");
      state[id] = kOpen;
      path.push_back({children_of(*c), 0, id});
    }
  }

  // After an error: empty every container made here, so cycles are freed and
  // deep chains fall apart without recursion.
  void dismantle() noexcept {
    try {
      stack_.clear();
      marks_.clear();
      memo_.clear();
      std::vector<Value> junk;
      for (auto& w : made_seq_)
        if (auto s = w.lock()) detail::bury(s->items);
      for (auto& w : made_dict_)
        if (auto d = w.lock()) {
          for (auto& kv : d->entries) {
            junk.push_back(std::move(kv.first));
            junk.push_back(std::move(kv.second));
          }
          junk.push_back(std::move(d->attributes));
          d->entries.clear();
          d->index.clear();
          detail::bury(junk);
        }
      for (auto& w : made_obj_)
        if (auto o = w.lock()) {
          junk.push_back(std::move(o->args));
          junk.push_back(std::move(o->state));
          detail::bury(junk);
        }
    } catch (...) {
    }
  }
};

}  // namespace detail

// Unpickle `size` bytes. Throws finepose::Error naming options.source on
// anything malformed, truncated, too large or not on the allow-list.
inline Value loads(const std::uint8_t* data, std::size_t size, const Options& options = {}) {
  detail::Unpickler u(data, size, options);
  return u.run();
}
inline Value loads(const std::vector<std::uint8_t>& bytes, const Options& options = {}) {
  return loads(bytes.data(), bytes.size(), options);
}
inline Value loads(const std::string& bytes, const Options& options = {}) {
  return loads(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), options);
}

}  // namespace pickle
}  // namespace finepose
