#include "search/internal/planner.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "core/time.h"
#include "fhir/r4/definitions.h"
#include "search/internal/decimal.h"
#include "search/internal/extract.h"
#include "search/internal/text.h"

namespace medalliance::search::internal {

namespace r4 = fhir::r4;
using core::Error;
using core::Result;

namespace {

constexpr int kMaxChainDepth = 4;
// A chain whose targets have at most this many matching ids matches their references as a
// literal list (PlannerOptions::run_pairs); more: the nested statement.
constexpr size_t kMaxResolvedChainIds = 100;

Error BadValue(std::string_view name, const std::string& why) {
  return Error::BadRequest("invalid value for search parameter '" + std::string(name) + "': " + why,
                           std::string(name));
}

std::string_view TableFor(r4::SearchParamType type) {
  switch (type) {
    case r4::SearchParamType::kString:
      return "index_string";
    case r4::SearchParamType::kToken:
      return "index_token";
    case r4::SearchParamType::kReference:
      return "index_reference";
    case r4::SearchParamType::kDate:
      return "index_date";
    case r4::SearchParamType::kNumber:
      return "index_number";
    case r4::SearchParamType::kQuantity:
      return "index_quantity";
    case r4::SearchParamType::kUri:
      return "index_uri";
    default:
      return {};
  }
}

// A comparison prefix (eq, ne, ...) and the rest of the value.
struct Prefixed {
  std::string_view prefix = "eq";
  std::string_view value;
};

Result<Prefixed> SplitPrefix(std::string_view name, std::string_view value) {
  Prefixed out;
  out.value = value;
  if (!value.empty() && std::isalpha(static_cast<unsigned char>(value[0]))) {
    std::string_view prefix = value.substr(0, 2);
    static constexpr std::string_view kPrefixes[] = {"eq", "ne", "gt", "lt", "ge",
                                                     "le", "sa", "eb", "ap"};
    bool known = false;
    for (std::string_view p : kPrefixes) known = known || p == prefix;
    if (!known)
      return BadValue(name, "unknown prefix '" + std::string(prefix) + "'");
    out.prefix = prefix;
    out.value = value.substr(2);
  }
  return out;
}

// A decimal and the half-width of its implicit precision range ("100" -> 0.5, "1.50" ->
// 0.005, "1e2" -> 50).
using Decimal = SearchDecimal;

Result<Decimal> ParseDecimal(std::string_view name, std::string_view text) {
  std::optional<Decimal> out = ParseSearchDecimal(text);
  if (!out)
    return BadValue(name, "'" + std::string(text) + "' is not a number");
  return *out;
}

void NumberCondition(Fragment& cond, std::string_view column, std::string_view prefix,
                     const Decimal& number) {
  std::string c(column);
  double low = number.value - number.half;
  double high = number.value + number.half;
  if (prefix == "eq") {
    cond.Text("(" + c + " >= ").Bind(low).Text(" AND " + c + " < ").Bind(high).Text(")");
  } else if (prefix == "ne") {
    cond.Text("(" + c + " < ").Bind(low).Text(" OR " + c + " >= ").Bind(high).Text(")");
  } else if (prefix == "gt" || prefix == "sa") {
    cond.Text(c + " > ").Bind(number.value);
  } else if (prefix == "lt" || prefix == "eb") {
    cond.Text(c + " < ").Bind(number.value);
  } else if (prefix == "ge") {
    cond.Text(c + " >= ").Bind(number.value);
  } else if (prefix == "le") {
    cond.Text(c + " <= ").Bind(number.value);
  } else {  // ap: within 10%
    double delta = std::max(std::fabs(number.value) * 0.1, number.half);
    cond.Text("(" + c + " >= ").Bind(number.value - delta).Text(" AND " + c + " <= ");
    cond.Bind(number.value + delta).Text(")");
  }
}

// Range semantics of FHIR dates: the row holds [low, high) and the search value [s_low, s_high).
void DateCondition(Fragment& cond, std::string_view low_column, std::string_view high_column,
                   std::string_view prefix, const core::DateRange& range, int64_t now) {
  std::string lo(low_column);
  std::string hi(high_column);
  if (prefix == "eq") {
    cond.Text("(" + lo + " >= ").Bind(range.low).Text(" AND " + hi + " <= ").Bind(range.high);
    cond.Text(")");
  } else if (prefix == "ne") {
    cond.Text("(" + lo + " < ").Bind(range.low).Text(" OR " + hi + " > ").Bind(range.high);
    cond.Text(")");
  } else if (prefix == "gt") {
    cond.Text(hi + " > ").Bind(range.high);
  } else if (prefix == "lt") {
    cond.Text(lo + " < ").Bind(range.low);
  } else if (prefix == "ge") {
    cond.Text(hi + " > ").Bind(range.low);
  } else if (prefix == "le") {
    cond.Text(lo + " < ").Bind(range.high);
  } else if (prefix == "sa") {
    cond.Text(lo + " >= ").Bind(range.high);
  } else if (prefix == "eb") {
    cond.Text(hi + " <= ").Bind(range.low);
  } else {  // ap: overlaps the value widened by 10% of its distance from now
    int64_t gap = std::llabs(now - range.low) / 10;
    cond.Text("(" + lo + " < ").Bind(range.high + gap).Text(" AND " + hi + " > ");
    cond.Bind(range.low - gap).Text(")");
  }
}

Result<core::DateRange> ParseDate(std::string_view name, std::string_view text) {
  Result<core::DateRange> range = core::ParseFhirDateTime(text);
  if (!range)
    return BadValue(name, range.error().GetMessage());
  return range;
}

std::pair<std::optional<std::string>, std::string> SplitSystem(std::string_view value) {
  std::vector<std::string> parts = SplitUnescaped(value, '|');
  if (parts.size() == 1)
    return {std::nullopt, Unescape(parts[0])};
  std::string rest;
  for (size_t i = 1; i < parts.size(); ++i) rest += (i > 1 ? "|" : "") + parts[i];
  return {Unescape(parts[0]), Unescape(rest)};
}

void TokenCondition(Fragment& cond, std::string_view value) {
  auto [system, code] = SplitSystem(value);
  if (!system.has_value()) {
    cond.Text("x.value = ").Bind(code);
  } else if (code.empty()) {
    cond.Text("x.system = ").Bind(*system);
  } else {
    cond.Text("(x.value = ").Bind(code).Text(" AND x.system = ").Bind(*system).Text(")");
  }
}

// A token row in a value set: listed (system, code) pairs or whole systems, minus exclusions.
Result<Fragment> ValueSetCondition(std::string_view name, const ValueSetCodes& codes) {
  constexpr size_t kMaxCodes = 5000;
  if (codes.codes.size() + codes.excluded_codes.size() > kMaxCodes) {
    return BadValue(name, "the value set has more than " + std::to_string(kMaxCodes) + " codes");
  }
  auto any_of = [](Fragment& out, const std::vector<std::pair<std::string, std::string>>& pairs,
                   const std::vector<std::string>& systems) {
    if (pairs.empty() && systems.empty()) {
      out.Text("0");
      return;
    }
    out.Text("(");
    bool first = true;
    for (const auto& [system, code] : pairs) {
      out.Text(first ? "(x.value = " : " OR (x.value = ").Bind(code);
      out.Text(" AND x.system = ").Bind(system).Text(")");
      first = false;
    }
    if (!systems.empty()) {
      out.Text(first ? "x.system IN (" : " OR x.system IN (");
      for (size_t i = 0; i < systems.size(); ++i) out.Text(i == 0 ? "" : ", ").Bind(systems[i]);
      out.Text(")");
    }
    out.Text(")");
  };
  Fragment cond;
  any_of(cond, codes.codes, codes.systems);
  if (!codes.excluded_codes.empty() || !codes.excluded_systems.empty()) {
    Fragment excluded;
    any_of(excluded, codes.excluded_codes, codes.excluded_systems);
    Fragment both;
    both.Text("(").Append(cond).Text(" AND NOT ").Append(excluded).Text(")");
    return both;
  }
  return cond;
}

void StringCondition(Fragment& cond, std::string_view modifier, std::string_view value) {
  std::string raw = Unescape(value);
  if (modifier == "exact") {
    cond.Text("x.raw = ").Bind(raw);
    return;
  }
  std::string folded = FoldText(raw);
  if (modifier == "contains" || HasCjk(folded)) {
    cond.Text("instr(x.value, ").Bind(folded).Text(") > 0");
  } else {
    cond.Text("(x.value >= ").Bind(folded).Text(" AND x.value < ");
    cond.Bind(PrefixUpperBound(folded)).Text(")");
  }
}

// UTF-8 characters in `text`.
size_t CharacterCount(std::string_view text) {
  size_t chars = 0;
  for (char c : text) chars += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  return chars;
}

// Whether a string search can read the CJK suffix rows (kCjkSuffix): every value, folded,
// has a CJK character (so it matches as a substring, as :contains) and at most
// kCjkSuffixChars characters.
bool CjkSuffixSearch(const std::vector<std::string>& values) {
  for (const std::string& part : values) {
    std::string folded = FoldText(Unescape(part));
    if (!HasCjk(folded) || CharacterCount(folded) > kCjkSuffixChars)
      return false;
  }
  return !values.empty();
}

std::string StripBase(std::string_view value, const std::string& base_url) {
  if (!base_url.empty() && value.size() > base_url.size() + 1 && value.starts_with(base_url) &&
      value[base_url.size()] == '/') {
    value.remove_prefix(base_url.size() + 1);
  }
  return NormaliseReference(value);
}

// `alias.param = code`. Over the index views (migration 0008) SQLite resolves (type, param)
// in search_keys first, then reads the rows by the key it found: a lookup of one resource's
// rows (`x.id = c.id`) goes through the primary key (id, t, p), a search by value through
// the value index (p, value ...). (The 0001 layout needed `x.param || ''` in the lookups to
// keep SQLite off the value index; over the views that would scan the type's keys.)
void ParamEquals(Fragment& out, std::string_view alias, std::string code) {
  out.Text(alias).Text(".param = ").Bind(std::move(code));
}

Fragment ParamRowsImpl(const ParamPlan& plan, std::string_view suffix, std::string_view alias) {
  Fragment out;
  std::string a(alias);
  switch (plan.derivation) {
    case ParamPlan::Derivation::kUnion:
      if (plan.sources.size() == 1) {
        ParamEquals(out, alias, plan.sources[0] + std::string(suffix));
        return out;
      }
      out.Text(a).Text(".param IN (");
      for (size_t i = 0; i < plan.sources.size(); ++i) {
        if (i > 0)
          out.Text(", ");
        out.Bind(plan.sources[i] + std::string(suffix));
      }
      out.Text(")");
      return out;
    case ParamPlan::Derivation::kResolveFilter: {
      if (!suffix.empty())
        break;  // :identifier rows are stored under the parameter itself
      // The source's rows whose reference resolves to the type: the path segment before the
      // id (ReferenceType), i.e. everything up to the last '/' is "T/" or ends in "/T/".
      std::string head = "rtrim(" + a + ".value, replace(" + a + ".value, '/', ''))";
      out.Text("(");
      ParamEquals(out, alias, plan.sources[0]);
      out.Text(" AND (" + head + " = ").Bind(plan.resolve_type + "/");
      out.Text(" OR " + head + " GLOB ").Bind("*/" + plan.resolve_type + "/").Text("))");
      return out;
    }
    case ParamPlan::Derivation::kNone:
    case ParamPlan::Derivation::kRootComposite:
      break;
  }
  ParamEquals(out, alias, std::string(plan.definition->code) + std::string(suffix));
  return out;
}

// Builds the id set of rows in `table` for the rows selected by `param` (x.param = ...)
// satisfying the OR of `conditions`.
Fragment RowSet(std::string_view table, std::string_view type, const Fragment& param,
                const Fragment& conditions) {
  Fragment set;
  set.Text("SELECT x.id AS id FROM ")
      .Text(table)
      .Text(" x WHERE x.type = ")
      .Bind(std::string(type));
  set.Text(" AND ").Append(param);
  if (!conditions.Empty())
    set.Text(" AND (").Append(conditions).Text(")");
  return set;
}

// A positive id set for a planned parameter (wrapping a negated one).
Fragment Positive(std::string_view type, const IdSet& set) {
  if (!set.negate)
    return set.select;
  Fragment out;
  out.Text("SELECT n.id AS id FROM current_resources n WHERE n.type = ").Bind(std::string(type));
  out.Text(" AND n.deleted = 0 AND n.id NOT IN (").Append(set.select).Text(")");
  return out;
}

// Whether a reference ("T/id", "<base>/T/id", ".../T/id") resolves to `type`: the path
// segment before the id, as ReferenceType() and the SQL test of ParamRows() read it.
bool ResolvesTo(std::string_view reference, std::string_view type) {
  size_t last = reference.rfind('/');
  if (last == std::string_view::npos)
    return false;
  std::string_view head = reference.substr(0, last);
  size_t previous = head.rfind('/');
  return (previous == std::string_view::npos ? head : head.substr(previous + 1)) == type;
}

// How references to resources of `type` start: "Type/" and, with a base URL, "<base>/Type/"
// (an absolute reference to this server is the relative one).
std::vector<std::string> ReferencePrefixes(std::string_view type, const std::string& base_url) {
  std::vector<std::string> out = {std::string(type) + "/"};
  if (!base_url.empty())
    out.push_back(base_url + "/" + std::string(type) + "/");
  return out;
}

Result<std::optional<IdSet>> PlanHas(std::string_view type, std::string_view name,
                                     std::string_view value, const PlannerOptions& options,
                                     int depth) {
  // _has:Observation:patient:code=... (the rest may be another _has).
  std::string_view rest = name.substr(5);
  size_t first = rest.find(':');
  if (first == std::string_view::npos)
    return BadValue(name, "expected _has:Type:param:param");
  std::string_view source = rest.substr(0, first);
  rest.remove_prefix(first + 1);
  size_t second = rest.find(':');
  if (second == std::string_view::npos)
    return BadValue(name, "expected _has:Type:param:param");
  std::string_view reference = rest.substr(0, second);
  std::string_view inner_name = rest.substr(second + 1);
  const r4::SearchParamDefinition* def = r4::FindSearchParam(source, reference);
  if (!r4::IsResourceType(source) || def == nullptr ||
      def->type != r4::SearchParamType::kReference) {
    return std::optional<IdSet>();
  }
  MA_ASSIGN_OR_RETURN(std::optional<IdSet> inner,
                      PlanParameter(source, inner_name, value, options, depth + 1));
  if (!inner)
    return std::optional<IdSet>();
  IdSet set;
  // References to `type` written relative ("Patient/1") or absolute with this server's base.
  bool first_prefix = true;
  for (const std::string& prefix : ReferencePrefixes(type, options.base_url)) {
    set.select.Text(first_prefix ? "" : " UNION ALL ");
    first_prefix = false;
    set.select.Text("SELECT substr(x.value, ").Bind(static_cast<int64_t>(prefix.size() + 1));
    set.select.Text(") AS id FROM index_reference x WHERE x.type = ").Bind(std::string(source));
    set.select.Text(" AND ").Append(ParamRowsIn(source, {reference}));
    set.select.Text(" AND x.value >= ").Bind(prefix).Text(" AND x.value < ");
    set.select.Bind(PrefixUpperBound(prefix)).Text(" AND x.id IN (");
    set.select.Append(Positive(source, *inner)).Text(")");
  }
  return std::optional<IdSet>(std::move(set));
}

Result<std::optional<IdSet>> PlanChain(std::string_view type, std::string_view name,
                                       std::string_view value, const PlannerOptions& options,
                                       int depth) {
  size_t dot = name.find('.');
  std::string_view head = name.substr(0, dot);
  std::string_view rest = name.substr(dot + 1);
  std::string_view target_type;
  if (size_t colon = head.find(':'); colon != std::string_view::npos) {
    target_type = head.substr(colon + 1);
    head = head.substr(0, colon);
    if (!r4::IsResourceType(target_type))
      return std::optional<IdSet>();
  }
  const r4::SearchParamDefinition* def = r4::FindSearchParam(type, head);
  if (def == nullptr || def->type != r4::SearchParamType::kReference) {
    return std::optional<IdSet>();
  }
  std::vector<std::string_view> targets;
  if (!target_type.empty()) {
    targets.push_back(target_type);
  } else {
    targets = def->target_types;
  }
  std::string_view rest_code = rest.substr(0, rest.find_first_of(":."));
  std::vector<std::pair<std::string_view, IdSet>> inners;  // target type, its matching ids
  for (std::string_view target : targets) {
    if (rest_code.starts_with("_has")) {
      // allowed: a reverse chain at the end of a chain
    } else if (rest_code != "_id" && r4::FindSearchParam(target, rest_code) == nullptr) {
      continue;
    }
    MA_ASSIGN_OR_RETURN(std::optional<IdSet> inner,
                        PlanParameter(target, rest, value, options, depth + 1));
    if (inner)
      inners.emplace_back(target, std::move(*inner));
  }
  if (inners.empty())
    return std::optional<IdSet>();
  if (options.run_pairs) {
    // Resolve the targets first: (target index, id) for every target, in one statement.
    Fragment query;
    for (size_t t = 0; t < inners.size(); ++t) {
      query.Text(t == 0 ? "SELECT " : " UNION ALL SELECT ").Bind(static_cast<int64_t>(t));
      query.Text(", s.id FROM (").Append(Positive(inners[t].first, inners[t].second)).Text(") s");
    }
    query.Text(" LIMIT ").Bind(static_cast<int64_t>(kMaxResolvedChainIds + 1));
    MA_ASSIGN_OR_RETURN(auto ids, options.run_pairs(query));
    if (ids.size() <= kMaxResolvedChainIds) {
      IdSet set;
      set.select.Text("SELECT x.id AS id FROM index_reference x WHERE x.type = ");
      set.select.Bind(std::string(type)).Text(" AND ").Append(ParamRowsIn(type, {head}));
      set.select.Text(" AND x.value IN (");
      bool first = true;
      for (const auto& [t, id] : ids) {
        if (t < 0 || static_cast<size_t>(t) >= inners.size())
          continue;
        for (const std::string& prefix :
             ReferencePrefixes(inners[static_cast<size_t>(t)].first, options.base_url)) {
          set.select.Text(first ? "" : ", ").Bind(prefix + id);
          first = false;
        }
      }
      if (first)
        set.select.Text("NULL");  // no target matches: no resource does
      set.select.Text(")");
      return std::optional<IdSet>(std::move(set));
    }
  }
  IdSet set;
  bool any = false;
  for (const auto& [target, inner] : inners) {
    if (any)
      set.select.Text(" UNION ");
    any = true;
    set.select.Text("SELECT x.id AS id FROM index_reference x WHERE x.type = ");
    set.select.Bind(std::string(type)).Text(" AND ").Append(ParamRowsIn(type, {head}));
    // One branch per prefix: a cross join with the prefixes as VALUES made SQLite about
    // 2.5 times slower here (Observation?subject.identifier= at 1,000,000 resources).
    // The absolute branch runs only when some row of the parameter is an absolute reference
    // to this server (an uncorrelated EXISTS, evaluated once: one index probe).
    std::vector<std::string> prefixes = ReferencePrefixes(target, options.base_url);
    set.select.Text(" AND x.value IN (");
    for (size_t i = 0; i < prefixes.size(); ++i) {
      set.select.Text(i == 0 ? "SELECT " : " UNION ALL SELECT ").Bind(prefixes[i]);
      set.select.Text(" || s.id FROM (").Append(Positive(target, inner)).Text(") s");
      if (i > 0) {
        set.select.Text(" WHERE EXISTS (SELECT 1 FROM index_reference y WHERE y.type = ");
        set.select.Bind(std::string(type)).Text(" AND ").Append(ParamRowsIn(type, {head}, "y"));
        set.select.Text(" AND y.value >= ").Bind(prefixes[i]).Text(" AND y.value < ");
        set.select.Bind(PrefixUpperBound(prefixes[i])).Text(")");
      }
    }
    set.select.Text(")");
  }
  return std::optional<IdSet>(std::move(set));
}

}  // namespace

std::vector<std::string> SplitUnescaped(std::string_view value, char separator) {
  std::vector<std::string> parts(1);
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (c == '\\' && i + 1 < value.size()) {
      parts.back().push_back(c);
      parts.back().push_back(value[++i]);
    } else if (c == separator) {
      parts.emplace_back();
    } else {
      parts.back().push_back(c);
    }
  }
  return parts;
}

std::string Unescape(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '\\' && i + 1 < value.size()) {
      out.push_back(value[++i]);
    } else {
      out.push_back(value[i]);
    }
  }
  return out;
}

Fragment ParamRows(const ParamPlan& plan, std::string_view suffix, std::string_view alias) {
  return ParamRowsImpl(plan, suffix, alias);
}

Fragment ParamRowsIn(std::string_view type, const std::vector<std::string_view>& codes,
                     std::string_view alias) {
  // `alias.param IN (<stored codes>)`, plus for sources read through `resolve() is T`
  // filters (and not also wanted whole) `AND (alias.param <> src OR <resolves to T> ...)`;
  // the IN list keeps SQLite on the (type, param, value) index.
  std::vector<std::string> in;
  std::vector<std::pair<std::string, std::vector<std::string>>> filtered;  // src -> types
  auto add = [&](const std::string& code) {
    if (std::find(in.begin(), in.end(), code) == in.end())
      in.push_back(code);
  };
  for (std::string_view code : codes) {
    const ParamPlan* plan = Extractor::Get().Find(type, code);
    if (plan == nullptr || plan->derivation == ParamPlan::Derivation::kNone ||
        plan->derivation == ParamPlan::Derivation::kRootComposite) {
      add(std::string(code));
    } else if (plan->derivation == ParamPlan::Derivation::kUnion) {
      for (const std::string& source : plan->sources) add(source);
    } else {
      auto it = std::find_if(filtered.begin(), filtered.end(),
                             [&](const auto& f) { return f.first == plan->sources[0]; });
      if (it == filtered.end()) {
        filtered.push_back({plan->sources[0], {}});
        it = filtered.end() - 1;
      }
      it->second.push_back(plan->resolve_type);
    }
  }
  std::vector<std::pair<std::string, std::vector<std::string>>> residual;
  for (auto& [source, types] : filtered) {
    if (std::find(in.begin(), in.end(), source) != in.end())
      continue;  // wanted whole
    in.push_back(source);
    residual.push_back({source, types});
  }
  Fragment out;
  std::string a(alias);
  out.Text(a).Text(".param IN (");
  for (size_t i = 0; i < in.size(); ++i) {
    if (i > 0)
      out.Text(", ");
    out.Bind(in[i]);
  }
  out.Text(")");
  std::string head = "rtrim(" + a + ".value, replace(" + a + ".value, '/', ''))";
  for (const auto& [source, types] : residual) {
    out.Text(" AND (" + a + ".param <> ").Bind(source);
    for (const std::string& t : types) {
      out.Text(" OR " + head + " = ").Bind(t + "/").Text(" OR " + head + " GLOB ");
      out.Bind("*/" + t + "/");
    }
    out.Text(")");
  }
  return out;
}

Fragment Membership(std::string_view alias, const IdSet& set, std::string_view rows_alias) {
  Fragment out;
  if (set.exists.has_value() && alias == "c") {
    out.Text(set.negate ? "NOT " : "").Append(*set.exists);
    if (rows_alias != "c") {
      // Correlate on the driver's row: SQLite then tests it before joining the resource.
      static constexpr std::string_view kOnResource = "x.type = c.type AND x.id = c.id";
      size_t at = out.sql.find(kOnResource);
      if (at != std::string::npos) {
        std::string a(rows_alias);
        out.sql.replace(at, kOnResource.size(), "x.type = " + a + ".type AND x.id = " + a + ".id");
      }
    }
    return out;
  }
  out.Text(alias).Text(set.negate ? ".id NOT IN (" : ".id IN (").Append(set.select).Text(")");
  return out;
}

std::optional<IdSet> PlanTokenQuantityPair(std::string_view type, std::string_view token_name,
                                           std::string_view token_value,
                                           std::string_view quantity_name,
                                           std::string_view quantity_value) {
  const ParamPlan* pair = nullptr;
  for (const ParamPlan& plan : Extractor::Get().Plans(type)) {
    if (plan.derivation == ParamPlan::Derivation::kRootComposite && plan.sources.size() == 2 &&
        plan.sources[0] == token_name && plan.sources[1] == quantity_name) {
      pair = &plan;
      break;
    }
  }
  if (pair == nullptr || pair->components.size() != 2 ||
      pair->components[0].definition->type != r4::SearchParamType::kToken ||
      pair->components[1].definition->type != r4::SearchParamType::kQuantity) {
    return std::nullopt;
  }
  std::vector<std::string> tokens = SplitUnescaped(token_value, ',');
  std::vector<std::string> quantities = SplitUnescaped(quantity_value, ',');
  if (tokens.size() != 1 || quantities.size() != 1 ||
      SplitUnescaped(quantities[0], '|').size() != 1) {
    return std::nullopt;
  }
  auto [system, code] = SplitSystem(tokens[0]);
  if (code.empty())
    return std::nullopt;
  Result<Prefixed> prefixed = SplitPrefix(quantity_name, quantities[0]);
  if (!prefixed)
    return std::nullopt;
  Result<Decimal> number = ParseDecimal(quantity_name, prefixed->value);
  if (!number)
    return std::nullopt;
  std::string param = pair->sources[0] + kPairSeparator + pair->sources[1];
  // The value index is (type, param, code, number): equality on the code, a number range.
  Fragment rows;
  rows.Text("x.code = ").Bind(code);
  if (system.has_value())
    rows.Text(" AND x.system = ").Bind(*system);
  rows.Text(" AND ");
  NumberCondition(rows, "x.number", prefixed->prefix, *number);
  IdSet set;
  set.select.Text("SELECT x.id AS id FROM index_quantity x WHERE x.type = ");
  set.select.Bind(std::string(type)).Text(" AND x.param = ").Bind(param);
  set.select.Text(" AND ").Append(rows);
  Fragment exists;
  exists.Text("EXISTS (SELECT 1 FROM index_quantity x WHERE x.type = c.type AND ");
  exists.Text("x.id = c.id AND x.param = ").Bind(param).Text(" AND ").Append(rows);
  exists.Text(")");
  set.exists = std::move(exists);
  set.rank = 0;
  return set;
}

size_t FilterDriver(std::string_view type, std::vector<IdSet>& sets, size_t driver) {
  static constexpr std::string_view kOnResource = "x.type = c.type AND x.id = c.id";
  // `type` is a resource type name (letters only), written as a literal: a bound value here
  // would have to be placed among the fragment's values.
  if (!r4::IsResourceType(type))
    return driver;
  Fragment tests;
  std::vector<IdSet> kept;
  size_t new_driver = 0;
  for (size_t i = 0; i < sets.size(); ++i) {
    size_t at = i != driver && sets[i].exists.has_value() ? sets[i].exists->sql.find(kOnResource)
                                                          : std::string::npos;
    if (at == std::string::npos) {
      if (i == driver)
        new_driver = kept.size();
      kept.push_back(std::move(sets[i]));
      continue;
    }
    Fragment test = *sets[i].exists;
    test.sql.replace(at, kOnResource.size(),
                     "x.type = '" + std::string(type) + "' AND x.id = d.id");
    tests.Text(tests.Empty() ? "" : " AND ").Text(sets[i].negate ? "NOT " : "").Append(test);
  }
  sets = std::move(kept);
  if (tests.Empty())
    return new_driver;
  IdSet& list = sets[new_driver];
  Fragment select;
  select.Text("SELECT d.id AS id FROM (").Append(list.select).Text(") d WHERE ").Append(tests);
  list.select = std::move(select);
  return new_driver;
}

Fragment HasAtLeast(const IdSet& set, int64_t rows) {
  // OFFSET skips the entries without handing them to an outer COUNT: about 20% cheaper.
  Fragment out;
  out.Text("SELECT COUNT(*) FROM (").Append(set.select).Text(" LIMIT 1 OFFSET ");
  out.Bind(std::max<int64_t>(rows - 1, 0)).Text(")");
  return out;
}

Result<std::optional<IdSet>> PlanParameter(std::string_view type, std::string_view name,
                                           std::string_view value, const PlannerOptions& options,
                                           int depth) {
  if (depth > kMaxChainDepth)
    return BadValue(name, "chains are limited to 4 levels");
  if (name.starts_with("_has:"))
    return PlanHas(type, name, value, options, depth);
  if (name.find('.') != std::string_view::npos) {
    return PlanChain(type, name, value, options, depth);
  }
  std::string_view code = name;
  std::string_view modifier;
  if (size_t colon = name.find(':'); colon != std::string_view::npos) {
    code = name.substr(0, colon);
    modifier = name.substr(colon + 1);
  }
  std::vector<std::string> values = SplitUnescaped(value, ',');
  IdSet set;

  if (code == "_id") {
    if (!modifier.empty() && modifier != "not")
      return std::optional<IdSet>();
    set.negate = modifier == "not";
    set.select.Text("SELECT column1 AS id FROM (VALUES ");
    for (size_t i = 0; i < values.size(); ++i) {
      set.select.Text(i == 0 ? "(" : ", (").Bind(Unescape(values[i])).Text(")");
    }
    set.select.Text(")");
    return std::optional<IdSet>(std::move(set));
  }
  if (code == "_lastUpdated") {
    if (!modifier.empty())
      return std::optional<IdSet>();
    Fragment any;
    for (const std::string& part : values) {
      MA_ASSIGN_OR_RETURN(Prefixed prefixed, SplitPrefix(name, part));
      MA_ASSIGN_OR_RETURN(core::DateRange range, ParseDate(name, prefixed.value));
      if (!any.Empty())
        any.Text(" OR ");
      DateCondition(any, "r2.last_updated", "(r2.last_updated + 1)", prefixed.prefix, range,
                    options.now_millis);
    }
    set.select.Text("SELECT r2.id AS id FROM resources r2 JOIN current_resources c2 ON ");
    set.select.Text("c2.sequence = r2.sequence WHERE r2.type = ").Bind(std::string(type));
    set.select.Text(" AND (").Append(any).Text(")");
    return std::optional<IdSet>(std::move(set));
  }
  if (code == "_list") {
    if (!modifier.empty())
      return std::optional<IdSet>();
    std::string prefix = std::string(type) + "/";
    set.select.Text("SELECT substr(x.value, ").Bind(static_cast<int64_t>(prefix.size() + 1));
    set.select.Text(") AS id FROM index_reference x WHERE x.type = 'List' AND x.param = 'item'");
    set.select.Text(" AND x.value >= ").Bind(prefix).Text(" AND x.value < ");
    set.select.Bind(PrefixUpperBound(prefix)).Text(" AND x.id IN (VALUES ");
    for (size_t i = 0; i < values.size(); ++i) {
      set.select.Text(i == 0 ? "(" : ", (").Bind(Unescape(values[i])).Text(")");
    }
    set.select.Text(")");
    return std::optional<IdSet>(std::move(set));
  }

  const ParamPlan* plan = Extractor::Get().Find(type, code);
  if (plan == nullptr)
    return std::optional<IdSet>();
  const r4::SearchParamDefinition& def = *plan->definition;
  std::string param(code);

  if (modifier == "missing") {
    if (value != "true" && value != "false")
      return BadValue(name, "expected true or false");
    std::string_view table = TableFor(def.type);
    if (table.empty())
      return std::optional<IdSet>();
    if (plan->derivation == ParamPlan::Derivation::kRootComposite)
      return std::optional<IdSet>();
    set.select = RowSet(table, type, ParamRows(*plan, "", "x"), {});
    set.negate = value == "true";
    return std::optional<IdSet>(std::move(set));
  }

  Fragment any;
  std::string_view table = TableFor(def.type);
  // A resolve-filter reference parameter whose candidates were all checked in C++: its rows
  // are the source's rows, without the SQL type test.
  bool resolve_filter = false;
  bool rows_filtered = true;
  std::string_view suffix;  // of the rows read (":text", ...)
  auto next = [&]() -> Fragment& {
    if (!any.Empty())
      any.Text(" OR ");
    return any;
  };

  switch (def.type) {
    case r4::SearchParamType::kString:
      if (!modifier.empty() && modifier != "exact" && modifier != "contains") {
        return std::optional<IdSet>();
      }
      if (modifier != "exact" && CjkSuffixSearch(values)) {
        // Every value is CJK text: a prefix of the suffix rows (kCjkSuffix), an index range
        // instead of a substring test of every row of the parameter.
        table = "index_string";
        param += kCjkSuffix;
        suffix = kCjkSuffix;
        for (const std::string& part : values) {
          std::string folded = FoldText(Unescape(part));
          if (CharacterCount(folded) == 1) {
            // One character: its own rows, one per resource containing it.
            next().Text("x.value = ").Bind(folded);
            // The rows' own parameter: a parameter with the same expression as another
            // reads that one's rows (ParamPlan::Derivation::kUnion, one source).
            const bool same_rows =
                plan->derivation == ParamPlan::Derivation::kUnion && plan->sources.size() == 1;
            if (values.size() == 1 &&
                (plan->derivation == ParamPlan::Derivation::kNone || same_rows)) {
              // Listed by id in the value index (the primary key ends in the id and raw, which
              // is empty on these rows): the page may walk them in id order.
              set.ordered_table = "index_string";
              set.ordered_condition.Text("d.type = ").Bind(std::string(type));
              set.ordered_condition.Text(" AND d.param = ");
              set.ordered_condition.Bind(same_rows ? plan->sources[0] + std::string(kCjkSuffix)
                                                   : param);
              set.ordered_condition.Text(" AND d.value = ").Bind(folded);
            }
            continue;
          }
          next().Text("(x.value >= ").Bind(folded).Text(" AND x.value < ");
          any.Bind(PrefixUpperBound(folded)).Text(")");
        }
        break;
      }
      for (const std::string& part : values) StringCondition(next(), modifier, part);
      break;
    case r4::SearchParamType::kToken:
      if (modifier == "text") {
        table = "index_string";
        param += kTextSuffix;
        suffix = kTextSuffix;
        for (const std::string& part : values) StringCondition(next(), "contains", part);
      } else if (modifier == "of-type") {
        param += kOfTypeSuffix;
        suffix = kOfTypeSuffix;
        for (const std::string& part : values) {
          std::vector<std::string> pieces = SplitUnescaped(part, '|');
          if (pieces.size() != 3)
            return BadValue(name, "expected system|code|value");
          next().Text("(x.system = ").Bind(Unescape(pieces[0])).Text(" AND x.value = ");
          any.Bind(Unescape(pieces[1]) + "|" + Unescape(pieces[2])).Text(")");
        }
      } else if (modifier.empty() || modifier == "not") {
        set.negate = modifier == "not";
        for (const std::string& part : values) TokenCondition(next(), part);
      } else if ((modifier == "in" || modifier == "not-in") && options.value_sets) {
        // :not-in matches the resources without any coding in the set, as :not does.
        set.negate = modifier == "not-in";
        for (const std::string& part : values) {
          MA_ASSIGN_OR_RETURN(ValueSetCodes codes, options.value_sets(name, Unescape(part)));
          MA_ASSIGN_OR_RETURN(Fragment cond, ValueSetCondition(name, codes));
          next().Append(cond);
        }
      } else {
        return std::optional<IdSet>();
      }
      break;
    case r4::SearchParamType::kReference:
      if (modifier == "identifier") {
        table = "index_token";
        param += kIdentifierSuffix;
        suffix = kIdentifierSuffix;
        for (const std::string& part : values) TokenCondition(next(), part);
        break;
      }
      if (!modifier.empty() && !r4::IsResourceType(modifier))
        return std::optional<IdSet>();
      resolve_filter = plan->derivation == ParamPlan::Derivation::kResolveFilter;
      for (const std::string& escaped : values) {
        std::string part = Unescape(escaped);
        if (part.empty())
          return BadValue(name, "empty reference");
        std::vector<std::string> candidates;  // relative "Type/id" or absolute URLs
        if (!modifier.empty()) {
          if (part.find('/') == std::string::npos)
            part = std::string(modifier) + "/" + part;
          candidates.push_back(StripBase(part, options.base_url));
        } else if (part.find('/') == std::string::npos && part.find(':') == std::string::npos) {
          // A bare id: any of the parameter's target types.
          if (def.target_types.empty()) {
            next().Text("x.value LIKE ").Bind("%/" + part);
            rows_filtered = false;  // rows of any type: the SQL type test stays
            continue;
          }
          for (std::string_view target : def.target_types) {
            candidates.push_back(std::string(target) + "/" + part);
          }
        } else {
          candidates.push_back(StripBase(part, options.base_url));
        }
        // A relative reference also matches the same reference written absolute with this
        // server's base URL.
        size_t relative = candidates.size();
        for (size_t i = 0; i < relative && !options.base_url.empty(); ++i) {
          if (candidates[i].find("://") == std::string::npos &&
              !candidates[i].starts_with("urn:")) {
            candidates.push_back(options.base_url + "/" + candidates[i]);
          }
        }
        if (resolve_filter) {
          // `patient` = subject.where(resolve() is Patient): keep the candidates that resolve
          // to the type, so the rows need no type test of their own (ReferenceType in SQL
          // costs about 5 us a row).
          std::erase_if(candidates, [&](const std::string& candidate) {
            return !ResolvesTo(candidate, plan->resolve_type);
          });
        }
        Fragment& cond = next();
        if (candidates.empty()) {
          cond.Text("0");
          continue;
        }
        cond.Text("x.value IN (");
        for (size_t i = 0; i < candidates.size(); ++i) {
          if (i > 0)
            cond.Text(", ");
          cond.Bind(candidates[i]);
        }
        cond.Text(")");
      }
      break;
    case r4::SearchParamType::kDate:
      if (!modifier.empty())
        return std::optional<IdSet>();
      for (const std::string& part : values) {
        MA_ASSIGN_OR_RETURN(Prefixed prefixed, SplitPrefix(name, part));
        MA_ASSIGN_OR_RETURN(core::DateRange range, ParseDate(name, prefixed.value));
        DateCondition(next(), "x.low", "x.high", prefixed.prefix, range, options.now_millis);
      }
      break;
    case r4::SearchParamType::kNumber:
      if (!modifier.empty())
        return std::optional<IdSet>();
      for (const std::string& part : values) {
        MA_ASSIGN_OR_RETURN(Prefixed prefixed, SplitPrefix(name, part));
        MA_ASSIGN_OR_RETURN(Decimal number, ParseDecimal(name, prefixed.value));
        NumberCondition(next(), "x.number", prefixed.prefix, number);
      }
      break;
    case r4::SearchParamType::kQuantity:
      if (!modifier.empty())
        return std::optional<IdSet>();
      for (const std::string& part : values) {
        std::vector<std::string> pieces = SplitUnescaped(part, '|');
        if (pieces.size() != 1 && pieces.size() != 3) {
          return BadValue(name, "expected number, number|system|code or number||code");
        }
        MA_ASSIGN_OR_RETURN(Prefixed prefixed, SplitPrefix(name, pieces[0]));
        MA_ASSIGN_OR_RETURN(Decimal number, ParseDecimal(name, prefixed.value));
        Fragment& cond = next();
        cond.Text("(");
        NumberCondition(cond, "x.number", prefixed.prefix, number);
        if (pieces.size() == 3) {
          std::string system = Unescape(pieces[1]);
          std::string unit = Unescape(pieces[2]);
          if (!system.empty())
            cond.Text(" AND x.system = ").Bind(system);
          if (!unit.empty()) {
            if (system.empty()) {
              cond.Text(" AND (x.code = ").Bind(unit).Text(" OR x.raw = ").Bind(unit).Text(")");
            } else {
              cond.Text(" AND x.code = ").Bind(unit);
            }
          }
        }
        cond.Text(")");
      }
      break;
    case r4::SearchParamType::kUri:
      for (const std::string& escaped : values) {
        std::string part = Unescape(escaped);
        if (modifier.empty()) {
          next().Text("x.value = ").Bind(part);
        } else if (modifier == "below") {
          next().Text("(x.value >= ").Bind(part).Text(" AND x.value < ");
          any.Bind(PrefixUpperBound(part)).Text(")");
        } else if (modifier == "above") {
          next().Text("substr(").Bind(part).Text(", 1, length(x.value)) = x.value");
        } else {
          return std::optional<IdSet>();
        }
      }
      break;
    case r4::SearchParamType::kComposite: {
      if (!modifier.empty() || plan->components.size() < 2)
        return std::optional<IdSet>();
      for (const ParamPlan::Component& component : plan->components) {
        if (!component.parsed)
          return std::optional<IdSet>();
      }
      bool first = true;
      const bool root = plan->derivation == ParamPlan::Derivation::kRootComposite;
      for (const std::string& part : values) {
        std::vector<std::string> pieces = SplitUnescaped(part, '$');
        if (pieces.size() != plan->components.size()) {
          return BadValue(name, "expected " + std::to_string(plan->components.size()) +
                                    " components separated by $");
        }
        if (!first)
          set.select.Text(" UNION ");
        first = false;
        // Rows of one composite value share "<code>#<group>#"; component i ends in "#i".
        set.select.Text("SELECT x0.id AS id FROM ");
        for (size_t i = 0; i < pieces.size(); ++i) {
          const r4::SearchParamDefinition& cdef = *plan->components[i].definition;
          std::string alias = "x" + std::to_string(i);
          if (i > 0)
            set.select.Text(" JOIN ");
          set.select.Text(TableFor(cdef.type)).Text(" " + alias);
          if (i > 0 && root) {
            // One group (the resource): component i's rows are those of its source.
            set.select.Text(" ON " + alias + ".type = x0.type AND " + alias + ".id = x0.id AND " +
                            alias + ".param = ");
            set.select.Bind(plan->sources[i]);
          } else if (i > 0) {
            set.select.Text(" ON " + alias + ".type = x0.type AND " + alias + ".id = x0.id AND " +
                            alias + ".param = substr(x0.param, 1, length(x0.param) - 1) || ");
            set.select.Bind(std::to_string(i));
          }
        }
        set.select.Text(" WHERE x0.type = ").Bind(std::string(type));
        if (root) {
          set.select.Text(" AND x0.param = ").Bind(plan->sources[0]);
        } else {
          std::string lower = param + kCompositeSeparator;
          set.select.Text(" AND x0.param > ").Bind(lower).Text(" AND x0.param < ");
          set.select.Bind(param + static_cast<char>(kCompositeSeparator + 1));
          set.select.Text(" AND x0.param LIKE '%#0'");
        }
        for (size_t i = 0; i < pieces.size(); ++i) {
          const r4::SearchParamDefinition& cdef = *plan->components[i].definition;
          Fragment cond;
          std::string_view piece = pieces[i];
          switch (cdef.type) {
            case r4::SearchParamType::kToken:
              TokenCondition(cond, piece);
              break;
            case r4::SearchParamType::kString:
              StringCondition(cond, "", piece);
              break;
            case r4::SearchParamType::kReference:
              cond.Text("x.value = ").Bind(StripBase(Unescape(piece), options.base_url));
              break;
            case r4::SearchParamType::kUri:
              cond.Text("x.value = ").Bind(Unescape(piece));
              break;
            case r4::SearchParamType::kDate: {
              MA_ASSIGN_OR_RETURN(Prefixed prefixed, SplitPrefix(name, piece));
              MA_ASSIGN_OR_RETURN(core::DateRange range, ParseDate(name, prefixed.value));
              DateCondition(cond, "x.low", "x.high", prefixed.prefix, range, options.now_millis);
              break;
            }
            case r4::SearchParamType::kNumber:
            case r4::SearchParamType::kQuantity: {
              std::vector<std::string> q = SplitUnescaped(piece, '|');
              MA_ASSIGN_OR_RETURN(Prefixed prefixed, SplitPrefix(name, q[0]));
              MA_ASSIGN_OR_RETURN(Decimal number, ParseDecimal(name, prefixed.value));
              cond.Text("(");
              NumberCondition(cond, "x.number", prefixed.prefix, number);
              if (q.size() == 3 && cdef.type == r4::SearchParamType::kQuantity) {
                if (!q[1].empty())
                  cond.Text(" AND x.system = ").Bind(Unescape(q[1]));
                if (!q[2].empty()) {
                  cond.Text(" AND (x.code = ").Bind(Unescape(q[2])).Text(" OR x.raw = ");
                  cond.Bind(Unescape(q[2])).Text(")");
                }
              }
              cond.Text(")");
              break;
            }
            default:
              return std::optional<IdSet>();
          }
          // Point the component's condition at its alias.
          std::string alias = "x" + std::to_string(i) + ".";
          std::string rewritten;
          for (size_t k = 0; k < cond.sql.size(); ++k) {
            if (cond.sql.compare(k, 2, "x.") == 0 &&
                (k == 0 || !std::isalnum(static_cast<unsigned char>(cond.sql[k - 1])))) {
              rewritten += alias;
              ++k;
            } else {
              rewritten.push_back(cond.sql[k]);
            }
          }
          cond.sql = std::move(rewritten);
          set.select.Text(" AND ").Append(cond);
        }
      }
      return std::optional<IdSet>(std::move(set));
    }
    case r4::SearchParamType::kSpecial:
      return std::optional<IdSet>();
  }
  if (table.empty())
    return std::optional<IdSet>();
  const bool plain_source_rows = resolve_filter && rows_filtered;
  auto param_rows = [&]() {
    if (!plain_source_rows)
      return ParamRowsImpl(*plan, suffix, "x");
    Fragment rows;
    ParamEquals(rows, "x", plan->sources[0]);
    return rows;
  };
  set.select = RowSet(table, type, param_rows(), any);
  if (def.type == r4::SearchParamType::kToken && modifier.empty() && values.size() == 1 &&
      plan->derivation == ParamPlan::Derivation::kNone) {
    // One row per (type, id, param, value, system) (the primary key), and the value index
    // (type, param, value, system) lists equal rows by id.
    auto [system, token] = SplitSystem(values[0]);
    if (system.has_value() && !system->empty() && !token.empty()) {
      set.ordered_table = "index_token";
      set.ordered_condition.Text("d.type = ").Bind(std::string(type)).Text(" AND d.param = ");
      set.ordered_condition.Bind(param).Text(" AND d.value = ").Bind(token);
      set.ordered_condition.Text(" AND d.system = ").Bind(*system);
    }
  }
  switch (def.type) {
    case r4::SearchParamType::kReference:
      set.rank = 0;
      break;
    case r4::SearchParamType::kToken:
      set.rank = param == "identifier" ? 0 : 1;
      break;
    case r4::SearchParamType::kString:
    case r4::SearchParamType::kUri:
      set.rank = 2;
      break;
    default:
      set.rank = 3;
  }
  {
    Fragment exists;
    exists.Text("EXISTS (SELECT 1 FROM ").Text(table).Text(" x WHERE x.type = c.type AND ");
    exists.Text("x.id = c.id AND ").Append(param_rows());
    exists.Text(" AND (").Append(any);
    exists.Text("))");
    set.exists = std::move(exists);
  }
  return std::optional<IdSet>(std::move(set));
}

}  // namespace medalliance::search::internal
