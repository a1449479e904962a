#include "mpi/patient_index.h"

#include <algorithm>
#include <mutex>
#include <unordered_set>

#include "fhir/json/json.h"
#include "store/sql/schema.h"

namespace medalliance::mpi {
namespace {

constexpr int64_t kLoadPageSize = 2000;

}  // namespace

core::Status PatientIndex::Load(store::Store& store) {
  // Pages by id, which walks the primary key (type, id) of the current-version table; paging
  // by sequence scanned and sorted every Patient for each page (quadratic: ten minutes at 1 M).
  std::string after;
  for (;;) {
    std::vector<store::StoredResource> page;
    MA_RETURN_IF_ERROR(store.Read([&](store::ReadTx& tx) -> core::Status {
      const store::Dialect& dialect = tx.GetDialect();
      store::SqlQuery query;
      query.sql = "SELECT " + std::string(store::sql::kResourceColumns) + " FROM " +
                  std::string(store::sql::kCurrentTable) + " c JOIN " +
                  std::string(store::sql::kResourcesTable) +
                  " r ON r.sequence = c.sequence WHERE c.type = 'Patient' AND c.deleted = 0" +
                  " AND c.id > " + dialect.Placeholder(1) + " ORDER BY c.id LIMIT " +
                  dialect.Placeholder(2);
      query.params = {after, kLoadPageSize};
      MA_ASSIGN_OR_RETURN(page, tx.QueryResources(query));
      return {};
    }));
    for (const store::StoredResource& stored : page) {
      core::Result<fhir::Json> json = fhir::ParseJson(stored.json);
      if (!json)
        continue;  // stored by this server, so never malformed; skip rather than fail
      PatientRecord record = ExtractRecord(*json);
      record.reference = "Patient/" + stored.id;
      Note(std::move(record));
      after = std::max(after, stored.id);
    }
    if (static_cast<int64_t>(page.size()) < kLoadPageSize)
      break;
  }
  std::unique_lock lock(mutex_);
  index_.Compact();
  return {};
}

void PatientIndex::Note(PatientRecord record) {
  std::vector<uint64_t> keys = MatchIndex::BlockingKeys(record);
  std::unique_lock lock(mutex_);
  std::vector<uint64_t>& known = keys_[record.reference];
  if (std::includes(known.begin(), known.end(), keys.begin(), keys.end()))
    return;
  std::vector<uint64_t> merged;
  std::set_union(known.begin(), known.end(), keys.begin(), keys.end(), std::back_inserter(merged));
  known = std::move(merged);
  index_.Add(std::move(record));
}

size_t PatientIndex::Size() const {
  std::shared_lock lock(mutex_);
  return keys_.size();
}

core::Result<std::vector<PatientMatch>> PatientIndex::FindMatches(store::ReadTx& tx,
                                                                  const PatientRecord& query,
                                                                  std::string_view exclude,
                                                                  bool keep_certainly_not) const {
  std::vector<std::string> references;
  {
    std::shared_lock lock(mutex_);
    std::unordered_set<std::string_view> seen;
    for (uint32_t number : index_.Candidates(query)) {
      const std::string& reference = index_.Get(number).reference;
      if (reference == exclude || !seen.insert(reference).second)
        continue;
      references.push_back(reference);
    }
  }
  std::vector<PatientMatch> out;
  constexpr std::string_view kPrefix = "Patient/";
  for (std::string& reference : references) {
    if (reference.rfind(kPrefix, 0) != 0)
      continue;
    MA_ASSIGN_OR_RETURN(
        auto current,
        tx.ReadCurrent("Patient", std::string_view(reference).substr(kPrefix.size())));
    if (!current.has_value() || current->deleted)
      continue;  // rolled back or deleted
    core::Result<fhir::Json> json = fhir::ParseJson(current->json);
    if (!json)
      continue;
    PatientRecord record = ExtractRecord(*json);
    record.reference = reference;
    Comparison comparison = Compare(query, record, config_);
    if (comparison.grade == MatchGrade::kCertainlyNot && !keep_certainly_not)
      continue;
    out.push_back(PatientMatch{std::move(*current), std::move(reference), comparison});
  }
  std::sort(out.begin(), out.end(), [](const PatientMatch& x, const PatientMatch& y) {
    if (x.comparison.grade != y.comparison.grade) {
      return static_cast<int>(x.comparison.grade) < static_cast<int>(y.comparison.grade);
    }
    if (x.comparison.score != y.comparison.score)
      return x.comparison.score > y.comparison.score;
    return x.reference < y.reference;
  });
  return out;
}

}  // namespace medalliance::mpi
