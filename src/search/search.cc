#include "search/search.h"

#include <charconv>

#include "core/time.h"
#include "store/sql/schema.h"

namespace medalliance::search {

using core::Error;
using core::Result;
using fhir::Json;
using store::IndexEntry;
using store::IndexKind;

namespace {

// Splits a parameter value on unescaped commas (OR) and unescapes "\," "\|" "\$" "\\".
std::vector<std::string> SplitOr(std::string_view value) {
  std::vector<std::string> parts(1);
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (c == '\\' && i + 1 < value.size()) {
      parts.back().push_back(value[++i]);
    } else if (c == ',') {
      parts.emplace_back();
    } else {
      parts.back().push_back(c);
    }
  }
  return parts;
}

void AddCodings(const Json* codings, std::string_view param, std::vector<IndexEntry>& out) {
  if (codings == nullptr || !codings->IsArray()) return;
  for (const Json& coding : codings->Items()) {
    std::string_view code = coding.GetStringMember("code");
    if (code.empty()) continue;
    IndexEntry entry;
    entry.param = std::string(param);
    entry.kind = IndexKind::kToken;
    entry.system = std::string(coding.GetStringMember("system"));
    entry.value = std::string(code);
    out.push_back(std::move(entry));
  }
}

struct Condition {
  std::string sql;
  std::vector<store::SqlValue> params;
};

// The date comparison of an instant column against the range of a FHIR date value.
Result<Condition> DateCondition(std::string_view column, std::string_view name,
                                std::string_view value) {
  std::string_view prefix = "eq";
  if (value.size() >= 2 && std::isalpha(static_cast<unsigned char>(value[0])) &&
      std::isalpha(static_cast<unsigned char>(value[1]))) {
    prefix = value.substr(0, 2);
    value.remove_prefix(2);
  }
  Result<core::DateRange> range = core::ParseFhirDateTime(value);
  if (!range) {
    return Error::BadRequest("invalid value for " + std::string(name) + ": " +
                                 range.error().GetMessage(),
                             std::string(name));
  }
  std::string c(column);
  Condition condition;
  if (prefix == "eq" || prefix == "ap") {
    condition.sql = "(" + c + " >= ? AND " + c + " < ?)";
    condition.params = {range->low, range->high};
  } else if (prefix == "ne") {
    condition.sql = "(" + c + " < ? OR " + c + " >= ?)";
    condition.params = {range->low, range->high};
  } else if (prefix == "gt" || prefix == "sa") {
    condition.sql = c + " >= ?";
    condition.params = {range->high};
  } else if (prefix == "ge") {
    condition.sql = c + " >= ?";
    condition.params = {range->low};
  } else if (prefix == "lt" || prefix == "eb") {
    condition.sql = c + " < ?";
    condition.params = {range->low};
  } else if (prefix == "le") {
    condition.sql = c + " < ?";
    condition.params = {range->high};
  } else {
    return Error::BadRequest("unknown prefix '" + std::string(prefix) + "' in " +
                                 std::string(name),
                             std::string(name));
  }
  return condition;
}

Result<int> ParseNonNegative(std::string_view name, std::string_view value) {
  int number = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
  if (ec != std::errc() || end != value.data() + value.size() || number < 0) {
    return Error::BadRequest(std::string(name) + " must be a non-negative integer, not '" +
                                 std::string(value) + "'",
                             std::string(name));
  }
  return number;
}

}  // namespace

std::vector<IndexEntry> Searcher::Index(const Json& resource) const {
  std::vector<IndexEntry> out;
  if (const Json* identifiers = resource.Find("identifier")) {
    auto add = [&](const Json& identifier) {
      std::string_view value = identifier.GetStringMember("value");
      if (value.empty()) return;
      IndexEntry entry;
      entry.param = "identifier";
      entry.kind = IndexKind::kToken;
      entry.system = std::string(identifier.GetStringMember("system"));
      entry.value = std::string(value);
      out.push_back(std::move(entry));
    };
    if (identifiers->IsArray()) {
      for (const Json& identifier : identifiers->Items()) add(identifier);
    } else if (identifiers->IsObject()) {
      add(*identifiers);
    }
  }
  if (const Json* meta = resource.Find("meta")) {
    AddCodings(meta->Find("tag"), "_tag", out);
    AddCodings(meta->Find("security"), "_security", out);
    if (const Json* profiles = meta->Find("profile"); profiles != nullptr && profiles->IsArray()) {
      for (const Json& profile : profiles->Items()) {
        if (!profile.IsString()) continue;
        IndexEntry entry;
        entry.param = "_profile";
        entry.kind = IndexKind::kUri;
        entry.value = profile.GetString();
        out.push_back(std::move(entry));
      }
    }
  }
  return out;
}

Result<SearchPage> Searcher::Search(store::ReadTx& tx, const SearchRequest& request) const {
  SearchPage page;
  page.count = request.default_count;
  std::string where = "c.type = ? AND c.deleted = 0";
  std::vector<store::SqlValue> params = {request.type};
  bool want_total = false;

  for (const auto& [raw_name, value] : request.params) {
    std::string_view name = raw_name;
    std::string_view modifier;
    if (size_t colon = name.find(':'); colon != std::string_view::npos) {
      modifier = name.substr(colon + 1);
      name = name.substr(0, colon);
    }
    if (name == "_count") {
      MA_ASSIGN_OR_RETURN(int count, ParseNonNegative(name, value));
      page.count = std::min(count, request.max_count);
      continue;
    }
    if (name == "_offset") {
      MA_ASSIGN_OR_RETURN(page.offset, ParseNonNegative(name, value));
      continue;
    }
    if (name == "_total") {
      if (value != "none" && value != "estimate" && value != "accurate") {
        return Error::BadRequest("_total must be none, estimate or accurate", "_total");
      }
      want_total = value != "none";
      page.applied.emplace_back(raw_name, value);
      continue;
    }
    if (name == "_format" || name == "_pretty") continue;
    if (!modifier.empty() && !(name == "identifier" || name == "_tag" || name == "_security")) {
      if (request.strict) {
        return Error::BadRequest("modifier '" + std::string(modifier) + "' on '" +
                                     std::string(name) + "' is not supported",
                                 raw_name);
      }
      page.ignored.push_back(raw_name);
      continue;
    }
    if (name == "_id") {
      std::vector<std::string> ids = SplitOr(value);
      std::string in;
      for (std::string& id : ids) {
        in += in.empty() ? "?" : ", ?";
        params.emplace_back(std::move(id));
      }
      where += " AND c.id IN (" + in + ")";
    } else if (name == "_lastUpdated") {
      MA_ASSIGN_OR_RETURN(Condition condition, DateCondition("r.last_updated", name, value));
      where += " AND " + condition.sql;
      params.insert(params.end(), condition.params.begin(), condition.params.end());
    } else if (name == "identifier" || name == "_tag" || name == "_security") {
      if (!modifier.empty() && modifier != "not") {
        if (request.strict) {
          return Error::BadRequest("modifier ':" + std::string(modifier) + "' is not supported",
                                   raw_name);
        }
        page.ignored.push_back(raw_name);
        continue;
      }
      std::string any;
      for (const std::string& part : SplitOr(value)) {
        std::string clause = "(t.value = ?";
        size_t bar = part.find('|');
        if (bar == std::string::npos) {
          params.emplace_back(part);
        } else {
          std::string system = part.substr(0, bar);
          std::string code = part.substr(bar + 1);
          if (code.empty()) {
            clause = "(t.system = ?";
            params.emplace_back(system);
          } else {
            params.emplace_back(code);
            clause += " AND t.system = ?";
            params.emplace_back(system);
          }
        }
        clause += ")";
        any += any.empty() ? clause : " OR " + clause;
      }
      std::string exists = "EXISTS (SELECT 1 FROM " + std::string(store::sql::kTokenIndexTable) +
                           " t WHERE t.type = c.type AND t.id = c.id AND t.param = '" +
                           std::string(name) + "' AND (" + any + "))";
      where += modifier == "not" ? " AND NOT " + exists : " AND " + exists;
    } else if (name == "_profile") {
      std::string any;
      for (std::string& part : SplitOr(value)) {
        any += any.empty() ? "u.value = ?" : " OR u.value = ?";
        params.emplace_back(std::move(part));
      }
      where += " AND EXISTS (SELECT 1 FROM " + std::string(store::sql::kUriIndexTable) +
               " u WHERE u.type = c.type AND u.id = c.id AND u.param = '_profile' AND (" + any +
               "))";
    } else {
      if (request.strict) {
        return Error::BadRequest("unknown or unsupported search parameter '" + raw_name + "'",
                                 raw_name);
      }
      page.ignored.push_back(raw_name);
      continue;
    }
    page.applied.emplace_back(raw_name, value);
  }

  const store::Dialect& dialect = tx.GetDialect();
  auto number_placeholders = [&](const std::string& sql) {
    std::string out;
    int n = 0;
    for (char c : sql) {
      if (c == '?') {
        out += dialect.Placeholder(++n);
      } else {
        out.push_back(c);
      }
    }
    return out;
  };
  std::string from = " FROM " + std::string(store::sql::kCurrentTable) + " c JOIN " +
                     std::string(store::sql::kResourcesTable) +
                     " r ON r.sequence = c.sequence WHERE " + where;
  if (page.count > 0) {
    store::SqlQuery query;
    query.sql = number_placeholders("SELECT " + std::string(store::sql::kResourceColumns) + from +
                                    " ORDER BY r.sequence DESC LIMIT " +
                                    std::to_string(page.count + 1) + " OFFSET " +
                                    std::to_string(page.offset));
    query.params = params;
    MA_ASSIGN_OR_RETURN(page.matches, tx.QueryResources(query));
    if (page.matches.size() > static_cast<size_t>(page.count)) {
      page.has_more = true;
      page.matches.resize(static_cast<size_t>(page.count));
    }
  }
  if (want_total || page.count == 0) {
    store::SqlQuery query;
    query.sql = number_placeholders("SELECT COUNT(*)" + from);
    query.params = std::move(params);
    MA_ASSIGN_OR_RETURN(int64_t total, tx.QueryCount(query));
    page.total = total;
  } else if (!page.has_more) {
    page.total = page.offset + static_cast<int64_t>(page.matches.size());
  }
  return page;
}

}  // namespace medalliance::search
