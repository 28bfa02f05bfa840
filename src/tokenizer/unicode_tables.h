// Declarations of the generated Unicode tables (unicode_tables.cpp, made by
// tools/gen_unicode_tables.py). Use the functions in unicode.h, not these arrays.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pocket::unicode::tables {

struct CodePointPair {
  uint32_t from;
  uint32_t to;
};

struct Decomposition {
  uint32_t code_point;
  uint16_t offset;  // into kDecompositionData
  uint8_t length;
};

extern const char kUnicodeVersion[];
extern const size_t kBlockCount;
extern const uint16_t kStage1[0x1100];  // code point >> 8 -> block index
extern const uint8_t kStage2[];         // [kBlockCount][256]: category | 0x20 if White_Space
extern const size_t kLowercaseCount;
extern const CodePointPair kLowercase[];  // sorted by from
extern const size_t kDecompositionCount;
extern const Decomposition kDecompositions[];  // sorted by code_point; full NFD
extern const uint32_t kDecompositionData[];

}  // namespace pocket::unicode::tables
