#!/usr/bin/env bash
# Builds pocket (Release) and runs the whole test suite; then cross-builds the kernel tests for
# AArch64 and runs them under qemu (scripts/test-arm.sh; POCKET_SKIP_ARM=1 skips it); then
# builds the test suite under AddressSanitizer + UndefinedBehaviorSanitizer and runs it again
# (POCKET_SKIP_ASAN=1 skips it). Run from the repo root, with ../shared beside the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
cmake --preset release >/dev/null
cmake --build --preset release -j "$JOBS"
ctest --preset release -j "$JOBS"
if [ "${POCKET_SKIP_ARM:-0}" != "1" ]; then
  JOBS="$JOBS" bash scripts/test-arm.sh
fi
if [ "${POCKET_SKIP_ASAN:-0}" != "1" ]; then
  cmake --preset asan >/dev/null
  cmake --build --preset asan -j "$JOBS"
  ctest --preset asan -j "$JOBS"
fi
