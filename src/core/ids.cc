#include "core/ids.h"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>

namespace medalliance::core {

namespace {

// 16 random bytes from a per-thread engine.
std::array<uint8_t, 16> RandomBytes() {
  thread_local std::mt19937_64 engine = [] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }();
  std::array<uint8_t, 16> bytes{};
  uint64_t a = engine();
  uint64_t b = engine();
  for (int i = 0; i < 8; ++i) {
    bytes[i] = static_cast<uint8_t>(a >> (i * 8));
    bytes[8 + i] = static_cast<uint8_t>(b >> (i * 8));
  }
  return bytes;
}

std::string Format(std::array<uint8_t, 16> bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10)
      out.push_back('-');
    out.push_back(kHex[bytes[i] >> 4]);
    out.push_back(kHex[bytes[i] & 0x0F]);
  }
  return out;
}

}  // namespace

std::string NewUuid() {
  std::array<uint8_t, 16> bytes = RandomBytes();
  bytes[6] = static_cast<uint8_t>((bytes[6] & 0x0F) | 0x40);  // version 4
  bytes[8] = static_cast<uint8_t>((bytes[8] & 0x3F) | 0x80);  // RFC 4122 variant
  return Format(bytes);
}

std::string NewId() {
  // 16 characters, 6 bits each, of an alphabet in ASCII order ("-", ".", digits, upper case,
  // lower case: every character FHIR allows in an id but none other), so that text order is
  // bit order: 42 bits of Unix milliseconds (until the year 2109), a 12-bit counter, then 42
  // random bits. Ids sort by creation time, and ids made in this process sort in the order
  // they were made: within one millisecond the counter counts up from a random start (so the
  // count of ids made is not revealed), and when it runs out the millisecond field moves on by
  // one. The database's B-trees then append at their end.
  //
  // Until 2026-11 new ids were UUID v7 text (36 characters, the same layout with 48-bit
  // milliseconds and 62 random bits). Every search-index row and value-index entry repeats the
  // id, and each reference value repeats it once more: 16 characters instead of 36 make the
  // index B-trees about a quarter smaller, and the bulk import's commit thread, which is
  // bound by them, correspondingly faster (doc/storage.md, "Shorter ids"). Ids made since
  // 2026 start with "O" or later, so they also sort after every UUID id made before.
  static std::atomic<uint64_t> last{0};  // millis << 12 | counter of the last id
  const auto now = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count()) &
                   ((uint64_t{1} << 42) - 1);
  const std::array<uint8_t, 16> random = RandomBytes();
  // A new millisecond starts the counter at a random value below 2048 (half the range), so
  // that at least 2048 ids fit in it before the field moves on.
  const uint64_t start =
      (now << 12) | ((static_cast<uint64_t>(random[0]) << 8 | random[1]) & 0x7FF);
  uint64_t previous = last.load(std::memory_order_relaxed);
  uint64_t next = 0;
  do {
    next = (previous >> 12) < now ? start : previous + 1;
  } while (!last.compare_exchange_weak(previous, next, std::memory_order_relaxed));
  uint64_t tail = 0;  // 42 random bits
  for (size_t i = 2; i < 8; ++i) tail = tail << 8 | random[i];
  tail &= (uint64_t{1} << 42) - 1;
  static constexpr char kAlphabet[] =
      "-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  static_assert(sizeof(kAlphabet) == 65);
  std::string out(16, '\0');
  // next holds 54 bits (9 characters), tail 42 (7 characters).
  for (int i = 0; i < 9; ++i)
    out[static_cast<size_t>(i)] = kAlphabet[(next >> (48 - 6 * i)) & 0x3F];
  for (int i = 0; i < 7; ++i)
    out[static_cast<size_t>(9 + i)] = kAlphabet[(tail >> (36 - 6 * i)) & 0x3F];
  return out;
}

bool IsValidId(std::string_view id) {
  if (id.empty() || id.size() > 64)
    return false;
  for (char c : id) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.';
    if (!ok)
      return false;
  }
  return true;
}

}  // namespace medalliance::core
