#pragma once
// Time source. Everything that stamps or compares wall-clock time takes a Clock so tests can
// inject a FakeClock. Times are milliseconds since the Unix epoch, UTC.

#include <atomic>
#include <cstdint>

namespace medalliance::core {

using EpochMillis = int64_t;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual EpochMillis Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  EpochMillis Now() const override;
  // A process-wide instance.
  static const SystemClock& Get();
};

// Test clock; thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(EpochMillis start) : now_(start) {}
  EpochMillis Now() const override { return now_.load(); }
  void Set(EpochMillis now) { now_.store(now); }
  void Advance(EpochMillis delta) { now_.fetch_add(delta); }

 private:
  std::atomic<EpochMillis> now_;
};

}  // namespace medalliance::core
