#include "referral/codes.h"

namespace medalliance::referral {

std::string_view ToCode(Condition condition) {
  switch (condition) {
    case Condition::kStroke:
      return "stroke";
    case Condition::kChestPain:
      return "chest-pain";
    case Condition::kHeartFailure:
      return "heart-failure";
    case Condition::kCardiacEmergency:
      return "cardiac-emergency";
    case Condition::kTumourFastTrack:
      return "tumour-fast-track";
  }
  return "";
}

std::string_view DisplayOf(Condition condition) {
  switch (condition) {
    case Condition::kStroke:
      return "脑卒中 / stroke";
    case Condition::kChestPain:
      return "胸痛（含STEMI） / chest pain, STEMI";
    case Condition::kHeartFailure:
      return "急性心力衰竭 / acute heart failure";
    case Condition::kCardiacEmergency:
      return "其他心脏急症 / other cardiac emergency";
    case Condition::kTumourFastTrack:
      return "肿瘤快速通道 / tumour fast track";
  }
  return "";
}

std::optional<Condition> ParseCondition(std::string_view code) {
  for (Condition condition : kAllConditions) {
    if (ToCode(condition) == code)
      return condition;
  }
  return std::nullopt;
}

std::string_view ToCode(Direction direction) {
  switch (direction) {
    case Direction::kUp:
      return "up";
    case Direction::kDown:
      return "down";
    case Direction::kLateral:
      return "lateral";
  }
  return "";
}

std::string_view DisplayOf(Direction direction) {
  switch (direction) {
    case Direction::kUp:
      return "上转 / up";
    case Direction::kDown:
      return "下转 / down";
    case Direction::kLateral:
      return "平级转诊 / lateral";
  }
  return "";
}

}  // namespace medalliance::referral
