#include "subscription/subscription.h"

#include "access/policy.h"

namespace medalliance::subscription {

using core::Error;
using fhir::Json;

namespace {

std::string CustodianOf(const Json& resource) {
  const Json* meta = resource.Find("meta");
  const Json* security = meta != nullptr ? meta->Find("security") : nullptr;
  if (security == nullptr || !security->IsArray())
    return {};
  for (const Json& label : security->Items()) {
    if (label.IsObject() && label.GetStringMember("system") == access::kCustodianSystem)
      return std::string(label.GetStringMember("code"));
  }
  return {};
}

bool HasLineBreak(std::string_view text) {
  return text.find_first_of("\r\n") != std::string_view::npos;
}

}  // namespace

core::Result<Subscription> ParseSubscription(const Json& resource) {
  Subscription out;
  out.id = std::string(resource.GetStringMember("id"));
  out.status = std::string(resource.GetStringMember("status"));
  out.owner = CustodianOf(resource);
  std::string_view criteria = resource.GetStringMember("criteria");
  if (criteria.empty())
    return Error::BadRequest("Subscription.criteria is required / 订阅缺少 criteria",
                             "Subscription.criteria");
  core::Result<search::MatchCriteria> parsed = search::MatchCriteria::Parse(criteria);
  if (!parsed) {
    return Error::BadRequest(parsed.error().GetMessage(), "Subscription.criteria");
  }
  out.criteria = std::move(parsed).value();
  const Json* channel = resource.Find("channel");
  if (channel == nullptr || !channel->IsObject())
    return Error::Unprocessable("Subscription.channel is required / 订阅缺少 channel",
                                "Subscription.channel");
  std::string_view type = channel->GetStringMember("type");
  if (type == "rest-hook") {
    out.channel = ChannelType::kRestHook;
    out.endpoint = std::string(channel->GetStringMember("endpoint"));
    if (!out.endpoint.starts_with("http://") && !out.endpoint.starts_with("https://")) {
      return Error::Unprocessable(
          "a rest-hook channel needs an http:// or https:// endpoint / rest-hook 通道需要 "
          "http(s) 地址",
          "Subscription.channel.endpoint");
    }
    if (HasLineBreak(out.endpoint))
      return Error::Unprocessable("malformed endpoint", "Subscription.channel.endpoint");
  } else if (type == "websocket") {
    out.channel = ChannelType::kWebSocket;
  } else {
    return Error::Unprocessable("channel type '" + std::string(type) +
                                    "' is not supported: use rest-hook or websocket / "
                                    "不支持的通道类型",
                                "Subscription.channel.type");
  }
  if (const Json* payload = channel->Find("payload"); payload != nullptr) {
    std::string_view mime = payload->IsString() ? std::string_view(payload->GetString()) : "";
    if (mime != "application/fhir+json") {
      return Error::Unprocessable(
          "payload must be absent or application/fhir+json / 不支持的 "
          "payload 类型",
          "Subscription.channel.payload");
    }
    out.full_payload = true;
  }
  if (const Json* headers = channel->Find("header"); headers != nullptr && headers->IsArray()) {
    for (const Json& header : headers->Items()) {
      std::string_view text = header.IsString() ? std::string_view(header.GetString()) : "";
      size_t colon = text.find(':');
      if (colon == std::string_view::npos || colon == 0 || HasLineBreak(text)) {
        return Error::Unprocessable("a channel header must be 'Name: value' / 通道头格式错误",
                                    "Subscription.channel.header");
      }
      std::string_view value = text.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      out.headers.emplace_back(std::string(text.substr(0, colon)), std::string(value));
    }
  }
  return out;
}

}  // namespace medalliance::subscription
