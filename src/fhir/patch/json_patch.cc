#include "fhir/patch/json_patch.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

namespace medalliance::fhir {
namespace {

using core::Error;
using core::Result;
using core::Status;

// A JSON number reduced to sign, significant digits and a decimal exponent, so numbers
// compare by value without floating point: 1, 1.0 and 10e-1 all become {+, "1", 0}.
struct CanonicalNumber {
  bool negative = false;
  std::string digits;  // no leading or trailing zeros; empty for zero
  int64_t exponent = 0;
  bool operator==(const CanonicalNumber&) const = default;
};

CanonicalNumber Canonicalize(std::string_view text) {
  CanonicalNumber out;
  size_t i = 0;
  if (i < text.size() && text[i] == '-') {
    out.negative = true;
    ++i;
  }
  std::string digits;
  int64_t exponent = 0;
  bool fraction = false;
  for (; i < text.size() && text[i] != 'e' && text[i] != 'E'; ++i) {
    if (text[i] == '.') {
      fraction = true;
      continue;
    }
    digits.push_back(text[i]);
    if (fraction)
      --exponent;
  }
  if (i < text.size()) {
    ++i;
    bool negative_exponent = false;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
      negative_exponent = text[i] == '-';
      ++i;
    }
    int64_t value = 0;
    for (; i < text.size(); ++i) {
      if (value < 1000000000)
        value = value * 10 + (text[i] - '0');
    }
    exponent += negative_exponent ? -value : value;
  }
  size_t first = digits.find_first_not_of('0');
  if (first == std::string::npos)
    return CanonicalNumber{};  // zero, whatever the sign
  digits.erase(0, first);
  while (!digits.empty() && digits.back() == '0') {
    digits.pop_back();
    ++exponent;
  }
  out.digits = std::move(digits);
  out.exponent = exponent;
  return out;
}

std::string OpPrefix(size_t index, std::string_view op) {
  std::string out = "JSON Patch operation ";
  out += std::to_string(index);
  if (!op.empty()) {
    out += " (";
    out += op;
    out += ")";
  }
  out += ": ";
  return out;
}

// Parses an array index token per RFC 6901: "0" or digits without a leading zero.
bool ParseIndex(const std::string& token, size_t* out) {
  if (token.empty() || token.size() > 18)
    return false;
  if (token.size() > 1 && token[0] == '0')
    return false;
  size_t value = 0;
  for (char c : token) {
    if (c < '0' || c > '9')
      return false;
    value = value * 10 + static_cast<size_t>(c - '0');
  }
  *out = value;
  return true;
}

Json* Walk(Json& root, const std::vector<std::string>& tokens, size_t count) {
  Json* node = &root;
  for (size_t t = 0; t < count; ++t) {
    const std::string& token = tokens[t];
    if (node->IsObject()) {
      node = node->Find(token);
    } else if (node->IsArray()) {
      size_t index = 0;
      if (!ParseIndex(token, &index) || index >= node->Items().size())
        return nullptr;
      node = &node->Items()[index];
    } else {
      return nullptr;
    }
    if (node == nullptr)
      return nullptr;
  }
  return node;
}

class Patcher {
 public:
  Patcher(Json& document, size_t index, std::string_view op)
      : document_(document), prefix_(OpPrefix(index, op)) {}

  Error Unprocessable(std::string_view message) const {
    return Error::Unprocessable(prefix_ + std::string(message));
  }
  Error BadRequest(std::string_view message) const {
    return Error::BadRequest(prefix_ + std::string(message));
  }

  Result<std::vector<std::string>> Tokens(std::string_view pointer) const {
    auto tokens = ParseJsonPointer(pointer);
    if (!tokens)
      return BadRequest("invalid JSON Pointer '" + std::string(pointer) + "'");
    return tokens;
  }

  Result<Json*> Get(std::string_view pointer) {
    MA_ASSIGN_OR_RETURN(std::vector<std::string> tokens, Tokens(pointer));
    Json* node = Walk(document_, tokens, tokens.size());
    if (node == nullptr)
      return Unprocessable("path '" + std::string(pointer) + "' does not exist");
    return node;
  }

  Status Add(std::string_view pointer, Json value) {
    MA_ASSIGN_OR_RETURN(std::vector<std::string> tokens, Tokens(pointer));
    if (tokens.empty()) {
      document_ = std::move(value);
      return core::Ok{};
    }
    Json* parent = Walk(document_, tokens, tokens.size() - 1);
    if (parent == nullptr) {
      return Unprocessable("parent of path '" + std::string(pointer) + "' does not exist");
    }
    const std::string& last = tokens.back();
    if (parent->IsObject()) {
      parent->Set(last, std::move(value));
      return core::Ok{};
    }
    if (parent->IsArray()) {
      Json::Array& items = parent->Items();
      if (last == "-") {
        items.push_back(std::move(value));
        return core::Ok{};
      }
      size_t index = 0;
      if (!ParseIndex(last, &index)) {
        return Unprocessable("'" + last + "' is not an array index in '" + std::string(pointer) +
                             "'");
      }
      if (index > items.size()) {
        return Unprocessable("array index out of range in '" + std::string(pointer) + "'");
      }
      items.insert(items.begin() + static_cast<std::ptrdiff_t>(index), std::move(value));
      return core::Ok{};
    }
    return Unprocessable("parent of path '" + std::string(pointer) +
                         "' is neither an object nor an array");
  }

  // Removes the target and returns it.
  Result<Json> Remove(std::string_view pointer) {
    MA_ASSIGN_OR_RETURN(std::vector<std::string> tokens, Tokens(pointer));
    if (tokens.empty()) {
      Json whole = std::move(document_);
      document_ = Json();
      return whole;
    }
    Json* parent = Walk(document_, tokens, tokens.size() - 1);
    const std::string& last = tokens.back();
    if (parent != nullptr && parent->IsObject()) {
      if (Json* target = parent->Find(last)) {
        Json removed = std::move(*target);
        parent->Erase(last);
        return removed;
      }
    } else if (parent != nullptr && parent->IsArray()) {
      size_t index = 0;
      Json::Array& items = parent->Items();
      if (ParseIndex(last, &index) && index < items.size()) {
        Json removed = std::move(items[index]);
        items.erase(items.begin() + static_cast<std::ptrdiff_t>(index));
        return removed;
      }
    }
    return Unprocessable("path '" + std::string(pointer) + "' does not exist");
  }

 private:
  Json& document_;
  std::string prefix_;
};

Result<std::string_view> StringMember(const Json& op, std::string_view name, const Patcher& p) {
  const Json* member = op.Find(name);
  std::string quoted = "\"";
  quoted.append(name).append("\"");
  if (member == nullptr)
    return p.BadRequest("missing " + quoted);
  if (!member->IsString())
    return p.BadRequest(quoted + " must be a string");
  return std::string_view(member->GetString());
}

// The approximate memory a copy of `value` takes: 32 bytes per node plus its strings and
// member names. Counts no further than `limit`.
size_t CopyCost(const Json& value, size_t limit) {
  size_t cost = 32;
  if (value.IsString() || value.IsNumber()) {
    cost += value.GetString().size();
  } else if (value.IsArray()) {
    for (const Json& item : value.Items()) {
      if (cost >= limit)
        break;
      cost += CopyCost(item, limit - cost);
    }
  } else if (value.IsObject()) {
    for (const auto& member : value.Members()) {
      if (cost >= limit)
        break;
      cost += member.first.size() + CopyCost(member.second, limit - cost);
    }
  }
  return cost;
}

// `copy` is the one operation that can grow a document far beyond the size of the patch:
// each copy of the root doubles it. Copies share this budget per patch, in bytes (a count
// of nodes alone let 18 copies of a long string through: fuzz regression
// copy-budget-bytes).
constexpr size_t kCopyBudgetBytes = size_t{64} << 20;

Status ApplyOne(Json& document, const Json& op, size_t index, size_t& copy_budget) {
  if (!op.IsObject())
    return Patcher(document, index, "").BadRequest("not a JSON object");
  const Json* op_name_node = op.Find("op");
  if (op_name_node == nullptr || !op_name_node->IsString()) {
    return Patcher(document, index, "").BadRequest("missing or non-string \"op\"");
  }
  const std::string& name = op_name_node->GetString();
  Patcher patcher(document, index, name);
  MA_ASSIGN_OR_RETURN(std::string_view path, StringMember(op, "path", patcher));
  MA_RETURN_IF_ERROR(patcher.Tokens(path));

  auto value_of = [&]() -> Result<const Json*> {
    const Json* value = op.Find("value");
    if (value == nullptr)
      return patcher.BadRequest("missing \"value\"");
    return value;
  };

  if (name == "add") {
    MA_ASSIGN_OR_RETURN(const Json* value, value_of());
    return patcher.Add(path, *value);
  }
  if (name == "remove") {
    MA_RETURN_IF_ERROR(patcher.Remove(path));
    return core::Ok{};
  }
  if (name == "replace") {
    MA_ASSIGN_OR_RETURN(const Json* value, value_of());
    MA_ASSIGN_OR_RETURN(Json * target, patcher.Get(path));
    *target = *value;
    return core::Ok{};
  }
  if (name == "test") {
    MA_ASSIGN_OR_RETURN(const Json* value, value_of());
    MA_ASSIGN_OR_RETURN(Json * target, patcher.Get(path));
    if (!JsonValuesEqual(*target, *value)) {
      return patcher.Unprocessable("test failed: value at '" + std::string(path) +
                                   "' is not equal to the expected value");
    }
    return core::Ok{};
  }
  if (name == "move" || name == "copy") {
    MA_ASSIGN_OR_RETURN(std::string_view from, StringMember(op, "from", patcher));
    MA_RETURN_IF_ERROR(patcher.Tokens(from));
    if (name == "move") {
      if (from == path) {
        MA_RETURN_IF_ERROR(patcher.Get(from));
        return core::Ok{};
      }
      if (path.size() > from.size() && path.substr(0, from.size()) == from &&
          path[from.size()] == '/') {
        return patcher.Unprocessable("cannot move '" + std::string(from) +
                                     "' into one of its own children");
      }
      MA_ASSIGN_OR_RETURN(Json value, patcher.Remove(from));
      return patcher.Add(path, std::move(value));
    }
    MA_ASSIGN_OR_RETURN(Json * source, patcher.Get(from));
    size_t cost = CopyCost(*source, copy_budget + 1);
    if (cost > copy_budget) {
      return patcher.Unprocessable("the patch copies more than " +
                                   std::to_string(kCopyBudgetBytes >> 20) + " MiB in total");
    }
    copy_budget -= cost;
    Json value = *source;
    return patcher.Add(path, std::move(value));
  }
  return patcher.BadRequest("unknown op '" + name + "'");
}

}  // namespace

Result<std::vector<std::string>> ParseJsonPointer(std::string_view pointer) {
  std::vector<std::string> tokens;
  if (pointer.empty())
    return tokens;
  if (pointer[0] != '/') {
    return Error::BadRequest("JSON Pointer must start with '/': '" + std::string(pointer) + "'");
  }
  std::string current;
  for (size_t i = 1; i <= pointer.size(); ++i) {
    if (i == pointer.size() || pointer[i] == '/') {
      tokens.push_back(std::move(current));
      current.clear();
      continue;
    }
    if (pointer[i] == '~') {
      if (i + 1 < pointer.size() && pointer[i + 1] == '0') {
        current.push_back('~');
      } else if (i + 1 < pointer.size() && pointer[i + 1] == '1') {
        current.push_back('/');
      } else {
        return Error::BadRequest("invalid '~' escape in JSON Pointer '" + std::string(pointer) +
                                 "'");
      }
      ++i;
      continue;
    }
    current.push_back(pointer[i]);
  }
  return tokens;
}

const Json* ResolveJsonPointer(const Json& document, std::string_view pointer) {
  auto tokens = ParseJsonPointer(pointer);
  if (!tokens)
    return nullptr;
  return Walk(const_cast<Json&>(document), *tokens, tokens->size());  // NOLINT: read only
}

bool JsonValuesEqual(const Json& a, const Json& b) {
  if (a.GetKind() != b.GetKind())
    return false;
  switch (a.GetKind()) {
    case Json::Kind::kNull:
      return true;
    case Json::Kind::kBool:
      return a.GetBool() == b.GetBool();
    case Json::Kind::kString:
      return a.GetString() == b.GetString();
    case Json::Kind::kNumber:
      return a.GetString() == b.GetString() ||
             Canonicalize(a.GetString()) == Canonicalize(b.GetString());
    case Json::Kind::kArray: {
      const Json::Array& x = a.Items();
      const Json::Array& y = b.Items();
      if (x.size() != y.size())
        return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!JsonValuesEqual(x[i], y[i]))
          return false;
      }
      return true;
    }
    case Json::Kind::kObject: {
      if (a.Members().size() != b.Members().size())
        return false;
      for (const auto& [key, value] : a.Members()) {
        const Json* other = b.Find(key);
        if (other == nullptr || !JsonValuesEqual(value, *other))
          return false;
      }
      return true;
    }
  }
  return false;
}

core::Status ApplyJsonPatch(Json& document, const Json& patch) {
  if (!patch.IsArray()) {
    return Error::BadRequest("JSON Patch document must be a JSON array of operations");
  }
  Json working = document;
  size_t copy_budget = kCopyBudgetBytes;
  for (size_t i = 0; i < patch.Items().size(); ++i) {
    MA_RETURN_IF_ERROR(ApplyOne(working, patch.Items()[i], i, copy_budget));
  }
  document = std::move(working);
  return core::Ok{};
}

}  // namespace medalliance::fhir
