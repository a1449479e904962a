#include "referral/internal/json_util.h"

#include "core/time.h"

namespace medalliance::referral::internal {

using fhir::Json;

Json Str(std::string_view text) {
  return Json::MakeString(std::string(text));
}

Json Reference(std::string_view reference) {
  Json out = Json::MakeObject();
  out.Set("reference", Str(reference));
  return out;
}

Json Coding(std::string_view system, std::string_view code, std::string_view display) {
  Json coding = Json::MakeObject();
  coding.Set("system", Str(system));
  coding.Set("code", Str(code));
  if (!display.empty())
    coding.Set("display", Str(display));
  return coding;
}

Json SubExtension(std::string_view url, std::string_view value_key, Json value) {
  Json extension = Json::MakeObject();
  extension.Set("url", Str(url));
  extension.Set(value_key, std::move(value));
  return extension;
}

namespace {

template <typename Fn>
void ForEachCoding(const Json* concepts, Fn&& fn) {
  if (concepts == nullptr)
    return;
  auto visit = [&fn](const Json& concept_json) {
    const Json* codings = concept_json.Find("coding");
    if (codings == nullptr || !codings->IsArray())
      return;
    for (const Json& coding : codings->Items()) fn(coding);
  };
  if (concepts->IsArray()) {
    for (const Json& concept_json : concepts->Items()) visit(concept_json);
  } else if (concepts->IsObject()) {
    visit(*concepts);
  }
}

}  // namespace

bool HasCoding(const Json* concepts, std::string_view system, std::string_view code) {
  bool found = false;
  ForEachCoding(concepts, [&](const Json& coding) {
    if (coding.GetStringMember("system") == system && coding.GetStringMember("code") == code)
      found = true;
  });
  return found;
}

std::vector<std::string> CodesOf(const Json* concepts, std::string_view system) {
  std::vector<std::string> out;
  ForEachCoding(concepts, [&](const Json& coding) {
    if (coding.GetStringMember("system") == system)
      out.emplace_back(coding.GetStringMember("code"));
  });
  return out;
}

std::string_view ReferenceOf(const Json* reference) {
  if (reference == nullptr || !reference->IsObject())
    return {};
  return reference->GetStringMember("reference");
}

bool SplitReference(std::string_view reference, std::string_view* type, std::string_view* id) {
  size_t slash = reference.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 >= reference.size() ||
      reference.find('/', slash + 1) != std::string_view::npos) {
    *type = {};
    *id = {};
    return false;
  }
  *type = reference.substr(0, slash);
  *id = reference.substr(slash + 1);
  return true;
}

void EraseExtensions(Json& resource, std::string_view url) {
  Json* extensions = resource.Find("extension");
  if (extensions == nullptr || !extensions->IsArray())
    return;
  Json::Array kept;
  for (Json& extension : extensions->Items()) {
    if (extension.GetStringMember("url") != url)
      kept.push_back(std::move(extension));
  }
  if (kept.empty()) {
    resource.Erase("extension");
    return;
  }
  extensions->Items() = std::move(kept);
}

std::vector<const Json*> FindExtensions(const Json& resource, std::string_view url) {
  std::vector<const Json*> out;
  const Json* extensions = resource.Find("extension");
  if (extensions == nullptr || !extensions->IsArray())
    return out;
  for (const Json& extension : extensions->Items()) {
    if (extension.GetStringMember("url") == url)
      out.push_back(&extension);
  }
  return out;
}

const Json* FindSubExtension(const Json& extension, std::string_view url) {
  std::vector<const Json*> found = FindExtensions(extension, url);
  return found.empty() ? nullptr : found.front();
}

Json& AddExtension(Json& resource, Json extension) {
  Json* extensions = resource.Find("extension");
  if (extensions == nullptr || !extensions->IsArray())
    extensions = &resource.Set("extension", Json::MakeArray());
  return extensions->PushBack(std::move(extension));
}

std::optional<core::EpochMillis> ParseTime(std::string_view text) {
  if (text.empty())
    return std::nullopt;
  core::Result<core::DateRange> range = core::ParseFhirDateTime(text, 480);
  if (!range)
    return std::nullopt;
  return range->low;
}

core::Result<std::optional<Json>> ReadJson(store::ReadTx& tx, std::string_view type,
                                           std::string_view id) {
  MA_ASSIGN_OR_RETURN(std::optional<store::StoredResource> stored, tx.ReadCurrent(type, id));
  if (!stored.has_value() || stored->deleted)
    return std::optional<Json>();
  MA_ASSIGN_OR_RETURN(Json json, fhir::ParseJson(stored->json));
  return std::optional<Json>(std::move(json));
}

core::Result<std::optional<Json>> ReadReference(store::ReadTx& tx, std::string_view reference) {
  std::string_view type;
  std::string_view id;
  if (!SplitReference(reference, &type, &id))
    return std::optional<Json>();
  return ReadJson(tx, type, id);
}

namespace {

core::Status NeedWriter(const store::ResourceWriter* writer) {
  if (writer == nullptr)
    return core::Error::Internal("referral: no ResourceWriter is wired for the module's writes");
  return {};
}

}  // namespace

core::Result<std::string> CreateResource(store::WriteTx& tx, const store::ResourceWriter* writer,
                                         Json& resource, const store::WriteScope& scope) {
  MA_RETURN_IF_ERROR(NeedWriter(writer));
  MA_ASSIGN_OR_RETURN(store::StoredResource stored, writer->Create(tx, resource, scope));
  return std::move(stored.id);
}

core::Status UpdateResource(store::WriteTx& tx, const store::ResourceWriter* writer, Json& resource,
                            const store::WriteScope& scope) {
  MA_RETURN_IF_ERROR(NeedWriter(writer));
  MA_ASSIGN_OR_RETURN(store::StoredResource stored, writer->Update(tx, resource, scope));
  (void)stored;
  return {};
}

core::Result<std::vector<Json>> SearchJson(store::ReadTx& tx, const search::Searcher& searcher,
                                           std::string type, search::Params params) {
  search::SearchRequest request;
  request.type = std::move(type);
  request.params = std::move(params);
  request.default_count = 1000;
  MA_ASSIGN_OR_RETURN(search::SearchPage page, searcher.Search(tx, request));
  std::vector<Json> out;
  out.reserve(page.matches.size());
  for (const store::StoredResource& stored : page.matches) {
    MA_ASSIGN_OR_RETURN(Json json, fhir::ParseJson(stored.json));
    out.push_back(std::move(json));
  }
  return out;
}

}  // namespace medalliance::referral::internal
