// The content-facts cache (access::ContentCache): a hit only for the very version remembered,
// slot collisions, the interning table's reset, concurrent readers and writers; and, through a
// Session, that facts read inside a rolled-back write never decide a later read.

#include "access/content_cache.h"

#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "access/access_test_util.h"

namespace medalliance::access_test {
namespace {

using access::ContentCache;

store::StoredResource Version(int64_t sequence, std::string type = "Observation",
                              std::string id = "obs-1", int64_t version = 1,
                              std::string json = R"({"resourceType":"Observation"})") {
  store::StoredResource resource;
  resource.type = std::move(type);
  resource.id = std::move(id);
  resource.version = version;
  resource.json = std::move(json);
  resource.sequence = sequence;
  return resource;
}

std::string NameOf(const ContentCache& cache, uint32_t generation, ContentCache::Code code) {
  std::string name;
  if (!cache.Name(generation, code, &name))
    return "<passed>";
  return name;
}

TEST(ContentCacheTest, AHitGivesTheRememberedFactsAsCodes) {
  ContentCache cache(4);
  store::StoredResource labelled = Version(7);
  cache.Remember(labelled, "org-a", "");
  ContentCache::Facts facts;
  ASSERT_TRUE(cache.Lookup(labelled, &facts));
  EXPECT_EQ(NameOf(cache, facts.generation, facts.owner), "org-a");
  EXPECT_EQ(facts.patient, ContentCache::kEmpty);
  EXPECT_EQ(cache.Intern("org-a").code, facts.owner);

  store::StoredResource unlabelled = Version(8, "Observation", "obs-2");
  cache.Remember(unlabelled, "", "pat-1");
  ASSERT_TRUE(cache.Lookup(unlabelled, &facts));
  EXPECT_EQ(facts.owner, ContentCache::kEmpty);
  EXPECT_EQ(NameOf(cache, facts.generation, facts.patient), "pat-1");
  EXPECT_EQ(facts.owner_stamp, ContentCache::kNoStamp);

  // The patient's owner resolved under a change mark, kept with the version.
  cache.RememberResolvedOwner(unlabelled, facts, "org-b", 42);
  ContentCache::Facts resolved;
  ASSERT_TRUE(cache.Lookup(unlabelled, &resolved));
  EXPECT_EQ(NameOf(cache, resolved.generation, resolved.patient_owner), "org-b");
  EXPECT_EQ(resolved.owner_stamp, 42);
  EXPECT_EQ(resolved.patient, facts.patient);
}

TEST(ContentCacheTest, AnotherVersionSizeOrIdentityIsAMiss) {
  ContentCache cache(4);
  cache.Remember(Version(5), "org-a", "");
  ContentCache::Facts facts;
  EXPECT_TRUE(cache.Lookup(Version(5), &facts));
  EXPECT_FALSE(cache.Lookup(Version(5, "Observation", "obs-1", 2), &facts));
  EXPECT_FALSE(
      cache.Lookup(Version(5, "Observation", "obs-1", 1, R"({"resourceType":"X"})"), &facts));
  EXPECT_FALSE(cache.Lookup(Version(5, "Observation", "obs-9"), &facts));
  EXPECT_FALSE(cache.Lookup(Version(5, "Condition", "obs-1"), &facts));
  // Type and id are hashed apart: "Observation"+"1x" is not "Observation1"+"x".
  cache.Remember(Version(6, "Observation", "1x"), "org-a", "");
  EXPECT_FALSE(cache.Lookup(Version(6, "Observation1", "x"), &facts));
  EXPECT_FALSE(cache.Lookup(Version(0), &facts));
  EXPECT_FALSE(cache.Lookup(Version(21), &facts));  // an empty slot's sequence is 0
}

TEST(ContentCacheTest, TwoSequencesOnOneSlotNeverGiveEachOthersFacts) {
  ContentCache cache(4);  // 16 slots: 3 and 19 share slot 3
  ASSERT_EQ(cache.SlotCountForTest(), 16u);
  store::StoredResource first = Version(3, "Observation", "same");
  store::StoredResource second = Version(19, "Observation", "same");
  cache.Remember(first, "org-a", "");
  ContentCache::Facts facts;
  EXPECT_FALSE(cache.Lookup(second, &facts));
  cache.Remember(second, "org-b", "");
  EXPECT_FALSE(cache.Lookup(first, &facts));
  ASSERT_TRUE(cache.Lookup(second, &facts));
  EXPECT_EQ(NameOf(cache, facts.generation, facts.owner), "org-b");
  // A resolved owner for a version no longer in its slot is dropped.
  cache.Remember(first, "", "pat-1");
  ContentCache::Facts seen;
  ASSERT_TRUE(cache.Lookup(first, &seen));
  cache.Remember(second, "", "pat-1");
  cache.RememberResolvedOwner(first, seen, "org-a", 1);
  ASSERT_TRUE(cache.Lookup(second, &facts));
  EXPECT_EQ(facts.owner_stamp, ContentCache::kNoStamp);
  EXPECT_FALSE(cache.Lookup(first, &facts));
}

TEST(ContentCacheTest, AFullInterningTableBeginsAGenerationAndEveryOldCodeMisses) {
  ContentCache cache(6, 4);  // "" and three names per generation
  store::StoredResource a = Version(1, "Observation", "a");
  store::StoredResource b = Version(2, "Observation", "b");
  cache.Remember(a, "org-a", "");
  cache.Remember(b, "", "pat-b");
  ContentCache::Facts old_a, old_b;
  ASSERT_TRUE(cache.Lookup(a, &old_a));
  ASSERT_TRUE(cache.Lookup(b, &old_b));
  const uint32_t first = cache.Generation();
  EXPECT_EQ(old_a.generation, first);
  ContentCache::Interned c = cache.Intern("org-c");
  EXPECT_EQ(c.generation, first);
  // The fourth name does not fit: a new generation, in which code numbers start again.
  ContentCache::Interned d = cache.Intern("org-d");
  EXPECT_EQ(d.generation, first + 1);
  EXPECT_EQ(cache.Generation(), first + 1);
  EXPECT_EQ(d.code, old_a.owner);  // the same number, another generation: never confused
  ContentCache::Facts facts;
  EXPECT_FALSE(cache.Lookup(a, &facts));
  EXPECT_FALSE(cache.Lookup(b, &facts));
  std::string name = "unchanged";
  EXPECT_FALSE(cache.Name(first, old_a.owner, &name));
  EXPECT_EQ(name, "unchanged");
  EXPECT_EQ(NameOf(cache, d.generation, d.code), "org-d");
  // A resolved owner seen under the old generation is dropped.
  cache.RememberResolvedOwner(b, old_b, "org-b", 3);
  EXPECT_FALSE(cache.Lookup(b, &facts));
  // Remembered again: facts of the new generation.
  cache.Remember(a, "org-a", "");
  ASSERT_TRUE(cache.Lookup(a, &facts));
  EXPECT_EQ(facts.generation, first + 1);
  EXPECT_EQ(NameOf(cache, facts.generation, facts.owner), "org-a");
  // Owner and patient are interned together: both in one generation even across a reset.
  cache.Remember(b, "", "pat-new-1");
  cache.Remember(Version(3, "Observation", "c"), "", "pat-new-2");
  ASSERT_TRUE(cache.Lookup(Version(3, "Observation", "c"), &facts));
  EXPECT_EQ(NameOf(cache, facts.generation, facts.patient), "pat-new-2");
}

// Writers fill a small table (many sequences per slot) while readers look up: every answer is
// a miss or the facts of exactly the version asked about; small generations reset the names
// under them.
TEST(ContentCacheTest, ConcurrentReadersAndWritersSeeAMissOrTheRightFacts) {
  ContentCache cache(3, 40);  // 8 slots, 64 sequences; resets every ~20 versions remembered
  constexpr int kSequences = 64;
  auto version = [](int sequence) {
    return Version(sequence, "Observation", "obs-" + std::to_string(sequence), 1 + sequence % 3,
                   std::string(static_cast<size_t>(20 + sequence % 5), 'x'));
  };
  auto owner = [](int sequence) {
    return sequence % 2 ? "org-" + std::to_string(sequence) : std::string();
  };
  auto patient = [](int sequence) { return "pat-" + std::to_string(sequence); };
  std::atomic<bool> stop{false};
  std::atomic<int64_t> hits{0}, wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 random(static_cast<unsigned>(t));
      while (!stop.load()) {
        int sequence = 1 + static_cast<int>(random() % kSequences);
        store::StoredResource resource = version(sequence);
        cache.Remember(resource, owner(sequence), patient(sequence));
        ContentCache::Facts seen;
        if (cache.Lookup(resource, &seen))
          cache.RememberResolvedOwner(resource, seen, "org-p" + std::to_string(sequence), sequence);
      }
    });
  }
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 random(static_cast<unsigned>(100 + t));
      for (int i = 0; i < 200'000; ++i) {
        int sequence = 1 + static_cast<int>(random() % kSequences);
        ContentCache::Facts facts;
        if (!cache.Lookup(version(sequence), &facts))
          continue;
        ++hits;
        std::string name;
        bool ok = true;
        if (cache.Name(facts.generation, facts.owner, &name))
          ok = ok && name == owner(sequence);
        if (owner(sequence).empty() && cache.Name(facts.generation, facts.patient, &name))
          ok = ok && name == patient(sequence);
        if (!owner(sequence).empty())
          ok = ok && facts.patient == ContentCache::kEmpty;
        if (facts.owner_stamp != ContentCache::kNoStamp) {
          ok = ok && facts.owner_stamp == sequence;
          if (cache.Name(facts.generation, facts.patient_owner, &name))
            ok = ok && name == "org-p" + std::to_string(sequence);
        }
        if (!ok)
          ++wrong;
      }
    });
  }
  for (size_t i = 2; i < threads.size(); ++i) threads[i].join();
  stop = true;
  threads[0].join();
  threads[1].join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GT(hits.load(), 0);
  EXPECT_GT(cache.Generation(), 1u);
}

// A version read inside a write transaction that rolls back may see its sequence handed to
// another version with the same type, id, version and size: what was learnt of the first must
// never decide a read of the second.
TEST(ContentCacheTest, FactsOfARolledBackVersionNeverDecideALaterRead) {
  World world;
  store::Caller a = Member("org-a", "system");
  store::Caller b = Member("org-b", "system");
  auto observation = [](const std::string& member) {
    store::StoredResource resource;
    resource.type = "Observation";
    resource.id = "obs-reused";
    resource.version = 1;
    resource.method = "PUT";
    resource.json =
        R"({"resourceType":"Observation","id":"obs-reused","status":"final","code":{"text":"x"},"performer":[{"reference":"Organization/)" +
        member + R"("}]})";
    return resource;
  };
  store::StoredResource rolled_back = observation("org-a");
  core::Status status = world.Store().Write([&](store::WriteTx& tx) -> core::Status {
    MA_RETURN_IF_ERROR(tx.PutVersion(rolled_back, {}));
    access::Session session(world.GetPolicy(), a);
    MA_ASSIGN_OR_RETURN(access::Verdict verdict, session.Decide(tx, rolled_back));
    EXPECT_EQ(verdict.rule, access::Rule::kOwn);
    return core::Error::Conflict("roll back");
  });
  ASSERT_FALSE(status.has_value());
  store::StoredResource committed = observation("org-b");
  ASSERT_TRUE(world.Store()
                  .Write([&](store::WriteTx& tx) { return tx.PutVersion(committed, {}); })
                  .has_value());
  // The precondition of the case: the same sequence, and nothing else tells them apart.
  ASSERT_EQ(committed.sequence, rolled_back.sequence);
  ASSERT_EQ(committed.json.size(), rolled_back.json.size());
  bool visible_to_a = true;
  bool visible_to_b = false;
  ASSERT_TRUE(world.Store()
                  .Read([&](store::ReadTx& tx) -> core::Status {
                    access::Session session_a(world.GetPolicy(), a);
                    MA_ASSIGN_OR_RETURN(visible_to_a, session_a.Visible(tx, committed));
                    access::Session session_b(world.GetPolicy(), b);
                    MA_ASSIGN_OR_RETURN(visible_to_b, session_b.Visible(tx, committed));
                    return {};
                  })
                  .has_value());
  EXPECT_FALSE(visible_to_a);
  EXPECT_TRUE(visible_to_b);
}

}  // namespace
}  // namespace medalliance::access_test
