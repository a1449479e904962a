#pragma once
// PatientIndex: the candidate lookup of the master patient index over the store.
//
// Blocking keys live in memory (a MatchIndex), not in the store: the REST writer computes a
// resource's index rows from its content, so a hook cannot add rows of its own, and the
// store's index tables cannot express "skip a block larger than 5 000". The in-memory index
// is therefore a cache that may hold more than the store: Note() is called by the Patient
// write hook inside the write transaction, before the write commits, and a transaction that
// rolls back (or is re-run) leaves its records behind. Stale records are harmless because
// FindMatches() only takes candidate *references* from memory and re-reads every candidate's
// current version through the caller's transaction: a Patient that was never committed, was
// deleted, or has changed since is compared as it is now (or skipped). A Patient updated with
// new identity data gets its new keys added; the old keys stay, so the cache is a superset.
//
// Load() fills the cache from the store at start-up (every current Patient, in pages); with
// one server process over one SQLite file that is the whole truth. Several processes over
// one database (PostgreSQL, later) would each miss the others' writes until restarted; see
// doc/mpi.md.
//
// Thread-safe: Note() takes a unique lock, FindMatches() and Size() a shared one.

#include <cstdint>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/result.h"
#include "mpi/matcher.h"
#include "mpi/record.h"
#include "store/store.h"

namespace medalliance::mpi {

// One current Patient that matched a query.
struct PatientMatch {
  store::StoredResource patient;  // the current version, as read in the caller's transaction
  std::string reference;          // "Patient/<id>"
  Comparison comparison;
};

class PatientIndex {
 public:
  explicit PatientIndex(const MatchConfig& config = DefaultMatchConfig())
      : config_(config), index_(config) {}
  PatientIndex(const PatientIndex&) = delete;
  PatientIndex& operator=(const PatientIndex&) = delete;

  // Adds every current Patient of the store (run once at start-up, before serving).
  // Errors: the store's.
  core::Status Load(store::Store& store);

  // Adds the blocking keys of a Patient's record (record.reference = "Patient/<id>"). Keys the
  // reference already has are not added again, so a re-run transaction or an update that
  // keeps the identity data costs nothing.
  void Note(PatientRecord record);

  // The current Patients sharing a blocking key with `query`, compared with it and graded
  // possible or better (certainly-not too when `keep_certainly_not`), best first (grade, then
  // score). `exclude` (a "Patient/<id>") is left out. Errors: the store's.
  core::Result<std::vector<PatientMatch>> FindMatches(store::ReadTx& tx, const PatientRecord& query,
                                                      std::string_view exclude = {},
                                                      bool keep_certainly_not = false) const;

  const MatchConfig& GetConfig() const { return config_; }
  size_t Size() const;

 private:
  MatchConfig config_;
  mutable std::shared_mutex mutex_;
  MatchIndex index_;
  // reference -> blocking-key hashes already indexed for it (sorted).
  std::unordered_map<std::string, std::vector<uint64_t>> keys_;
};

}  // namespace medalliance::mpi
