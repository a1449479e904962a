#pragma once
// The referral Task's state machine (issue 7), after HL7 FHIR Workflow and the BSeR guide:
//
//   requested --receiver--> received --receiver--> accepted --receiver--> in-progress
//        |                     |    \--receiver--> rejected      |            |
//        |                     |                                 |      --receiver-->
//        +--requester--> cancelled <--requester--+  (before      |         completed
//                                                   arrival)     +--receiver--> failed (no-show)
//
// rejected, cancelled, completed and failed are final. Pure logic: no store, no clock.

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace medalliance::referral {

enum class TaskState {
  kRequested,
  kReceived,
  kAccepted,
  kRejected,
  kInProgress,
  kCompleted,
  kCancelled,
  kFailed,
};

enum class Side { kRequester, kReceiver };

struct Transition {
  TaskState from;
  TaskState to;
  Side side;  // who may make it
};

// Every legal transition.
std::span<const Transition> Transitions();
std::vector<Transition> AllowedFrom(TaskState from);

std::string_view ToCode(TaskState state);  // the Task.status code
std::optional<TaskState> ParseTaskState(std::string_view code);
bool IsFinal(TaskState state);
std::string_view ToString(Side side);  // "申请方 requester" / "接收方 receiver"

// Which sides the caller acts for. When `checked` is false (authentication off, local tools)
// every side is allowed.
struct CallerSides {
  bool checked = false;
  bool requester = false;
  bool receiver = false;
};

// Checks a status change. Errors: kConflict (409) for a transition that is not in the table,
// kForbidden (403) for a legal one made by the wrong side; both name, in Chinese and English,
// the transitions allowed from `from` and by whom, with the location Task.status.
core::Status CheckTransition(TaskState from, TaskState to, const CallerSides& sides);

// The kConflict error of a change from `from` to `to_code` (any status code).
core::Error IllegalTransition(TaskState from, std::string_view to_code);

}  // namespace medalliance::referral
