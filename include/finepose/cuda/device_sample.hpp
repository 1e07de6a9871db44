#pragma once
// Device sampling behind a plain C++ interface, for programs compiled by a
// host compiler (the `finepose` CLI): no CUDA headers here. The definitions
// are in src/cuda/device_sample.cu, compiled by nvcc into the
// finepose_cuda_runtime library, which exists only when the project is
// configured with FINEPOSE_CUDA=ON; targets linking it get the compile
// definition FINEPOSE_CUDA=1. Include this only under #if defined(FINEPOSE_CUDA).
#include <string>
#include <vector>

#include "finepose/model/finepose_model.hpp"

namespace finepose::cuda {

struct DeviceSampleSettings {
  std::string precision = "fp32";  // "fp32" or "bf16" (activation and GEMM weight storage)
  bool graph = false;              // replay the K-step loop as a CUDA graph
  bool tf32 = false;               // TF32 tensor cores for the fp32 GEMMs
};

// Whether a usable CUDA device exists; otherwise `why` says what is missing.
bool device_available(std::string* why = nullptr);

// As FinePoseModel::sample, on the current CUDA device: x2d [B, F, J, in_chans]
// -> [B, K, H, F, J, 3]. Uploads the weights on every call (a program that
// samples repeatedly should keep a DeviceFinePose, cuda/model.hpp, from nvcc
// code). Throws finepose::Error without a device.
TensorF device_sample(const FinePoseModel& model, const TensorF& x2d, const std::vector<std::string>& actions,
                      const SampleOptions& opt, const DeviceSampleSettings& settings = DeviceSampleSettings());

}  // namespace finepose::cuda
