#include "referral/config.h"

#include <charconv>
#include <string>

namespace medalliance::referral {
namespace {

core::Status ReadPositive(const core::Config& config, const std::string& key, int64_t* out) {
  std::optional<std::string> text = config.Get(key);
  if (!text.has_value())
    return {};
  int64_t value = 0;
  const char* end = text->data() + text->size();
  auto [ptr, error] = std::from_chars(text->data(), end, value);
  if (error != std::errc() || ptr != end || value <= 0) {
    return core::Error::BadRequest(key + " must be a positive whole number of minutes, not '" +
                                   *text + "'");
  }
  *out = value;
  return {};
}

}  // namespace

core::EpochMillis ReferralConfig::DeadlineOf(Condition condition) const {
  auto found = acceptance_deadline.find(condition);
  return found == acceptance_deadline.end() ? 10 * 60'000 : found->second;
}

core::Result<ReferralConfig> ParseReferralConfig(const core::Config& config) {
  ReferralConfig out;
  for (Condition condition : kAllConditions) {
    int64_t minutes = 0;
    MA_RETURN_IF_ERROR(
        ReadPositive(config, "green-channel-deadline-" + std::string(ToCode(condition)), &minutes));
    if (minutes > 0)
      out.acceptance_deadline[condition] = minutes * 60'000;
  }
  struct Target {
    const char* key;
    int* field;
  };
  for (const Target& target :
       {Target{"green-channel-target-door-to-needle", &out.door_to_needle_minutes},
        Target{"green-channel-target-door-to-balloon", &out.door_to_balloon_minutes},
        Target{"green-channel-target-first-contact-to-balloon",
               &out.first_contact_to_balloon_minutes},
        Target{"referral-max-escalation-steps", &out.max_escalation_steps}}) {
    int64_t value = 0;
    MA_RETURN_IF_ERROR(ReadPositive(config, target.key, &value));
    if (value > 0)
      *target.field = static_cast<int>(value);
  }
  return out;
}

}  // namespace medalliance::referral
