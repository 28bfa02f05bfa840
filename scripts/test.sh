#!/usr/bin/env bash
# Builds pocket (Release) and runs the whole test suite; then builds the test suite under
# AddressSanitizer + UndefinedBehaviorSanitizer and runs it again. Run from the repo root,
# with ../shared beside the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
cmake --preset release >/dev/null
cmake --build --preset release -j "$JOBS"
ctest --preset release -j "$JOBS"
if [ "${POCKET_SKIP_ASAN:-0}" != "1" ]; then
  cmake --preset asan >/dev/null
  cmake --build --preset asan -j "$JOBS"
  ctest --preset asan -j "$JOBS"
fi
