# ctest driver for the consumer projects (cmake -P):
#   MODE=find_package: install finepose from BUILD_DIR into a temp prefix, then
#                      configure/build/run tests/consumer/find_package against it.
#   MODE=add_subdirectory: configure/build/run tests/consumer/add_subdirectory.
#   MODE=find_package_cuda: install as find_package, then configure and build (compile
#                      only: no GPU needed) tests/consumer/find_package_cuda with nvcc
#                      for one architecture (CUDA_ARCH, default 80).
foreach(v MODE SOURCE_DIR BUILD_DIR WORK_DIR)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "run_consumer.cmake: -D${v}=... missing")
  endif()
endforeach()
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  message(STATUS "${out}")
endfunction()
# Unoptimised: the test checks that a consumer's build finds, compiles and links everything and
# that the program runs; -O0 compiles the one-header API in 26 s against 45 s at -O2 (CI time)
set(gen_args -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-O0" "-DCMAKE_CUDA_FLAGS_DEBUG=-O0")
if(MODE STREQUAL "find_package")
  run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${WORK_DIR}/prefix)
  run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/consumer/find_package -B ${WORK_DIR}/build ${gen_args}
      -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix)
elseif(MODE STREQUAL "find_package_cuda")
  if(NOT DEFINED CUDA_ARCH)
    set(CUDA_ARCH 80)
  endif()
  run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${WORK_DIR}/prefix)
  if(NOT EXISTS ${WORK_DIR}/prefix/include/finepose/kernels/layer_norm_forward.cuh)
    message(FATAL_ERROR "the install has no include/finepose/kernels/layer_norm_forward.cuh")
  endif()
  run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/consumer/find_package_cuda -B ${WORK_DIR}/build ${gen_args}
      -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DCMAKE_CUDA_ARCHITECTURES=${CUDA_ARCH})
  run(${CMAKE_COMMAND} --build ${WORK_DIR}/build -j2)
  return()
elseif(MODE STREQUAL "add_subdirectory")
  run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/consumer/add_subdirectory -B ${WORK_DIR}/build ${gen_args}
      -DFINEPOSE_SOURCE=${SOURCE_DIR})
else()
  message(FATAL_ERROR "run_consumer.cmake: unknown MODE ${MODE}")
endif()
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build -j2)
run(${WORK_DIR}/build/consumer ${WORK_DIR}/model.safetensors)
