#pragma once
// FHIR search over the store's index tables (doc/search.md).
//
// Index(): the index rows of a resource for every R4 SearchParameter of its type, extracted
// with the FHIRPath engine (search/internal/extract.h). Search(): parses a search request,
// plans it into one SQL query over the index tables (every parameter type with its modifiers
// and prefixes, chains, reverse chains, composites, compartments), pages with a keyset cursor
// (stable while data changes), counts, sorts, and adds _include/_revinclude resources.
// Everything(): Patient/$everything.
//
// Thread-safe: a Searcher holds no mutable state (the parsed expressions are shared,
// immutable and built once per process).

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"
#include "fhir/json/json.h"
#include "store/store.h"

namespace medalliance::search {

using Params = std::vector<std::pair<std::string, std::string>>;  // decoded name, value

// Access control hook (access/ provides it, api/ sets it): a resource is part of the results
// (matches, includes, totals, paging) only when this answers true. Called inside the read
// transaction for each candidate row; an error aborts the search. Unset: everything is visible.
using VisibilityPredicate =
    std::function<core::Result<bool>(store::ReadTx&, const store::StoredResource&)>;

struct Compartment {
  std::string type;  // "Patient"
  std::string id;    // "123"
};

struct SearchRequest {
  std::string type;  // resource type
  Params params;
  bool strict = false;  // Prefer: handling=strict: unknown parameters are an error
  int default_count = 50;
  int max_count = 1000;
  // The server's base URL (no trailing slash): absolute references to it match relative ones.
  std::string base_url;
  // Compartment search (Patient/123/Observation): only resources in this compartment.
  std::optional<Compartment> compartment;
  // Upper bound on _include/_revinclude resources added to one page.
  int max_includes = 1000;
  // "Now" for the ap prefix; the system clock when unset.
  std::optional<int64_t> now_millis;
  // Rows the caller may not see are left out everywhere, as if they did not exist.
  VisibilityPredicate visible;
};

struct SearchPage {
  std::vector<store::StoredResource> matches;   // search mode "match"
  std::vector<store::StoredResource> includes;  // search mode "include"
  std::optional<int64_t> total;
  std::vector<std::string> ignored;   // unknown or unsupported parameters
  std::vector<std::string> warnings;  // other notes for the OperationOutcome entry
  int offset = 0;                     // _offset paging (legacy; the cursor is preferred)
  int count = 0;
  bool has_more = false;
  // The parameters that were applied, in canonical order, for self/next links
  // (without _count, _offset and _cursor, which the Bundle builder adds).
  Params applied;
  std::optional<std::string> cursor;           // the _cursor of this page, if any
  std::optional<std::string> next_cursor;      // set when has_more
  std::optional<std::string> previous_cursor;  // set when a previous page exists
  // Path of the links below the base URL; empty means the resource type.
  std::string link_path;
};

struct EverythingRequest {
  std::string patient_id;
  Params params;  // _since, _type, _count, _cursor
  bool strict = false;
  int default_count = 50;
  int max_count = 1000;
  // As SearchRequest::visible; an invisible patient answers kNotFound.
  VisibilityPredicate visible;
};

class Searcher {
 public:
  // Errors: kBadRequest for a malformed value (naming the parameter) or, when strict, an
  // unknown parameter; kNotFound from Everything() when the patient does not exist.
  core::Result<SearchPage> Search(store::ReadTx& tx, const SearchRequest& request) const;

  // The index rows of a resource, stored with each version.
  std::vector<store::IndexEntry> Index(const fhir::Json& resource) const;

  // Patient/$everything: the patient and every resource in its compartment, ordered by type
  // and id, paged with a cursor.
  core::Result<SearchPage> Everything(store::ReadTx& tx, const EverythingRequest& request) const;
};

}  // namespace medalliance::search
