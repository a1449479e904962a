#pragma once
// A small mutable JSON tree for FHIR resources.
//
// Why our own: FHIR decimals must keep their exact text ("1.50" stays "1.50", "1e3" is not
// rewritten), objects must keep their member order, and the server edits resources (meta,
// ids, transaction references, JSON Patch). Numbers therefore hold their source text.
// Parsing uses simdjson (On-Demand); writing is our own (numbers written from their text).
//
// Not thread-safe for concurrent mutation; concurrent reads of an unchanging tree are fine.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/result.h"

namespace medalliance::fhir {

class Json {
 public:
  enum class Kind : uint8_t { kNull, kBool, kNumber, kString, kArray, kObject };
  using Member = std::pair<std::string, Json>;
  using Array = std::vector<Json>;
  using Object = std::vector<Member>;

  Json() = default;  // null
  static Json MakeBool(bool value);
  // `text` must be a valid JSON number; it is kept verbatim.
  static Json MakeNumber(std::string text);
  static Json MakeNumber(int64_t value);
  static Json MakeString(std::string value);
  static Json MakeArray();
  static Json MakeObject();

  Kind GetKind() const { return static_cast<Kind>(data_.index()); }
  bool IsNull() const { return GetKind() == Kind::kNull; }
  bool IsBool() const { return GetKind() == Kind::kBool; }
  bool IsNumber() const { return GetKind() == Kind::kNumber; }
  bool IsString() const { return GetKind() == Kind::kString; }
  bool IsArray() const { return GetKind() == Kind::kArray; }
  bool IsObject() const { return GetKind() == Kind::kObject; }

  bool GetBool() const { return std::get<bool>(data_); }
  // The string's value, or a number's source text.
  const std::string& GetString() const;
  // For numbers: the value as int64 if it is an integer in range.
  bool GetInt64(int64_t* out) const;

  const Array& Items() const { return std::get<Array>(data_); }
  Array& Items() { return std::get<Array>(data_); }
  const Object& Members() const { return std::get<Object>(data_); }
  Object& Members() { return std::get<Object>(data_); }
  // Elements of an array, or members of an object; 0 otherwise.
  size_t Size() const;

  // Object lookup; nullptr when absent or when this is not an object.
  const Json* Find(std::string_view key) const;
  Json* Find(std::string_view key);
  // String member or empty view.
  std::string_view GetStringMember(std::string_view key) const;
  // Sets a member, replacing an existing one in place or appending. Turns null into an object.
  Json& Set(std::string_view key, Json value);
  // Inserts a member at `position` (or replaces in place when present).
  Json& SetAt(size_t position, std::string_view key, Json value);
  bool Erase(std::string_view key);
  // Appends to an array. Turns null into an array.
  Json& PushBack(Json value);

  friend bool operator==(const Json& a, const Json& b);
  // The parser (parse.cc) builds values in place.
  friend class JsonBuilder;

 private:
  struct NumberText {
    std::string text;
    friend bool operator==(const NumberText& a, const NumberText& b) { return a.text == b.text; }
  };
  using Data = std::variant<std::monostate, bool, NumberText, std::string, Array, Object>;
  Data data_;
};

struct ParseOptions {
  int max_depth = 128;
};

// Parses JSON text. Rejects invalid UTF-8, duplicate object keys, trailing content and
// nesting deeper than max_depth. Error: kBadRequest with the byte offset where known.
core::Result<Json> ParseJson(std::string_view text, const ParseOptions& options = {});

struct WriteOptions {
  bool pretty = false;
};

// Serialises a tree; numbers are written from their source text.
std::string WriteJson(const Json& value, const WriteOptions& options = {});
void AppendJson(const Json& value, std::string& out, const WriteOptions& options = {});
// Appends the JSON string literal of `text`, as WriteJson writes strings (a byte that is not
// part of well-formed UTF-8 becomes U+FFFD): for code that writes JSON text without building a
// tree ($recognize's answer, search Bundles).
void AppendJsonString(std::string_view text, std::string& out);

// The simdjson kernel the parser was compiled for ("haswell", "icelake"; "fallback" means the
// build lost its CPU flags and parsing is several times slower).
std::string_view JsonParserKernel();

// True when `text` is a syntactically valid JSON number.
bool IsJsonNumber(std::string_view text);

}  // namespace medalliance::fhir
