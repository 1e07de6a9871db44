#pragma once
// dist::ProcessGroup over threads of one process: what the tests use to run the
// data-parallel code paths (train/trainer.hpp) in every build, MPI or not, under
// the sanitizers too. Each rank is a thread holding its own ThreadGroup::Rank;
// the collectives meet at a generation-counted barrier (C++17 has no std::barrier).
// A rank that fails calls abandon(): the others' next (or current) collective throws
// instead of waiting forever for it.
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "finepose/dist/process_group.hpp"

namespace finepose::test {

class ThreadGroup {
 public:
  explicit ThreadGroup(int n) : n_(n), slots_(std::size_t(n)) {}

  void abandon() {
    std::lock_guard<std::mutex> lk(m_);
    abandoned_ = true;
    cv_.notify_all();
  }

  class Rank final : public dist::ProcessGroup {
   public:
    Rank(ThreadGroup& g, int r) : g_(g), r_(r) {}
    int rank() const override { return r_; }
    int size() const override { return g_.n_; }
    std::vector<std::string> gather_to_root(const std::string& bytes) override {
      g_.slots_[std::size_t(r_)] = bytes;
      g_.wait();
      std::vector<std::string> out;
      if (r_ == 0) out = g_.slots_;
      g_.wait();
      return out;
    }
    void broadcast(std::string& bytes, int root) override {
      if (r_ == root) g_.slots_[0] = bytes;
      g_.wait();
      if (r_ != root) bytes = g_.slots_[0];
      g_.wait();
    }
    void allreduce_sum(float* d, std::int64_t n) override { reduce(d, n); }
    void allreduce_sum(double* d, std::int64_t n) override { reduce(d, n); }
    void barrier() override { g_.wait(); }

   private:
    template <class T>
    void reduce(T* d, std::int64_t n) {
      g_.slots_[std::size_t(r_)].assign(reinterpret_cast<const char*>(d), std::size_t(n) * sizeof(T));
      g_.wait();
      for (std::int64_t k = 0; k < n; ++k) {  // rank order, as MpiProcessGroup adds
        T acc;
        std::memcpy(&acc, g_.slots_[0].data() + k * std::int64_t(sizeof(T)), sizeof(T));
        for (int s = 1; s < g_.n_; ++s) {
          T v;
          std::memcpy(&v, g_.slots_[std::size_t(s)].data() + k * std::int64_t(sizeof(T)), sizeof(T));
          acc += v;
        }
        d[k] = acc;
      }
      g_.wait();
    }
    ThreadGroup& g_;
    int r_;
  };

 private:
  void wait() {
    std::unique_lock<std::mutex> lk(m_);
    if (abandoned_) throw std::runtime_error("ThreadGroup: another rank failed");
    const std::uint64_t gen = gen_;
    if (++arrived_ == n_) {
      arrived_ = 0;
      ++gen_;
      cv_.notify_all();
    } else {
      cv_.wait(lk, [&] { return gen_ != gen || abandoned_; });
      if (gen_ == gen) throw std::runtime_error("ThreadGroup: another rank failed");
    }
  }
  int n_;
  std::vector<std::string> slots_;
  std::mutex m_;
  std::condition_variable cv_;
  int arrived_ = 0;
  bool abandoned_ = false;
  std::uint64_t gen_ = 0;
};

}  // namespace finepose::test
