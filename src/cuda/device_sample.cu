// finepose_cuda_runtime: the compiled (nvcc) side of include/finepose/cuda/device_sample.hpp.
#include <cuda_runtime.h>

#include "finepose/cuda/device_sample.hpp"
#include "finepose/cuda/model.hpp"

namespace finepose::cuda {

bool device_available(std::string* why) {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    if (why) *why = std::string("no usable CUDA device (") + cudaGetErrorString(e) + ")";
    return false;
  }
  if (count == 0) {
    if (why) *why = "no CUDA device found";
    return false;
  }
  return true;
}

TensorF device_sample(const FinePoseModel& model, const TensorF& x2d, const std::vector<std::string>& actions,
                      const SampleOptions& opt, const DeviceSampleSettings& s) {
  std::string why;
  if (!device_available(&why)) fail("--device cuda: ", why);
  DeviceModelOptions o;
  o.use_graph = s.graph;
  o.tf32 = s.tf32;
  if (s.precision == "fp32") return DeviceFinePose(model, o).sample(x2d, actions, opt);
  if (s.precision == "bf16") return DeviceFinePoseBF16(model, o).sample(x2d, actions, opt);
  fail("device precision '", s.precision, "' is not one of fp32, bf16");
}

}  // namespace finepose::cuda
