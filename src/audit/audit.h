#pragma once
// The audit trail (issue 4, doc/security.md): AuditEvents in the style of IHE Basic Audit Log
// Patterns (who, for which member, what, why, outcome), stored as FHIR resources and chained:
// each AuditEvent version gets a link in `audit_chain` whose hash is SHA-256(previous hash ||
// the exact stored JSON bytes), written in the same transaction. VerifyChain() recomputes it.
//
// Writes are audited inside the write's own transaction (AuditWriteHook); reads of another
// member's data go through AuditLog::Commit, which returns once their AuditEvents are
// committed (group commit with concurrent requests); security events through
// AuditLog::Record, flushed every few milliseconds. See doc/security.md.
//
// Thread-safety: AuditLog is thread-safe; the free functions are.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "fhir/json/json.h"
#include "store/hooks.h"
#include "store/store.h"

namespace medalliance::audit {

// What happened. Field names follow AuditEvent.
struct AuditRecord {
  enum class Category {
    kRest,      // a FHIR interaction (type rest, subtype the interaction)
    kLogin,     // user authentication (DICOM 110114)
    kSecurity,  // token issued/refused, refusal, break-glass (DICOM 110113 security alert)
  };
  Category category = Category::kRest;
  std::string subtype;  // read, vread, search-type, history-instance, create, update, ...
  std::string action;   // C, R, U, D, E
  core::EpochMillis recorded = 0;
  std::string outcome = "0";  // 0 success, 4 minor failure, 8 serious failure
  std::string outcome_description;
  store::Caller caller;
  std::vector<std::string> entities;  // "Type/id/_history/n"
  std::vector<std::string> patients;  // Patient ids
  std::string owner;                  // the member whose data it is, when another's
  std::string purpose;                // v3 ActReason: TREAT, ETREAT (break-glass)
  std::string rule;                   // the access rule that decided
  std::string query;                  // search query text, when a search
  // The domain module that made the write for the request (store::WriteEvent::origin), e.g.
  // "referral": recorded as a second agent, the server acting for the caller.
  std::string origin;
};

inline constexpr std::string_view kClientSystem = "https://fhir.medalliance.cn/sid/client";

// The AuditEvent resource for a record (no id or meta yet).
fhir::Json BuildAuditEvent(const AuditRecord& record);

// Stores `event` as a new AuditEvent (id assigned, version 1) and appends its chain link.
// Call inside the transaction of what it records.
core::Result<store::StoredResource> AppendAuditEvent(store::WriteTx& tx, fhir::Json event,
                                                     core::EpochMillis now);

// A break-glass grant: a security AuditEvent (purpose ETREAT) and a Task for the data steward
// (code break-glass-review, restriction.period = the grant's window, focus = the AuditEvent).
core::Status AppendBreakGlass(store::WriteTx& tx, const store::Caller& caller,
                              const std::string& patient, const std::string& reason,
                              core::EpochMillis start, core::EpochMillis end,
                              core::EpochMillis now);
inline constexpr std::string_view kTaskCodeSystem =
    "https://fhir.medalliance.cn/CodeSystem/task-code";

// SHA-256(previous || data) as 64 hex digits; `previous_hex` empty means 32 zero bytes.
std::string ChainHash(std::string_view previous_hex, std::string_view data);

// A point of the chain recorded outside the database: the link at `position` had `hash`.
// The chain alone cannot show that its newest entries were deleted together with their
// links; an anchor kept elsewhere (an anchor file, a head hash written down) can.
struct ChainAnchor {
  int64_t position = 0;  // 0: a bare hash, which must be the hash of some link
  std::string hash;      // 64 lowercase hex digits
};
// "POSITION:HASH", "POSITION HASH ..." (an anchor file line) or "HASH". kBadRequest otherwise.
core::Result<ChainAnchor> ParseAnchor(std::string_view text);
// The anchors of an anchor file (AnchorWriter's lines; blank lines and '#' comments skipped).
core::Result<std::vector<ChainAnchor>> ReadAnchorFile(const std::string& path);

struct VerifyReport {
  int64_t links = 0;
  int64_t head_position = 0;          // the last link's position
  std::string head;                   // the last link's hash
  std::vector<std::string> problems;  // each names the position or the AuditEvent
  bool ok() const { return problems.empty(); }
};
// Recomputes the whole chain: altered (hash mismatch), removed (a missing position or
// AuditEvent), reordered (an AuditEvent at another sequence than chained) and inserted
// (an AuditEvent version without a link) entries are reported. Each anchor must match the
// chain: a link at its position with its hash (else altered), and no anchor beyond the head
// (else the newest entries were removed).
core::Result<VerifyReport> VerifyChain(store::Store& store,
                                       const std::vector<ChainAnchor>& anchors = {});

// Appends the chain head to an append-only anchor file, one line "POSITION HASH INSTANT" each
// time it moved, checked every `interval_ms` on a background thread and once more at
// destruction. Each line is fsync'ed. The operator keeps the file where whoever can edit the
// database cannot (another disk, host or a WORM store); `medalliance audit verify --anchor`
// checks the chain against it.
class AnchorWriter {
 public:
  AnchorWriter(store::Store& store, std::string path, int interval_ms);
  ~AnchorWriter();
  AnchorWriter(const AnchorWriter&) = delete;
  AnchorWriter& operator=(const AnchorWriter&) = delete;

  // Appends the head now when it moved since the last line. kUnavailable when the file
  // cannot be written.
  core::Status WriteNow();

 private:
  void Run();

  store::Store& store_;
  const std::string path_;
  const int interval_ms_;
  std::mutex write_mutex_;
  int64_t last_position_ = -1;  // of the last line written (or read back at start)
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

// Recording of reads and security events, with group commit. A background thread writes
// what is queued in one transaction: at once when a caller waits (Commit), after
// `flush_interval_ms` when none does (Record). Concurrent requests' records therefore share
// one transaction (and one commit), and the hash chain is appended in queue order.
//
// Commit is for accesses to another member's data: the response must not leave before their
// AuditEvents are committed, so an acknowledged access survives a crash (kill -9). Record is
// fire-and-forget (refusals, token events): lost if the process dies within the interval;
// records that fail to store are logged to stderr.
class AuditLog {
 public:
  AuditLog(store::Store& store, const core::Clock& clock, int flush_interval_ms = 5);
  ~AuditLog();  // flushes
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  void Record(AuditRecord record);
  // Queues `records` and returns once the transaction holding them is committed, or its
  // error (nothing of the batch stored). Group commit: records queued meanwhile by other
  // threads go in the same transaction.
  core::Status Commit(std::vector<AuditRecord> records);
  // Writes everything queued so far; returns after it is committed.
  core::Status Flush();
  const core::Clock& GetClock() const { return clock_; }
  int64_t Written() const;
  int64_t Transactions() const;  // batches committed (group-commit evidence)

 private:
  // A waiter's records: done and status are set by the writer under mutex_.
  struct Ticket {
    bool done = false;
    core::Status status;
  };
  struct Pending {
    AuditRecord record;
    std::shared_ptr<Ticket> ticket;  // null: nobody waits
  };
  void Run();
  core::Status WriteBatch(std::vector<Pending> batch);

  store::Store& store_;
  const core::Clock& clock_;
  const int flush_interval_ms_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable committed_;
  std::deque<Pending> queue_;
  int waiting_ = 0;  // queued records somebody waits for
  bool stopping_ = false;
  int64_t written_ = 0;
  int64_t transactions_ = 0;
  std::mutex write_mutex_;  // one batch at a time (Flush and the thread)
  std::thread thread_;
};

// Records every write made for a request (create, update, patch, delete) as an AuditEvent in
// the same transaction, those domain modules make for it (WriteEvent::origin) included, and
// the server's own (a store::SystemCaller, e.g. the green-channel escalator). Local tools
// (no caller) are not audited.
class AuditWriteHook final : public store::WriteHook {
 public:
  explicit AuditWriteHook(const core::Clock& clock) : clock_(clock) {}
  std::vector<std::string> Types() const override { return {}; }
  bool CallerOnly() const override { return true; }
  core::Status BeforeWrite(store::WriteTx& tx, store::WriteEvent& event) override;

 private:
  const core::Clock& clock_;
};

}  // namespace medalliance::audit
