#include "api/rest/bundle_builder.h"

#include <algorithm>
#include <optional>

#include "core/ids.h"
#include "core/time.h"
#include "fhir/json/json.h"

namespace medalliance::api::rest {

using fhir::Json;

namespace {

void AppendString(std::string& out, std::string_view text) {
  fhir::AppendJsonString(text, out);
}

void AppendHeader(std::string& out, std::string_view type, core::EpochMillis now) {
  out += R"({"resourceType":"Bundle","id":")";
  out += core::NewId();
  out += R"(","meta":{"lastUpdated":")";
  out += core::FormatInstant(now);
  out += R"("},"type":")";
  out += type;
  out += '"';
}

void AppendLinks(std::string& out, const std::string& self, const std::string* next) {
  out += R"(,"link":[{"relation":"self","url":)";
  AppendString(out, self);
  out += '}';
  if (next != nullptr) {
    out += R"(,{"relation":"next","url":)";
    AppendString(out, *next);
    out += '}';
  }
  out += ']';
}

std::string JoinParams(const QueryParams& params) {
  std::string out;
  for (const auto& [name, value] : params) {
    out += out.empty() ? "?" : "&";
    out += PercentEncode(name);
    out += '=';
    out += PercentEncode(value);
  }
  return out;
}

}  // namespace

std::string PercentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~' || c == ':' || c == '|' || c == ',' || c == '/' ||
        c == '$') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string BuildSearchBundle(const std::string& base_url, const std::string& type,
                              const search::SearchPage& page, core::EpochMillis now) {
  std::string out;
  out.reserve(256 + (page.matches.size() + page.includes.size()) * 1024);
  AppendHeader(out, "searchset", now);
  if (page.total.has_value()) {
    out += R"(,"total":)";
    out += std::to_string(*page.total);
  }
  std::string path = base_url + "/" + (page.link_path.empty() ? type : page.link_path);
  auto link = [&](const std::optional<std::string>& cursor, int offset) {
    search::Params params = page.applied;
    params.emplace_back("_count", std::to_string(page.count));
    if (offset > 0)
      params.emplace_back("_offset", std::to_string(offset));
    if (cursor.has_value())
      params.emplace_back("_cursor", *cursor);
    return path + JoinParams(params);
  };
  out += R"(,"link":[{"relation":"self","url":)";
  AppendString(out, link(page.cursor, page.offset));
  out += '}';
  if (page.has_more) {
    out += R"(,{"relation":"next","url":)";
    AppendString(out, page.next_cursor.has_value() ? link(page.next_cursor, 0)
                                                   : link(std::nullopt, page.offset + page.count));
    out += '}';
  }
  if (page.previous_cursor.has_value()) {
    out += R"(,{"relation":"previous","url":)";
    AppendString(out, link(page.previous_cursor, 0));
    out += '}';
  } else if (page.offset > 0) {
    out += R"(,{"relation":"previous","url":)";
    AppendString(out, link(std::nullopt, std::max(0, page.offset - page.count)));
    out += '}';
  }
  out += ']';
  out += R"(,"entry":[)";
  bool first = true;
  std::string full_url = base_url + "/";  // reused: no allocation per entry
  const size_t base_size = full_url.size();
  auto entry = [&](const store::StoredResource& resource, std::string_view mode) {
    if (!first)
      out += ',';
    first = false;
    out += R"({"fullUrl":)";
    full_url.resize(base_size);
    full_url.append(resource.type).append("/").append(resource.id);
    AppendString(out, full_url);
    out += R"(,"resource":)";
    out += resource.json;
    out += R"(,"search":{"mode":")";
    out += mode;
    out += R"("}})";
  };
  for (const store::StoredResource& match : page.matches) entry(match, "match");
  for (const store::StoredResource& include : page.includes) entry(include, "include");
  if (!page.ignored.empty() || !page.warnings.empty()) {
    if (!first)
      out += ',';
    Json outcome = Json::MakeObject();
    outcome.Set("resourceType", Json::MakeString("OperationOutcome"));
    Json issues = Json::MakeArray();
    for (const std::string& name : page.ignored) {
      Json issue = Json::MakeObject();
      issue.Set("severity", Json::MakeString("warning"));
      issue.Set("code", Json::MakeString("not-supported"));
      issue.Set("diagnostics", Json::MakeString("search parameter '" + name +
                                                "' is not supported and was ignored"));
      Json expression = Json::MakeArray();
      expression.PushBack(Json::MakeString(name));
      issue.Set("expression", std::move(expression));
      issues.PushBack(std::move(issue));
    }
    for (const std::string& warning : page.warnings) {
      Json issue = Json::MakeObject();
      issue.Set("severity", Json::MakeString("warning"));
      issue.Set("code", Json::MakeString("informational"));
      issue.Set("diagnostics", Json::MakeString(warning));
      issues.PushBack(std::move(issue));
    }
    outcome.Set("issue", std::move(issues));
    out += R"({"resource":)";
    fhir::AppendJson(outcome, out);
    out += R"(,"search":{"mode":"outcome"}})";
  }
  out += "]}";
  return out;
}

std::string BuildHistoryBundle(const std::string& base_url, const std::string& path,
                               const QueryParams& params,
                               const std::vector<store::StoredResource>& entries, int64_t total,
                               bool has_more, int count, core::EpochMillis now) {
  std::string out;
  out.reserve(256 + entries.size() * 1024);
  AppendHeader(out, "history", now);
  out += R"(,"total":)";
  out += std::to_string(total);
  QueryParams kept;
  for (const auto& param : params) {
    if (param.first != "_before_sequence")
      kept.push_back(param);
  }
  std::string self = base_url + path + JoinParams(params);
  std::string next;
  if (has_more && !entries.empty()) {
    QueryParams next_params = kept;
    bool has_count = false;
    for (const auto& param : kept) has_count = has_count || param.first == "_count";
    if (!has_count)
      next_params.emplace_back("_count", std::to_string(count));
    next_params.emplace_back("_before_sequence", std::to_string(entries.back().sequence));
    next = base_url + path + JoinParams(next_params);
  }
  AppendLinks(out, self, next.empty() ? nullptr : &next);
  out += R"(,"entry":[)";
  bool first = true;
  for (const store::StoredResource& entry : entries) {
    if (!first)
      out += ',';
    first = false;
    std::string url = entry.type + "/" + entry.id;
    out += R"({"fullUrl":)";
    AppendString(out, base_url + "/" + url);
    if (!entry.deleted) {
      out += R"(,"resource":)";
      out += entry.json;
    }
    std::string method =
        entry.method.empty() ? (entry.version == 1 ? "POST" : "PUT") : entry.method;
    out += R"(,"request":{"method":")";
    out += method;
    out += R"(","url":)";
    AppendString(out, method == "POST" ? entry.type : url);
    out += R"(},"response":{"status":")";
    out += entry.deleted ? "204 No Content" : (entry.version == 1 ? "201 Created" : "200 OK");
    out += R"(","etag":"W/\")";
    out += std::to_string(entry.version);
    out += R"(\"","lastModified":")";
    out += core::FormatInstant(entry.last_updated);
    out += R"("}})";
  }
  out += "]}";
  return out;
}

}  // namespace medalliance::api::rest
