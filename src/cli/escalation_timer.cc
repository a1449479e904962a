#include "cli/escalation_timer.h"

#include <spdlog/spdlog.h>

namespace medalliance::cli {

EscalationTimer::EscalationTimer(referral::Escalator& escalator, const core::Clock& clock,
                                 std::chrono::milliseconds interval)
    : escalator_(escalator), clock_(clock), interval_(interval) {}

EscalationTimer::~EscalationTimer() {
  Stop();
}

void EscalationTimer::Start() {
  if (thread_.joinable())
    return;
  stopping_ = false;
  thread_ = std::thread([this] { Run(); });
}

void EscalationTimer::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable())
    thread_.join();
}

void EscalationTimer::Run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    if (wake_.wait_for(lock, interval_, [this] { return stopping_; }))
      break;
    lock.unlock();
    auto steps = escalator_.Tick(clock_.Now());
    if (!steps) {
      spdlog::warn("green-channel escalation failed: {}", steps.error().GetMessage());
    } else {
      for (const referral::EscalationStep& step : *steps) {
        spdlog::info("green channel: Task/{} escalation {} {} {}", step.task_id, step.level,
                     step.action, step.target);
      }
    }
    lock.lock();
  }
}

}  // namespace medalliance::cli
