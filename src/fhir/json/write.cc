// WriteJson: RapidJSON's Writer, numbers written from their source text.

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "fhir/json/json.h"

namespace medalliance::fhir {
namespace {

// RapidJSON output stream appending to a std::string.
class StringSink {
 public:
  using Ch = char;
  explicit StringSink(std::string& out) : out_(out) {}
  void Put(char c) { out_.push_back(c); }
  void Flush() {}

 private:
  std::string& out_;
};

template <typename Writer>
void Emit(const Json& value, Writer& writer) {
  switch (value.GetKind()) {
    case Json::Kind::kNull:
      writer.Null();
      break;
    case Json::Kind::kBool:
      writer.Bool(value.GetBool());
      break;
    case Json::Kind::kNumber: {
      const std::string& text = value.GetString();
      writer.RawValue(text.data(), text.size(), rapidjson::kNumberType);
      break;
    }
    case Json::Kind::kString: {
      const std::string& text = value.GetString();
      writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
      break;
    }
    case Json::Kind::kArray:
      writer.StartArray();
      for (const Json& item : value.Items()) Emit(item, writer);
      writer.EndArray();
      break;
    case Json::Kind::kObject:
      writer.StartObject();
      for (const auto& [key, member] : value.Members()) {
        writer.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
        Emit(member, writer);
      }
      writer.EndObject();
      break;
  }
}

}  // namespace

void AppendJson(const Json& value, std::string& out, const WriteOptions& options) {
  StringSink sink(out);
  if (options.pretty) {
    rapidjson::PrettyWriter<StringSink> writer(sink);
    writer.SetIndent(' ', 2);
    Emit(value, writer);
  } else {
    rapidjson::Writer<StringSink> writer(sink);
    Emit(value, writer);
  }
}

std::string WriteJson(const Json& value, const WriteOptions& options) {
  std::string out;
  AppendJson(value, out, options);
  return out;
}

}  // namespace medalliance::fhir
