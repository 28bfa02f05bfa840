#!/usr/bin/env bash
# Cross-builds the kernels and their tests for AArch64 and runs them under qemu-user on three
# emulated CPUs: QEMU_CPU=max (dot product and int8 matrix multiply: tables "neon",
# "neon-dotprod", "neon-i8mm"), neoverse-n1 (dot product only) and cortex-a53 (plain NEON).
# The tests assert that exactly those tables exist, then compare each with the scalar twins.
# Installs the cross compiler and qemu (Debian packages) if missing. Builds in build-arm/.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
SYSROOT=/usr/aarch64-linux-gnu

need=()
command -v aarch64-linux-gnu-g++ >/dev/null || need+=(g++-aarch64-linux-gnu)
command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
[ -f /usr/src/googletest/CMakeLists.txt ] || need+=(googletest)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

cmake -S . -B build-arm -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake \
  -DPOCKET_KERNELS_ONLY=ON -DPOCKET_BUILD_BENCH=OFF \
  -DPOCKET_GTEST_SOURCE_DIR=/usr/src/googletest >/dev/null
cmake --build build-arm -j "$JOBS" --target kernel_tests

run() {  # run QEMU_CPU EXPECTED_ISAS
  echo "== kernel_tests on QEMU_CPU=$1 (expecting: $2)"
  QEMU_CPU=$1 POCKET_EXPECT_ISAS=$2 qemu-aarch64 -L "$SYSROOT" build-arm/tests/kernels/kernel_tests \
    --gtest_brief=1
}
run max "neon neon-dotprod neon-i8mm"
run neoverse-n1 "neon neon-dotprod"
run cortex-a53 "neon"
