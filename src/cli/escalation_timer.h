#pragma once
// The serve command's timer for the green-channel escalator (issue 7): runs
// referral::Escalator::Tick(clock.Now()) every `interval` on a thread of its own. The logic
// lives in referral/; this is only the timer.

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "core/clock.h"
#include "referral/escalator.h"

namespace medalliance::cli {

class EscalationTimer {
 public:
  // `escalator` and `clock` are not owned and must outlive the timer.
  EscalationTimer(referral::Escalator& escalator, const core::Clock& clock,
                  std::chrono::milliseconds interval);
  ~EscalationTimer();  // stops
  EscalationTimer(const EscalationTimer&) = delete;
  EscalationTimer& operator=(const EscalationTimer&) = delete;

  void Start();
  // Waits for a running Tick to finish; idempotent.
  void Stop();

 private:
  void Run();

  referral::Escalator& escalator_;
  const core::Clock& clock_;
  std::chrono::milliseconds interval_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace medalliance::cli
