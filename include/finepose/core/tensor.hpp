#pragma once
// Tensor<T>: an n-dimensional strided view over reference-counted aligned
// storage. Views (reshape, permute, slice, select, broadcast) share storage;
// contiguous()/clone() copy. Element type is the template parameter, so the
// type says what it holds: Tensor<float>, Tensor<double>, Tensor<half>.
#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "finepose/core/error.hpp"
#include "finepose/core/storage.hpp"

namespace finepose {

using Shape = std::vector<std::int64_t>;

inline std::string shape_str(const Shape& s) {
  std::string r = "(";
  for (std::size_t i = 0; i < s.size(); ++i) r += (i ? "," : "") + std::to_string(s[i]);
  return r + ")";
}

inline std::int64_t shape_numel(const Shape& s) {
  std::int64_t n = 1;
  for (auto d : s) {
    if (d < 0) fail("shape ", shape_str(s), " has a negative dimension");
    if (d != 0 && n > (std::int64_t(1) << 50) / d) fail("shape ", shape_str(s), " is too large");
    n *= d;
  }
  return n;
}

inline Shape contiguous_strides(const Shape& s) {
  Shape st(s.size());
  std::int64_t acc = 1;
  for (std::size_t i = s.size(); i-- > 0;) {
    st[i] = acc;
    acc *= std::max<std::int64_t>(s[i], 1);
  }
  return st;
}

template <class T>
class Tensor {
 public:
  using value_type = T;

  Tensor() = default;
  // Uninitialised contiguous tensor of the given shape.
  explicit Tensor(Shape shape) : shape_(std::move(shape)) {
    strides_ = contiguous_strides(shape_);
    storage_ = std::make_shared<Storage<T>>(std::size_t(shape_numel(shape_)));
  }
  Tensor(std::initializer_list<std::int64_t> shape) : Tensor(Shape(shape)) {}

  static Tensor zeros(Shape shape) { return full(std::move(shape), T(0)); }
  static Tensor full(Shape shape, T v) {
    Tensor t(std::move(shape));
    std::fill(t.data(), t.data() + t.numel(), v);
    return t;
  }
  static Tensor from(Shape shape, const std::vector<T>& values) {
    Tensor t(std::move(shape));
    if (std::int64_t(values.size()) != t.numel())
      fail("Tensor::from: ", values.size(), " values for shape ", shape_str(t.shape()));
    std::copy(values.begin(), values.end(), t.data());
    return t;
  }

  bool defined() const { return bool(storage_); }
  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }
  int dim() const { return int(shape_.size()); }
  std::int64_t size(int d) const { return shape_.at(wrap(d)); }
  std::int64_t stride(int d) const { return strides_.at(wrap(d)); }
  std::int64_t numel() const { return shape_numel(shape_); }
  std::int64_t offset() const { return offset_; }

  T* data() { return storage_ ? storage_->data() + offset_ : nullptr; }
  const T* data() const { return storage_ ? storage_->data() + offset_ : nullptr; }

  bool is_contiguous() const {
    std::int64_t acc = 1;
    for (std::size_t i = shape_.size(); i-- > 0;) {
      if (shape_[i] != 1 && strides_[i] != acc) return false;
      acc *= shape_[i];
    }
    return true;
  }

  template <class... I>
  T& operator()(I... idx) {
    return data()[index_of({std::int64_t(idx)...})];
  }
  template <class... I>
  const T& operator()(I... idx) const {
    return data()[index_of({std::int64_t(idx)...})];
  }

  // ---- views -------------------------------------------------------------
  Tensor reshape(Shape s) const {
    std::int64_t known = 1;
    int infer = -1;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] == -1) {
        if (infer >= 0) fail("reshape: more than one -1 in ", shape_str(s));
        infer = int(i);
      } else {
        known *= s[i];
      }
    }
    if (infer >= 0) s[infer] = known ? numel() / known : 0;
    if (shape_numel(s) != numel()) fail("reshape: cannot view ", shape_str(shape_), " as ", shape_str(s));
    if (!is_contiguous()) return contiguous().reshape(s);
    Tensor r = *this;
    r.shape_ = std::move(s);
    r.strides_ = contiguous_strides(r.shape_);
    return r;
  }
  Tensor permute(const std::vector<int>& order) const {
    if (order.size() != shape_.size()) fail("permute: ", order.size(), " axes for a ", dim(), "-d tensor");
    Tensor r = *this;
    std::vector<bool> seen(order.size(), false);
    for (std::size_t i = 0; i < order.size(); ++i) {
      int a = wrap(order[i]);
      if (seen[a]) fail("permute: axis ", a, " repeated");
      seen[a] = true;
      r.shape_[i] = shape_[a];
      r.strides_[i] = strides_[a];
    }
    return r;
  }
  Tensor transpose(int a, int b) const {
    std::vector<int> o(shape_.size());
    std::iota(o.begin(), o.end(), 0);
    std::swap(o[wrap(a)], o[wrap(b)]);
    return permute(o);
  }
  // Elements [start, end) along dimension d.
  Tensor slice(int d, std::int64_t start, std::int64_t end) const {
    d = wrap(d);
    if (start < 0 || end > shape_[d] || start > end)
      fail("slice: [", start, ",", end, ") out of range for dim ", d, " of ", shape_str(shape_));
    Tensor r = *this;
    r.offset_ += start * strides_[d];
    r.shape_[d] = end - start;
    return r;
  }
  // Index i along dimension d; the dimension is removed.
  Tensor select(int d, std::int64_t i) const {
    d = wrap(d);
    if (i < 0 || i >= shape_[d]) fail("select: index ", i, " out of range for dim ", d, " of ", shape_str(shape_));
    Tensor r = *this;
    r.offset_ += i * strides_[d];
    r.shape_.erase(r.shape_.begin() + d);
    r.strides_.erase(r.strides_.begin() + d);
    return r;
  }
  Tensor unsqueeze(int d) const {
    if (d < 0) d += dim() + 1;
    Tensor r = *this;
    r.shape_.insert(r.shape_.begin() + d, 1);
    r.strides_.insert(r.strides_.begin() + d, 0);
    return r;
  }
  // numpy-style broadcast: size-1 (or missing leading) dims get stride 0.
  Tensor broadcast_to(const Shape& s) const {
    if (s.size() < shape_.size()) fail("broadcast_to: cannot broadcast ", shape_str(shape_), " to ", shape_str(s));
    Tensor r = *this;
    std::size_t lead = s.size() - shape_.size();
    r.shape_ = s;
    r.strides_.assign(s.size(), 0);
    for (std::size_t i = 0; i < shape_.size(); ++i) {
      if (shape_[i] == s[lead + i]) r.strides_[lead + i] = strides_[i];
      else if (shape_[i] == 1) r.strides_[lead + i] = 0;
      else fail("broadcast_to: cannot broadcast ", shape_str(shape_), " to ", shape_str(s));
    }
    return r;
  }

  // ---- copies ------------------------------------------------------------
  Tensor contiguous() const {
    if (is_contiguous()) return *this;
    return clone();
  }
  Tensor clone() const {
    Tensor r(shape_);
    copy_strided(r.data());
    return r;
  }
  template <class U>
  Tensor<U> cast() const {
    Tensor<U> r(shape_);
    Tensor c = contiguous();
    const T* s = c.data();
    U* d = r.data();
    for (std::int64_t i = 0, n = numel(); i < n; ++i) d[i] = U(s[i]);
    return r;
  }
  // Copy values (any strides) from src, which must have this tensor's shape.
  void copy_from(const Tensor& src) {
    if (src.shape_ != shape_) fail("copy_from: shape ", shape_str(src.shape_), " into ", shape_str(shape_));
    if (is_contiguous()) {
      src.copy_strided(data());
      return;
    }
    Tensor tmp = src.contiguous();
    const T* s = tmp.data();
    for_each_index([&](std::int64_t off, std::int64_t lin) { data()[off] = s[lin]; });
  }
  void fill(T v) {
    for_each_index([&](std::int64_t off, std::int64_t) { data()[off] = v; });
  }
  std::vector<T> to_vector() const {
    Tensor c = contiguous();
    return std::vector<T>(c.data(), c.data() + c.numel());
  }

  // Calls f(storage offset relative to data(), linear row-major index) for every element.
  template <class F>
  void for_each_index(F&& f) const {
    const std::int64_t n = numel();
    if (n == 0) return;
    const int nd = dim();
    std::vector<std::int64_t> idx(nd, 0);
    std::int64_t off = 0;
    for (std::int64_t lin = 0; lin < n; ++lin) {
      f(off, lin);
      for (int d = nd - 1; d >= 0; --d) {
        if (++idx[d] < shape_[d]) {
          off += strides_[d];
          break;
        }
        off -= strides_[d] * (shape_[d] - 1);
        idx[d] = 0;
      }
    }
  }

 private:
  int wrap(int d) const {
    int n = dim();
    if (d < -n || d >= n) fail("dimension ", d, " out of range for a ", n, "-d tensor ", shape_str(shape_));
    return d < 0 ? d + n : d;
  }
  std::int64_t index_of(std::initializer_list<std::int64_t> idx) const {
    if (int(idx.size()) != dim()) fail("index: ", idx.size(), " indices for a ", dim(), "-d tensor");
    std::int64_t off = 0;
    int d = 0;
    for (auto i : idx) {
      if (i < 0 || i >= shape_[d]) fail("index ", i, " out of range for dim ", d, " of ", shape_str(shape_));
      off += i * strides_[d++];
    }
    return off;
  }
  void copy_strided(T* dst) const {
    if (is_contiguous()) {
      std::copy(data(), data() + numel(), dst);
      return;
    }
    const T* s = data();
    for_each_index([&](std::int64_t off, std::int64_t lin) { dst[lin] = s[off]; });
  }

  std::shared_ptr<Storage<T>> storage_;
  Shape shape_;
  Shape strides_;
  std::int64_t offset_ = 0;
};

using TensorF = Tensor<float>;
using TensorD = Tensor<double>;

}  // namespace finepose
