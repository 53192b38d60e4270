# SPDX-License-Identifier: Apache-2.0
# Cross build for aarch64 (arm64) Debian 12, issue 7, docs/arm64.md. Used by scripts/arm64.sh:
#   cmake --preset dev -B build/arm64 --toolchain cmake/toolchains/aarch64-linux-gnu.cmake
# Compiler: Debian's g++-aarch64-linux-gnu (GCC 12, the same release as the native build).
# Libraries: Debian's arm64 packages installed through multiarch (dpkg --add-architecture arm64),
# which live in /usr/lib/aarch64-linux-gnu and /usr/include/aarch64-linux-gnu beside the amd64
# ones; the C library and libstdc++ come from /usr/aarch64-linux-gnu (libc6-dev-arm64-cross).
# Tests: ctest runs every test executable through CMAKE_CROSSCOMPILING_EMULATOR (qemu-user).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_AR aarch64-linux-gnu-ar CACHE FILEPATH "")
set(CMAKE_RANLIB aarch64-linux-gnu-ranlib CACHE FILEPATH "")
set(CMAKE_STRIP aarch64-linux-gnu-strip CACHE FILEPATH "")

# The target is ARMv8.0-A, what Debian's arm64 port assumes; Neoverse-N1 (Ampere Altra, the OCI
# A1 shape) is ARMv8.2-A. The library code is portable C++; OpenSSL and libsodium pick their
# ARMv8 crypto-extension code at run time from the CPU's HWCAPs, not at build time.

# Multiarch: search the host prefix (/usr) with lib/aarch64-linux-gnu as the library directory
# (CMAKE_LIBRARY_ARCHITECTURE), plus the cross sysroot for the C library. Programs (python3 for
# sysconfig, pkg-config, the test peers) are the build machine's own.
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu /)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# Never let an amd64 library or config package into the link.
list(APPEND CMAKE_IGNORE_PATH /usr/lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu/cmake)

# pkg-config sees only the arm64 .pc files (and the architecture-independent ones).
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
set(PKG_CONFIG_EXECUTABLE /usr/bin/pkg-config CACHE FILEPATH "pkg-config, restricted to arm64 by PKG_CONFIG_LIBDIR")

# Python module: headers and the extension suffix of Debian's arm64 Python 3.11 (libpython3.11-dev:arm64).
# FindPython would otherwise ask the amd64 interpreter and name the module *-x86_64-linux-gnu.so.
set(Python3_INCLUDE_DIR /usr/include/python3.11 CACHE PATH "")
set(Python3_SOABI cpython-311-aarch64-linux-gnu CACHE STRING "")
# A normal variable, not a cache entry: pybind11 drops its cache entry on the first configure.
set(PYTHON_MODULE_EXTENSION .cpython-311-aarch64-linux-gnu.so)

# qemu-user runs the aarch64 test and benchmark binaries with Debian's multiarch arm64 runtime
# (libc6:arm64, libstdc++6:arm64 in /lib/aarch64-linux-gnu, the loader at /lib/ld-linux-aarch64.so.1),
# hence -L / . Not -L /usr/aarch64-linux-gnu: that sysroot's glibc (libc6-arm64-cross 2.36-8cross1)
# is older than libc6:arm64 (2.36-9+deb12u*), the loader then mixes the two and the guest spins
# forever in pthread_create (seen with qemu 7.2 on this machine). Linking against the cross
# sysroot is fine: same glibc ABI. QEMU_PAGESIZE=65536 in the environment gives the guest 64K
# pages (tests/arm64/tests.cmake); QEMU_CPU picks the CPU model (default "max").
find_program(MAILKIT_QEMU_AARCH64 NAMES qemu-aarch64 qemu-aarch64-static REQUIRED)
set(CMAKE_CROSSCOMPILING_EMULATOR ${MAILKIT_QEMU_AARCH64} -L /)

# The arm64-only tests (tests/arm64: page size, portable paths) join the build after the top-level
# CMakeLists.txt has defined every module target, without an edit to that file.
set(CMAKE_PROJECT_mailkit_INCLUDE ${CMAKE_CURRENT_LIST_DIR}/../../tests/arm64/arm64.cmake)
