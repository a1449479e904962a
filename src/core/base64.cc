#include "core/base64.h"

#include <cstdint>

namespace medalliance::core {

std::string Base64Encode(std::string_view data, Base64Alphabet alphabet, bool pad) {
  const char* digits = alphabet == Base64Alphabet::kUrl
                           ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                           : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    uint32_t n = (static_cast<uint32_t>(static_cast<uint8_t>(data[i])) << 16) |
                 (static_cast<uint32_t>(static_cast<uint8_t>(data[i + 1])) << 8) |
                 static_cast<uint8_t>(data[i + 2]);
    for (int shift = 18; shift >= 0; shift -= 6) out.push_back(digits[(n >> shift) & 63]);
  }
  size_t rest = data.size() - i;
  if (rest > 0) {
    uint32_t n = static_cast<uint32_t>(static_cast<uint8_t>(data[i])) << 16;
    if (rest == 2)
      n |= static_cast<uint32_t>(static_cast<uint8_t>(data[i + 1])) << 8;
    out.push_back(digits[(n >> 18) & 63]);
    out.push_back(digits[(n >> 12) & 63]);
    if (rest == 2)
      out.push_back(digits[(n >> 6) & 63]);
    if (pad)
      out.append(rest == 1 ? "==" : "=");
  }
  return out;
}

std::optional<std::string> Base64Decode(std::string_view text, bool skip_whitespace) {
  std::string out;
  out.reserve(text.size() / 4 * 3);
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    int value = 0;
    if (c >= 'A' && c <= 'Z') {
      value = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      value = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      value = c - '0' + 52;
    } else if (c == '+' || c == '-') {
      value = 62;
    } else if (c == '/' || c == '_') {
      value = 63;
    } else if (c == '=') {
      break;
    } else if (skip_whitespace && (c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
      continue;
    } else {
      return std::nullopt;
    }
    buffer = (buffer << 6) | static_cast<uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xFF));
    }
  }
  return out;
}

}  // namespace medalliance::core
