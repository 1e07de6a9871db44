#pragma once
// One exception type for everything the library refuses: bad files, bad shapes,
// bad arguments. Messages name the thing (file, tensor, argument) and the problem.
#include <sstream>
#include <stdexcept>
#include <string>

namespace finepose {

struct Error : std::runtime_error {
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// The operating system refused a file operation (missing file, no permission,
// disk full): the one Error that is not about the content. Bindings map it to
// OSError, every other Error to ValueError.
struct IoError : Error {
  explicit IoError(const std::string& what) : Error(what) {}
};

namespace detail {
inline void append_all(std::ostringstream&) {}
template <class A, class... R>
void append_all(std::ostringstream& os, const A& a, const R&... r) {
  os << a;
  append_all(os, r...);
}
}  // namespace detail

// fail("npz '", path, "': entry ", name, " is truncated")
template <class... A>
[[noreturn]] void fail(const A&... a) {
  std::ostringstream os;
  detail::append_all(os, a...);
  throw Error(os.str());
}

// fail_io("cannot open '", path, "': ", std::strerror(errno))
template <class... A>
[[noreturn]] void fail_io(const A&... a) {
  std::ostringstream os;
  detail::append_all(os, a...);
  throw IoError(os.str());
}

#define FINEPOSE_CHECK(cond, ...)              \
  do {                                         \
    if (!(cond)) ::finepose::fail(__VA_ARGS__); \
  } while (0)

}  // namespace finepose
