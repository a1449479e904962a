// ParseJson: simdjson On-Demand into our Json tree, keeping numbers' source text.

#include <algorithm>
#include <cctype>
#include <optional>
#include <string>
#include <tuple>
#include <utility>

#include <simdjson.h>

#include "fhir/json/json.h"
#include "fhir/json/members.h"

namespace medalliance::fhir {
namespace {

namespace od = simdjson::ondemand;
using core::Error;
using core::Result;

// raw_json_token() is a plain string_view on values and a simdjson_result on documents.
inline std::string_view RawToken(od::value& value) {
  return value.raw_json_token();
}
inline std::string_view RawToken(od::document& doc) {
  std::string_view raw;
  if (doc.raw_json_token().get(raw) != simdjson::SUCCESS)
    return {};
  return raw;
}

}  // namespace

// Builds the tree in place: each value is built where it stays, with no Result<Json> per node
// and no moves (callgrind: the Builder, its moves and its allocations were a quarter of the
// importer's reading thread).
class JsonBuilder {
 public:
  explicit JsonBuilder(const ParseOptions& options,
                       const std::vector<std::string_view>* only_members = nullptr)
      : options_(options), only_members_(only_members) {}

  // False when the input is bad; the error is then in TakeError().
  template <typename V>
  bool Build(V& value, int depth, Json& out) {
    if (depth > options_.max_depth) {
      return Fail(Error::BadRequest("JSON nesting is deeper than " +
                                    std::to_string(options_.max_depth) + " levels"));
    }
    od::json_type type;
    if (auto error = value.type().get(type))
      return Fail(error);
    switch (type) {
      case od::json_type::object: {
        od::object object;
        if (auto error = value.get_object().get(object))
          return Fail(error);
        Json::Object& members = out.data_.emplace<Json::Object>();
        members.reserve(4);  // most FHIR elements have a few members: fewer regrowths
        for (auto field : object) {
          std::string_view key;
          if (auto error = field.unescaped_key().get(key))
            return Fail(error);
          if (depth == 1 && only_members_ != nullptr &&
              std::find(only_members_->begin(), only_members_->end(), key) ==
                  only_members_->end()) {
            continue;  // On-Demand skips the unread value
          }
          std::string key_copy(key);
          od::value child;
          if (auto error = field.value().get(child))
            return Fail(error);
          // Built where it stays: nothing else adds to `members` meanwhile.
          Json& slot =
              members
                  .emplace_back(std::piecewise_construct,
                                std::forward_as_tuple(std::move(key_copy)), std::forward_as_tuple())
                  .second;
          if (!Build(child, depth + 1, slot))
            return false;
        }
        return CheckDuplicateKeys(members);
      }
      case od::json_type::array: {
        od::array array;
        if (auto error = value.get_array().get(array))
          return Fail(error);
        Json::Array& items = out.data_.emplace<Json::Array>();
        for (auto element : array) {
          od::value child;
          if (auto error = element.get(child))
            return Fail(error);
          if (!Build(child, depth + 1, items.emplace_back()))
            return false;
        }
        return true;
      }
      default:
        return BuildScalar(value, type, out);
    }
  }

  template <typename V>
  bool BuildScalar(V& value, od::json_type type, Json& out) {
    switch (type) {
      case od::json_type::string: {
        std::string_view text;
        if (auto error = value.get_string().get(text))
          return Fail(error);
        out.data_.emplace<std::string>(text);
        return true;
      }
      case od::json_type::number: {
        std::string_view raw = RawToken(value);
        while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\n' || raw.back() == '\r' ||
                                raw.back() == '\t')) {
          raw.remove_suffix(1);
        }
        if (!IsJsonNumber(raw)) {
          return Fail(Error::BadRequest("invalid JSON number '" + std::string(raw) + "'"));
        }
        out.data_.emplace<Json::NumberText>(Json::NumberText{std::string(raw)});
        return true;
      }
      case od::json_type::boolean: {
        bool flag = false;
        if (auto error = value.get_bool().get(flag))
          return Fail(error);
        out.data_.emplace<bool>(flag);
        return true;
      }
      case od::json_type::null: {
        bool is_null = false;
        if (auto error = value.is_null().get(is_null))
          return Fail(error);
        if (!is_null)
          return Fail(Error::BadRequest("invalid JSON literal"));
        out.data_.emplace<std::monostate>();
        return true;
      }
      default:
        return Fail(Error::BadRequest("invalid JSON value"));
    }
  }

  Error TakeError() { return std::move(*error_); }

 private:
  bool Fail(simdjson::error_code error) {
    return Fail(
        Error::BadRequest(std::string("malformed JSON: ") + simdjson::error_message(error)));
  }
  bool Fail(Error error) {
    error_ = std::move(error);
    return false;
  }

  bool CheckDuplicateKeys(const Json::Object& members) {
    if (members.size() < 2)
      return true;
    if (members.size() <= 16) {
      for (size_t i = 1; i < members.size(); ++i) {
        for (size_t j = 0; j < i; ++j) {
          if (members[i].first == members[j].first) {
            return Fail(Error::BadRequest("duplicate JSON key '" + members[i].first + "'"));
          }
        }
      }
      return true;
    }
    std::vector<std::string_view> keys;
    keys.reserve(members.size());
    for (const auto& member : members) keys.push_back(member.first);
    std::sort(keys.begin(), keys.end());
    auto dup = std::adjacent_find(keys.begin(), keys.end());
    if (dup != keys.end())
      return Fail(Error::BadRequest("duplicate JSON key '" + std::string(*dup) + "'"));
    return true;
  }

  const ParseOptions& options_;
  const std::vector<std::string_view>* only_members_;
  std::optional<Error> error_;
};

#define MA_STRINGIFY_INNER(x) #x
#define MA_STRINGIFY(x) MA_STRINGIFY_INNER(x)
// The kernel compiled into this file's inline On-Demand code (not the shared library's).
std::string_view JsonParserKernel() {
  return MA_STRINGIFY(SIMDJSON_BUILTIN_IMPLEMENTATION);
}

Result<Json> ParseJson(std::string_view text, const ParseOptions& options) {
  return ParseJsonMembers(text, {}, options);
}

Result<Json> ParseJsonMembers(std::string_view text, const std::vector<std::string_view>& members,
                              const ParseOptions& options) {
  thread_local od::parser parser;
  simdjson::padded_string padded(text);
  od::document doc;
  if (auto error = parser.iterate(padded).get(doc)) {
    return Error::BadRequest(std::string("malformed JSON: ") + simdjson::error_message(error));
  }
  JsonBuilder builder(options, members.empty() ? nullptr : &members);
  bool scalar = false;
  if (auto error = doc.is_scalar().get(scalar)) {
    return Error::BadRequest(std::string("malformed JSON: ") + simdjson::error_message(error));
  }
  Json result;
  bool built = false;
  if (scalar) {
    od::json_type type;
    if (auto error = doc.type().get(type)) {
      return Error::BadRequest(std::string("malformed JSON: ") + simdjson::error_message(error));
    }
    built = builder.BuildScalar(doc, type, result);
  } else {
    od::value root;
    if (auto error = doc.get_value().get(root)) {
      return Error::BadRequest(std::string("malformed JSON: ") + simdjson::error_message(error));
    }
    built = builder.Build(root, 1, result);
  }
  if (!built)
    return builder.TakeError();
  const char* trailing = nullptr;
  bool has_trailing = false;
  if (scalar) {
    // Scalar getters check the end themselves, but a number is read as its raw token.
    std::string_view whole = text;
    while (!whole.empty() && std::isspace(static_cast<unsigned char>(whole.back()))) {
      whole.remove_suffix(1);
    }
    while (!whole.empty() && std::isspace(static_cast<unsigned char>(whole.front()))) {
      whole.remove_prefix(1);
    }
    has_trailing = result.IsNumber() && whole != result.GetString();
  } else {
    has_trailing = doc.current_location().get(trailing) == simdjson::SUCCESS;
  }
  if (has_trailing) {
    return Error::BadRequest("malformed JSON: trailing content after the value");
  }
  return result;
}

}  // namespace medalliance::fhir
