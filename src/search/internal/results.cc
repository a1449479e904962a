#include "search/internal/results.h"

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <limits>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "core/base64.h"
#include "fhir/r4/definitions.h"
#include "search/internal/planner.h"
#include "search/internal/text.h"
#include "store/sql/schema.h"

namespace medalliance::search::internal {

namespace r4 = fhir::r4;
using core::Error;
using core::Result;
using fhir::Json;
using store::IndexEntry;
using store::SqlValue;
using store::StoredResource;

namespace {

constexpr size_t kChunk = 400;  // ids per IN list
constexpr int kMaxIterations = 8;

const std::string& TextSentinel() {
  static const std::string kHigh = PrefixUpperBound("");
  return kHigh;
}

// `driver`: an index table whose rows (alias d, filtered in the WHERE clause) drive the
// query in id order (ResultOptions::driver_table).
std::string From(std::string_view driver) {
  std::string from = " FROM ";
  if (!driver.empty()) {
    from += driver;
    from += " d JOIN current_resources c ON c.type = d.type AND c.id = d.id";
  } else {
    from += "current_resources c";
  }
  return from;
}

Fragment Select(std::string_view driver = {}) {
  Fragment f;
  f.Text("SELECT ").Text(store::sql::kResourceColumns);
  f.Text(From(driver)).Text(" JOIN resources r ON r.sequence = c.sequence");
  return f;
}

// ---- cursor encoding: base64url(JSON) ----

struct Cursor {
  bool backward = false;
  std::vector<SqlValue> keys;  // one per sort key, then the id (or type, id)
};

Json ValueToJson(const SqlValue& value) {
  if (const auto* i = std::get_if<int64_t>(&value))
    return Json::MakeNumber(*i);
  if (const auto* d = std::get_if<double>(&value)) {
    char buffer[64];
    std::snprintf(buffer, sizeof(buffer), "%.17g", *d);
    Json object = Json::MakeObject();
    object.Set("r", Json::MakeString(buffer));
    return object;
  }
  if (const auto* s = std::get_if<std::string>(&value))
    return Json::MakeString(*s);
  return Json();
}

std::string EncodeCursor(const Cursor& cursor) {
  Json array = Json::MakeArray();
  array.PushBack(Json::MakeString(cursor.backward ? "b" : "f"));
  for (const SqlValue& key : cursor.keys) array.PushBack(ValueToJson(key));
  return core::Base64Encode(fhir::WriteJson(array), core::Base64Alphabet::kUrl, false);
}

Result<Cursor> DecodeCursor(std::string_view text, size_t expected_keys) {
  Error bad = Error::BadRequest("malformed or outdated _cursor", "_cursor");
  std::optional<std::string> decoded = core::Base64Decode(text);
  if (!decoded)
    return bad;
  Result<Json> parsed = fhir::ParseJson(*decoded);
  if (!parsed || !parsed->IsArray() || parsed->Items().size() != expected_keys + 1)
    return bad;
  Cursor cursor;
  const Json::Array& items = parsed->Items();
  if (!items[0].IsString())
    return bad;
  cursor.backward = items[0].GetString() == "b";
  for (size_t i = 1; i < items.size(); ++i) {
    const Json& item = items[i];
    int64_t integer = 0;
    if (item.IsString()) {
      cursor.keys.emplace_back(item.GetString());
    } else if (item.IsNumber() && item.GetInt64(&integer)) {
      cursor.keys.emplace_back(integer);
    } else if (item.IsObject() && item.Find("r") != nullptr && item.Find("r")->IsString()) {
      cursor.keys.emplace_back(std::strtod(item.Find("r")->GetString().c_str(), nullptr));
    } else {
      return bad;
    }
  }
  return cursor;
}

// ---- sort keys ----

SqlValue Sentinel(const SortKey& key) {
  switch (key.value_type) {
    case SortKey::ValueType::kText:
      return key.descending ? std::string() : TextSentinel();
    case SortKey::ValueType::kInteger:
      return key.descending ? std::numeric_limits<int64_t>::min()
                            : std::numeric_limits<int64_t>::max();
    case SortKey::ValueType::kReal:
      return key.descending ? -1e308 : 1e308;
  }
  return std::monostate();
}

Fragment KeyExpression(const SortKey& key, std::string_view driver) {
  Fragment f;
  switch (key.kind) {
    case SortKey::Kind::kId:
      // The driver's id (equal to c.id) lets SQLite read the driver's index in id order.
      f.Text(driver.empty() ? "c.id" : "d.id");
      break;
    case SortKey::Kind::kLastUpdated:
      f.Text("r.last_updated");
      break;
    case SortKey::Kind::kIndex:
      // "+ 0" / "|| ''" keep SQLite from answering MIN/MAX from the value index (a scan of
      // every row of the parameter) instead of the resource's own rows.
      f.Text("COALESCE((SELECT ").Text(key.descending ? "MAX(s." : "MIN(s.").Text(key.column);
      f.Text(key.value_type == SortKey::ValueType::kText ? " || ''" : " + 0");
      f.Text(") FROM ").Text(key.table).Text(" s WHERE s.type = c.type AND s.id = c.id AND ");
      f.Append(ParamRows(*key.plan, "", "s")).Text("), ");
      f.Bind(Sentinel(key)).Text(")");
      break;
  }
  return f;
}

// The key values of a row, read with the SQL that sorts the page (KeyExpression): one index
// seek per key, where evaluating the search parameter on the parsed JSON cost about 50k
// instructions a cursor (Observation?patient=&_sort=-date).
Result<std::vector<SqlValue>> RowKeys(store::ReadTx& tx, const std::vector<SortKey>& keys,
                                      const StoredResource& row) {
  std::vector<SqlValue> out;
  Fragment query;
  for (const SortKey& key : keys) {
    switch (key.kind) {
      case SortKey::Kind::kId:
        out.emplace_back(row.id);
        continue;
      case SortKey::Kind::kLastUpdated:
        out.emplace_back(row.last_updated);
        continue;
      case SortKey::Kind::kIndex:
        out.emplace_back();  // filled from the query below
        break;
    }
    query.Text(query.Empty() ? "SELECT " : ", ");
    query.Text("COALESCE((SELECT ").Text(key.descending ? "MAX(s." : "MIN(s.").Text(key.column);
    query.Text(key.value_type == SortKey::ValueType::kText ? " || ''" : " + 0");
    query.Text(") FROM ").Text(key.table).Text(" s WHERE s.type = ").Bind(row.type);
    query.Text(" AND s.id = ").Bind(row.id).Text(" AND ");
    query.Append(ParamRows(*key.plan, "", "s")).Text("), ").Bind(Sentinel(key)).Text(")");
  }
  if (query.Empty())
    return out;
  MA_ASSIGN_OR_RETURN(std::vector<store::SqlRow> rows,
                      tx.QueryRows(Number(query, tx.GetDialect())));
  if (rows.size() != 1)
    return Error::Internal("sort keys: expected one row");
  size_t column = 0;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (keys[i].kind != SortKey::Kind::kIndex)
      continue;
    if (column >= rows[0].size())
      return Error::Internal("sort keys: missing column");
    out[i] = std::move(rows[0][column++]);
  }
  return out;
}

// (k1, k2, ...) after/before the cursor in the page order.
Fragment CursorCondition(const std::vector<Fragment>& expressions,
                         const std::vector<bool>& descending, const Cursor& cursor) {
  Fragment f;
  f.Text("(");
  for (size_t i = 0; i < expressions.size(); ++i) {
    if (i > 0)
      f.Text(" OR ");
    f.Text("(");
    for (size_t k = 0; k < i; ++k) {
      f.Append(expressions[k]).Text(" = ").Bind(cursor.keys[k]).Text(" AND ");
    }
    bool greater = descending[i] == cursor.backward;
    f.Append(expressions[i]).Text(greater ? " > " : " < ").Bind(cursor.keys[i]).Text(")");
  }
  f.Text(")");
  return f;
}

// The page query: rows matching `condition` (on c, and d for a driver table) ordered by the
// key expressions, `limit` rows from `offset`. In id order SQLite walks an index and stops at
// the limit; with other keys it sorts every match, so the sort runs on (sequence, keys) only
// and the page's resources are joined afterwards: sorting whole rows copied every candidate's
// JSON into the sorter (Observation?patient=&_sort=-date: about 20% of the query).
Fragment PageQuery(const std::vector<SortKey>& keys, const std::vector<Fragment>& expressions,
                   const std::vector<bool>& descending, bool backward, std::string_view driver,
                   const Fragment& condition, int64_t limit, std::optional<int64_t> offset) {
  const bool id_order = std::all_of(
      keys.begin(), keys.end(), [](const SortKey& key) { return key.kind == SortKey::Kind::kId; });
  auto order = [&](Fragment& query, bool aliases) {
    query.Text(" ORDER BY ");
    for (size_t i = 0; i < expressions.size(); ++i) {
      if (i > 0)
        query.Text(", ");
      if (aliases) {
        query.Text("p.k" + std::to_string(i));
      } else {
        query.Append(expressions[i]);
      }
      query.Text(descending[i] != backward ? " DESC" : " ASC");
    }
  };
  auto limits = [&](Fragment& query) {
    query.Text(" LIMIT ").Bind(limit);
    if (offset.has_value())
      query.Text(" OFFSET ").Bind(*offset);
  };
  if (id_order) {
    Fragment query = Select(driver);
    query.Text(" WHERE ").Append(condition);
    order(query, false);
    limits(query);
    return query;
  }
  const bool uses_resource = std::any_of(keys.begin(), keys.end(), [](const SortKey& key) {
    return key.kind == SortKey::Kind::kLastUpdated;
  });
  Fragment query;
  query.Text("SELECT ").Text(store::sql::kResourceColumns).Text(" FROM (SELECT c.sequence AS seq");
  for (size_t i = 0; i < expressions.size(); ++i) {
    query.Text(", ").Append(expressions[i]).Text(" AS k" + std::to_string(i));
  }
  query.Text(From(driver));
  if (uses_resource)
    query.Text(" JOIN resources r ON r.sequence = c.sequence");
  query.Text(" WHERE ").Append(condition);
  query.Text(" ORDER BY ");
  for (size_t i = 0; i < expressions.size(); ++i) {
    query.Text(i > 0 ? ", k" : "k").Text(std::to_string(i));
    query.Text(descending[i] != backward ? " DESC" : " ASC");
  }
  limits(query);
  query.Text(") p JOIN resources r ON r.sequence = p.seq");
  order(query, true);
  return query;
}

// ---- visibility (access control) ----

// Keeps the rows `visible` accepts, in order.
core::Status KeepVisible(store::ReadTx& tx, const VisibilityPredicate& visible,
                         std::vector<StoredResource>& rows) {
  if (!visible)
    return {};
  // In place: nothing moves while every row is visible (the common case).
  size_t kept = 0;
  for (size_t at = 0; at < rows.size(); ++at) {
    MA_ASSIGN_OR_RETURN(bool ok, visible(tx, rows[at]));
    if (!ok)
      continue;
    if (kept != at)
      rows[kept] = std::move(rows[at]);
    ++kept;
  }
  rows.resize(kept);
  return {};
}

// The number of visible rows matching `where` (which may use c and r), read in id order in
// chunks: a total must not count what the caller may not see.
Result<int64_t> CountVisible(store::ReadTx& tx, const Fragment& where, std::string_view driver,
                             const VisibilityPredicate& visible) {
  constexpr int64_t kBatch = 1000;
  int64_t total = 0;
  std::optional<std::pair<std::string, std::string>> after;
  for (;;) {
    Fragment query = Select(driver);
    query.Text(" WHERE ").Append(where);
    if (after) {
      query.Text(" AND (c.type, c.id) > (").Bind(after->first).Text(", ");
      query.Bind(after->second).Text(")");
    }
    query.Text(" ORDER BY c.type, c.id LIMIT ").Bind(kBatch);
    MA_ASSIGN_OR_RETURN(std::vector<StoredResource> rows,
                        tx.QueryResources(Number(query, tx.GetDialect())));
    for (const StoredResource& row : rows) {
      MA_ASSIGN_OR_RETURN(bool ok, visible(tx, row));
      if (ok)
        ++total;
    }
    if (static_cast<int64_t>(rows.size()) < kBatch)
      return total;
    after.emplace(rows.back().type, rows.back().id);
  }
}

// Runs `make(position, limit)` until `need` visible rows are collected (skipping the first
// `skip` visible ones) or the rows run out; `next(row)` is the position after a row. Without
// a predicate this is one query. Pages are refilled so that hidden rows never shorten a page
// nor reveal themselves through has_more.
template <typename Make, typename Next>
Result<std::vector<StoredResource>> FetchVisible(store::ReadTx& tx,
                                                 const VisibilityPredicate& visible,
                                                 std::optional<Cursor> position, size_t need,
                                                 size_t skip, const Make& make, const Next& next) {
  std::vector<StoredResource> kept;
  int64_t limit = static_cast<int64_t>(need + skip);
  for (;;) {
    MA_ASSIGN_OR_RETURN(std::vector<StoredResource> rows,
                        tx.QueryResources(Number(make(position, limit), tx.GetDialect())));
    bool exhausted = static_cast<int64_t>(rows.size()) < limit;
    std::optional<Cursor> after;
    if (!exhausted) {
      MA_ASSIGN_OR_RETURN(Cursor position_after, next(rows.back()));
      after = std::move(position_after);
    }
    // The visible rows are compacted in place (nothing moves while every row is visible, the
    // common case), then taken whole by the first batch or appended by later ones.
    size_t visible_rows = 0;
    bool full = false;
    for (size_t at = 0; at < rows.size(); ++at) {
      MA_ASSIGN_OR_RETURN(bool ok, visible(tx, rows[at]));
      if (!ok)
        continue;
      if (skip > 0) {
        --skip;
        continue;
      }
      if (visible_rows != at)
        rows[visible_rows] = std::move(rows[at]);
      ++visible_rows;
      if (kept.size() + visible_rows == need) {
        full = true;
        break;
      }
    }
    rows.resize(visible_rows);
    if (kept.empty()) {
      kept = std::move(rows);
    } else {
      kept.insert(kept.end(), std::make_move_iterator(rows.begin()),
                  std::make_move_iterator(rows.end()));
    }
    if (full || exhausted)
      return kept;
    position = std::move(after);
    limit = std::min<int64_t>(limit * 2, 4096);
  }
}

// ---- includes ----

std::string RefKey(const StoredResource& r) {
  return r.type + "/" + r.id;
}

core::Status FetchByIds(store::ReadTx& tx, const std::string& type,
                        const std::vector<std::string>& ids, std::vector<StoredResource>& out) {
  for (size_t start = 0; start < ids.size(); start += kChunk) {
    Fragment f = Select();
    f.Text(" WHERE c.type = ").Bind(type).Text(" AND c.deleted = 0 AND c.id IN (");
    for (size_t i = start; i < std::min(ids.size(), start + kChunk); ++i) {
      if (i > start)
        f.Text(", ");
      f.Bind(ids[i]);
    }
    f.Text(")");
    MA_ASSIGN_OR_RETURN(std::vector<StoredResource> rows,
                        tx.QueryResources(Number(f, tx.GetDialect())));
    out.insert(out.end(), std::make_move_iterator(rows.begin()),
               std::make_move_iterator(rows.end()));
  }
  return {};
}

std::string StripBase(std::string_view value, const std::string& base_url) {
  if (!base_url.empty() && value.starts_with(base_url) && value.size() > base_url.size() &&
      value[base_url.size()] == '/') {
    value.remove_prefix(base_url.size() + 1);
  }
  return std::string(value);
}

// _include of a named parameter with known target types (the spec's target, or the
// parameter's): read from the index rows of the sources (their stored references) rather than
// by parsing each source's JSON; nullopt for `*` and parameters that may target any type.
std::optional<std::vector<std::string>> IncludeTargets(const IncludeSpec& spec) {
  constexpr size_t kMaxTargets = 8;
  if (spec.param.empty())
    return std::nullopt;
  const ParamPlan* plan = Extractor::Get().Find(spec.source_type, spec.param);
  if (plan == nullptr || plan->definition->type != r4::SearchParamType::kReference)
    return std::nullopt;
  const std::vector<std::string_view>& types = plan->definition->target_types;
  if (!spec.target.empty()) {
    if (!types.empty() && std::find(types.begin(), types.end(), spec.target) == types.end())
      return std::vector<std::string>();  // the parameter never refers to that type
    return std::vector<std::string>{spec.target};
  }
  if (types.empty() || types.size() > kMaxTargets)
    return std::nullopt;
  return std::vector<std::string>(types.begin(), types.end());
}

constexpr size_t kIncludeChunk = 100;  // source ids per include query

// The resources that the rows of `param` of the sources `ids` (of `source_type`) refer to, for
// each target type: relative "T/id" and absolute "<base_url>/T/id" references (the JSON path
// kept exactly those, with one '/' after the type).
Fragment IncludeQuery(const std::string& source_type, const std::string& param,
                      const std::vector<std::string>& targets, const std::vector<std::string>& ids,
                      const std::string& base_url) {
  // One SELECT per target type: `(c.type, c.id) IN (...)` made SQLite scan current_resources.
  Fragment f;
  for (const std::string& target : targets) {
    if (!f.Empty())
      f.Text(" UNION ALL ");
    f.Append(Select()).Text(" WHERE c.type = ").Bind(target);
    f.Text(" AND c.deleted = 0 AND c.id IN (");
    std::vector<std::string> prefixes = {target + "/"};
    if (!base_url.empty())
      prefixes.push_back(base_url + "/" + target + "/");
    for (size_t p = 0; p < prefixes.size(); ++p) {
      f.Text(p == 0 ? "SELECT substr(x.value, " : " UNION ALL SELECT substr(x.value, ");
      f.Bind(static_cast<int64_t>(prefixes[p].size() + 1)).Text(") FROM index_reference x WHERE ");
      f.Text("x.type = ").Bind(source_type).Text(" AND x.id IN (");
      for (size_t i = 0; i < ids.size(); ++i) f.Text(i == 0 ? "" : ", ").Bind(ids[i]);
      f.Text(") AND ").Append(ParamRowsIn(source_type, {param}));
      f.Text(" AND x.value > ").Bind(prefixes[p]).Text(" AND x.value < ");
      f.Bind(PrefixUpperBound(prefixes[p]));
    }
    f.Text(")");
  }
  if (f.Empty())
    f.Append(Select()).Text(" WHERE 0");
  return f;
}

core::Status ApplyIncludes(store::ReadTx& tx, const std::vector<const IncludeSpec*>& specs,
                           const std::vector<const StoredResource*>& sources,
                           const std::string& base_url, int budget,
                           std::unordered_set<std::string>& seen,
                           std::vector<StoredResource>& added) {
  for (const IncludeSpec* spec : specs) {
    if (static_cast<int>(added.size()) >= budget)
      break;
    if (!spec->reverse) {
      if (std::optional<std::vector<std::string>> targets = IncludeTargets(*spec)) {
        std::vector<std::string> ids;
        for (const StoredResource* source : sources) {
          if (source->type == spec->source_type)
            ids.push_back(source->id);
        }
        for (size_t start = 0; start < ids.size(); start += kIncludeChunk) {
          std::vector<std::string> chunk(ids.begin() + static_cast<std::ptrdiff_t>(start),
                                         ids.begin() + static_cast<std::ptrdiff_t>(std::min(
                                                           ids.size(), start + kIncludeChunk)));
          Fragment query = IncludeQuery(spec->source_type, spec->param, *targets, chunk, base_url);
          MA_ASSIGN_OR_RETURN(std::vector<StoredResource> rows,
                              tx.QueryResources(Number(query, tx.GetDialect())));
          for (StoredResource& row : rows) {
            if (seen.insert(RefKey(row)).second)
              added.push_back(std::move(row));
          }
        }
        continue;
      }
      std::map<std::string, std::vector<std::string>> wanted;  // type -> ids
      for (const StoredResource* source : sources) {
        if (source->type != spec->source_type)
          continue;
        Result<Json> json = fhir::ParseJson(source->json);
        if (!json)
          continue;
        std::vector<IndexEntry> entries;
        for (const ParamPlan& plan : Extractor::Get().Plans(source->type)) {
          if (plan.definition->type != r4::SearchParamType::kReference)
            continue;
          if (!spec->param.empty() && plan.definition->code != spec->param)
            continue;
          Extractor::Get().IndexParam(*json, plan, entries);
        }
        for (const IndexEntry& entry : entries) {
          if (entry.kind != store::IndexKind::kReference)
            continue;
          std::string reference = StripBase(entry.value, base_url);
          size_t slash = reference.find('/');
          if (slash == std::string::npos || reference.find('/', slash + 1) != std::string::npos) {
            continue;
          }
          std::string type = reference.substr(0, slash);
          if (!r4::IsResourceType(type))
            continue;
          if (!spec->target.empty() && type != spec->target)
            continue;
          if (!seen.insert(reference).second)
            continue;
          wanted[type].push_back(reference.substr(slash + 1));
        }
      }
      for (const auto& [type, ids] : wanted) {
        MA_RETURN_IF_ERROR(FetchByIds(tx, type, ids, added));
      }
    } else {
      std::vector<std::string> references;
      std::set<std::string_view> target_types;
      for (const StoredResource* source : sources) {
        if (!spec->target.empty() && source->type != spec->target)
          continue;
        references.push_back(RefKey(*source));
        if (!base_url.empty())  // the same reference written absolute with this server's base
          references.push_back(base_url + "/" + RefKey(*source));
        target_types.insert(source->type);
      }
      if (references.empty())
        continue;
      // `Type:param`, `Type:*` (every reference parameter of Type) or `*` (every type).
      std::vector<std::string_view> source_types;
      if (spec->source_type.empty()) {
        source_types = r4::ResourceTypeNames();
      } else {
        source_types.push_back(spec->source_type);
      }
      for (std::string_view source_type : source_types) {
        std::vector<std::string_view> params;
        if (spec->param.empty()) {
          // Stored reference parameters that may point at one of the matches' types.
          for (const ParamPlan& plan : Extractor::Get().Plans(source_type)) {
            const r4::SearchParamDefinition& def = *plan.definition;
            if (def.type != r4::SearchParamType::kReference ||
                plan.derivation != ParamPlan::Derivation::kNone) {
              continue;
            }
            bool may = def.target_types.empty();
            for (std::string_view t : def.target_types) may = may || target_types.contains(t);
            if (may)
              params.push_back(def.code);
          }
          if (params.empty())
            continue;
        } else {
          params.push_back(spec->param);
        }
        for (size_t start = 0; start < references.size(); start += kChunk) {
          if (static_cast<int>(added.size()) > budget)
            break;
          Fragment f = Select();
          f.Text(" WHERE c.type = ").Bind(std::string(source_type)).Text(" AND c.deleted = 0");
          f.Text(" AND c.id IN (SELECT x.id FROM index_reference x WHERE x.type = ");
          f.Bind(std::string(source_type)).Text(" AND ");
          f.Append(ParamRowsIn(source_type, params));
          f.Text(" AND x.value IN (");
          for (size_t i = start; i < std::min(references.size(), start + kChunk); ++i) {
            if (i > start)
              f.Text(", ");
            f.Bind(references[i]);
          }
          f.Text(")) LIMIT ").Bind(static_cast<int64_t>(budget + 1));
          MA_ASSIGN_OR_RETURN(std::vector<StoredResource> rows,
                              tx.QueryResources(Number(f, tx.GetDialect())));
          for (StoredResource& row : rows) {
            if (seen.insert(RefKey(row)).second)
              added.push_back(std::move(row));
          }
        }
      }
    }
  }
  return {};
}

core::Status RunIncludes(store::ReadTx& tx, const SearchRequest& request,
                         const ResultOptions& options, SearchPage& page) {
  if (options.includes.empty() || page.matches.empty())
    return {};
  std::unordered_set<std::string> seen;
  for (const StoredResource& match : page.matches) seen.insert(RefKey(match));
  std::vector<const IncludeSpec*> all;
  std::vector<const IncludeSpec*> iterating;
  for (const IncludeSpec& spec : options.includes) {
    all.push_back(&spec);
    if (spec.iterate)
      iterating.push_back(&spec);
  }
  std::vector<const StoredResource*> sources;
  for (const StoredResource& match : page.matches) sources.push_back(&match);
  std::vector<StoredResource> added;
  MA_RETURN_IF_ERROR(
      ApplyIncludes(tx, all, sources, request.base_url, request.max_includes, seen, added));
  // Hidden resources are dropped before they can lead :iterate anywhere.
  MA_RETURN_IF_ERROR(KeepVisible(tx, request.visible, added));
  size_t done = 0;
  for (int round = 0; round < kMaxIterations && !iterating.empty(); ++round) {
    if (added.size() == done || static_cast<int>(added.size()) >= request.max_includes)
      break;
    std::vector<StoredResource> fresh(added.begin() + static_cast<std::ptrdiff_t>(done),
                                      added.end());
    done = added.size();
    std::vector<const StoredResource*> next_sources;
    for (const StoredResource& r : fresh) next_sources.push_back(&r);
    std::vector<StoredResource> more;
    MA_RETURN_IF_ERROR(ApplyIncludes(tx, iterating, next_sources, request.base_url,
                                     request.max_includes - static_cast<int>(added.size()), seen,
                                     more));
    MA_RETURN_IF_ERROR(KeepVisible(tx, request.visible, more));
    added.insert(added.end(), std::make_move_iterator(more.begin()),
                 std::make_move_iterator(more.end()));
  }
  if (static_cast<int>(added.size()) > request.max_includes) {
    added.resize(static_cast<size_t>(request.max_includes));
    page.warnings.push_back("included resources were truncated at " +
                            std::to_string(request.max_includes));
  }
  page.includes = std::move(added);
  return {};
}

}  // namespace

core::Status ParseResultParameter(std::string_view type, const std::string& name,
                                  const std::string& value, ResultOptions& options) {
  std::string_view code = std::string_view(name).substr(0, name.find(':'));
  std::string_view modifier;
  if (size_t colon = name.find(':'); colon != std::string::npos) {
    modifier = std::string_view(name).substr(colon + 1);
  }
  if (code == "_sort") {
    options.sort.clear();
    for (std::string part : SplitUnescaped(value, ',')) {
      SortKey key;
      if (!part.empty() && part[0] == '-') {
        key.descending = true;
        part.erase(0, 1);
      }
      if (part == "_id") {
        key.kind = SortKey::Kind::kId;
      } else if (part == "_lastUpdated") {
        key.kind = SortKey::Kind::kLastUpdated;
        key.value_type = SortKey::ValueType::kInteger;
      } else {
        const ParamPlan* plan = Extractor::Get().Find(type, part);
        if (plan == nullptr) {
          return Error::BadRequest("_sort: unknown parameter '" + part + "'", "_sort");
        }
        key.kind = SortKey::Kind::kIndex;
        key.plan = plan;
        switch (plan->definition->type) {
          case r4::SearchParamType::kString:
            key.table = "index_string";
            key.column = "value";
            break;
          case r4::SearchParamType::kToken:
            key.table = "index_token";
            key.column = "value";
            break;
          case r4::SearchParamType::kReference:
            key.table = "index_reference";
            key.column = "value";
            break;
          case r4::SearchParamType::kUri:
            key.table = "index_uri";
            key.column = "value";
            break;
          case r4::SearchParamType::kDate:
            key.table = "index_date";
            key.column = "low";
            key.value_type = SortKey::ValueType::kInteger;
            break;
          case r4::SearchParamType::kNumber:
            key.table = "index_number";
            key.column = "number";
            key.value_type = SortKey::ValueType::kReal;
            break;
          case r4::SearchParamType::kQuantity:
            key.table = "index_quantity";
            key.column = "number";
            key.value_type = SortKey::ValueType::kReal;
            break;
          default:
            return Error::BadRequest("_sort: cannot sort by '" + part + "'", "_sort");
        }
      }
      options.sort.push_back(key);
      if (key.kind == SortKey::Kind::kId)
        break;  // ids are unique: later keys never apply
    }
    return {};
  }
  if (code == "_total") {
    if (value == "none") {
      options.total = ResultOptions::Total::kNone;
    } else if (value == "estimate") {
      options.total = ResultOptions::Total::kEstimate;
    } else if (value == "accurate") {
      options.total = ResultOptions::Total::kAccurate;
    } else {
      return Error::BadRequest("_total must be none, estimate or accurate", "_total");
    }
    return {};
  }
  if (code == "_summary") {
    static const std::map<std::string, ResultOptions::Summary, std::less<>> kModes = {
        {"true", ResultOptions::Summary::kTrue},
        {"false", ResultOptions::Summary::kFalse},
        {"text", ResultOptions::Summary::kText},
        {"data", ResultOptions::Summary::kData},
        {"count", ResultOptions::Summary::kCount}};
    auto it = kModes.find(value);
    if (it == kModes.end()) {
      return Error::BadRequest("_summary must be true, false, text, data or count", "_summary");
    }
    options.summary = it->second;
    return {};
  }
  if (code == "_elements") {
    for (std::string& element : SplitUnescaped(value, ',')) {
      size_t dot = element.find('.');  // "Patient.name" -> "name"
      if (dot != std::string::npos)
        element = element.substr(dot + 1);
      if (!element.empty())
        options.elements.push_back(std::move(element));
    }
    return {};
  }
  if (code == "_include" || code == "_revinclude") {
    IncludeSpec spec;
    spec.reverse = code == "_revinclude";
    if (!modifier.empty() && modifier != "iterate" && modifier != "recurse") {
      return Error::BadRequest("unknown modifier on " + name, name);
    }
    spec.iterate = !modifier.empty();
    if (value == "*") {
      // _include=*: every reference of the matches; _revinclude=*: every resource of any type
      // referencing a match (source_type left empty).
      if (!spec.reverse)
        spec.source_type = std::string(type);
      options.includes.push_back(std::move(spec));
      return {};
    }
    std::vector<std::string> parts = SplitUnescaped(value, ':');
    if (parts.size() < 2 || parts.size() > 3 || !r4::IsResourceType(parts[0])) {
      return Error::BadRequest("expected " + std::string(code) + "=Type:param[:target]", name);
    }
    spec.source_type = parts[0];
    if (parts[1] == "*") {
      spec.param.clear();
    } else {
      const r4::SearchParamDefinition* def = r4::FindSearchParam(parts[0], parts[1]);
      if (def == nullptr || def->type != r4::SearchParamType::kReference) {
        return Error::BadRequest(
            name + ": '" + parts[1] + "' is not a reference parameter of " + parts[0], name);
      }
      spec.param = parts[1];
    }
    if (parts.size() == 3) {
      if (!r4::IsResourceType(parts[2])) {
        return Error::BadRequest(name + ": unknown target type '" + parts[2] + "'", name);
      }
      spec.target = parts[2];
    }
    if (!spec.iterate && !spec.reverse && spec.source_type != type) {
      return Error::BadRequest(name + "=" + value + " does not start from " + std::string(type),
                               name);
    }
    options.includes.push_back(std::move(spec));
    return {};
  }
  return Error::BadRequest("unknown result parameter " + name, name);
}

core::Status RunPagedQuery(store::ReadTx& tx, const SearchRequest& request, const Fragment& where,
                           const ResultOptions& options,
                           const std::optional<std::string>& cursor_text, SearchPage& page) {
  std::vector<SortKey> keys = options.sort;
  if (keys.empty() || keys.back().kind != SortKey::Kind::kId) {
    keys.push_back(SortKey{});  // tie-break on the id, ascending
  }
  std::vector<Fragment> expressions;
  std::vector<bool> descending;
  for (const SortKey& key : keys) {
    expressions.push_back(KeyExpression(key, options.driver_table));
    descending.push_back(key.descending);
  }
  std::optional<Cursor> cursor;
  if (cursor_text.has_value()) {
    MA_ASSIGN_OR_RETURN(Cursor decoded, DecodeCursor(*cursor_text, keys.size()));
    cursor = std::move(decoded);
    page.cursor = *cursor_text;
  }
  if (options.summary == ResultOptions::Summary::kCount)
    page.count = 0;

  if (page.count > 0) {
    bool backward = cursor && cursor->backward;
    auto make = [&](const std::optional<Cursor>& position, int64_t limit) {
      Fragment condition = where;
      if (position)
        condition.Text(" AND ").Append(CursorCondition(expressions, descending, *position));
      std::optional<int64_t> offset;
      if (page.offset > 0 && !cursor && !request.visible)
        offset = page.offset;
      return PageQuery(keys, expressions, descending, backward, options.driver_table, condition,
                       limit, offset);
    };
    if (!request.visible) {
      MA_ASSIGN_OR_RETURN(
          page.matches, tx.QueryResources(Number(make(cursor, static_cast<int64_t>(page.count) + 1),
                                                 tx.GetDialect())));
    } else {
      auto next = [&](const StoredResource& row) -> Result<Cursor> {
        MA_ASSIGN_OR_RETURN(std::vector<SqlValue> values, RowKeys(tx, keys, row));
        return Cursor{backward, std::move(values)};
      };
      size_t skip = cursor ? 0 : static_cast<size_t>(page.offset);
      MA_ASSIGN_OR_RETURN(page.matches,
                          FetchVisible(tx, request.visible, cursor,
                                       static_cast<size_t>(page.count) + 1, skip, make, next));
    }
    bool more = page.matches.size() > static_cast<size_t>(page.count);
    if (more)
      page.matches.resize(static_cast<size_t>(page.count));
    if (backward)
      std::reverse(page.matches.begin(), page.matches.end());
    page.has_more = backward ? true : more;
    bool has_previous = backward ? more : (cursor.has_value() || page.offset > 0);
    if (!page.matches.empty()) {
      if (page.has_more) {
        MA_ASSIGN_OR_RETURN(std::vector<SqlValue> values, RowKeys(tx, keys, page.matches.back()));
        Cursor next{false, std::move(values)};
        page.next_cursor = EncodeCursor(next);
      }
      if (has_previous && page.offset == 0) {
        MA_ASSIGN_OR_RETURN(std::vector<SqlValue> values, RowKeys(tx, keys, page.matches.front()));
        Cursor previous{true, std::move(values)};
        page.previous_cursor = EncodeCursor(previous);
      }
    } else if (cursor) {
      page.has_more = false;
    }
  }
  bool want_total = options.total == ResultOptions::Total::kAccurate ||
                    options.total == ResultOptions::Total::kEstimate || page.count == 0;
  if (want_total) {
    Fragment count;
    count.Text("SELECT COUNT(*)").Text(From(options.driver_table)).Text(" WHERE ").Append(where);
    if (request.visible) {
      MA_ASSIGN_OR_RETURN(page.total,
                          CountVisible(tx, where, options.driver_table, request.visible));
    } else {
      MA_ASSIGN_OR_RETURN(int64_t total, tx.QueryCount(Number(count, tx.GetDialect())));
      page.total = total;
    }
  } else if (options.total == ResultOptions::Total::kDefault && !page.has_more && !cursor &&
             page.offset == 0) {
    page.total = static_cast<int64_t>(page.matches.size());
  }
  MA_RETURN_IF_ERROR(RunIncludes(tx, request, options, page));
  if (options.summary != ResultOptions::Summary::kFalse || !options.elements.empty()) {
    for (StoredResource& match : page.matches) {
      match.json = Subset(match.json, options.summary, options.elements);
    }
  }
  return {};
}

core::Status RunEverythingQuery(store::ReadTx& tx, const Fragment& where,
                                const std::optional<std::string>& cursor_text, SearchPage& page,
                                const VisibilityPredicate& visible) {
  std::optional<Cursor> cursor;
  if (cursor_text.has_value()) {
    MA_ASSIGN_OR_RETURN(Cursor decoded, DecodeCursor(*cursor_text, 2));
    cursor = std::move(decoded);
    page.cursor = *cursor_text;
  }
  if (page.count > 0) {
    bool backward = cursor && cursor->backward;
    auto make = [&](const std::optional<Cursor>& position, int64_t limit) {
      Fragment query = Select();
      query.Text(" WHERE ").Append(where);
      if (position) {
        query.Text(backward ? " AND (c.type, c.id) < (" : " AND (c.type, c.id) > (");
        query.Bind(position->keys[0]).Text(", ").Bind(position->keys[1]).Text(")");
      }
      query.Text(backward ? " ORDER BY c.type DESC, c.id DESC" : " ORDER BY c.type, c.id");
      query.Text(" LIMIT ").Bind(limit);
      return query;
    };
    if (!visible) {
      MA_ASSIGN_OR_RETURN(
          page.matches, tx.QueryResources(Number(make(cursor, static_cast<int64_t>(page.count) + 1),
                                                 tx.GetDialect())));
    } else {
      auto next = [&](const StoredResource& row) -> Result<Cursor> {
        return Cursor{backward, {row.type, row.id}};
      };
      MA_ASSIGN_OR_RETURN(
          page.matches,
          FetchVisible(tx, visible, cursor, static_cast<size_t>(page.count) + 1, 0, make, next));
    }
    bool more = page.matches.size() > static_cast<size_t>(page.count);
    if (more)
      page.matches.resize(static_cast<size_t>(page.count));
    if (backward)
      std::reverse(page.matches.begin(), page.matches.end());
    page.has_more = backward ? true : more;
    bool has_previous = backward ? more : cursor.has_value();
    if (!page.matches.empty()) {
      if (page.has_more) {
        const StoredResource& last = page.matches.back();
        page.next_cursor = EncodeCursor(Cursor{false, {last.type, last.id}});
      }
      if (has_previous) {
        const StoredResource& first = page.matches.front();
        page.previous_cursor = EncodeCursor(Cursor{true, {first.type, first.id}});
      }
    }
  }
  if (!page.has_more && !cursor)
    page.total = static_cast<int64_t>(page.matches.size());
  if (page.count == 0) {
    Fragment count;
    count.Text("SELECT COUNT(*) FROM current_resources c JOIN resources r ON ");
    count.Text("r.sequence = c.sequence WHERE ").Append(where);
    if (visible) {
      MA_ASSIGN_OR_RETURN(page.total, CountVisible(tx, where, {}, visible));
    } else {
      MA_ASSIGN_OR_RETURN(int64_t total, tx.QueryCount(Number(count, tx.GetDialect())));
      page.total = total;
    }
  }
  return {};
}

std::string Subset(const std::string& json, ResultOptions::Summary summary,
                   const std::vector<std::string>& elements) {
  Result<Json> parsed = fhir::ParseJson(json);
  if (!parsed || !parsed->IsObject())
    return json;
  std::string type(parsed->GetStringMember("resourceType"));
  Json out = Json::MakeObject();
  for (const auto& [key, value] : parsed->Members()) {
    std::string_view base = key;
    if (base.starts_with("_"))
      base.remove_prefix(1);
    bool keep = base == "resourceType" || base == "id" || base == "meta";
    if (!keep) {
      const r4::ChildMatch* child = r4::FindChild(type, base);
      bool mandatory = child != nullptr && child->element->min >= 1;
      if (!elements.empty()) {
        keep = mandatory || std::find(elements.begin(), elements.end(), base) != elements.end();
        if (!keep && child != nullptr && child->element->is_choice) {
          std::string_view choice = child->element->name;
          choice.remove_suffix(3);  // "value[x]" -> "value"
          keep = std::find(elements.begin(), elements.end(), choice) != elements.end();
        }
      } else if (summary == ResultOptions::Summary::kTrue) {
        keep = child != nullptr && (child->element->is_summary || mandatory);
      } else if (summary == ResultOptions::Summary::kText) {
        keep = base == "text" || mandatory;
      } else if (summary == ResultOptions::Summary::kData) {
        keep = base != "text";
      } else {
        keep = true;
      }
    }
    if (keep)
      out.Set(key, value);
  }
  Json* meta = out.Find("meta");
  if (meta == nullptr)
    meta = &out.Set("meta", Json::MakeObject());
  Json* tags = meta->Find("tag");
  if (tags == nullptr || !tags->IsArray())
    tags = &meta->Set("tag", Json::MakeArray());
  Json tag = Json::MakeObject();
  tag.Set("system", Json::MakeString("http://terminology.hl7.org/CodeSystem/v3-ObservationValue"));
  tag.Set("code", Json::MakeString("SUBSETTED"));
  tags->PushBack(std::move(tag));
  return fhir::WriteJson(out);
}

}  // namespace medalliance::search::internal
