# SPDX-License-Identifier: Apache-2.0
# The DKIM throughput tool for benchmarks/dkim_bench.sh; included from benchmarks/CMakeLists.txt
# (one line: include(dkim_bench.cmake)) when the dkim module is built.
if(TARGET mailkit::dkim)
  mailkit_benchmark(dkim_throughput SOURCES dkim_throughput.cpp LIBS mailkit::dkim)
endif()
