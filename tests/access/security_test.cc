// Break-glass, write rules (owner, registry, forged labels, AuditEvents append-only) and the
// audit trail (write AuditEvents in the write's transaction, cross-member reads, hash chain).

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "access/access_test_util.h"

namespace medalliance::access_test {
namespace {

const char kObservation[] =
    R"({"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"718-7"}]},"subject":{"reference":"Patient/pat-a"}})";

class SecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(
        world_.Put(
            &a_, "Patient", "pat-a",
            R"({"resourceType":"Patient","id":"pat-a","managingOrganization":{"reference":"Organization/org-a"}})"),
        "");
    ASSERT_EQ(
        world_.Put(
            &a_, "Observation", "obs-a",
            R"({"resourceType":"Observation","id":"obs-a","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"718-7"}]},"subject":{"reference":"Patient/pat-a"}})"),
        "");
  }

  // How many resources a local tool finds for `query`.
  int64_t Count(const std::string& query) {
    bool has_params = query.find('?') != std::string::npos;
    FhirResponse response =
        world_.Send(nullptr, "GET", query + (has_params ? "&" : "?") + "_summary=count");
    return BundleTotal(response);
  }

  static size_t Occurrences(const std::string& text, const std::string& needle) {
    size_t count = 0;
    for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
      ++count;
    return count;
  }

  World world_;
  store::Caller a_ = Member("org-a", "system");
  store::Caller b_ = Member("org-b", "clinician");
};

// Records loaded without a caller and naming no issuing member (a bulk load from a HIS without
// performers) belong to the member that manages the patient.
TEST_F(SecurityTest, RecordsWithoutAnIssuerBelongToThePatientsMember) {
  ASSERT_EQ(
      world_.Put(
          nullptr, "Patient", "pat-mrn",
          R"({"resourceType":"Patient","id":"pat-mrn","identifier":[{"system":"https://fhir.medalliance.cn/sid/mrn/org-a","value":"MRN1"}]})"),
      "");
  ASSERT_EQ(
      world_.Put(
          nullptr, "Observation", "obs-loaded",
          R"({"resourceType":"Observation","id":"obs-loaded","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"718-7"}]},"subject":{"reference":"Patient/pat-mrn"}})"),
      "");
  EXPECT_EQ(world_.Send(&a_, "GET", "Observation/obs-loaded").status, 200);
  EXPECT_EQ(world_.Send(&b_, "GET", "Observation/obs-loaded").status, 404);
  FhirResponse search_b =
      world_.Send(&b_, "GET", "Observation?subject=Patient/pat-mrn&_total=accurate");
  EXPECT_EQ(BundleTotal(search_b), 0) << search_b.body;
  FhirResponse search_a =
      world_.Send(&a_, "GET", "Observation?subject=Patient/pat-mrn&_total=accurate");
  EXPECT_EQ(BundleTotal(search_a), 1) << search_a.body;
}

// The owner of an unlabelled record follows its patient's record across requests: a local
// tool moving the Patient to another member is seen by the next request.
TEST_F(SecurityTest, ThePatientsOwnerIsRecheckedAfterAnOutOfBandWrite) {
  ASSERT_EQ(
      world_.Put(
          nullptr, "Patient", "pat-moved",
          R"({"resourceType":"Patient","id":"pat-moved","identifier":[{"system":"https://fhir.medalliance.cn/sid/mrn/org-a","value":"MRN7"}]})"),
      "");
  ASSERT_EQ(
      world_.Put(
          nullptr, "Observation", "obs-moved",
          R"({"resourceType":"Observation","id":"obs-moved","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"718-7"}]},"subject":{"reference":"Patient/pat-moved"}})"),
      "");
  EXPECT_EQ(world_.Send(&a_, "GET", "Observation/obs-moved").status, 200);
  EXPECT_EQ(world_.Send(&b_, "GET", "Observation/obs-moved").status, 404);
  ASSERT_EQ(
      world_.Put(
          nullptr, "Patient", "pat-moved",
          R"({"resourceType":"Patient","id":"pat-moved","identifier":[{"system":"https://fhir.medalliance.cn/sid/mrn/org-b","value":"MRN7"}]})"),
      "");
  // At once: the store's change marks moved with the write (no waiting period).
  EXPECT_EQ(world_.Send(&a_, "GET", "Observation/obs-moved").status, 404);
  EXPECT_EQ(world_.Send(&b_, "GET", "Observation/obs-moved").status, 200);
}

TEST_F(SecurityTest, BreakGlassAllowsAClinicianAuditsAndFlagsForTheSteward) {
  EXPECT_EQ(world_.Send(&b_, "GET", "Observation/obs-a").status, 404);
  store::Caller emergency = b_;
  emergency.break_glass_reason = "unconscious patient in the emergency room";
  EXPECT_EQ(world_.Send(&emergency, "GET", "Observation/obs-a").status, 200);
  EXPECT_EQ(world_.Send(&emergency, "GET", "Patient/pat-a").status, 200);
  ASSERT_TRUE(world_.Audit().Flush().has_value());
  // One grant (one review Task) for the window, however many reads.
  EXPECT_EQ(Count("Task?code=https://fhir.medalliance.cn/CodeSystem/task-code|break-glass-review"),
            1);
  FhirResponse events = world_.Send(nullptr, "GET", "AuditEvent?_count=200");
  EXPECT_NE(events.body.find("\"ETREAT\""), std::string::npos);
  EXPECT_NE(events.body.find("\"break-glass\""), std::string::npos);
  // After the window a new grant is opened and flagged again.
  world_.Clock().Advance(world_.GetPolicy().Options().break_glass_window_ms + 1);
  EXPECT_EQ(world_.Send(&emergency, "GET", "Observation/obs-a").status, 200);
  EXPECT_EQ(Count("Task?code=https://fhir.medalliance.cn/CodeSystem/task-code|break-glass-review"),
            2);
}

// A grant is kept in the database: a restart within the window neither forgets it nor flags
// the same emergency again; after the window the next break-glass read opens a new one.
TEST_F(SecurityTest, BreakGlassGrantsSurviveARestartAndExpire) {
  const std::string tasks =
      "Task?code=https://fhir.medalliance.cn/CodeSystem/task-code|break-glass-review";
  store::Caller emergency = b_;
  emergency.break_glass_reason = "unconscious patient in the emergency room";
  EXPECT_EQ(world_.Send(&emergency, "GET", "Observation/obs-a").status, 200);
  ASSERT_TRUE(world_.Audit().Flush().has_value());
  EXPECT_EQ(Count(tasks), 1);

  world_.Restart();
  world_.Clock().Advance(60'000);
  EXPECT_EQ(world_.Send(&emergency, "GET", "Observation/obs-a").status, 200);
  ASSERT_TRUE(world_.Audit().Flush().has_value());
  EXPECT_EQ(Count(tasks), 1) << "the grant opened before the restart still covers the read";
  // Without a reason the grant does not open the record: break-glass is asked per request.
  EXPECT_EQ(world_.Send(&b_, "GET", "Observation/obs-a").status, 404);
  // Another caller of the same member has no grant of its own.
  store::Caller colleague = emergency;
  colleague.practitioner_id = "dr-other";
  EXPECT_EQ(world_.Send(&colleague, "GET", "Observation/obs-a").status, 200);
  ASSERT_TRUE(world_.Audit().Flush().has_value());
  EXPECT_EQ(Count(tasks), 2);

  world_.Restart();
  world_.Clock().Advance(world_.GetPolicy().Options().break_glass_window_ms);
  EXPECT_EQ(world_.Send(&emergency, "GET", "Observation/obs-a").status, 200);
  ASSERT_TRUE(world_.Audit().Flush().has_value());
  EXPECT_EQ(Count(tasks), 3) << "an expired grant is flagged anew";

  // The table keeps one open grant per (caller, patient), expired ones are dropped.
  int64_t rows = -1;
  ASSERT_TRUE(world_.Store()
                  .Read([&](store::ReadTx& tx) -> core::Status {
                    store::SqlQuery query;
                    query.sql = "SELECT count(*) FROM break_glass_grants";
                    MA_ASSIGN_OR_RETURN(std::vector<store::SqlRow> found, tx.QueryRows(query));
                    rows = std::get<int64_t>(found.at(0).at(0));
                    return {};
                  })
                  .has_value());
  EXPECT_EQ(rows, 1);
}

TEST_F(SecurityTest, BreakGlassIsRefusedToRolesWithoutTheRight) {
  store::Caller researcher = Member("org-b", "researcher");
  researcher.break_glass_reason = "curiosity";
  EXPECT_EQ(world_.Send(&researcher, "GET", "Observation/obs-a").status, 404);
  store::Caller system = Member("org-b", "system");
  system.break_glass_reason = "emergency admission";
  EXPECT_EQ(world_.Send(&system, "GET", "Observation/obs-a").status, 200);
}

TEST_F(SecurityTest, EveryWriteIsAuditedInItsOwnTransaction) {
  int64_t before = Count("AuditEvent");
  ASSERT_EQ(world_.Send(&a_, "POST", "Observation", kObservation).status, 201);
  EXPECT_EQ(Count("AuditEvent"), before + 1);
  // A refused write leaves no write AuditEvent behind (its transaction rolled back).
  ASSERT_EQ(
      world_
          .Send(
              &b_, "PUT", "Observation/obs-a",
              R"({"resourceType":"Observation","id":"obs-a","status":"final","code":{"text":"x"}})")
          .status,
      404);
  FhirResponse events = world_.Send(nullptr, "GET", "AuditEvent?_count=200");
  EXPECT_EQ(events.body.find("\"update\""), std::string::npos);
}

TEST_F(SecurityTest, CrossMemberReadsAreAuditedWithOwnerAndPurpose) {
  ASSERT_EQ(
      world_.Put(
          &b_, "Encounter", "enc-b",
          R"({"resourceType":"Encounter","id":"enc-b","status":"in-progress","class":{"code":"AMB"},"subject":{"reference":"Patient/pat-a"},"serviceProvider":{"reference":"Organization/org-b"}})"),
      "");
  EXPECT_EQ(world_.Send(&b_, "GET", "Observation/obs-a").status, 200);
  ASSERT_TRUE(world_.Audit().Flush().has_value());
  FhirResponse events = world_.Send(nullptr, "GET", "AuditEvent?_count=500");
  ASSERT_EQ(Occurrences(events.body, "\"reference\":\"Observation/obs-a/_history/1\""), 1u)
      << events.body;
  EXPECT_NE(events.body.find("\"TREAT\""), std::string::npos);
  EXPECT_NE(events.body.find("\"treatment-relationship\""), std::string::npos);
  EXPECT_NE(events.body.find("\"valueString\":\"org-a\""), std::string::npos);
  EXPECT_NE(events.body.find("Organization/org-b"), std::string::npos);
  // Own reads are not audited (the common case stays cheap).
  int64_t before = Count("AuditEvent");
  EXPECT_EQ(world_.Send(&a_, "GET", "Observation/obs-a").status, 200);
  ASSERT_TRUE(world_.Audit().Flush().has_value());
  EXPECT_EQ(Count("AuditEvent"), before);
}

// Another member's data leaves only after its AuditEvent is committed: no Flush needed, so an
// acknowledged access cannot be lost by a crash after the response.
TEST_F(SecurityTest, ACrossMemberReadIsAnsweredOnlyAfterItsAuditEventIsCommitted) {
  ASSERT_EQ(
      world_.Put(
          &b_, "Encounter", "enc-b",
          R"({"resourceType":"Encounter","id":"enc-b","status":"in-progress","class":{"code":"AMB"},"subject":{"reference":"Patient/pat-a"},"serviceProvider":{"reference":"Organization/org-b"}})"),
      "");
  int64_t before = Count("AuditEvent");
  int64_t written = world_.Audit().Written();
  ASSERT_EQ(world_.Send(&b_, "GET", "Observation/obs-a").status, 200);
  EXPECT_EQ(world_.Audit().Written(), written + 1);
  EXPECT_EQ(Count("AuditEvent"), before + 1);
  ASSERT_EQ(world_.Send(&b_, "GET", "Observation?patient=pat-a").status, 200);
  EXPECT_EQ(Count("AuditEvent"), before + 2);
}

// Group commit: concurrent waiters share transactions, each returns after its records are
// committed, and the chain stays intact.
TEST_F(SecurityTest, ConcurrentAuditCommitsShareTransactionsAndKeepTheChain) {
  const int64_t transactions = world_.Audit().Transactions();
  const int64_t written = world_.Audit().Written();
  constexpr int kThreads = 8;
  constexpr int kPerThread = 25;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        audit::AuditRecord record;
        record.subtype = "read";
        record.action = "R";
        record.caller = b_;
        record.entities = {"Observation/obs-" + std::to_string(t) + "-" + std::to_string(i) +
                           "/_history/1"};
        std::vector<audit::AuditRecord> records;
        records.push_back(record);
        records.push_back(record);
        if (!world_.Audit().Commit(std::move(records)).has_value())
          ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(world_.Audit().Written(), written + 2 * kThreads * kPerThread);
  EXPECT_LE(world_.Audit().Transactions() - transactions, kThreads * kPerThread);
  core::Result<audit::VerifyReport> report = audit::VerifyChain(world_.Store());
  ASSERT_TRUE(report.has_value());
  EXPECT_TRUE(report->ok()) << report->problems.front();
}

TEST_F(SecurityTest, AuditEventsAreNeverUpdatedOrDeletedThroughTheApi) {
  ASSERT_TRUE(world_.Audit().Flush().has_value());
  FhirResponse events = world_.Send(nullptr, "GET", "AuditEvent?_count=1");
  auto bundle = fhir::ParseJson(events.body).value();
  ASSERT_GT(bundle.Find("entry")->Size(), 0u) << events.body;
  const Json& event = *bundle.Find("entry")->Items()[0].Find("resource");
  std::string id(event.GetStringMember("id"));
  std::string json = fhir::WriteJson(event);
  for (const store::Caller* caller :
       {static_cast<const store::Caller*>(nullptr), static_cast<const store::Caller*>(&a_)}) {
    EXPECT_EQ(world_.Send(caller, "PUT", "AuditEvent/" + id, json).status, 405);
    EXPECT_EQ(world_.Send(caller, "DELETE", "AuditEvent/" + id).status, 405);
    EXPECT_EQ(world_.Send(caller, "POST", "AuditEvent", json).status, 403);
  }
}

TEST_F(SecurityTest, OnlyStewardsAndAdministratorsReadOtherMembersAuditEvents) {
  ASSERT_TRUE(world_.Audit().Flush().has_value());
  FhirResponse events = world_.Send(&a_, "GET", "AuditEvent?_count=1");
  auto bundle = fhir::ParseJson(events.body).value();
  ASSERT_GT(bundle.Find("entry")->Size(), 0u) << events.body;
  std::string id(bundle.Find("entry")->Items()[0].Find("resource")->GetStringMember("id"));
  EXPECT_EQ(world_.Send(&a_, "GET", "AuditEvent/" + id).status, 200);
  EXPECT_EQ(world_.Send(&b_, "GET", "AuditEvent/" + id).status, 404);
  store::Caller steward = Member("org-b", "data-steward");
  EXPECT_EQ(world_.Send(&steward, "GET", "AuditEvent/" + id).status, 200);
  store::Caller admin = Member("org-c", "alliance-admin");
  EXPECT_EQ(world_.Send(&admin, "GET", "AuditEvent/" + id).status, 200);
}

TEST_F(SecurityTest, TheRegistryIsChangedByAllianceAdministratorsOnly) {
  std::string organization = R"({"resourceType":"Organization","id":"org-x","name":"X"})";
  EXPECT_EQ(world_.Send(&b_, "PUT", "Organization/org-x", organization).status, 403);
  EXPECT_EQ(world_.Send(&a_, "PUT", "Organization/org-x", organization).status, 403);
  store::Caller admin = Member("org-c", "alliance-admin");
  EXPECT_EQ(world_.Send(&admin, "PUT", "Organization/org-x", organization).status, 201);
  EXPECT_EQ(world_.Send(&b_, "GET", "Organization/org-x").status, 200);  // readable by all
}

TEST_F(SecurityTest, AMemberMayNotWriteAnotherMembersRecord) {
  std::string update =
      R"({"resourceType":"Observation","id":"obs-a","status":"amended","code":{"text":"x"},"subject":{"reference":"Patient/pat-a"}})";
  // Invisible to B: as if it did not exist.
  EXPECT_EQ(world_.Send(&b_, "PUT", "Observation/obs-a", update).status, 404);
  EXPECT_EQ(world_.Send(&b_, "DELETE", "Observation/obs-a").status, 404);
  // Visible through a treatment relationship, but still A's.
  ASSERT_EQ(
      world_.Put(
          &b_, "Encounter", "enc-b",
          R"({"resourceType":"Encounter","id":"enc-b","status":"in-progress","class":{"code":"AMB"},"subject":{"reference":"Patient/pat-a"},"serviceProvider":{"reference":"Organization/org-b"}})"),
      "");
  EXPECT_EQ(world_.Send(&b_, "PUT", "Observation/obs-a", update).status, 403);
  EXPECT_EQ(world_.Send(&a_, "PUT", "Observation/obs-a", update).status, 200);
}

TEST_F(SecurityTest, TheOwnerLabelCannotBeForged) {
  std::string forged =
      R"({"resourceType":"Observation","meta":{"security":[{"system":"https://fhir.medalliance.cn/CodeSystem/custodian","code":"org-a"}]},"status":"final","code":{"text":"x"},"subject":{"reference":"Patient/pat-a"}})";
  FhirResponse created = world_.Send(&b_, "POST", "Observation", forged);
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(access::FastCustodian(created.body).value_or("?"), "org-b");
  std::string hidden =
      R"({"resourceType":"Observation","status":"final","code":{"text":"x"},"contained":[{"resourceType":"Organization","id":"o","meta":{"security":[{"system":"https://fhir.medalliance.cn/CodeSystem/custodian","code":"org-a"}]}}]})";
  EXPECT_EQ(world_.Send(&b_, "POST", "Observation", hidden).status, 422);
}

// ---- the hash chain, tampered with through SQLite directly ----

// The registry and catalogue types (doc/security.md, rule `shared`), decided by a switch on
// the first letter: every listed type, and none of the clinical ones sharing a first letter.
TEST(RegistryTypeTest, ExactlyTheCatalogueTypesAreShared) {
  for (std::string_view type : {"Organization",
                                "OrganizationAffiliation",
                                "HealthcareService",
                                "Location",
                                "Practitioner",
                                "PractitionerRole",
                                "Endpoint",
                                "ActivityDefinition",
                                "PlanDefinition",
                                "ValueSet",
                                "CodeSystem",
                                "ConceptMap",
                                "StructureDefinition",
                                "SearchParameter",
                                "OperationDefinition",
                                "Questionnaire",
                                "Measure",
                                "Library",
                                "NamingSystem",
                                "CapabilityStatement"}) {
    EXPECT_TRUE(access::IsRegistryType(type)) << type;
  }
  for (std::string_view type : {"",
                                "Observation",
                                "OperationOutcome",
                                "Patient",
                                "Procedure",
                                "Condition",
                                "Consent",
                                "Encounter",
                                "AuditEvent",
                                "Appointment",
                                "Location2",
                                "Organisation",
                                "MeasureReport",
                                "QuestionnaireResponse",
                                "ServiceRequest",
                                "Library ",
                                "Media",
                                "NutritionOrder",
                                "ValueSets",
                                "Specimen",
                                "HealthcareServices",
                                "Person"}) {
    EXPECT_FALSE(access::IsRegistryType(type)) << type;
  }
}

class ChainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() /
            ("ma-chain-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".db");
    std::filesystem::remove(path_);
    store::SqliteOptions options;
    options.path = path_.string();
    store_ = store::SqliteStore::Open(options).value();
    for (int i = 0; i < 4; ++i) {
      ASSERT_TRUE(store_
                      ->Write([&](store::WriteTx& tx) -> core::Status {
                        audit::AuditRecord record;
                        record.subtype = "read";
                        record.action = "R";
                        record.recorded = 1'700'000'000'000 + i;
                        record.entities = {"Observation/" + std::to_string(i) + "/_history/1"};
                        MA_RETURN_IF_ERROR(
                            audit::AppendAuditEvent(tx, audit::BuildAuditEvent(record), 1));
                        return {};
                      })
                      .has_value());
    }
  }
  void TearDown() override {
    store_.reset();
    for (const char* suffix : {"", "-wal", "-shm"})
      std::filesystem::remove(path_.string() + suffix);
  }

  void Sql(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    char* error = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK)
        << (error ? error : "");
    sqlite3_free(error);
    sqlite3_close(db);
  }

  std::string Problems() {
    audit::VerifyReport report = audit::VerifyChain(*store_).value();
    std::string out;
    for (const std::string& problem : report.problems) out += problem + "\n";
    return out;
  }

  static std::string AtPosition(int position) {
    return "(SELECT sequence FROM audit_chain WHERE position = " + std::to_string(position) + ")";
  }

  std::filesystem::path path_;
  std::unique_ptr<store::SqliteStore> store_;
};

TEST_F(ChainTest, AnIntactChainVerifies) {
  audit::VerifyReport report = audit::VerifyChain(*store_).value();
  EXPECT_TRUE(report.ok()) << Problems();
  EXPECT_EQ(report.links, 4);
  EXPECT_EQ(report.head.size(), 64u);
}

TEST_F(ChainTest, AnEditedEntryIsReportedAtItsPosition) {
  Sql("UPDATE resources SET json = replace(json, '\"R\"', '\"U\"') WHERE sequence = " +
      AtPosition(3));
  std::string problems = Problems();
  EXPECT_NE(problems.find("position 3 "), std::string::npos) << problems;
  EXPECT_NE(problems.find("altered"), std::string::npos) << problems;
}

TEST_F(ChainTest, ADeletedEntryIsReported) {
  Sql("DELETE FROM resources WHERE sequence = " + AtPosition(2));
  std::string problems = Problems();
  EXPECT_NE(problems.find("position 2 "), std::string::npos) << problems;
  EXPECT_NE(problems.find("removed"), std::string::npos) << problems;
  Sql("DELETE FROM audit_chain WHERE position = 2");
  problems = Problems();
  EXPECT_NE(problems.find("position 2: removed"), std::string::npos) << problems;
}

TEST_F(ChainTest, SwappedEntriesAreReported) {
  std::string pair = "(" + AtPosition(1) + ", " + AtPosition(2) + ")";
  Sql("CREATE TABLE swap AS SELECT sequence, json FROM resources WHERE sequence IN " + pair +
      "; UPDATE resources SET json = (SELECT s.json FROM swap s WHERE s.sequence != "
      "resources.sequence) WHERE sequence IN " +
      pair + "; DROP TABLE swap;");
  std::string problems = Problems();
  EXPECT_NE(problems.find("position 1 "), std::string::npos) << problems;
  EXPECT_NE(problems.find("position 2 "), std::string::npos) << problems;
}

TEST_F(ChainTest, AnInsertedEntryIsReported) {
  Sql("INSERT INTO resources (type, id, version, last_updated, deleted, method, json) "
      "VALUES ('AuditEvent', 'forged', 1, 1, 0, 'POST', '{}')");
  std::string problems = Problems();
  EXPECT_NE(problems.find("AuditEvent/forged"), std::string::npos) << problems;
  EXPECT_NE(problems.find("inserted"), std::string::npos) << problems;
}

}  // namespace
}  // namespace medalliance::access_test
