// Compiled by the CUDA consumer project against an installed finepose: the
// device model (cuda/model.hpp, which includes the kernels by their installed
// paths) and one kernel launcher used directly.
#include <finepose/cuda/model.hpp>
#include <finepose/kernels/layer_norm_forward.cuh>

finepose::TensorF consumer_sample(const finepose::FinePoseModel& model, const finepose::TensorF& x2d) {
  finepose::cuda::DeviceFinePose dev(model);
  finepose::SampleOptions o;
  o.hypotheses = 2;
  o.steps = 2;
  return dev.sample(x2d, {"Walking"}, o);
}

void consumer_layer_norm(float* out, const float* in, const float* g, const float* b, std::int64_t rows, std::int64_t dim) {
  finepose::kernels::layer_norm_forward<float>(out, nullptr, nullptr, in, g, b, rows, dim, 1e-5f);
}
