// Every kernel for every storage type compiled by nvcc for each architecture in
// FINEPOSE_CUDA_ARCHITECTURES (default 80;90), so a kernel nvcc rejects breaks the build:
// each is registered with the kernel harness (tests/cuda/ops_*.hpp), and its
// registration instantiates it here (and in test_kernel_ops_device).
#define DOCTEST_CONFIG_DISABLE
#include "tests/cuda/ops_attention.hpp"
#include "tests/cuda/ops_backward.hpp"
#include "tests/cuda/ops_glue.hpp"
#include "tests/cuda/ops_pointwise.hpp"
