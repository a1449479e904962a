#include "search/search.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <map>
#include <set>

#include "core/clock.h"
#include "core/time.h"
#include "fhir/r4/definitions.h"
#include "search/compartments.h"
#include "search/internal/extract.h"
#include "search/internal/planner.h"
#include "search/internal/results.h"
#include "search/internal/sql_builder.h"
#include "search/internal/text.h"
#include "search/internal/value_sets.h"
#include "store/sql/schema.h"

namespace medalliance::search {

namespace r4 = fhir::r4;
using core::Error;
using core::Result;
using fhir::Json;
using internal::Fragment;
using store::IndexEntry;
using store::StoredResource;

namespace {

Result<int> ParseNonNegative(std::string_view name, std::string_view value) {
  int number = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
  if (ec != std::errc() || end != value.data() + value.size() || number < 0) {
    return Error::BadRequest(
        std::string(name) + " must be a non-negative integer, not '" + std::string(value) + "'",
        std::string(name));
  }
  return number;
}

bool IsResultParameter(std::string_view name) {
  static constexpr std::string_view kNames[] = {
      "_count",      "_offset", "_sort",   "_total",  "_summary",   "_elements",     "_include",
      "_revinclude", "_cursor", "_format", "_pretty", "_contained", "_containedType"};
  std::string_view code = name.substr(0, name.find(':'));
  for (std::string_view n : kNames) {
    if (n == code)
      return true;
  }
  return false;
}

// `code=X&value-quantity=gtN` (internal::PlanTokenQuantityPair): when few resources match
// (fewer than kPairDriveLimit pair rows; the test steps over at most that many index entries,
// about 0.15 us each), the pair rows' range drives the query instead of the token, whose rows
// would otherwise be walked until a page of them has the value (every row of the code when
// none has). Many matches: the token's ordered walk finds a page soon.
core::Status UseTokenQuantityPairs(
    store::ReadTx& tx, std::string_view type,
    const std::vector<std::pair<std::string_view, std::string_view>>& set_params,
    std::vector<internal::IdSet>& sets) {
  constexpr int64_t kPairDriveLimit = 500;
  for (size_t t = 0; t < sets.size(); ++t) {
    for (size_t q = 0; q < sets.size(); ++q) {
      if (t == q || sets[t].negate || sets[q].negate)
        continue;
      std::optional<internal::IdSet> pair =
          internal::PlanTokenQuantityPair(type, set_params[t].first, set_params[t].second,
                                          set_params[q].first, set_params[q].second);
      if (!pair)
        continue;
      MA_ASSIGN_OR_RETURN(
          int64_t many, tx.QueryCount(internal::Number(internal::HasAtLeast(*pair, kPairDriveLimit),
                                                       tx.GetDialect())));
      if (many != 0)
        return {};
      // The pair rows imply the token: one set instead of two.
      sets[q] = std::move(*pair);
      sets.erase(sets.begin() + static_cast<std::ptrdiff_t>(t));
      return {};
    }
  }
  return {};
}

}  // namespace

std::vector<IndexEntry> Searcher::Index(const Json& resource) const {
  // Derived parameters (combo-code, patient from subject, composites over the resource root)
  // store no rows: the planner answers them from their sources' rows (doc/search.md,
  // "Derived parameters"). About 30% fewer rows, and row inserts dominate import.
  return internal::Extractor::Get().IndexStored(resource);
}

Result<SearchPage> Searcher::Search(store::ReadTx& tx, const SearchRequest& request) const {
  SearchPage page;
  page.count = std::min(request.default_count, request.max_count);
  internal::PlannerOptions options;
  options.base_url = request.base_url;
  options.now_millis = request.now_millis.value_or(core::SystemClock::Get().Now());
  options.value_sets = [&tx, &request](std::string_view name,
                                       std::string_view value) -> Result<internal::ValueSetCodes> {
    internal::ValueSetLoader load = [&](std::string_view reference) {
      return internal::LoadValueSet(tx, reference, request.base_url);
    };
    MA_ASSIGN_OR_RETURN(std::optional<Json> value_set, load(value));
    if (!value_set.has_value()) {
      return Error::BadRequest("search parameter '" + std::string(name) + "': value set '" +
                                   std::string(value) + "' is not stored on this server",
                               std::string(name));
    }
    return internal::ExpandValueSet(*value_set, name, load);
  };
  options.run_pairs =
      [&tx](const Fragment& query) -> Result<std::vector<std::pair<int64_t, std::string>>> {
    MA_ASSIGN_OR_RETURN(std::vector<store::SqlRow> rows,
                        tx.QueryRows(internal::Number(query, tx.GetDialect())));
    std::vector<std::pair<int64_t, std::string>> out;
    out.reserve(rows.size());
    for (store::SqlRow& row : rows) {
      const auto* key = row.size() == 2 ? std::get_if<int64_t>(&row[0]) : nullptr;
      auto* text = row.size() == 2 ? std::get_if<std::string>(&row[1]) : nullptr;
      if (key != nullptr && text != nullptr)
        out.emplace_back(*key, std::move(*text));
    }
    return out;
  };

  Fragment where;
  where.Text("c.type = ").Bind(request.type).Text(" AND c.deleted = 0");
  internal::ResultOptions result;
  std::optional<std::string> cursor_text;

  std::vector<internal::IdSet> sets;
  std::vector<std::pair<std::string_view, std::string_view>> set_params;  // name, value of sets[i]
  for (const auto& [name, value] : request.params) {
    if (IsResultParameter(name)) {
      std::string_view code = std::string_view(name).substr(0, name.find(':'));
      if (code == "_count") {
        MA_ASSIGN_OR_RETURN(int count, ParseNonNegative(name, value));
        page.count = std::min(count, request.max_count);
      } else if (code == "_offset") {
        MA_ASSIGN_OR_RETURN(page.offset, ParseNonNegative(name, value));
      } else if (code == "_cursor") {
        cursor_text = value;
      } else if (code == "_format" || code == "_pretty") {
        continue;
      } else if (code == "_contained" || code == "_containedType") {
        if (request.strict) {
          return Error::BadRequest("'" + name + "' is not supported", name);
        }
        page.ignored.push_back(name);
      } else {
        MA_RETURN_IF_ERROR(internal::ParseResultParameter(request.type, name, value, result));
        page.applied.emplace_back(name, value);
      }
      continue;
    }
    MA_ASSIGN_OR_RETURN(std::optional<internal::IdSet> set,
                        internal::PlanParameter(request.type, name, value, options));
    if (!set.has_value()) {
      if (request.strict) {
        return Error::BadRequest("unknown or unsupported search parameter '" + name + "'", name);
      }
      page.ignored.push_back(name);
      continue;
    }
    sets.push_back(std::move(*set));
    set_params.emplace_back(name, value);
    page.applied.emplace_back(name, value);
  }
  MA_RETURN_IF_ERROR(UseTokenQuantityPairs(tx, request.type, set_params, sets));
  // Drive from one IN list (the most selective set, or a set that has no EXISTS form such as
  // _id or a chain); test the others per candidate with EXISTS.
  int driver = -1;
  bool has_list = false;
  for (size_t i = 0; i < sets.size(); ++i) {
    if (!sets[i].negate && !sets[i].exists.has_value())
      has_list = true;
  }
  if (!has_list && !request.compartment.has_value()) {
    for (size_t i = 0; i < sets.size(); ++i) {
      if (sets[i].negate)
        continue;
      if (driver < 0 || sets[i].rank < sets[static_cast<size_t>(driver)].rank) {
        driver = static_cast<int>(i);
      }
    }
  }
  // A driver whose rows an index lists in id order, with the page in id order: walk those
  // rows and stop at the page size (Observation?code=system|code&value-quantity=gt5 reads
  // about 21 rows, not every Observation with that code).
  bool id_order = std::all_of(result.sort.begin(), result.sort.end(), [](const auto& key) {
    return key.kind == internal::SortKey::Kind::kId;
  });
  if (driver >= 0 && id_order && !sets[static_cast<size_t>(driver)].ordered_table.empty()) {
    internal::IdSet& set = sets[static_cast<size_t>(driver)];
    result.driver_table = set.ordered_table;
    where.Text(" AND ").Append(set.ordered_condition);
    sets.erase(sets.begin() + driver);
    driver = -1;
  }
  if (driver >= 0 && sets[static_cast<size_t>(driver)].rank == 0) {
    driver =
        static_cast<int>(internal::FilterDriver(request.type, sets, static_cast<size_t>(driver)));
  }
  for (size_t i = 0; i < sets.size(); ++i) {
    if (static_cast<int>(i) == driver)
      sets[i].exists.reset();
    where.Text(" AND ").Append(
        internal::Membership("c", sets[i], result.driver_table.empty() ? "c" : "d"));
  }
  if (request.compartment.has_value()) {
    std::vector<std::string_view> params =
        CompartmentParams(request.compartment->type, request.type);
    if (params.empty()) {
      where.Text(" AND 0");
    } else {
      where.Text(" AND c.id IN (SELECT x.id FROM index_reference x WHERE x.type = ");
      where.Bind(request.type).Text(" AND ").Append(internal::ParamRowsIn(request.type, params));
      where.Text(" AND x.value = ");
      where.Bind(request.compartment->type + "/" + request.compartment->id).Text(")");
    }
    page.link_path = request.compartment->type + "/" + request.compartment->id + "/" + request.type;
  }
  MA_RETURN_IF_ERROR(internal::RunPagedQuery(tx, request, where, result, cursor_text, page));
  return page;
}

Result<SearchPage> Searcher::Everything(store::ReadTx& tx, const EverythingRequest& request) const {
  SearchPage page;
  page.count = std::min(request.default_count, request.max_count);
  page.link_path = "Patient/" + request.patient_id + "/$everything";
  std::optional<int64_t> since;
  std::vector<std::string> types;
  std::optional<std::string> cursor_text;
  for (const auto& [name, value] : request.params) {
    if (name == "_count") {
      MA_ASSIGN_OR_RETURN(int count, ParseNonNegative(name, value));
      page.count = std::min(count, request.max_count);
    } else if (name == "_since") {
      Result<core::DateRange> range = core::ParseFhirDateTime(value);
      if (!range) {
        return Error::BadRequest("invalid _since: " + range.error().GetMessage(), "_since");
      }
      since = range->low;
    } else if (name == "_type") {
      for (std::string& type : internal::SplitUnescaped(value, ',')) {
        if (!r4::IsResourceType(type)) {
          return Error::BadRequest("unknown resource type '" + type + "' in _type", "_type");
        }
        types.push_back(std::move(type));
      }
    } else if (name == "_cursor") {
      cursor_text = value;
      continue;
    } else if (name == "_format" || name == "_pretty") {
      continue;
    } else {
      if (request.strict) {
        return Error::BadRequest("unknown or unsupported parameter '" + name + "'", name);
      }
      page.ignored.push_back(name);
      continue;
    }
    page.applied.emplace_back(name, value);
  }
  MA_ASSIGN_OR_RETURN(std::optional<StoredResource> patient,
                      tx.ReadCurrent("Patient", request.patient_id));
  if (!patient.has_value() || patient->deleted) {
    return Error::NotFound("Patient/" + request.patient_id + " is not known");
  }
  if (request.visible) {
    MA_ASSIGN_OR_RETURN(bool visible, request.visible(tx, *patient));
    if (!visible)
      return Error::NotFound("Patient/" + request.patient_id + " is not known");
  }
  // The audit trail is not the patient's record: AuditEvents (in the R4 Patient compartment,
  // one per audited access) come only when _type names them.
  auto wanted = [&](std::string_view type) {
    if (types.empty())
      return type != "AuditEvent";
    return std::find(types.begin(), types.end(), type) != types.end();
  };
  Fragment where;
  where.Text("c.deleted = 0 AND (c.type, c.id) IN (");
  bool first = true;
  if (wanted("Patient")) {
    where.Text("SELECT 'Patient', ").Bind(request.patient_id);
    first = false;
  }
  std::string reference = "Patient/" + request.patient_id;
  for (std::string_view type : CompartmentTypes("Patient")) {
    if (!wanted(type))
      continue;
    std::vector<std::string_view> params = CompartmentParams("Patient", type);
    if (params.empty())
      continue;
    if (!first)
      where.Text(" UNION ");
    first = false;
    where.Text("SELECT x.type, x.id FROM index_reference x WHERE x.type = ");
    where.Bind(std::string(type)).Text(" AND ").Append(internal::ParamRowsIn(type, params));
    where.Text(" AND x.value = ").Bind(reference);
  }
  if (first)
    where.Text("SELECT NULL, NULL WHERE 0");
  where.Text(")");
  if (since.has_value())
    where.Text(" AND r.last_updated >= ").Bind(*since);
  MA_RETURN_IF_ERROR(internal::RunEverythingQuery(tx, where, cursor_text, page, request.visible));
  return page;
}

}  // namespace medalliance::search
