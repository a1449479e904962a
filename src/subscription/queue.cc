#include "subscription/queue.h"

#include <optional>
#include <variant>

namespace medalliance::subscription {

using store::SqlQuery;
using store::SqlValue;

namespace {

constexpr std::string_view kColumns =
    "SELECT seq, subscription_id, resource_type, resource_id, version, attempts, "
    "next_attempt_at, enqueued_at, last_error FROM subscription_queue";

int64_t AsInt(const SqlValue& value) {
  return std::holds_alternative<int64_t>(value) ? std::get<int64_t>(value) : 0;
}
std::string AsText(const SqlValue& value) {
  return std::holds_alternative<std::string>(value) ? std::get<std::string>(value) : std::string();
}

std::vector<QueueRow> ToRows(const std::vector<store::SqlRow>& rows) {
  std::vector<QueueRow> out;
  out.reserve(rows.size());
  for (const store::SqlRow& row : rows) {
    QueueRow q;
    q.seq = AsInt(row[0]);
    q.subscription_id = AsText(row[1]);
    q.resource_type = AsText(row[2]);
    q.resource_id = AsText(row[3]);
    q.version = AsInt(row[4]);
    q.attempts = static_cast<int>(AsInt(row[5]));
    q.next_attempt_at = AsInt(row[6]);
    q.enqueued_at = AsInt(row[7]);
    q.last_error = AsText(row[8]);
    out.push_back(std::move(q));
  }
  return out;
}

core::Status StatusOf(const core::Result<int64_t>& result) {
  if (!result)
    return result.error();
  return {};
}

}  // namespace

core::Status Enqueue(store::WriteTx& tx, const std::string& subscription_id,
                     const std::string& type, const std::string& id, int64_t version,
                     core::EpochMillis now) {
  return StatusOf(tx.Execute(SqlQuery{
      "INSERT INTO subscription_queue (subscription_id, resource_type, resource_id, version, "
      "next_attempt_at, enqueued_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
      {subscription_id, type, id, version, now}}));
}

core::Result<std::vector<QueueRow>> Due(store::ReadTx& tx, core::EpochMillis now, int limit) {
  MA_ASSIGN_OR_RETURN(
      auto rows, tx.QueryRows(SqlQuery{
                     std::string(kColumns) + " WHERE next_attempt_at <= ?1 ORDER BY seq LIMIT ?2",
                     {now, static_cast<int64_t>(limit)}}));
  return ToRows(rows);
}

core::Result<std::vector<QueueRow>> AllRows(store::ReadTx& tx) {
  MA_ASSIGN_OR_RETURN(auto rows,
                      tx.QueryRows(SqlQuery{std::string(kColumns) + " ORDER BY seq", {}}));
  return ToRows(rows);
}

core::Status Remove(store::WriteTx& tx, int64_t seq) {
  return StatusOf(tx.Execute(SqlQuery{"DELETE FROM subscription_queue WHERE seq = ?1", {seq}}));
}

core::Status RecordFailure(store::WriteTx& tx, int64_t seq, const std::string& error,
                           core::EpochMillis next_attempt_at) {
  return StatusOf(
      tx.Execute(SqlQuery{"UPDATE subscription_queue SET attempts = attempts + 1, last_error = ?2, "
                          "next_attempt_at = ?3 WHERE seq = ?1",
                          {seq, error, next_attempt_at}}));
}

core::Result<std::optional<core::EpochMillis>> NextDue(store::ReadTx& tx) {
  MA_ASSIGN_OR_RETURN(
      auto rows, tx.QueryRows(SqlQuery{"SELECT MIN(next_attempt_at) FROM subscription_queue", {}}));
  if (rows.empty() || std::holds_alternative<std::monostate>(rows[0][0]))
    return std::optional<core::EpochMillis>();
  return std::optional<core::EpochMillis>(AsInt(rows[0][0]));
}

}  // namespace medalliance::subscription
