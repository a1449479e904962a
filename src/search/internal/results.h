#pragma once
// Result parameters (_sort, _total, _summary, _elements, _include, _revinclude), keyset
// paging and the page query itself.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "search/internal/extract.h"
#include "search/internal/sql_builder.h"
#include "search/search.h"

namespace medalliance::search::internal {

struct SortKey {
  enum class Kind : uint8_t { kId, kLastUpdated, kIndex };
  Kind kind = Kind::kId;
  bool descending = false;
  const ParamPlan* plan = nullptr;  // kIndex
  std::string_view table;           // kIndex
  std::string_view column;          // kIndex: value, low, number
  enum class ValueType : uint8_t { kText, kInteger, kReal } value_type = ValueType::kText;
};

struct IncludeSpec {
  bool reverse = false;
  bool iterate = false;
  std::string source_type;  // the referencing type
  std::string param;        // empty for "*"
  std::string target;       // optional target type
};

struct ResultOptions {
  std::vector<SortKey> sort;
  enum class Total : uint8_t { kDefault, kNone, kEstimate, kAccurate } total = Total::kDefault;
  enum class Summary : uint8_t { kFalse, kTrue, kText, kData, kCount } summary = Summary::kFalse;
  std::vector<std::string> elements;
  std::vector<IncludeSpec> includes;
  // Set by the caller when an IdSet's ordered rows drive the query (IdSet::ordered): the
  // index table read as alias `d`, whose condition the caller puts in `where`.
  std::string driver_table;
};

// Parses one result parameter into `options`. kBadRequest naming it when malformed.
core::Status ParseResultParameter(std::string_view type, const std::string& name,
                                  const std::string& value, ResultOptions& options);

// Runs the page query (sorting, cursor or offset, total), then includes and subsetting.
core::Status RunPagedQuery(store::ReadTx& tx, const SearchRequest& request, const Fragment& where,
                           const ResultOptions& options, const std::optional<std::string>& cursor,
                           SearchPage& page);

// Patient/$everything paging: `where` filters c/r; ordered by (type, id).
// `visible` as EverythingRequest::visible.
core::Status RunEverythingQuery(store::ReadTx& tx, const Fragment& where,
                                const std::optional<std::string>& cursor, SearchPage& page,
                                const VisibilityPredicate& visible = {});

// _summary / _elements applied to one resource's JSON.
std::string Subset(const std::string& json, ResultOptions::Summary summary,
                   const std::vector<std::string>& elements);

}  // namespace medalliance::search::internal
