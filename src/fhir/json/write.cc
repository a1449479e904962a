// WriteJson: serialises our Json tree, numbers from their source text.
//
// Hand-written rather than RapidJSON's Writer: with RapidJSON's character-at-a-time output
// stream, writing was the largest single cost of importing resources with big narratives
// (callgrind on 8 Synthea bundles: 59M of 447M instructions). This writer copies runs of
// plain bytes at once.

#include "fhir/json/json.h"

namespace medalliance::fhir {
namespace {

// The JSON string literal of `text`, appended to `out`. Non-ASCII UTF-8 is written as is.
void AppendQuoted(std::string_view text, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t run = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(text.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      default:
        out.append("\\u00");
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 15]);
    }
  }
  out.append(text.data() + run, text.size() - run);
  out.push_back('"');
}

void Indent(std::string& out, int depth) {
  out.push_back('\n');
  out.append(static_cast<size_t>(depth) * 2, ' ');
}

void Emit(const Json& value, std::string& out, bool pretty, int depth) {
  switch (value.GetKind()) {
    case Json::Kind::kNull:
      out.append("null");
      break;
    case Json::Kind::kBool:
      out.append(value.GetBool() ? "true" : "false");
      break;
    case Json::Kind::kNumber:
      out.append(value.GetString());
      break;
    case Json::Kind::kString:
      AppendQuoted(value.GetString(), out);
      break;
    case Json::Kind::kArray: {
      const Json::Array& items = value.Items();
      out.push_back('[');
      for (size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out.push_back(',');
        if (pretty) Indent(out, depth + 1);
        Emit(items[i], out, pretty, depth + 1);
      }
      if (pretty && !items.empty()) Indent(out, depth);
      out.push_back(']');
      break;
    }
    case Json::Kind::kObject: {
      const Json::Object& members = value.Members();
      out.push_back('{');
      for (size_t i = 0; i < members.size(); ++i) {
        if (i > 0) out.push_back(',');
        if (pretty) Indent(out, depth + 1);
        AppendQuoted(members[i].first, out);
        out.append(pretty ? ": " : ":");
        Emit(members[i].second, out, pretty, depth + 1);
      }
      if (pretty && !members.empty()) Indent(out, depth);
      out.push_back('}');
      break;
    }
  }
}

}  // namespace

void AppendJson(const Json& value, std::string& out, const WriteOptions& options) {
  Emit(value, out, options.pretty, 0);
}

std::string WriteJson(const Json& value, const WriteOptions& options) {
  std::string out;
  AppendJson(value, out, options);
  return out;
}

}  // namespace medalliance::fhir
