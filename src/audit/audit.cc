#include "audit/audit.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include "core/ids.h"
#include "core/time.h"
#include "search/compartments.h"
#include "search/search.h"

namespace medalliance::audit {

using core::Error;
using core::Result;
using fhir::Json;

namespace {

constexpr std::string_view kCustodianSystem = "https://fhir.medalliance.cn/CodeSystem/custodian";

Json Coding(std::string_view system, std::string_view code, std::string_view display = {}) {
  Json coding = Json::MakeObject();
  coding.Set("system", Json::MakeString(std::string(system)));
  coding.Set("code", Json::MakeString(std::string(code)));
  if (!display.empty())
    coding.Set("display", Json::MakeString(std::string(display)));
  return coding;
}

Json Concept(Json coding) {
  Json item = Json::MakeObject();
  item.Set("coding", Json::MakeArray()).PushBack(std::move(coding));
  return item;
}

Json Reference(const std::string& reference) {
  Json out = Json::MakeObject();
  out.Set("reference", Json::MakeString(reference));
  return out;
}

std::string Hex(const unsigned char* bytes, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out.push_back(kDigits[bytes[i] >> 4]);
    out.push_back(kDigits[bytes[i] & 15]);
  }
  return out;
}

std::array<unsigned char, 32> Unhex(std::string_view hex) {
  std::array<unsigned char, 32> out{};
  auto nibble = [](char c) -> unsigned {
    if (c >= '0' && c <= '9')
      return static_cast<unsigned>(c - '0');
    if (c >= 'a' && c <= 'f')
      return static_cast<unsigned>(c - 'a' + 10);
    return 0;
  };
  for (size_t i = 0; i < out.size() && 2 * i + 1 < hex.size(); ++i) {
    out[i] = static_cast<unsigned char>(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
  }
  return out;
}

}  // namespace

std::string ChainHash(std::string_view previous_hex, std::string_view data) {
  std::array<unsigned char, 32> previous = Unhex(previous_hex);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  EVP_DigestInit_ex(context, EVP_sha256(), nullptr);
  EVP_DigestUpdate(context, previous.data(), previous.size());
  EVP_DigestUpdate(context, data.data(), data.size());
  EVP_DigestFinal_ex(context, digest, &length);
  EVP_MD_CTX_free(context);
  return Hex(digest, length);
}

Json BuildAuditEvent(const AuditRecord& record) {
  Json event = Json::MakeObject();
  event.Set("resourceType", Json::MakeString("AuditEvent"));
  const store::Caller& caller = record.caller;
  if (!caller.organization_id.empty()) {
    // Owned by the acting member: its own staff see their trail, stewards see all.
    Json meta = Json::MakeObject();
    meta.Set("security", Json::MakeArray())
        .PushBack(Coding(kCustodianSystem, caller.organization_id));
    event.Set("meta", std::move(meta));
  }
  switch (record.category) {
    case AuditRecord::Category::kRest:
      event.Set("type", Coding("http://terminology.hl7.org/CodeSystem/audit-event-type", "rest",
                               "Restful Operation"));
      event.Set("subtype", Json::MakeArray())
          .PushBack(Coding("http://hl7.org/fhir/restful-interaction", record.subtype));
      break;
    case AuditRecord::Category::kLogin:
      event.Set("type", Coding("http://dicom.nema.org/resources/ontology/DCM", "110114",
                               "User Authentication"));
      event.Set("subtype", Json::MakeArray())
          .PushBack(
              Coding("https://fhir.medalliance.cn/CodeSystem/security-event", record.subtype));
      break;
    case AuditRecord::Category::kSecurity:
      event.Set("type",
                Coding("http://dicom.nema.org/resources/ontology/DCM", "110113", "Security Alert"));
      event.Set("subtype", Json::MakeArray())
          .PushBack(
              Coding("https://fhir.medalliance.cn/CodeSystem/security-event", record.subtype));
      break;
  }
  event.Set("action", Json::MakeString(record.action.empty() ? "E" : record.action));
  event.Set("recorded", Json::MakeString(core::FormatInstant(record.recorded)));
  event.Set("outcome", Json::MakeString(record.outcome));
  if (!record.outcome_description.empty())
    event.Set("outcomeDesc", Json::MakeString(record.outcome_description));
  if (!record.purpose.empty()) {
    event.Set("purposeOfEvent", Json::MakeArray())
        .PushBack(
            Concept(Coding("http://terminology.hl7.org/CodeSystem/v3-ActReason", record.purpose)));
  }
  Json agents = Json::MakeArray();
  {
    Json agent = Json::MakeObject();
    bool person = !caller.practitioner_id.empty();
    agent.Set("type",
              Concept(Coding("http://terminology.hl7.org/CodeSystem/extra-security-role-type",
                             person ? "humanuser" : "dataprocessor")));
    Json who = Json::MakeObject();
    if (caller.system) {
      who.Set("display", Json::MakeString("medalliance system: " + caller.client_id));
    } else if (person) {
      who.Set("reference", Json::MakeString("Practitioner/" + caller.practitioner_id));
    } else if (!caller.client_id.empty()) {
      Json identifier = Json::MakeObject();
      identifier.Set("system", Json::MakeString(std::string(kClientSystem)));
      identifier.Set("value", Json::MakeString(caller.client_id));
      who.Set("identifier", std::move(identifier));
    } else {
      who.Set("display", Json::MakeString(caller.authenticated ? "authenticated caller"
                                                               : "unauthenticated (auth off)"));
    }
    agent.Set("who", std::move(who));
    if (!caller.client_id.empty() && !caller.system)
      agent.Set("altId", Json::MakeString(caller.client_id));
    agent.Set("requestor", Json::MakeBool(true));
    if (!caller.roles.empty()) {
      Json roles = Json::MakeArray();
      for (const std::string& role : caller.roles) {
        roles.PushBack(Concept(Coding("https://fhir.medalliance.cn/CodeSystem/role", role)));
      }
      agent.Set("role", std::move(roles));
    }
    if (record.caller.break_glass_reason.has_value()) {
      Json policy = Json::MakeArray();
      policy.PushBack(Json::MakeString("https://fhir.medalliance.cn/policy/break-glass"));
      agent.Set("policy", std::move(policy));
    }
    agents.PushBack(std::move(agent));
  }
  if (!record.origin.empty()) {
    // The server's module that made the write for the requestor.
    Json agent = Json::MakeObject();
    agent.Set("type",
              Concept(Coding("http://terminology.hl7.org/CodeSystem/extra-security-role-type",
                             "dataprocessor")));
    Json who = Json::MakeObject();
    who.Set("display", Json::MakeString("medalliance " + record.origin));
    agent.Set("who", std::move(who));
    agent.Set("requestor", Json::MakeBool(false));
    agents.PushBack(std::move(agent));
  }
  if (!caller.organization_id.empty()) {
    // The member the caller acts for.
    Json agent = Json::MakeObject();
    agent.Set("type",
              Concept(Coding("http://terminology.hl7.org/CodeSystem/v3-RoleClass", "PROV")));
    agent.Set("who", Reference("Organization/" + caller.organization_id));
    agent.Set("requestor", Json::MakeBool(false));
    agents.PushBack(std::move(agent));
  }
  event.Set("agent", std::move(agents));
  Json source = Json::MakeObject();
  source.Set("site", Json::MakeString("medalliance"));
  Json observer = Json::MakeObject();
  observer.Set("display", Json::MakeString("medalliance FHIR server"));
  source.Set("observer", std::move(observer));
  source.Set("type", Json::MakeArray())
      .PushBack(Coding("http://terminology.hl7.org/CodeSystem/security-source-type", "4",
                       "Application Server"));
  event.Set("source", std::move(source));
  Json entities = Json::MakeArray();
  for (const std::string& what : record.entities) {
    Json entity = Json::MakeObject();
    entity.Set("what", Reference(what));
    entity.Set("type", Coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "2",
                              "System Object"));
    Json details = Json::MakeArray();
    auto detail = [&](std::string_view type, const std::string& value) {
      Json item = Json::MakeObject();
      item.Set("type", Json::MakeString(std::string(type)));
      item.Set("valueString", Json::MakeString(value));
      details.PushBack(std::move(item));
    };
    if (!record.owner.empty())
      detail("owner", record.owner);
    if (!record.rule.empty())
      detail("rule", record.rule);
    if (details.Size() > 0)
      entity.Set("detail", std::move(details));
    entities.PushBack(std::move(entity));
  }
  for (const std::string& patient : record.patients) {
    Json entity = Json::MakeObject();
    entity.Set("what", Reference("Patient/" + patient));
    entity.Set("type",
               Coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "1", "Person"));
    entity.Set("role", Coding("http://terminology.hl7.org/CodeSystem/object-role", "1", "Patient"));
    entities.PushBack(std::move(entity));
  }
  if (!record.query.empty()) {
    Json entity = Json::MakeObject();
    entity.Set("type", Coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "2",
                              "System Object"));
    entity.Set("role", Coding("http://terminology.hl7.org/CodeSystem/object-role", "24", "Query"));
    entity.Set("description", Json::MakeString(record.query));
    entities.PushBack(std::move(entity));
  }
  if (entities.Size() > 0)
    event.Set("entity", std::move(entities));
  return event;
}

Result<store::StoredResource> AppendAuditEvent(store::WriteTx& tx, Json event,
                                               core::EpochMillis now) {
  std::string id = core::NewId();
  event.Erase("id");
  event.SetAt(1, "id", Json::MakeString(id));
  Json* meta = event.Find("meta");
  if (meta == nullptr || !meta->IsObject())
    meta = &event.SetAt(2, "meta", Json::MakeObject());
  meta->SetAt(0, "versionId", Json::MakeString("1"));
  meta->SetAt(1, "lastUpdated", Json::MakeString(core::FormatInstant(now)));
  store::StoredResource stored;
  stored.type = "AuditEvent";
  stored.id = id;
  stored.version = 1;
  stored.last_updated = now;
  stored.method = "POST";
  stored.json = fhir::WriteJson(event);
  static const search::Searcher kSearcher;
  MA_RETURN_IF_ERROR(tx.PutVersion(stored, kSearcher.Index(event)));
  MA_ASSIGN_OR_RETURN(std::optional<store::AuditLink> last, tx.LastAuditLink());
  store::AuditLink link;
  link.position = last.has_value() ? last->position + 1 : 1;
  link.resource_id = id;
  link.sequence = stored.sequence;
  link.hash = ChainHash(last.has_value() ? last->hash : std::string(), stored.json);
  MA_RETURN_IF_ERROR(tx.AppendAuditLink(link));
  return stored;
}

core::Status AppendBreakGlass(store::WriteTx& tx, const store::Caller& caller,
                              const std::string& patient, const std::string& reason,
                              core::EpochMillis start, core::EpochMillis end,
                              core::EpochMillis now) {
  AuditRecord record;
  record.category = AuditRecord::Category::kSecurity;
  record.subtype = "break-glass";
  record.action = "E";
  record.recorded = now;
  record.caller = caller;
  record.patients = {patient};
  record.purpose = "ETREAT";
  record.outcome_description = "break-glass: " + reason + " (grant " + core::FormatInstant(start) +
                               " to " + core::FormatInstant(end) + ")";
  MA_ASSIGN_OR_RETURN(store::StoredResource event,
                      AppendAuditEvent(tx, BuildAuditEvent(record), now));
  Json task = Json::MakeObject();
  task.Set("resourceType", Json::MakeString("Task"));
  std::string id = core::NewId();
  task.Set("id", Json::MakeString(id));
  Json meta = Json::MakeObject();
  meta.Set("versionId", Json::MakeString("1"));
  meta.Set("lastUpdated", Json::MakeString(core::FormatInstant(now)));
  if (!caller.organization_id.empty()) {
    meta.Set("security", Json::MakeArray())
        .PushBack(Coding(kCustodianSystem, caller.organization_id));
  }
  task.Set("meta", std::move(meta));
  task.Set("status", Json::MakeString("requested"));
  task.Set("intent", Json::MakeString("order"));
  task.Set("priority", Json::MakeString("urgent"));
  task.Set("code",
           Concept(Coding(kTaskCodeSystem, "break-glass-review", "Review a break-glass access")));
  task.Set("description", Json::MakeString("Break-glass access to Patient/" + patient +
                                           " by member " + caller.organization_id + ": " + reason));
  task.Set("focus", Reference("AuditEvent/" + event.id));
  task.Set("for", Reference("Patient/" + patient));
  task.Set("authoredOn", Json::MakeString(core::FormatInstant(now)));
  if (!caller.practitioner_id.empty()) {
    task.Set("requester", Reference("Practitioner/" + caller.practitioner_id));
  } else if (!caller.organization_id.empty()) {
    task.Set("requester", Reference("Organization/" + caller.organization_id));
  }
  task.Set("performerType", Json::MakeArray())
      .PushBack(Concept(Coding("https://fhir.medalliance.cn/CodeSystem/role", "data-steward")));
  Json reason_code = Json::MakeObject();
  reason_code.Set("text", Json::MakeString(reason));
  task.Set("reasonCode", std::move(reason_code));
  Json period = Json::MakeObject();
  period.Set("start", Json::MakeString(core::FormatInstant(start)));
  period.Set("end", Json::MakeString(core::FormatInstant(end)));
  Json restriction = Json::MakeObject();
  restriction.Set("period", std::move(period));
  task.Set("restriction", std::move(restriction));
  store::StoredResource stored;
  stored.type = "Task";
  stored.id = id;
  stored.version = 1;
  stored.last_updated = now;
  stored.method = "POST";
  stored.json = fhir::WriteJson(task);
  static const search::Searcher kSearcher;
  return tx.PutVersion(stored, kSearcher.Index(task));
}

namespace {

bool IsHash(std::string_view text) {
  return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

}  // namespace

Result<ChainAnchor> ParseAnchor(std::string_view text) {
  auto bad = [&] {
    return Error::BadRequest("not an audit chain anchor (POSITION:HASH, POSITION HASH or HASH): " +
                             std::string(text.substr(0, 200)));
  };
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
    text.remove_suffix(1);
  ChainAnchor anchor;
  size_t split = text.find_first_of(": ");
  std::string_view hash = text;
  if (split != std::string_view::npos) {
    std::string_view position = text.substr(0, split);
    if (position.empty() || position.size() > 18 ||
        !std::all_of(position.begin(), position.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return bad();
    anchor.position = std::stoll(std::string(position));
    if (anchor.position <= 0)
      return bad();
    hash = text.substr(split + 1);
    hash = hash.substr(0, hash.find(' '));  // an anchor file line goes on with its instant
  }
  if (!IsHash(hash))
    return bad();
  anchor.hash = std::string(hash);
  return anchor;
}

Result<std::vector<ChainAnchor>> ReadAnchorFile(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    return Error::BadRequest("cannot read the anchor file " + path);
  std::vector<ChainAnchor> anchors;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty() || line[0] == '#')
      continue;
    Result<ChainAnchor> anchor = ParseAnchor(line);
    if (!anchor || anchor->position == 0) {
      return Error::BadRequest(path + " line " + std::to_string(number) +
                               ": not POSITION HASH INSTANT");
    }
    anchors.push_back(std::move(*anchor));
  }
  return anchors;
}

Result<VerifyReport> VerifyChain(store::Store& store, const std::vector<ChainAnchor>& anchors) {
  VerifyReport report;
  std::map<int64_t, std::string> at;  // position -> anchored hash
  std::map<std::string, bool> bare;   // a hash anywhere -> seen
  for (const ChainAnchor& anchor : anchors) {
    if (anchor.position == 0)
      bare[anchor.hash] = false;
    else
      at[anchor.position] = anchor.hash;
  }
  MA_RETURN_IF_ERROR(store.Read([&](store::ReadTx& tx) -> core::Status {
    report = VerifyReport();
    for (auto& [hash, seen] : bare) seen = false;
    std::set<int64_t> chained;
    int64_t after = 0;
    std::string previous;
    for (;;) {
      MA_ASSIGN_OR_RETURN(std::vector<store::AuditLink> links, tx.AuditLinks(after, 1000));
      for (const store::AuditLink& link : links) {
        std::string where =
            "position " + std::to_string(link.position) + " (AuditEvent/" + link.resource_id + ")";
        if (link.position != after + 1) {
          report.problems.push_back("position " + std::to_string(after + 1) +
                                    (link.position == after + 2
                                         ? std::string()
                                         : "-" + std::to_string(link.position - 1)) +
                                    ": removed from the chain");
        }
        chained.insert(link.sequence);
        MA_ASSIGN_OR_RETURN(std::optional<store::StoredResource> stored,
                            tx.ReadVersion("AuditEvent", link.resource_id, 1));
        if (!stored.has_value() || stored->deleted) {
          report.problems.push_back(where + ": removed (the AuditEvent is missing)");
        } else if (stored->sequence != link.sequence) {
          report.problems.push_back(where + ": reordered (stored at sequence " +
                                    std::to_string(stored->sequence) + ", chained at " +
                                    std::to_string(link.sequence) + ")");
        } else if (ChainHash(previous, stored->json) != link.hash) {
          report.problems.push_back(where + ": altered (hash mismatch)");
        }
        if (auto anchored = at.find(link.position);
            anchored != at.end() && anchored->second != link.hash) {
          report.problems.push_back(where + ": does not match the anchor (anchored hash " +
                                    anchored->second + "): altered or replaced");
        }
        if (auto found = bare.find(link.hash); found != bare.end())
          found->second = true;
        previous = link.hash;
        after = link.position;
        ++report.links;
      }
      if (links.size() < 1000)
        break;
    }
    report.head = previous;
    report.head_position = after;
    // Anchored positions beyond the head: the newest entries were deleted with their links.
    if (!at.empty() && at.rbegin()->first > after) {
      report.problems.push_back(
          "position " + std::to_string(after + 1) +
          (at.rbegin()->first > after + 1 ? "-" + std::to_string(at.rbegin()->first) : "") +
          ": removed from the end of the chain (anchored up to position " +
          std::to_string(at.rbegin()->first) + ", head " + at.rbegin()->second +
          "; the chain ends at position " + std::to_string(after) + ")");
    }
    for (const auto& [hash, seen] : bare) {
      if (!seen) {
        report.problems.push_back("head " + hash +
                                  ": expected but no link has it (entries removed or altered)");
      }
    }
    // AuditEvent versions that no link covers were inserted behind the server's back.
    store::HistoryQuery query;
    query.type = "AuditEvent";
    query.count = 1000;
    for (;;) {
      MA_ASSIGN_OR_RETURN(std::vector<store::StoredResource> versions, tx.History(query));
      for (const store::StoredResource& version : versions) {
        if (chained.count(version.sequence) == 0) {
          report.problems.push_back(
              "AuditEvent/" + version.id + " version " + std::to_string(version.version) +
              " (sequence " + std::to_string(version.sequence) + "): inserted (not in the chain)");
        }
      }
      if (versions.size() < 1000)
        break;
      query.before_sequence = versions.back().sequence;
    }
    return {};
  }));
  return report;
}

// ---- AnchorWriter ----

AnchorWriter::AnchorWriter(store::Store& store, std::string path, int interval_ms)
    : store_(store), path_(std::move(path)), interval_ms_(std::max(interval_ms, 10)) {
  if (Result<std::vector<ChainAnchor>> known = ReadAnchorFile(path_); known && !known->empty())
    last_position_ = known->back().position;
  thread_ = std::thread([this] { Run(); });
}

AnchorWriter::~AnchorWriter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  if (core::Status status = WriteNow(); !status) {
    std::fprintf(stderr, "audit: could not write the chain anchor: %s\n",
                 status.error().GetMessage().c_str());
  }
}

core::Status AnchorWriter::WriteNow() {
  std::lock_guard write_lock(write_mutex_);
  std::optional<store::AuditLink> head;
  MA_RETURN_IF_ERROR(store_.Read([&](store::ReadTx& tx) -> core::Status {
    MA_ASSIGN_OR_RETURN(head, tx.LastAuditLink());
    return {};
  }));
  if (!head.has_value() || head->position == last_position_)
    return {};
  std::string line = std::to_string(head->position) + " " + head->hash + " " +
                     core::FormatInstant(core::SystemClock::Get().Now()) + "\n";
  int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0)
    return Error(core::ErrorCode::kUnavailable, "cannot open the anchor file " + path_);
  bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
            ::fsync(fd) == 0;
  ::close(fd);
  if (!ok)
    return Error(core::ErrorCode::kUnavailable, "cannot append to the anchor file " + path_);
  last_position_ = head->position;
  return {};
}

void AnchorWriter::Run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, std::chrono::milliseconds(interval_ms_), [&] { return stopping_; });
    if (stopping_)
      break;
    lock.unlock();
    if (core::Status status = WriteNow(); !status) {
      std::fprintf(stderr, "audit: could not write the chain anchor: %s\n",
                   status.error().GetMessage().c_str());
    }
    lock.lock();
  }
}

// ---- AuditLog ----

AuditLog::AuditLog(store::Store& store, const core::Clock& clock, int flush_interval_ms)
    : store_(store), clock_(clock), flush_interval_ms_(flush_interval_ms) {
  thread_ = std::thread([this] { Run(); });
}

AuditLog::~AuditLog() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  (void)Flush();
}

void AuditLog::Record(AuditRecord record) {
  if (record.recorded == 0)
    record.recorded = clock_.Now();
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(Pending{std::move(record), nullptr});
  }
  wake_.notify_one();
}

core::Status AuditLog::Commit(std::vector<AuditRecord> records) {
  if (records.empty())
    return {};
  auto ticket = std::make_shared<Ticket>();
  std::unique_lock lock(mutex_);
  if (stopping_) {
    lock.unlock();
    return core::Error(core::ErrorCode::kUnavailable, "the audit log is shutting down");
  }
  for (AuditRecord& record : records) {
    if (record.recorded == 0)
      record.recorded = clock_.Now();
    queue_.push_back(Pending{std::move(record), ticket});
  }
  ++waiting_;
  wake_.notify_one();
  committed_.wait(lock, [&] { return ticket->done; });
  return ticket->status;
}

int64_t AuditLog::Written() const {
  std::lock_guard lock(mutex_);
  return written_;
}

int64_t AuditLog::Transactions() const {
  std::lock_guard lock(mutex_);
  return transactions_;
}

core::Status AuditLog::WriteBatch(std::vector<Pending> batch) {
  if (batch.empty())
    return {};
  core::EpochMillis now = clock_.Now();
  core::Status status = store_.Write([&](store::WriteTx& tx) -> core::Status {
    for (const Pending& pending : batch) {
      MA_RETURN_IF_ERROR(AppendAuditEvent(tx, BuildAuditEvent(pending.record), now));
    }
    return {};
  });
  {
    std::lock_guard lock(mutex_);
    if (status) {
      written_ += static_cast<int64_t>(batch.size());
      ++transactions_;
    }
    const Ticket* last = nullptr;
    for (const Pending& pending : batch) {
      if (pending.ticket == nullptr || pending.ticket.get() == last)
        continue;
      last = pending.ticket.get();
      pending.ticket->status = status;
      pending.ticket->done = true;
      --waiting_;
    }
  }
  committed_.notify_all();
  return status;
}

core::Status AuditLog::Flush() {
  std::lock_guard write_lock(write_mutex_);
  std::vector<Pending> batch;
  {
    std::lock_guard lock(mutex_);
    batch.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
    queue_.clear();
  }
  return WriteBatch(std::move(batch));
}

void AuditLog::Run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_)
      break;
    // Nobody waits: gather what arrives within the interval into one transaction. Somebody
    // waits: write at once; what arrives while this transaction commits goes in the next.
    if (waiting_ == 0) {
      wake_.wait_for(lock, std::chrono::milliseconds(flush_interval_ms_),
                     [&] { return stopping_ || waiting_ > 0; });
    }
    lock.unlock();
    core::Status status = Flush();
    if (!status) {
      std::fprintf(stderr, "audit: could not store AuditEvents: %s\n",
                   status.error().GetMessage().c_str());
    }
    lock.lock();
  }
}

// ---- AuditWriteHook ----

core::Status AuditWriteHook::BeforeWrite(store::WriteTx& tx, store::WriteEvent& event) {
  if (event.caller == nullptr)
    return {};
  if (event.type == "AuditEvent") {
    if (event.kind == store::WriteKind::kCreate) {
      return Error::Forbidden("AuditEvents are recorded by the server (rule audit-append-only)");
    }
    return Error(core::ErrorCode::kMethodNotAllowed,
                 "AuditEvents are never updated or deleted (rule audit-append-only)");
  }
  AuditRecord record;
  record.category = AuditRecord::Category::kRest;
  switch (event.kind) {
    case store::WriteKind::kCreate:
      record.subtype = "create";
      record.action = "C";
      break;
    case store::WriteKind::kUpdate:
      record.subtype = "update";
      record.action = "U";
      break;
    case store::WriteKind::kPatch:
      record.subtype = "patch";
      record.action = "U";
      break;
    case store::WriteKind::kDelete:
      record.subtype = "delete";
      record.action = "D";
      break;
  }
  core::EpochMillis now = clock_.Now();
  record.recorded = now;
  record.caller = *event.caller;
  record.origin = std::string(event.origin);
  int64_t version = event.previous != nullptr ? event.previous->version + 1 : 0;
  record.entities.push_back(event.type + "/" + event.id +
                            (version > 0 ? "/_history/" + std::to_string(version) : ""));
  const fhir::Json* content = event.resource;
  std::optional<fhir::Json> previous;
  if (content == nullptr && event.previous != nullptr) {
    Result<fhir::Json> parsed = fhir::ParseJson(event.previous->json);
    if (parsed)
      previous = std::move(*parsed);
    content = previous ? &*previous : nullptr;
  }
  if (event.type == "Patient")
    record.patients = {event.id};
  else if (content != nullptr)
    record.patients = search::CompartmentsOf(*content, "Patient");
  if (event.caller->break_glass_reason.has_value())
    record.purpose = "ETREAT";
  else if (event.caller->authenticated)
    record.purpose = "TREAT";
  MA_RETURN_IF_ERROR(AppendAuditEvent(tx, BuildAuditEvent(record), now));
  return {};
}

}  // namespace medalliance::audit
