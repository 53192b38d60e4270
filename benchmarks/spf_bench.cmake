# SPDX-License-Identifier: Apache-2.0
# The SPF/DMARC throughput tool for benchmarks/spf_bench.sh (issue 3); included from
# benchmarks/CMakeLists.txt when the dmarc module is built. It loads the suite zones with the
# conformance test's loader (tests/unit/spf/suite_zone.hpp).
if(TARGET mailkit::dmarc)
  mailkit_benchmark(spf_throughput SOURCES spf_throughput.cpp LIBS mailkit::dmarc Boost::json)
  target_include_directories(spf_throughput PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit/spf)
endif()
