#pragma once
// Plans search parameters into SQL conditions over the index tables (doc/search.md).

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "search/internal/sql_builder.h"
#include "search/internal/value_sets.h"

namespace medalliance::search::internal {

// The ids of resources of one type matching one parameter: `select` yields one column of ids.
// `negate`: the parameter matches the resources NOT in the set (:not, :missing=true).
struct IdSet {
  Fragment select;
  bool negate = false;
  // For unselective conditions (ranges on dates, numbers, quantities): the same test as a
  // correlated EXISTS on the resource alias `c`, so SQLite checks candidates found by the
  // other parameters instead of materialising every matching row.
  std::optional<Fragment> exists;
  // Expected selectivity, lower is more selective: the query drives from the most selective
  // set (as an IN list) and checks the others with `exists`.
  int rank = 1;
  // For sets whose rows are one per resource and come out of an index in id order (a token
  // `system|code` on a stored parameter, a single CJK character's `:cjk` rows): the table,
  // and the condition on alias `d`. The
  // query may then walk these rows in id order, joining each resource, and stop at the page
  // size instead of materialising the whole set first.
  std::string ordered_table;
  Fragment ordered_condition;
};

struct PlannerOptions {
  std::string base_url;
  int64_t now_millis = 0;
  // Expands the value set named by a :in / :not-in value (canonical URL or ValueSet/id) for
  // the parameter `name`; kBadRequest naming it when unknown. Unset: those modifiers are
  // unsupported.
  std::function<core::Result<ValueSetCodes>(std::string_view name, std::string_view value)>
      value_sets;
  // Runs a query of (integer, text) rows in the search's read transaction. Set: a chain
  // resolves the ids of its targets first (a few identifier seeks) and matches their
  // references as a literal list, instead of one nested statement per target type with
  // UNIONs (Observation?subject.identifier=: four target types). Unset: the nested form.
  std::function<core::Result<std::vector<std::pair<int64_t, std::string>>>(const Fragment& query)>
      run_pairs;
};

// Result of planning one parameter: nullopt when the parameter (or its modifier) is unknown
// or unsupported; kBadRequest naming the parameter when a value is malformed.
core::Result<std::optional<IdSet>> PlanParameter(std::string_view type, std::string_view name,
                                                 std::string_view value,
                                                 const PlannerOptions& options, int depth = 0);

struct ParamPlan;

// The condition selecting the index rows of parameter `plan` (with `suffix`, e.g. ":text")
// on the row alias `alias`: `alias.param = code`, or for a derived parameter the rows of its
// sources (ParamPlan::Derivation), e.g. `(s.param = 'subject' AND <resolves to Patient>)`.
// Not for composites.
Fragment ParamRows(const ParamPlan& plan, std::string_view suffix, std::string_view alias);
// Rows of any of `codes` (reference parameters of `type`; unknown codes are used as is).
Fragment ParamRowsIn(std::string_view type, const std::vector<std::string_view>& codes,
                     std::string_view alias = "x");

// `alias.id IN (...)` / `NOT IN` for a set, on resources of `alias` (current_resources).
// For the EXISTS form on `c`, `rows_alias` names the table whose (type, id) the test is
// correlated with: `c`, or the driver rows `d` (ResultOptions::driver_table).
Fragment Membership(std::string_view alias, const IdSet& set, std::string_view rows_alias = "c");

// `<token>=system|code&<quantity>=gt5` (one value each, no modifiers, a code given, no unit)
// where the type has a root composite of the two parameters (Observation `code` and
// `value-quantity`): the matching resources as one range of the "<token>$<quantity>" rows
// (kPairSeparator). nullopt when the parameters or values do not have that shape; malformed
// values are left to PlanParameter to report.
std::optional<IdSet> PlanTokenQuantityPair(std::string_view type, std::string_view token_name,
                                           std::string_view token_value,
                                           std::string_view quantity_name,
                                           std::string_view quantity_value);

// A query giving 1 when the set has at least `rows` rows (ids, not necessarily distinct), else
// 0: a selectivity test that stops after `rows` index entries.
Fragment HasAtLeast(const IdSet& set, int64_t rows);

// Moves the EXISTS tests of the other sets into the id list of `sets[driver]` (resources of
// `type`), correlated on the list's ids: `c.id IN (SELECT d.id FROM (<driver>) d WHERE
// EXISTS (...d.id...))`. The resources that fail a test are then never looked up in
// current_resources (Observation?patient=&code=&date=: about 30 candidates, 1 or 2
// matches). For small drivers (rank 0): the tests run on every row of the list, not only
// until the page is full. The moved sets are erased from `sets`; returns the driver's new index.
size_t FilterDriver(std::string_view type, std::vector<IdSet>& sets, size_t driver);

// Splits on unescaped `separator`, keeping escapes in place ("\," stays).
std::vector<std::string> SplitUnescaped(std::string_view value, char separator);
// Removes FHIR search escapes ("\," -> ",", "\|" -> "|", "\$" -> "$", "\\" -> "\").
std::string Unescape(std::string_view value);

}  // namespace medalliance::search::internal
