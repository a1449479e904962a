#pragma once
// Minimal UTF-8 helpers for name handling. Input is assumed valid UTF-8 (the JSON parser rejects
// anything else); a malformed byte decodes as U+FFFD.

#include <string>
#include <string_view>
#include <vector>

namespace medalliance::mpi::internal {

std::u32string DecodeUtf8(std::string_view text);
void AppendUtf8(char32_t code_point, std::string& out);
std::string EncodeUtf8(std::u32string_view text);

inline bool IsHan(char32_t c) {
  return (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x4E00 && c <= 0x9FFF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x20000 && c <= 0x3134F);
}

}  // namespace medalliance::mpi::internal
