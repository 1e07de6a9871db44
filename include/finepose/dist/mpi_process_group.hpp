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
    return out;
  }

 private:
  static void check(int rc, const char* what) {
    if (rc != MPI_SUCCESS) fail(what, " failed (MPI error ", rc, ")");
  }
  int rank_ = 0, size_ = 1;
  bool owner_ = false;
};

}  // namespace finepose::dist
