#pragma once
// The process group behind work split over processes (sharded evaluation): which
// rank this process is, how many ranks there are, and the one collective the
// library needs, behind a narrow seam so that nothing else knows about MPI.
//
//   SingleProcess       rank 0 of 1; what every program is without MPI
//   MpiProcessGroup     dist/mpi_process_group.hpp, built with FINEPOSE_MPI (Open MPI)
//
// gather_to_root: every rank's bytes, in rank order, on rank 0 (the other ranks
// get an empty list). Every rank must call it, the same number of times.
#include <string>
#include <vector>

namespace finepose::dist {

class ProcessGroup {
 public:
  virtual ~ProcessGroup() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::vector<std::string> gather_to_root(const std::string& bytes) = 0;
  bool is_root() const { return rank() == 0; }
};

class SingleProcess final : public ProcessGroup {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::vector<std::string> gather_to_root(const std::string& bytes) override { return {bytes}; }
};

}  // namespace finepose::dist
