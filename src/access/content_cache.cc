#include "access/content_cache.h"

#include <cstring>
#include <mutex>

namespace medalliance::access {

// Why a hit is always the facts of the very version asked about (no hash collision can grant
// access):
//
// A slot is found by sequence & mask and matches when its sequence, version, JSON size and
// IdentityHash(type, id) equal the version's. resources.sequence is the rowid of an
// append-only table: rows are never deleted or rewritten, so once a version is committed its
// sequence never names another version. SQLite hands out a rowid again only when the row that
// had it was never committed (an insert rolled back at the top of the table). Remember takes
// committed versions only (access::Session remembers what it read in read-only transactions,
// which see a committed snapshot, never what it read inside a write transaction). So a slot
// holding sequence S holds the facts of the one committed version with sequence S, and every
// version with sequence S that anyone can ever read, in any transaction, is that version: an
// uncommitted version cannot have S, because S is taken by a committed row. Equal sequences are
// therefore already an exact check; version, size and the identity hash are defence in depth
// (against, say, a database file replaced under a running server, where a false hit would
// also need the same version number, the same size and a 64-bit hash collision).
//
// The sequence lock: a writer makes `lock` odd (compare-and-swap from an even value; a writer
// finding it odd drops its write), stores the words (release), and makes `lock` even again
// (release). A reader loads `lock` (acquire), the words (acquire), then `lock` again: the copy
// is consistent when both loads saw the same even value. A word stored by a writer is a
// release that publishes the writer's odd `lock` first, and the reader's acquire load of it
// keeps the second `lock` load after it, so a reader that saw any word of an unfinished write
// sees `lock` changed. No fences (ThreadSanitizer models these orders exactly); on x86 every
// one of these loads and stores is a plain move. Every field is a std::atomic, so there is no
// data race whatever the interleaving; a torn copy is detected and read as a miss. Readers
// write nothing.

namespace {

uint64_t Load8(const char* bytes) {
  uint64_t word;
  std::memcpy(&word, bytes, 8);
  return word;
}

}  // namespace

// Asked for every row: eight bytes at a time with no call (the last eight bytes read
// overlapping, a short text byte by byte), multiply and fold; the lengths keep "ab"+"c" apart
// from "a"+"bc".
uint64_t IdentityHash(std::string_view type, std::string_view id) {
  constexpr uint64_t kMultiplier = 0x9E3779B97F4A7C15ULL;
  uint64_t hash = 0x243F6A8885A308D3ULL ^ (type.size() << 32) ^ id.size();
  auto mix = [&](std::string_view text) {
    const char* bytes = text.data();
    const size_t size = text.size();
    if (size >= 8) {
      for (size_t at = 0; at + 8 < size; at += 8) {
        hash = (hash ^ Load8(bytes + at)) * kMultiplier;
        hash ^= hash >> 29;
      }
      hash = (hash ^ Load8(bytes + size - 8)) * kMultiplier;
    } else {
      uint64_t tail = 0;
      for (size_t at = 0; at < size; ++at)
        tail |= uint64_t{static_cast<unsigned char>(bytes[at])} << (8 * at);
      hash = (hash ^ tail ^ 0xFF) * kMultiplier;
    }
    hash ^= hash >> 32;
  };
  mix(type);
  mix(id);
  return hash;
}

ContentCache::ContentCache(int slot_bits, size_t max_codes)
    : mask_((uint64_t{1} << slot_bits) - 1),
      max_codes_(max_codes < 3 ? 3 : max_codes),
      slots_(std::make_unique<Slot[]>(mask_ + 1)),
      names_(1, nullptr) {}

bool ContentCache::Read(const Slot& slot, Copy* copy) {
  constexpr auto kAcquire = std::memory_order_acquire;
  uint64_t before = slot.lock.load(kAcquire);
  if (before & 1)
    return false;
  copy->sequence = slot.sequence.load(kAcquire);
  copy->version = slot.version.load(kAcquire);
  copy->size = slot.size.load(kAcquire);
  copy->identity = slot.identity.load(kAcquire);
  copy->owner_patient = slot.owner_patient.load(kAcquire);
  copy->patient_owner_generation = slot.patient_owner_generation.load(kAcquire);
  copy->owner_stamp = slot.owner_stamp.load(kAcquire);
  return slot.lock.load(std::memory_order_relaxed) == before;
}

bool ContentCache::Matches(const Copy& copy, const store::StoredResource& resource,
                           uint64_t identity) const {
  return copy.sequence == resource.sequence && copy.version == resource.version &&
         copy.size == resource.json.size() && copy.identity == identity;
}

bool ContentCache::Lookup(const store::StoredResource& resource, Facts* facts) const {
  if (resource.sequence <= 0)
    return false;
  Copy copy;
  if (!Read(SlotOf(resource.sequence), &copy))
    return false;
  if (!Matches(copy, resource, IdentityHash(resource.type, resource.id)))
    return false;
  uint32_t generation = static_cast<uint32_t>(copy.patient_owner_generation >> 32);
  if (generation != Generation())
    return false;
  facts->generation = generation;
  facts->owner = static_cast<Code>(copy.owner_patient);
  facts->patient = static_cast<Code>(copy.owner_patient >> 32);
  facts->patient_owner = static_cast<Code>(copy.patient_owner_generation);
  facts->owner_stamp = copy.owner_stamp;
  return true;
}

void ContentCache::Remember(const store::StoredResource& resource, std::string_view owner,
                            std::string_view patient) {
  if (resource.sequence <= 0)
    return;
  Interned owner_code, patient_code;
  InternPair(owner, owner.empty() ? patient : std::string_view(), &owner_code, &patient_code);
  const uint64_t identity = IdentityHash(resource.type, resource.id);
  Slot& slot = SlotOf(resource.sequence);
  uint64_t lock = slot.lock.load(std::memory_order_relaxed);
  if ((lock & 1) || !slot.lock.compare_exchange_strong(lock, lock + 1, std::memory_order_acquire,
                                                       std::memory_order_relaxed)) {
    return;  // another writer is at this slot
  }
  constexpr auto kRelease = std::memory_order_release;
  slot.sequence.store(resource.sequence, kRelease);
  slot.version.store(resource.version, kRelease);
  slot.size.store(resource.json.size(), kRelease);
  slot.identity.store(identity, kRelease);
  slot.owner_patient.store(owner_code.code | (uint64_t{patient_code.code} << 32), kRelease);
  slot.patient_owner_generation.store(uint64_t{owner_code.generation} << 32, kRelease);
  slot.owner_stamp.store(kNoStamp, kRelease);
  slot.lock.store(lock + 2, std::memory_order_release);
}

void ContentCache::RememberResolvedOwner(const store::StoredResource& resource, const Facts& seen,
                                         std::string_view owner, int64_t stamp) {
  if (resource.sequence <= 0 || seen.patient == kEmpty)
    return;
  Interned owner_code = Intern(owner);
  if (owner_code.generation != seen.generation)
    return;
  const uint64_t identity = IdentityHash(resource.type, resource.id);
  Slot& slot = SlotOf(resource.sequence);
  uint64_t lock = slot.lock.load(std::memory_order_relaxed);
  if ((lock & 1) || !slot.lock.compare_exchange_strong(lock, lock + 1, std::memory_order_acquire,
                                                       std::memory_order_relaxed)) {
    return;
  }
  // Only this thread writes the slot now: its words are read as they are.
  Copy copy;
  copy.sequence = slot.sequence.load(std::memory_order_relaxed);
  copy.version = slot.version.load(std::memory_order_relaxed);
  copy.size = slot.size.load(std::memory_order_relaxed);
  copy.identity = slot.identity.load(std::memory_order_relaxed);
  copy.owner_patient = slot.owner_patient.load(std::memory_order_relaxed);
  uint64_t generation = slot.patient_owner_generation.load(std::memory_order_relaxed) >> 32;
  const bool same = Matches(copy, resource, identity) && generation == seen.generation &&
                    copy.owner_patient == (seen.owner | (uint64_t{seen.patient} << 32));
  if (!same) {
    slot.lock.store(lock + 2, std::memory_order_release);
    return;
  }
  slot.patient_owner_generation.store(owner_code.code | (generation << 32),
                                      std::memory_order_release);
  slot.owner_stamp.store(stamp, std::memory_order_release);
  slot.lock.store(lock + 2, std::memory_order_release);
}

ContentCache::Code ContentCache::InternLocked(std::string_view name) {
  if (name.empty())
    return kEmpty;
  auto found = codes_.find(name);
  if (found != codes_.end())
    return found->second;
  if (names_.size() >= max_codes_) {
    // Full: a new generation. Every slot written under the old one is a miss from now on, and
    // Name refuses the old generation's codes, so no old code reaches the new strings.
    codes_.clear();
    names_.assign(1, nullptr);
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  Code code = static_cast<Code>(names_.size());
  // The map's nodes do not move: its key is the one copy of the string.
  auto inserted = codes_.emplace(std::string(name), code).first;
  names_.push_back(&inserted->first);
  return code;
}

ContentCache::Interned ContentCache::Intern(std::string_view name) {
  if (name.empty())
    return Interned{Generation(), kEmpty};
  {
    std::shared_lock lock(names_mutex_);
    auto found = codes_.find(name);
    if (found != codes_.end())
      return Interned{generation_.load(std::memory_order_relaxed), found->second};
  }
  std::unique_lock lock(names_mutex_);
  Code code = InternLocked(name);
  return Interned{generation_.load(std::memory_order_relaxed), code};
}

void ContentCache::InternPair(std::string_view first, std::string_view second, Interned* a,
                              Interned* b) {
  if (second.empty()) {
    *a = Intern(first);
    *b = Interned{a->generation, kEmpty};
    return;
  }
  std::unique_lock lock(names_mutex_);
  // Interning one of them may begin a generation, making the other's code stale: then again.
  // A new generation holds at most these two names, so the second pass finds both.
  for (;;) {
    uint32_t generation = generation_.load(std::memory_order_relaxed);
    Code first_code = InternLocked(first);
    Code second_code = InternLocked(second);
    if (generation_.load(std::memory_order_relaxed) == generation) {
      *a = Interned{generation, first_code};
      *b = Interned{generation, second_code};
      return;
    }
  }
}

bool ContentCache::Name(uint32_t generation, Code code, std::string* name) const {
  if (code == kEmpty) {
    name->clear();
    return true;
  }
  std::shared_lock lock(names_mutex_);
  if (generation != generation_.load(std::memory_order_relaxed) || code >= names_.size())
    return false;
  *name = *names_[code];
  return true;
}

}  // namespace medalliance::access
