#!/usr/bin/env bash
# Makes the random-weight models of ../shared/ANCHORS.md with `pocket synth` (same shapes, types
# and, to within a few bytes of metadata, the same file sizes as llama.cpp's files there):
#   smollm2-135m Q8_0 (144,810,368 B), llama-3.2-1b Q4_K_M (807,690,368 B) and Q8_0
#   (1,321,078,912 B), qwen3-0.6b shape Q4_K_M (396,672,640 B).
# Usage: bench/make_models.sh [OUT_DIR] [POCKET_BINARY]    (run from the repository root)
# Existing files are kept; delete them to remake. K-quant files take minutes on 2 cores.
set -euo pipefail
out=${1:-bench/models}
pocket=${2:-build/release/src/cli/pocket}
shared=${POCKET_SHARED:-../shared}
mkdir -p "$out"
make_model() {  # shape type
  local file="$out/$1-$2.gguf"
  if [[ -f $file ]]; then echo "have $file"; return; fi
  "$pocket" synth --shape "$1" --type "$2" --out "$file" --seed 1 --shared "$shared" -q
}
make_model smollm2-135m Q8_0
make_model qwen3-0.6b Q4_K_M
make_model llama-3.2-1b Q4_K_M
make_model llama-3.2-1b Q8_0
# Bigger shapes on request: EXTRA="llama-3.2-3b:Q4_K_M llama-3.1-8b:Q4_K_M" bench/make_models.sh
for spec in ${EXTRA:-}; do make_model "${spec%%:*}" "${spec##*:}"; done
