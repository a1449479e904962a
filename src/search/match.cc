#include "search/match.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "core/percent.h"
#include "core/time.h"
#include "fhir/r4/definitions.h"
#include "search/internal/decimal.h"
#include "search/internal/extract.h"
#include "search/internal/text.h"

namespace medalliance::search {

namespace r4 = fhir::r4;
using core::Error;
using store::IndexEntry;
using store::IndexKind;

namespace {

Error Refuse(std::string_view name, const std::string& why) {
  return Error::BadRequest("subscription criteria: parameter '" + std::string(name) + "': " + why +
                           " / 订阅条件参数 '" + std::string(name) + "' 无法使用");
}

core::Result<std::string> PercentDecode(std::string_view text) {
  std::optional<std::string> decoded = core::PercentDecode(text);
  if (!decoded)
    return Error::BadRequest("subscription criteria: malformed percent-encoding");
  return *std::move(decoded);
}

// Splits on `separator` not preceded by a backslash; the pieces keep their escapes.
std::vector<std::string> SplitUnescaped(std::string_view text, char separator) {
  std::vector<std::string> out(1);
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) {
      out.back().push_back(text[i]);
      out.back().push_back(text[++i]);
    } else if (text[i] == separator) {
      out.emplace_back();
    } else {
      out.back().push_back(text[i]);
    }
  }
  return out;
}

std::string Unescape(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size())
      ++i;
    out.push_back(text[i]);
  }
  return out;
}

core::Result<std::pair<std::string, std::string>> SplitPrefix(std::string_view name,
                                                              std::string_view value) {
  if (!value.empty() && std::isalpha(static_cast<unsigned char>(value[0]))) {
    std::string prefix(value.substr(0, 2));
    static constexpr std::string_view kPrefixes[] = {"eq", "ne", "gt", "lt",
                                                     "ge", "le", "sa", "eb"};
    if (std::find(std::begin(kPrefixes), std::end(kPrefixes), prefix) == std::end(kPrefixes))
      return Refuse(name, "unsupported prefix '" + prefix + "'");
    return std::pair{prefix, std::string(value.substr(2))};
  }
  return std::pair{std::string("eq"), std::string(value)};
}

core::Status ParseDecimal(std::string_view name, std::string_view text, MatchCriteria::Value& out) {
  std::optional<internal::SearchDecimal> decimal = internal::ParseSearchDecimal(text);
  if (!decimal)
    return Refuse(name, "'" + std::string(text) + "' is not a number");
  out.number = decimal->value;
  out.half = decimal->half;
  return {};
}

bool NumberMatches(const MatchCriteria::Value& v, double x) {
  const std::string& p = v.prefix;
  if (p == "eq")
    return x >= v.number - v.half && x < v.number + v.half;
  if (p == "ne")
    return x < v.number - v.half || x >= v.number + v.half;
  if (p == "gt" || p == "sa")
    return x > v.number;
  if (p == "lt" || p == "eb")
    return x < v.number;
  if (p == "ge")
    return x >= v.number;
  return x <= v.number;  // le
}

// Range semantics as the planner: the row holds [low, high), the value [v.low, v.high).
bool DateMatches(const MatchCriteria::Value& v, int64_t low, int64_t high) {
  const std::string& p = v.prefix;
  if (p == "eq")
    return low >= v.low && high <= v.high;
  if (p == "ne")
    return low < v.low || high > v.high;
  if (p == "gt")
    return high > v.high;
  if (p == "lt")
    return low < v.low;
  if (p == "ge")
    return high > v.low;
  if (p == "le")
    return low < v.high;
  if (p == "sa")
    return low >= v.high;
  return high <= v.low;  // eb
}

bool ValueMatches(const MatchCriteria::Condition& c, const MatchCriteria::Value& v,
                  const IndexEntry& row) {
  switch (static_cast<r4::SearchParamType>(c.kind)) {
    case r4::SearchParamType::kToken:
      if (row.kind != IndexKind::kToken)
        return false;
      if (!v.system.has_value())
        return row.value == v.text;
      if (v.text.empty())
        return row.system == *v.system;
      return row.value == v.text && row.system == *v.system;
    case r4::SearchParamType::kString:
      if (row.kind != IndexKind::kString)
        return false;
      if (c.modifier == "exact")
        return row.raw == v.text;
      if (v.substring)
        return row.value.find(v.text) != std::string::npos;
      return row.value.starts_with(v.text);
    case r4::SearchParamType::kReference:
      if (row.kind != IndexKind::kReference)
        return false;
      if (!v.bare_id.empty()) {
        return row.value.size() > v.bare_id.size() && row.value.ends_with(v.bare_id) &&
               row.value[row.value.size() - v.bare_id.size() - 1] == '/';
      }
      return std::find(v.references.begin(), v.references.end(), row.value) != v.references.end();
    case r4::SearchParamType::kDate:
      return row.kind == IndexKind::kDate && DateMatches(v, row.low, row.high);
    case r4::SearchParamType::kNumber:
      return row.kind == IndexKind::kNumber && NumberMatches(v, row.number);
    case r4::SearchParamType::kQuantity:
      if (row.kind != IndexKind::kQuantity || !NumberMatches(v, row.number))
        return false;
      if (v.system.has_value() && !v.system->empty() && row.system != *v.system)
        return false;
      if (!v.text.empty()) {
        if (v.system.has_value() && !v.system->empty())
          return row.value == v.text;
        return row.value == v.text || row.raw == v.text;
      }
      return true;
    case r4::SearchParamType::kUri:
      return row.kind == IndexKind::kUri && row.value == v.text;
    default:
      return false;
  }
}

core::Status ParseValue(std::string_view name, const r4::SearchParamDefinition& def,
                        MatchCriteria::Condition& c, std::string_view escaped) {
  MatchCriteria::Value v;
  switch (def.type) {
    case r4::SearchParamType::kToken: {
      std::vector<std::string> parts = SplitUnescaped(escaped, '|');
      if (parts.size() == 1) {
        v.text = Unescape(parts[0]);
      } else {
        v.system = Unescape(parts[0]);
        std::string rest;
        for (size_t i = 1; i < parts.size(); ++i) rest += (i > 1 ? "|" : "") + parts[i];
        v.text = Unescape(rest);
      }
      break;
    }
    case r4::SearchParamType::kString: {
      std::string raw = Unescape(escaped);
      if (c.modifier == "exact") {
        v.text = raw;
      } else {
        v.text = internal::FoldText(raw);
        v.substring = c.modifier == "contains" || internal::HasCjk(v.text);
      }
      break;
    }
    case r4::SearchParamType::kReference: {
      std::string part = Unescape(escaped);
      if (part.empty())
        return Refuse(name, "empty reference");
      if (!c.modifier.empty()) {
        if (part.find('/') == std::string::npos)
          part = c.modifier + "/" + part;
        v.references.push_back(internal::NormaliseReference(part));
      } else if (part.find('/') == std::string::npos && part.find(':') == std::string::npos) {
        if (def.target_types.empty())
          v.bare_id = part;
        for (std::string_view target : def.target_types)
          v.references.push_back(std::string(target) + "/" + part);
      } else {
        std::string normalised = internal::NormaliseReference(part);
        v.references.push_back(normalised);
        // An absolute reference "<base>/Type/id" also matches the relative "Type/id".
        size_t last = normalised.rfind('/');
        if (normalised.find("://") != std::string::npos && last != std::string::npos) {
          size_t previous = normalised.rfind('/', last - 1);
          if (previous != std::string::npos)
            v.references.push_back(normalised.substr(previous + 1));
        }
      }
      break;
    }
    case r4::SearchParamType::kDate: {
      MA_ASSIGN_OR_RETURN(auto prefixed, SplitPrefix(name, escaped));
      core::Result<core::DateRange> range = core::ParseFhirDateTime(prefixed.second);
      if (!range)
        return Refuse(name, range.error().GetMessage());
      v.prefix = prefixed.first;
      v.low = range->low;
      v.high = range->high;
      break;
    }
    case r4::SearchParamType::kNumber: {
      MA_ASSIGN_OR_RETURN(auto prefixed, SplitPrefix(name, escaped));
      v.prefix = prefixed.first;
      MA_RETURN_IF_ERROR(ParseDecimal(name, prefixed.second, v));
      break;
    }
    case r4::SearchParamType::kQuantity: {
      std::vector<std::string> pieces = SplitUnescaped(escaped, '|');
      if (pieces.size() != 1 && pieces.size() != 3)
        return Refuse(name, "expected number, number|system|code or number||code");
      MA_ASSIGN_OR_RETURN(auto prefixed, SplitPrefix(name, pieces[0]));
      v.prefix = prefixed.first;
      MA_RETURN_IF_ERROR(ParseDecimal(name, prefixed.second, v));
      if (pieces.size() == 3) {
        v.system = Unescape(pieces[1]);
        v.text = Unescape(pieces[2]);
      }
      break;
    }
    case r4::SearchParamType::kUri:
      v.text = Unescape(escaped);
      break;
    default:
      return Refuse(name, "parameter type '" + std::string(def.type_name) + "' is not supported");
  }
  c.values.push_back(std::move(v));
  return {};
}

bool ModifierAllowed(r4::SearchParamType type, const std::string& modifier) {
  if (modifier.empty() || modifier == "missing")
    return true;
  switch (type) {
    case r4::SearchParamType::kToken:
      return modifier == "not";
    case r4::SearchParamType::kString:
      return modifier == "exact" || modifier == "contains";
    case r4::SearchParamType::kReference:
      return r4::IsResourceType(modifier);
    default:
      return false;
  }
}

}  // namespace

core::Result<MatchCriteria> MatchCriteria::Parse(std::string_view criteria) {
  MatchCriteria out;
  size_t question = criteria.find('?');
  out.type_ = std::string(criteria.substr(0, question));
  if (!r4::IsResourceType(out.type_)) {
    return Error::BadRequest("subscription criteria must start with a resource type, not '" +
                             out.type_ + "' / 订阅条件必须以资源类型开头");
  }
  if (question == std::string_view::npos)
    return out;
  std::string_view query = criteria.substr(question + 1);
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty())
      continue;
    size_t equals = pair.find('=');
    if (equals == std::string_view::npos)
      return Refuse(pair, "expected name=value");
    MA_ASSIGN_OR_RETURN(std::string name, PercentDecode(pair.substr(0, equals)));
    MA_ASSIGN_OR_RETURN(std::string value, PercentDecode(pair.substr(equals + 1)));
    if (name.find('.') != std::string::npos || name.starts_with("_has"))
      return Refuse(name, "chained and reverse-chained parameters are not supported");
    Condition c;
    size_t colon = name.find(':');
    c.code = name.substr(0, colon);
    if (colon != std::string::npos)
      c.modifier = name.substr(colon + 1);
    if (c.code == "_id") {
      if (!c.modifier.empty())
        return Refuse(name, "no modifier is supported on _id");
      c.kind = -1;
      for (const std::string& part : SplitUnescaped(value, ',')) {
        Value v;
        v.text = Unescape(part);
        c.values.push_back(std::move(v));
      }
      out.conditions_.push_back(std::move(c));
      continue;
    }
    const r4::SearchParamDefinition* def = r4::FindSearchParam(out.type_, c.code);
    const internal::ParamPlan* plan = internal::Extractor::Get().Find(out.type_, c.code);
    if (def == nullptr || plan == nullptr) {
      return Refuse(name, "not a search parameter of " + out.type_ +
                              " that can be matched (_lastUpdated, _text, _content, result "
                              "parameters and special parameters are not)");
    }
    if (def->type == r4::SearchParamType::kComposite ||
        def->type == r4::SearchParamType::kSpecial) {
      return Refuse(name, "composite and special parameters are not supported");
    }
    if (!ModifierAllowed(def->type, c.modifier))
      return Refuse(name, "modifier ':" + c.modifier + "' is not supported here");
    c.kind = static_cast<int>(def->type);
    if (c.modifier == "missing") {
      if (value != "true" && value != "false")
        return Refuse(name, "expected true or false");
      c.missing = value == "true";
    } else {
      for (const std::string& part : SplitUnescaped(value, ','))
        MA_RETURN_IF_ERROR(ParseValue(name, *def, c, part));
    }
    out.conditions_.push_back(std::move(c));
  }
  return out;
}

bool MatchCriteria::Matches(std::string_view id, const std::vector<IndexEntry>& rows) const {
  for (const Condition& c : conditions_) {
    if (c.kind == -1) {
      bool any = std::any_of(c.values.begin(), c.values.end(),
                             [&](const Value& v) { return v.text == id; });
      if (!any)
        return false;
      continue;
    }
    if (c.modifier == "missing") {
      bool present = std::any_of(rows.begin(), rows.end(),
                                 [&](const IndexEntry& row) { return row.param == c.code; });
      if (present == c.missing)
        return false;
      continue;
    }
    bool any = false;
    for (const IndexEntry& row : rows) {
      if (row.param != c.code)
        continue;
      for (const Value& v : c.values) {
        if (ValueMatches(c, v, row)) {
          any = true;
          break;
        }
      }
      if (any)
        break;
    }
    // :not matches the resources without any row equal to a value (as search does).
    if (any == (c.modifier == "not"))
      return false;
  }
  return true;
}

std::vector<IndexEntry> IndexForMatch(const fhir::Json& resource) {
  return internal::Extractor::Get().Index(resource);
}

}  // namespace medalliance::search
