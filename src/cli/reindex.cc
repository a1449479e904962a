#include "cli/reindex.h"

#include "fhir/json/json.h"
#include "store/sql/schema.h"

namespace medalliance::cli {

core::Result<ReindexStats> Reindex(store::Store& store, const search::Searcher& searcher,
                                   const std::optional<std::string>& type, size_t batch_size) {
  ReindexStats stats;
  // Walks current resources in (type, id) order, the primary key of current_resources.
  std::string after_type;
  std::string after_id;
  for (;;) {
    size_t done = 0;
    int64_t batch_rows = 0;
    std::string last_type;
    std::string last_id;
    core::Status status = store.Write([&](store::WriteTx& tx) -> core::Status {
      done = 0;
      batch_rows = 0;
      const store::Dialect& dialect = tx.GetDialect();
      store::SqlQuery query;
      query.sql = "SELECT " + std::string(store::sql::kResourceColumns) + " FROM " +
                  std::string(store::sql::kCurrentTable) + " c JOIN " +
                  std::string(store::sql::kResourcesTable) +
                  " r ON r.sequence = c.sequence WHERE c.deleted = 0 AND (c.type > " +
                  dialect.Placeholder(1) + " OR (c.type = " + dialect.Placeholder(1) +
                  " AND c.id > " + dialect.Placeholder(2) + "))";
      query.params = {after_type, after_id};
      if (type.has_value()) {
        query.sql += " AND c.type = " + dialect.Placeholder(3);
        query.params.emplace_back(*type);
      }
      query.sql += " ORDER BY c.type, c.id LIMIT " + std::to_string(batch_size);
      MA_ASSIGN_OR_RETURN(std::vector<store::StoredResource> page, tx.QueryResources(query));
      for (const store::StoredResource& resource : page) {
        MA_ASSIGN_OR_RETURN(fhir::Json json, fhir::ParseJson(resource.json));
        std::vector<store::IndexEntry> index = searcher.Index(json);
        batch_rows += static_cast<int64_t>(index.size());
        MA_RETURN_IF_ERROR(tx.ReplaceIndex(resource.type, resource.id, index));
      }
      done = page.size();
      if (!page.empty()) {
        last_type = page.back().type;
        last_id = page.back().id;
      }
      return {};
    });
    if (!status)
      return std::move(status).error();
    stats.resources += static_cast<int64_t>(done);
    stats.rows += batch_rows;
    if (done < batch_size)
      break;
    after_type = last_type;
    after_id = last_id;
  }
  return stats;
}

}  // namespace medalliance::cli
