#!/usr/bin/env bash
# Installs pocket's build and test dependencies from Debian 12 packages (needs root or sudo),
# including the AArch64 cross compiler, qemu-user and GoogleTest's sources for the ARM kernel
# tests (scripts/test-arm.sh).
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  g++ cmake ninja-build git ca-certificates time \
  libgtest-dev libgmock-dev libbenchmark-dev \
  nlohmann-json3-dev libcli11-dev libcpp-httplib-dev libcurl4-openssl-dev pybind11-dev \
  g++-aarch64-linux-gnu qemu-user googletest
