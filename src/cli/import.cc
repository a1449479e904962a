#include "cli/import.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "fhir/json/json.h"

namespace medalliance::cli {

using core::Error;
using core::Result;
using fhir::Json;
namespace fs = std::filesystem;

namespace {

bool EndsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

bool IsImportable(const std::string& name) {
  return EndsWith(name, ".json") || EndsWith(name, ".ndjson") || EndsWith(name, ".json.zst") ||
         EndsWith(name, ".ndjson.zst");
}

bool IsNdjson(const std::string& name) {
  return EndsWith(name, ".ndjson") || EndsWith(name, ".ndjson.zst");
}

Json EntryFor(Json resource) {
  Json entry = Json::MakeObject();
  std::string type(resource.GetStringMember("resourceType"));
  std::string id(resource.GetStringMember("id"));
  Json request = Json::MakeObject();
  if (id.empty()) {
    request.Set("method", Json::MakeString("POST"));
    request.Set("url", Json::MakeString(type));
  } else {
    request.Set("method", Json::MakeString("PUT"));
    request.Set("url", Json::MakeString(type + "/" + id));
  }
  entry.Set("resource", std::move(resource));
  entry.Set("request", std::move(request));
  return entry;
}

Json TransactionOf(Json entries) {
  Json bundle = Json::MakeObject();
  bundle.Set("resourceType", Json::MakeString("Bundle"));
  bundle.Set("type", Json::MakeString("transaction"));
  bundle.Set("entry", std::move(entries));
  return bundle;
}

class Progress {
 public:
  Progress(bool enabled, uint64_t total_bytes) : enabled_(enabled), total_bytes_(total_bytes) {}

  void Update(uint64_t done_bytes, const ImportStats& stats, double seconds) {
    if (!enabled_)
      return;
    double fraction = total_bytes_ == 0
                          ? 1.0
                          : static_cast<double>(done_bytes) / static_cast<double>(total_bytes_);
    int filled = static_cast<int>(fraction * 30);
    double rate = seconds > 0 ? static_cast<double>(stats.resources) / seconds : 0;
    double eta = fraction > 0 ? seconds / fraction - seconds : 0;
    std::fprintf(stderr, "\r[%-30s] %3.0f%% %lld files, %lld resources, %.0f/s, ETA %.0fs   ",
                 std::string(static_cast<size_t>(filled), '#').c_str(), fraction * 100,
                 static_cast<long long>(stats.files), static_cast<long long>(stats.resources), rate,
                 eta);
    std::fflush(stderr);
  }

  void Finish() {
    if (enabled_)
      std::fprintf(stderr, "\n");
  }

 private:
  bool enabled_;
  uint64_t total_bytes_;
};

// One unit of work for the writing thread: a Bundle to process, or a failure the reading
// thread found. A file yields one or more units; the last one carries `end_of_file`.
struct Unit {
  size_t file_index = 0;
  api::rest::RestService::PreparedBundlePtr bundle;
  bool transaction = true;
  int64_t entries = 0;
  std::optional<Error> error;
  bool end_of_file = false;
};

// Prepared Bundles waiting between the two threads, at most; the writing thread commits up to
// this many together.
constexpr size_t kQueueCapacity = 8;

// A bounded queue between the two threads.
class UnitQueue {
 public:
  explicit UnitQueue(size_t capacity) : capacity_(capacity) {}

  void Push(Unit unit) {
    std::unique_lock<std::mutex> lock(mutex_);
    not_full_.wait(lock, [&] { return units_.size() < capacity_; });
    units_.push_back(std::move(unit));
    not_empty_.notify_one();
  }

  // Waits for a unit, then takes it and up to `max` - 1 more already queued; empty once
  // Close() was called and the queue is drained.
  std::vector<Unit> PopAvailable(size_t max) {
    std::unique_lock<std::mutex> lock(mutex_);
    not_empty_.wait(lock, [&] { return !units_.empty() || closed_; });
    std::vector<Unit> taken;
    while (!units_.empty() && taken.size() < max) {
      taken.push_back(std::move(units_.front()));
      units_.pop_front();
    }
    not_full_.notify_all();
    return taken;
  }

  void Close() {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
    not_empty_.notify_all();
  }

  // The writing thread hands back a committed Bundle, and the reading thread frees it in
  // FreeSpent(): freeing a Bundle's JSON trees was 2 % of the writing thread (perf).
  void GiveBack(api::rest::RestService::PreparedBundlePtr bundle) {
    std::lock_guard<std::mutex> lock(mutex_);
    spent_.push_back(std::move(bundle));
    given_back_.notify_one();
  }

  void FreeSpent() {
    std::vector<api::rest::RestService::PreparedBundlePtr> spent;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      spent.swap(spent_);
    }
  }

  // For the reading thread once it has read everything: frees what the writing thread hands
  // back until it calls Finish(), so that the last Bundles (up to the queue's capacity) are
  // not freed on the writing thread.
  void FreeUntilFinished() {
    for (;;) {
      std::vector<api::rest::RestService::PreparedBundlePtr> spent;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        given_back_.wait(lock, [&] { return !spent_.empty() || finished_; });
        if (spent_.empty())
          return;
        spent.swap(spent_);
      }
    }
  }

  // The writing thread is done: FreeUntilFinished() returns once it has freed the rest.
  void Finish() {
    std::lock_guard<std::mutex> lock(mutex_);
    finished_ = true;
    given_back_.notify_all();
  }

 private:
  size_t capacity_;
  std::mutex mutex_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::condition_variable given_back_;
  std::deque<Unit> units_;
  std::vector<api::rest::RestService::PreparedBundlePtr> spent_;
  bool closed_ = false;
  bool finished_ = false;
};

// The reading thread's work on one file: parse, validate, cut into units.
void ReadFile(const api::rest::RestService& service, size_t file_index, const std::string& path,
              const ImportOptions& options, UnitQueue& queue) {
  auto fail = [&](Error error) {
    Unit unit;
    unit.file_index = file_index;
    unit.error = std::move(error);
    unit.end_of_file = true;
    queue.Push(std::move(unit));
  };
  // Prepares (parses entries, validates, precomputes creates) here, on the reading thread.
  auto push = [&](Json bundle, bool transaction, bool end_of_file) -> core::Status {
    Unit unit;
    unit.file_index = file_index;
    const Json* entries = bundle.Find("entry");
    unit.entries = entries != nullptr ? static_cast<int64_t>(entries->Size()) : 0;
    unit.transaction = transaction;
    MA_ASSIGN_OR_RETURN(unit.bundle,
                        service.PrepareBundle(std::move(bundle), "", nullptr, /*speculate=*/true));
    unit.end_of_file = end_of_file;
    queue.Push(std::move(unit));
    queue.FreeSpent();
    return {};
  };
  Result<std::string> text = ReadFileContents(path);
  if (!text)
    return fail(std::move(text).error());
  if (IsNdjson(path)) {
    std::istringstream lines(*text);
    std::string line;
    Json entries = Json::MakeArray();
    int64_t line_number = 0;
    auto flush = [&](bool end_of_file) -> core::Status {
      if (entries.Size() == 0 && !end_of_file)
        return {};
      MA_RETURN_IF_ERROR(push(TransactionOf(std::move(entries)), true, end_of_file));
      entries = Json::MakeArray();
      return {};
    };
    while (std::getline(lines, line)) {
      ++line_number;
      if (line.find_first_not_of(" \t\r") == std::string::npos)
        continue;
      Result<Json> resource = fhir::ParseJson(line);
      if (!resource) {
        return fail(Error::BadRequest("line " + std::to_string(line_number) + ": " +
                                      resource.error().GetMessage()));
      }
      entries.PushBack(EntryFor(std::move(*resource)));
      if (entries.Size() >= options.batch_size) {
        if (auto status = flush(false); !status)
          return fail(std::move(status).error());
      }
    }
    if (auto status = flush(true); !status)
      return fail(std::move(status).error());
    return;
  }
  Result<Json> document = fhir::ParseJson(*text);
  if (!document)
    return fail(std::move(document).error());
  std::string type(document->GetStringMember("resourceType"));
  std::string bundle_type(document->GetStringMember("type"));
  core::Status pushed;
  if (type == "Bundle" && (bundle_type == "transaction" || bundle_type == "batch")) {
    pushed = push(std::move(*document), bundle_type == "transaction", true);
  } else if (type.empty()) {
    pushed = Error::BadRequest("not a FHIR resource (no resourceType)");
  } else {
    Json entries = Json::MakeArray();
    entries.PushBack(EntryFor(std::move(*document)));
    pushed = push(TransactionOf(std::move(entries)), true, true);
  }
  if (!pushed)
    fail(std::move(pushed).error());
}

// Resources a batch response reports as written.
int64_t CountBatchSuccesses(const Json& response) {
  int64_t count = 0;
  if (const Json* results = response.Find("entry")) {
    for (const Json& entry : results->Items()) {
      const Json* resp = entry.Find("response");
      std::string_view status = resp != nullptr ? resp->GetStringMember("status") : "";
      if (status.starts_with("2"))
        ++count;
    }
  }
  return count;
}

std::string Describe(const Error& error) {
  std::string out = error.GetMessage();
  size_t shown = 1;
  for (size_t i = 1; i < error.GetIssues().size() && shown < 5; ++i, ++shown) {
    out += "; " + error.GetIssues()[i].diagnostics;
  }
  if (error.GetIssues().size() > shown) {
    out += " (+" + std::to_string(error.GetIssues().size() - shown) + " more)";
  }
  const std::string& where =
      error.GetIssues().empty() ? std::string() : error.GetIssues()[0].expression;
  if (!where.empty() && out.find(where) == std::string::npos)
    out += " at " + where;
  return out;
}

}  // namespace

Result<std::string> ReadFileContents(const std::string& path) {
  // One read() of the whole file where its size is known (a regular file): reading through
  // std::istreambuf_iterator, byte by byte, was 10 % of the import's reading thread.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return Error::NotFound("cannot read '" + path + "'");
  struct stat info {};
  size_t expected = 0;
  if (::fstat(fd, &info) == 0 && S_ISREG(info.st_mode) && info.st_size > 0)
    expected = static_cast<size_t>(info.st_size);
  // One byte more than the size, so that the read which fills it and the one that sees the
  // end are the only two (a file that grew meanwhile is read to its new end).
  std::string data(expected + 1, '\0');
  size_t filled = 0;
  for (;;) {
    if (filled == data.size())
      data.resize(std::max<size_t>(data.size() * 2, 65536));
    ssize_t n = ::read(fd, data.data() + filled, data.size() - filled);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;  // the end, or an error (a directory): what was read, as istreambuf_iterator did
    filled += static_cast<size_t>(n);
  }
  ::close(fd);
  data.resize(filled);
  if (!EndsWith(path, ".zst"))
    return data;
  ZSTD_DStream* stream = ZSTD_createDStream();
  ZSTD_initDStream(stream);
  std::string out;
  std::vector<char> buffer(ZSTD_DStreamOutSize());
  ZSTD_inBuffer input{data.data(), data.size(), 0};
  while (input.pos < input.size) {
    ZSTD_outBuffer output{buffer.data(), buffer.size(), 0};
    size_t result = ZSTD_decompressStream(stream, &output, &input);
    if (ZSTD_isError(result)) {
      ZSTD_freeDStream(stream);
      return Error::BadRequest(std::string("bad zstd data: ") + ZSTD_getErrorName(result));
    }
    out.append(buffer.data(), output.pos);
  }
  ZSTD_freeDStream(stream);
  return out;
}

ImportStats ImportPaths(const api::rest::RestService& service,
                        const std::vector<std::string>& paths, const ImportOptions& options) {
  std::vector<std::pair<std::string, uint64_t>> files;
  for (const std::string& path : paths) {
    std::error_code error;
    if (fs::is_directory(path, error)) {
      std::vector<std::string> found;
      for (const auto& item : fs::recursive_directory_iterator(path, error)) {
        if (item.is_regular_file() && IsImportable(item.path().filename().string())) {
          found.push_back(item.path().string());
        }
      }
      std::sort(found.begin(), found.end());
      for (std::string& file : found)
        files.emplace_back(std::move(file), fs::file_size(file, error));
    } else {
      files.emplace_back(path, fs::file_size(path, error));
      if (error)
        files.back().second = 0;
    }
  }
  uint64_t total_bytes = 0;
  for (const auto& file : files) total_bytes += file.second;
  ImportStats stats;
  Progress progress(options.progress, total_bytes);
  auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  if (options.sqlite != nullptr) {
    // The generated and Synthea data hold 1-2 KB of JSON per resource: the estimate errs low.
    const auto incoming = static_cast<int64_t>(total_bytes / 2048);
    Result<bool> deferred = options.sqlite->DeferValueIndexes(incoming);
    if (!deferred) {
      std::fprintf(stderr, "import: value indexes kept: %s\n",
                   deferred.error().GetMessage().c_str());
    } else {
      stats.deferred_indexes = *deferred;
    }
  }
  UnitQueue queue(kQueueCapacity);
  std::thread reader([&] {
    for (size_t i = 0; i < files.size(); ++i) ReadFile(service, i, files[i].first, options, queue);
    queue.Close();
    queue.FreeUntilFinished();
  });
  uint64_t done_bytes = 0;
  bool file_failed = false;
  // The writing thread commits the Bundles waiting in the queue together (one fsync for all:
  // RestService::CommitBundles); each stays atomic on its own and is reported once durable.
  for (;;) {
    std::vector<Unit> units = queue.PopAvailable(kQueueCapacity);
    if (units.empty())
      break;
    std::vector<api::rest::RestService::PreparedBundle*> bundles;
    for (const Unit& unit : units) {
      if (!unit.error.has_value() && unit.bundle != nullptr)
        bundles.push_back(unit.bundle.get());
    }
    // A transaction's count is its entries: its response needs none.
    std::vector<Result<Json>> responses = service.CommitBundles(bundles, /*entries_wanted=*/false);
    size_t next_response = 0;
    for (Unit& unit : units) {
      const std::string& file = files[unit.file_index].first;
      std::optional<Error> error = std::move(unit.error);
      if (!error.has_value() && unit.bundle != nullptr) {
        Result<Json>& response = responses[next_response++];
        if (!response) {
          error = std::move(response).error();
        } else {
          stats.resources += unit.transaction ? unit.entries : CountBatchSuccesses(*response);
        }
        queue.GiveBack(std::move(unit.bundle));
      }
      if (error.has_value() && !file_failed) {
        file_failed = true;
        ++stats.failed_files;
        if (options.progress)
          std::fprintf(stderr, "\n");
        std::fprintf(stderr, "import: %s: %s\n", file.c_str(), Describe(*error).c_str());
      }
      if (unit.end_of_file) {
        ++stats.files;
        done_bytes += files[unit.file_index].second;
        file_failed = false;
        progress.Update(done_bytes, stats, elapsed());
      }
    }
  }
  queue.Finish();
  reader.join();
  progress.Finish();
  if (stats.deferred_indexes) {
    const double before = elapsed();
    if (core::Status rebuilt = options.sqlite->RebuildDeferredIndexes(); !rebuilt) {
      stats.rebuild_failed = true;
      std::fprintf(stderr,
                   "import: rebuilding the search indexes failed (the next start retries): %s\n",
                   rebuilt.error().GetMessage().c_str());
    }
    stats.rebuild_seconds = elapsed() - before;
  }
  stats.seconds = elapsed();
  return stats;
}

}  // namespace medalliance::cli
