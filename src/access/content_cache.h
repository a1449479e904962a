#pragma once
// The content facts of stored versions (what the access rules need of a version's bytes: its
// issuing member, else the first patient it is about and that patient's owner as last
// resolved), shared by every request of a server. Asked for every row of every search, so it
// is built for that: a flat, direct-mapped table indexed by resources.sequence (slot =
// sequence & mask), one 64-byte cache line per slot, no heap strings per row, and readers that
// never write a shared cache line (a per-slot sequence lock over atomic words).
//
// Member organisation ids and patient ids are stored as small integer codes from an interning
// table. The table is bounded: when it is full it is emptied and a new generation begins, and
// every slot written under an older generation is a miss from then on. A code means one string
// within its generation only, so codes are compared only with codes of the same generation and
// turned back into strings only while their generation is current (Name). A stale code never
// maps to another string.
//
// Thread-safety: every member function may be called from any thread at once. A writer that
// finds its slot being written by another thread drops its write (it is a cache).

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "store/store.h"

namespace medalliance::access {

class ContentCache {
 public:
  using Code = uint32_t;
  static constexpr Code kEmpty = 0;            // the code of the empty string, in every generation
  static constexpr Code kNoCode = 0xFFFFFFFF;  // never assigned to a string
  static constexpr int64_t kNoStamp = -1;      // matches no change mark

  struct Facts {
    uint32_t generation = 0;  // of the codes below
    Code owner = kEmpty;      // the issuing member
    Code patient = kEmpty;    // with no owner: the first patient the version is about
    // With a patient and no owner: the patient's record's owner as last resolved for this
    // version, and the change mark it was resolved under (it holds while the store's
    // ReadTx::Changes().current equals it).
    Code patient_owner = kEmpty;
    int64_t owner_stamp = kNoStamp;
  };

  // 2^slot_bits slots (64 bytes each: 2^18 = 16 MiB); at most max_codes interned strings
  // per generation (2^18: about 30 MiB of ids at most).
  explicit ContentCache(int slot_bits = 18, size_t max_codes = size_t{1} << 18);
  ContentCache(const ContentCache&) = delete;
  ContentCache& operator=(const ContentCache&) = delete;

  // The facts remembered for exactly this version (sequence, version, size and identity
  // match, written under the current generation); false otherwise.
  bool Lookup(const store::StoredResource& resource, Facts* facts) const;

  // Remembers a version's facts, replacing whatever its slot held. The caller must only pass
  // committed versions (read in a read-only transaction): see the comment in the .cc on why
  // that makes a false hit impossible.
  void Remember(const store::StoredResource& resource, std::string_view owner,
                std::string_view patient);

  // Records the patient's owner resolved for a version whose facts `seen` (from Lookup) name a
  // patient and no owner, under change mark `stamp`. Dropped when the slot no longer holds that
  // version or its generation has passed.
  void RememberResolvedOwner(const store::StoredResource& resource, const Facts& seen,
                             std::string_view owner, int64_t stamp);

  struct Interned {
    uint32_t generation = 0;
    Code code = kNoCode;
  };
  // The code of `name` in the current generation, interned when absent (which may begin a new
  // generation when the table is full).
  Interned Intern(std::string_view name);
  // The string of `code` in `generation`; false when that generation has passed.
  bool Name(uint32_t generation, Code code, std::string* name) const;
  uint32_t Generation() const { return generation_.load(std::memory_order_acquire); }

  size_t SlotCountForTest() const { return mask_ + 1; }

 private:
  struct alignas(64) Slot {
    std::atomic<uint64_t> lock{0};  // odd while a writer fills the slot
    std::atomic<int64_t> sequence{0};
    std::atomic<int64_t> version{0};
    std::atomic<uint64_t> size{0};
    std::atomic<uint64_t> identity{0};                  // IdentityHash(type, id)
    std::atomic<uint64_t> owner_patient{0};             // owner | patient << 32
    std::atomic<uint64_t> patient_owner_generation{0};  // patient_owner | generation << 32
    std::atomic<int64_t> owner_stamp{kNoStamp};
  };
  static_assert(sizeof(Slot) == 64);

  // Reads a consistent copy of the slot; false when a writer is at work on it.
  struct Copy {
    int64_t sequence;
    int64_t version;
    uint64_t size;
    uint64_t identity;
    uint64_t owner_patient;
    uint64_t patient_owner_generation;
    int64_t owner_stamp;
  };
  static bool Read(const Slot& slot, Copy* copy);
  bool Matches(const Copy& copy, const store::StoredResource& resource, uint64_t identity) const;
  Slot& SlotOf(int64_t sequence) const { return slots_[static_cast<uint64_t>(sequence) & mask_]; }
  // Interns both under one lock, so that they share a generation.
  void InternPair(std::string_view first, std::string_view second, Interned* a, Interned* b);
  Code InternLocked(std::string_view name);

  const uint64_t mask_;
  const size_t max_codes_;
  std::unique_ptr<Slot[]> slots_;
  // Read by every Lookup: on a cache line of its own, away from the mutex's writes.
  alignas(64) std::atomic<uint32_t> generation_{1};  // slots start at generation 0: empty
  alignas(64) mutable std::shared_mutex names_mutex_;
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view name) const { return std::hash<std::string_view>()(name); }
  };
  // Of the current generation; looked up by string_view without a copy.
  std::unordered_map<std::string, Code, NameHash, std::equal_to<>> codes_;
  std::vector<const std::string*> names_;  // by code, the keys of codes_; names_[0] is null ("")
};

// A 64-bit hash of a version's type and id (not a security boundary: see ContentCache).
uint64_t IdentityHash(std::string_view type, std::string_view id);

}  // namespace medalliance::access
