#pragma once
// The kernel harness (in the spirit of ggml's test-backend-ops): each op is
// registered once, with its shapes, its input maker, its CPU twin, its launcher
// and its tolerance per storage type. One registration drives
//   test_kernel_ops          every op x storage x shape against the CPU twin,
//                            built three ways like every kernel test: emulated,
//                            _tsan (OS-thread emulator), _device (nvcc, on a GPU);
//   bench/bench_kernels.cu   the same launches timed on a GPU.
// An op's prepare() makes seeded inputs, runs the CPU twin (want) and returns
// the launch, which can then run once (a test) or many times (a benchmark).
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "finepose/core/half.hpp"

namespace fpt {

enum class Storage { f32, bf16, f16 };
inline const char* storage_name(Storage s) { return s == Storage::f32 ? "f32" : s == Storage::bf16 ? "bf16" : "f16"; }

// f(T{}) with T the C++ type of the storage.
template <class F>
auto with_storage(Storage s, F&& f) {
  switch (s) {
    case Storage::bf16: return f(finepose::bfloat16{});
    case Storage::f16: return f(finepose::half{});
    default: return f(float{});
  }
}

struct OpShape {
  std::vector<std::int64_t> dims;  // what they mean is the op's business
  std::string label() const {
    std::string s;
    for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? "x" : "") + std::to_string(dims[i]);
    return s;
  }
};

struct Prepared {
  std::function<void()> launch;                    // the kernel on the prepared buffers (asynchronous on a GPU)
  std::function<std::vector<float>()> result;      // waits, downloads, as float
  std::vector<float> want;                         // the CPU twin's result, rounded to the output storage
  double bytes = 0;                                // memory traffic of one launch (benchmarks)
  double flops = 0;                                // arithmetic of one launch, where it is compute-bound
};

struct KernelOp {
  std::string name;                 // the launcher's name in finepose::kernels
  std::string twin;                 // the CPU twin, in words (for messages)
  std::vector<Storage> storages;
  std::vector<OpShape> shapes;      // tests
  std::vector<OpShape> small;       // tests under the OS-thread emulator (TSan): fewer, smaller
  std::vector<OpShape> bench;       // benchmark sizes
  std::function<float(Storage)> atol, rtol;
  std::function<Prepared(const OpShape&, Storage, std::uint32_t seed)> prepare;
};

inline std::vector<KernelOp>& kernel_ops() {
  static std::vector<KernelOp> ops;
  return ops;
}

struct RegisterOp {
  explicit RegisterOp(KernelOp op) { kernel_ops().push_back(std::move(op)); }
};

}  // namespace fpt
