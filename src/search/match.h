#pragma once
// In-memory matching of one resource against a search query, over the index rows the search
// layer extracts for it (no SQL): for FHIR Subscriptions, whose criteria are evaluated inside
// the write transaction against the new content (doc/subscriptions.md).
//
// The subset understood (anything else is refused by Parse, never silently ignored):
//   _id; token (code, system|code, |code, system|; :not, :missing); reference (Type/id, id,
//   absolute URL to Type/id; :Type, :missing); string (prefix, CJK by substring; :exact,
//   :contains, :missing); date, number and quantity (prefixes eq ne lt gt le ge sa eb;
//   :missing; quantity as number|system|code); uri (exact; :missing). Comma-separated values
//   are OR'ed, repeated parameters AND'ed, as in search. Chains, _has, composites, _text,
//   _content, _lastUpdated and result parameters (_sort, _include, ...) are refused.
//
// Thread-safety: a parsed MatchCriteria is immutable and may be shared.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "fhir/json/json.h"
#include "store/store.h"

namespace medalliance::search {

class MatchCriteria {
 public:
  // Parses "Type?name=value&..." (URL-encoded values; "Type" alone matches every resource of
  // the type). kBadRequest naming the parameter and why when the query is outside the subset.
  static core::Result<MatchCriteria> Parse(std::string_view criteria);

  const std::string& GetType() const { return type_; }

  // True when the resource with this id and these index rows (IndexForMatch) satisfies every
  // condition.
  bool Matches(std::string_view id, const std::vector<store::IndexEntry>& rows) const;

  // One OR'ed value of a condition, parsed once.
  struct Value {
    std::string prefix = "eq";            // date, number, quantity
    std::optional<std::string> system;    // token, quantity: present when the value had a '|'
    std::string text;                     // token code, string (folded unless :exact), uri
    std::vector<std::string> references;  // reference candidates ("Type/id", URLs)
    std::string bare_id;                  // a reference value without a type nor target types
    int64_t low = 0;                      // date range [low, high)
    int64_t high = 0;
    double number = 0;       // number, quantity
    double half = 0.5;       // implicit precision half-width
    bool substring = false;  // string: :contains or CJK
  };
  struct Condition {
    std::string code;      // search parameter code (or "_id")
    std::string modifier;  // "", "not", "missing", "exact", "contains", or a resource type
    int kind = 0;          // r4::SearchParamType as int; -1 for _id
    bool missing = false;  // :missing=true (false: :missing=false)
    std::vector<Value> values;
  };
  const std::vector<Condition>& GetConditions() const { return conditions_; }

 private:
  std::string type_;
  std::vector<Condition> conditions_;
};

// Every index row of `resource`, derived parameters included (their own rows), for Matches.
std::vector<store::IndexEntry> IndexForMatch(const fhir::Json& resource);

}  // namespace medalliance::search
