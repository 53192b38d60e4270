# SPDX-License-Identifier: Apache-2.0
# Included at the end of project(mailkit) by CMAKE_PROJECT_mailkit_INCLUDE, which the aarch64
# toolchain file (and scripts/arm64.sh for the portable x86-64 build) sets. The module targets do
# not exist yet at that point, so tests/arm64/tests.cmake runs when the top-level CMakeLists.txt
# is done (a deferred call; CMake allows no add_subdirectory there, hence an include).
# The arguments of a deferred call are expanded when it runs, so the path goes through a variable.
# No option is tested here: the options (MAILKIT_BUILD_TESTS ...) are declared after project(),
# so on a first configure they are not set yet at this point (they only are from the cache of a
# second run). tests.cmake decides when it runs, after the whole top-level file.
set(MAILKIT_ARM64_TESTS ${CMAKE_CURRENT_LIST_DIR}/tests.cmake)
cmake_language(DEFER CALL include ${MAILKIT_ARM64_TESTS})
