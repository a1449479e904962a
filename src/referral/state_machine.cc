#include "referral/state_machine.h"

namespace medalliance::referral {
namespace {

constexpr Transition kTransitions[] = {
    {TaskState::kRequested, TaskState::kReceived, Side::kReceiver},
    {TaskState::kRequested, TaskState::kCancelled, Side::kRequester},
    {TaskState::kReceived, TaskState::kAccepted, Side::kReceiver},
    {TaskState::kReceived, TaskState::kRejected, Side::kReceiver},
    {TaskState::kReceived, TaskState::kCancelled, Side::kRequester},
    {TaskState::kAccepted, TaskState::kInProgress, Side::kReceiver},
    {TaskState::kAccepted, TaskState::kCancelled, Side::kRequester},
    {TaskState::kAccepted, TaskState::kFailed, Side::kReceiver},
    {TaskState::kInProgress, TaskState::kCompleted, Side::kReceiver},
};

constexpr TaskState kAllStates[] = {
    TaskState::kRequested,  TaskState::kReceived,  TaskState::kAccepted,  TaskState::kRejected,
    TaskState::kInProgress, TaskState::kCompleted, TaskState::kCancelled, TaskState::kFailed,
};

std::string AllowedText(TaskState from) {
  std::vector<Transition> allowed = AllowedFrom(from);
  if (allowed.empty())
    return "无（终态） / none (final state)";
  std::string out;
  for (const Transition& transition : allowed) {
    if (!out.empty())
      out += ", ";
    out += std::string(ToCode(transition.to)) + " (" + std::string(ToString(transition.side)) + ")";
  }
  return out;
}

}  // namespace

std::span<const Transition> Transitions() {
  return kTransitions;
}

std::vector<Transition> AllowedFrom(TaskState from) {
  std::vector<Transition> out;
  for (const Transition& transition : kTransitions) {
    if (transition.from == from)
      out.push_back(transition);
  }
  return out;
}

std::string_view ToCode(TaskState state) {
  switch (state) {
    case TaskState::kRequested:
      return "requested";
    case TaskState::kReceived:
      return "received";
    case TaskState::kAccepted:
      return "accepted";
    case TaskState::kRejected:
      return "rejected";
    case TaskState::kInProgress:
      return "in-progress";
    case TaskState::kCompleted:
      return "completed";
    case TaskState::kCancelled:
      return "cancelled";
    case TaskState::kFailed:
      return "failed";
  }
  return "";
}

std::optional<TaskState> ParseTaskState(std::string_view code) {
  for (TaskState state : kAllStates) {
    if (ToCode(state) == code)
      return state;
  }
  return std::nullopt;
}

bool IsFinal(TaskState state) {
  return AllowedFrom(state).empty();
}

std::string_view ToString(Side side) {
  return side == Side::kRequester ? "申请方 requester" : "接收方 receiver";
}

core::Status CheckTransition(TaskState from, TaskState to, const CallerSides& sides) {
  const std::string change = std::string(ToCode(from)) + " → " + std::string(ToCode(to));
  for (const Transition& transition : kTransitions) {
    if (transition.from != from || transition.to != to)
      continue;
    bool may =
        !sides.checked || (transition.side == Side::kRequester ? sides.requester : sides.receiver);
    if (may)
      return {};
    return core::Error::Forbidden(
        "转诊状态 " + change + " 只能由" + std::string(ToString(transition.side)) +
            "操作；当前状态允许 / the change " + change + " is for the " +
            std::string(ToString(transition.side)) + " only; allowed from " +
            std::string(ToCode(from)) + ": " + AllowedText(from),
        "Task.status");
  }
  return IllegalTransition(from, ToCode(to));
}

core::Error IllegalTransition(TaskState from, std::string_view to_code) {
  const std::string change = std::string(ToCode(from)) + " → " + std::string(to_code);
  return core::Error::Conflict("不允许的转诊状态变更 " + change + "；当前状态允许 / illegal " +
                                   "referral transition " + change + "; allowed from " +
                                   std::string(ToCode(from)) + ": " + AllowedText(from),
                               "Task.status");
}

}  // namespace medalliance::referral
