#pragma once
// The process group behind work split over processes (sharded evaluation,
// data-parallel training): which rank this process is, how many ranks there are,
// and the few collectives the library needs, behind a narrow seam so that nothing
// else knows about MPI (an NCCL group can sit beside it the same way).
//
//   SingleProcess       rank 0 of 1; what every program is without MPI
//   MpiProcessGroup     dist/mpi_process_group.hpp, built with FINEPOSE_MPI (Open MPI)
//
// Every rank must call every collective, in the same order, with the same sizes.
//   gather_to_root   every rank's bytes, in rank order, on rank 0 (the others get an empty list)
//   broadcast        root's bytes on every rank
//   allreduce_sum    the element-wise sum over the ranks on every rank, added in rank
//                    order (0 + 1 + ... + N-1), so the result never depends on message
//                    timing and is the same bits on every rank
//   barrier          returns once every rank has reached it
#include <cstdint>
#include <string>
#include <vector>

namespace finepose::dist {

class ProcessGroup {
 public:
  virtual ~ProcessGroup() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::vector<std::string> gather_to_root(const std::string& bytes) = 0;
  virtual void broadcast(std::string& bytes, int root = 0) = 0;
  virtual void allreduce_sum(float* data, std::int64_t n) = 0;
  virtual void allreduce_sum(double* data, std::int64_t n) = 0;
  virtual void barrier() = 0;
  // bytes this process has sent through the collectives so far (for the measurements)
  virtual std::int64_t bytes_sent() const { return 0; }
  bool is_root() const { return rank() == 0; }
};

class SingleProcess final : public ProcessGroup {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::vector<std::string> gather_to_root(const std::string& bytes) override { return {bytes}; }
  void broadcast(std::string&, int) override {}
  void allreduce_sum(float*, std::int64_t) override {}
  void allreduce_sum(double*, std::int64_t) override {}
  void barrier() override {}
};

}  // namespace finepose::dist
