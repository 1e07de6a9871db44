#pragma once
// dist::ProcessGroup over MPI (Open MPI; needs <mpi.h> and linking MPI::MPI_CXX,
// which the CMake option FINEPOSE_MPI does for the CLI).
//
// launched_by_mpi(): whether this process was started by mpirun/srun (their
// environment variables), so that a program built with MPI but run on its own
// stays a plain single process and never initialises MPI.
#include <mpi.h>

#include <climits>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "finepose/core/error.hpp"
#include "finepose/dist/process_group.hpp"

namespace finepose::dist {

inline bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK"})
    if (const char* s = std::getenv(v); s && *s) return true;
  return false;
}

class MpiProcessGroup final : public ProcessGroup {
 public:
  MpiProcessGroup(int* argc, char*** argv) {
    int ready = 0;
    MPI_Initialized(&ready);
    if (!ready) {
      if (MPI_Init(argc, argv) != MPI_SUCCESS) fail("MPI_Init failed");
      owner_ = true;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  MpiProcessGroup(const MpiProcessGroup&) = delete;
  MpiProcessGroup& operator=(const MpiProcessGroup&) = delete;
  ~MpiProcessGroup() override {
    if (owner_) MPI_Finalize();
  }
  // Ends every rank: what a rank that failed must do, or the others wait in a collective forever.
  [[noreturn]] void abort_all(int code) {
    MPI_Abort(MPI_COMM_WORLD, code);
    std::exit(code);
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }

  std::vector<std::string> gather_to_root(const std::string& bytes) override {
    FINEPOSE_CHECK(bytes.size() <= std::size_t(INT_MAX), "MPI gather: ", bytes.size(), " bytes from rank ", rank_,
                   " exceed MPI's int count");
    int n = int(bytes.size());
    std::vector<int> counts(std::size_t(rank_ == 0 ? size_ : 0));
    check(MPI_Gather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, MPI_COMM_WORLD), "MPI_Gather");
    std::vector<int> displs(counts.size());
    std::int64_t total = 0;
    for (std::size_t r = 0; r < counts.size(); ++r) {
      displs[r] = int(total);
      total += counts[r];
      FINEPOSE_CHECK(total <= INT_MAX, "MPI gather: ", total, " bytes in all exceed MPI's int count");
    }
    std::string all(std::size_t(total), '\0');
    check(MPI_Gatherv(bytes.data(), n, MPI_BYTE, all.data(), counts.data(), displs.data(), MPI_BYTE, 0, MPI_COMM_WORLD),
          "MPI_Gatherv");
    std::vector<std::string> out;
    for (std::size_t r = 0; r < counts.size(); ++r) out.push_back(all.substr(std::size_t(displs[r]), std::size_t(counts[r])));
    sent_ += n;
    return out;
  }

  void broadcast(std::string& bytes, int root) override {
    FINEPOSE_CHECK(root >= 0 && root < size_, "MPI broadcast: root ", root, " is not a rank of ", size_);
    std::int64_t n = std::int64_t(bytes.size());
    check(MPI_Bcast(&n, 1, MPI_INT64_T, root, MPI_COMM_WORLD), "MPI_Bcast");
    FINEPOSE_CHECK(n >= 0 && n <= INT_MAX, "MPI broadcast: ", n, " bytes exceed MPI's int count");
    bytes.resize(std::size_t(n));
    check(MPI_Bcast(bytes.data(), int(n), MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
    if (rank_ == root) sent_ += std::int64_t(size_ - 1) * n;
  }

  void allreduce_sum(float* data, std::int64_t n) override { allreduce_in_rank_order(data, n, MPI_FLOAT); }
  void allreduce_sum(double* data, std::int64_t n) override { allreduce_in_rank_order(data, n, MPI_DOUBLE); }

  void barrier() override { check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }
  std::int64_t bytes_sent() const override { return sent_; }

 private:
  // MPI_Allreduce may add in any order (and its algorithm may change with the
  // message size), so the sum is done here: a reduce-scatter (rank s receives every
  // rank's slice s and adds them in rank order) then an all-gather of the slices.
  // It moves 2 (N-1)/N of the buffer per rank, as a ring allreduce does.
  template <class T>
  void allreduce_in_rank_order(T* data, std::int64_t n, MPI_Datatype type) {
    if (size_ == 1 || n == 0) return;
    FINEPOSE_CHECK(n > 0 && n <= INT_MAX, "MPI allreduce: ", n, " elements exceed MPI's int count");
    const int N = size_;
    counts_.assign(std::size_t(N), 0);
    displs_.assign(std::size_t(N), 0);
    for (int s = 0; s < N; ++s) {
      displs_[std::size_t(s)] = int(n * s / N);
      counts_[std::size_t(s)] = int(n * (s + 1) / N) - displs_[std::size_t(s)];
    }
    const int L = counts_[std::size_t(rank_)], mine = displs_[std::size_t(rank_)];
    rcounts_.assign(std::size_t(N), L);
    rdispls_.assign(std::size_t(N), 0);
    for (int s = 0; s < N; ++s) rdispls_[std::size_t(s)] = s * L;
    scratch_.resize(std::size_t(N) * std::size_t(L) * sizeof(T));
    T* recv = reinterpret_cast<T*>(scratch_.data());
    check(MPI_Alltoallv(data, counts_.data(), displs_.data(), type, recv, rcounts_.data(), rdispls_.data(), type,
                        MPI_COMM_WORLD),
          "MPI_Alltoallv");
    for (int k = 0; k < L; ++k) {
      T acc = recv[k];
      for (int s = 1; s < N; ++s) acc += recv[std::size_t(s) * std::size_t(L) + std::size_t(k)];
      data[mine + k] = acc;
    }
    check(MPI_Allgatherv(MPI_IN_PLACE, 0, type, data, counts_.data(), displs_.data(), type, MPI_COMM_WORLD),
          "MPI_Allgatherv");
    sent_ += std::int64_t(sizeof(T)) * ((n - L) + std::int64_t(N - 1) * L);
  }

  static void check(int rc, const char* what) {
    if (rc != MPI_SUCCESS) fail(what, " failed (MPI error ", rc, ")");
  }
  int rank_ = 0, size_ = 1;
  bool owner_ = false;
  std::int64_t sent_ = 0;
  std::vector<int> counts_, displs_, rcounts_, rdispls_;  // kept: no allocation per step
  std::vector<char> scratch_;
};

}  // namespace finepose::dist
