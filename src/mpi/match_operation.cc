#include "mpi/match_operation.h"

#include <algorithm>
#include <optional>

#include "core/ids.h"
#include "fhir/json/json.h"
#include "fhir/json/parameters.h"
#include "mpi/patient_hook.h"

namespace medalliance::mpi {
namespace {

using core::Error;
using fhir::Json;

core::Result<bool> BooleanParameter(const Json& parameters, std::string_view name, bool fallback) {
  const Json* parameter = fhir::FindParameter(parameters, name);
  if (parameter == nullptr)
    return fallback;
  if (const Json* value = parameter->Find("valueBoolean"); value != nullptr && value->IsBool()) {
    return value->GetBool();
  }
  std::string_view text = parameter->GetStringMember("valueString");
  if (text == "true")
    return true;
  if (text == "false")
    return false;
  return Error::BadRequest("$match: " + std::string(name) + " must be true or false",
                           "Parameters.parameter.where(name='" + std::string(name) + "')");
}

core::Result<int> CountParameter(const Json& parameters) {
  const Json* parameter = fhir::FindParameter(parameters, "count");
  if (parameter == nullptr)
    return MatchOperation::kDefaultCount;
  int64_t value = 0;
  bool ok = false;
  for (std::string_view key : {"valueInteger", "valuePositiveInt"}) {
    if (const Json* number = parameter->Find(key); number != nullptr && number->GetInt64(&value)) {
      ok = true;
    }
  }
  if (!ok) {
    std::string_view text = parameter->GetStringMember("valueString");
    ok = !text.empty() && text.size() <= 9 &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (ok)
      value = std::stoll(std::string(text));
  }
  if (!ok || value < 1) {
    return Error::BadRequest("$match: count must be a positive integer",
                             "Parameters.parameter.where(name='count')");
  }
  return static_cast<int>(std::min<int64_t>(value, MatchOperation::kMaxCount));
}

Json Extension(std::string_view url, std::string_view value_key, Json value) {
  Json extension = Json::MakeObject();
  extension.Set("url", Json::MakeString(std::string(url)));
  extension.Set(value_key, std::move(value));
  return extension;
}

}  // namespace

double MatchScore(const Comparison& comparison, const MatchConfig& config) {
  double low_weight = 0;
  double high_weight = 0;
  double low_score = 0;
  double high_score = 0;
  double max_position = 0.99;
  switch (comparison.grade) {
    case MatchGrade::kCertain:
      low_weight = config.certain_threshold;
      high_weight = config.certain_threshold + 20;
      low_score = 0.95;
      high_score = 1.0;
      max_position = 1.0;
      break;
    case MatchGrade::kProbable:
      low_weight = config.probable_threshold;
      high_weight = config.certain_threshold;
      low_score = 0.80;
      high_score = 0.95;
      break;
    case MatchGrade::kPossible:
      low_weight = config.possible_threshold;
      high_weight = config.probable_threshold;
      low_score = 0.50;
      high_score = 0.80;
      break;
    case MatchGrade::kCertainlyNot:
      low_weight = config.possible_threshold - 20;
      high_weight = config.possible_threshold;
      low_score = 0;
      high_score = 0.50;
      break;
  }
  double position =
      high_weight > low_weight ? (comparison.score - low_weight) / (high_weight - low_weight) : 0;
  position = std::clamp(position, 0.0, max_position);
  return low_score + (high_score - low_score) * position;
}

core::Result<store::OperationResponse> MatchOperation::Invoke(
    store::Store& store, const store::OperationRequest& request) {
  const Json* parameter = fhir::FindParameter(request.parameters, "resource");
  const Json* patient = parameter != nullptr ? parameter->Find("resource") : nullptr;
  if (patient == nullptr || !patient->IsObject()) {
    return Error::BadRequest(
        "$match 需要参数 resource（一个 Patient）/ $match needs a Patient in parameter 'resource'"
        " (POST a Parameters resource or the Patient itself)",
        "Parameters.parameter.where(name='resource')");
  }
  if (patient->GetStringMember("resourceType") != "Patient") {
    return Error::BadRequest("$match: parameter 'resource' must be a Patient, not " +
                                 std::string(patient->GetStringMember("resourceType")),
                             "Parameters.parameter.where(name='resource').resource");
  }
  MA_ASSIGN_OR_RETURN(bool only_certain,
                      BooleanParameter(request.parameters, "onlyCertainMatches", false));
  MA_ASSIGN_OR_RETURN(int count, CountParameter(request.parameters));

  PatientRecord query = ExtractRecord(*patient);
  std::string own_id(patient->GetStringMember("id"));
  query.reference = own_id.empty() ? std::string() : "Patient/" + own_id;
  std::vector<PatientMatch> matches;
  MA_RETURN_IF_ERROR(store.Read([&](store::ReadTx& tx) -> core::Status {
    MA_ASSIGN_OR_RETURN(matches, index_.FindMatches(tx, query, query.reference));
    return {};
  }));

  std::optional<std::string> note;
  if (only_certain) {
    std::erase_if(matches, [](const PatientMatch& match) {
      return match.comparison.grade != MatchGrade::kCertain;
    });
    if (matches.size() > 1) {
      note = "有 " + std::to_string(matches.size()) + " 个确定匹配，无法给出唯一结果 / " +
             std::to_string(matches.size()) +
             " certain matches: no single match to return with onlyCertainMatches";
      matches.clear();
    }
  }
  if (matches.size() > static_cast<size_t>(count))
    matches.resize(static_cast<size_t>(count));

  Json bundle = Json::MakeObject();
  bundle.Set("resourceType", Json::MakeString("Bundle"));
  bundle.Set("id", Json::MakeString(core::NewUuid()));
  bundle.Set("type", Json::MakeString("searchset"));
  bundle.Set("total", Json::MakeNumber(static_cast<int64_t>(matches.size())));
  Json link = Json::MakeObject();
  link.Set("relation", Json::MakeString("self"));
  link.Set("url", Json::MakeString(request.base_url + "/Patient/$match"));
  bundle.Set("link", Json::MakeArray()).PushBack(std::move(link));
  Json entries = Json::MakeArray();
  for (const PatientMatch& match : matches) {
    MA_ASSIGN_OR_RETURN(Json resource, fhir::ParseJson(match.patient.json));
    Json entry = Json::MakeObject();
    entry.Set("fullUrl", Json::MakeString(request.base_url + "/" + match.reference));
    entry.Set("resource", std::move(resource));
    Json search = Json::MakeObject();
    Json& extensions = search.Set("extension", Json::MakeArray());
    extensions.PushBack(Extension(kMatchGradeExtension, "valueCode",
                                  Json::MakeString(std::string(ToString(match.comparison.grade)))));
    extensions.PushBack(Extension(kMatchWeightExtension, "valueDecimal",
                                  Json::MakeNumber(FormatDecimal(match.comparison.score, 2))));
    search.Set("mode", Json::MakeString("match"));
    search.Set("score", Json::MakeNumber(
                            FormatDecimal(MatchScore(match.comparison, index_.GetConfig()), 3)));
    entry.Set("search", std::move(search));
    entries.PushBack(std::move(entry));
  }
  if (note.has_value()) {
    Json outcome = Json::MakeObject();
    outcome.Set("resourceType", Json::MakeString("OperationOutcome"));
    Json issue = Json::MakeObject();
    issue.Set("severity", Json::MakeString("information"));
    issue.Set("code", Json::MakeString("multiple-matches"));
    issue.Set("diagnostics", Json::MakeString(*note));
    outcome.Set("issue", Json::MakeArray()).PushBack(std::move(issue));
    Json entry = Json::MakeObject();
    entry.Set("resource", std::move(outcome));
    Json search = Json::MakeObject();
    search.Set("mode", Json::MakeString("outcome"));
    entry.Set("search", std::move(search));
    entries.PushBack(std::move(entry));
  }
  if (entries.Size() > 0)
    bundle.Set("entry", std::move(entries));
  store::OperationResponse response;
  response.body = std::move(bundle);
  return response;
}

}  // namespace medalliance::mpi
