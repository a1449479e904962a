#pragma once
// JSON Patch (RFC 6902) and JSON Pointer (RFC 6901) over fhir::Json.
//
// ApplyJsonPatch applies every operation of `patch` (a JSON array of operation objects) to
// `document`. Supported ops: add, remove, replace, move, copy, test. Pointers use the ~0 / ~1
// escapes; "-" as the last array token appends (add, move and copy targets only).
//
// Atomic: operations run on a copy, and `document` is replaced only when all succeed; on any
// failure `document` is unchanged. Errors (the message names the failing op index):
//   kBadRequest     the patch document is malformed (not an array, an op that is not an
//                   object, unknown "op", missing/non-string "path"/"from", missing "value",
//                   a pointer that does not start with "/").
//   kUnprocessable  the patch cannot be applied: a path or parent that does not exist, an
//                   array index out of range or not a number, moving a value into itself,
//                   a failed "test", or copies of more than 64 MiB in total (each copy
//                   of the root doubles the document: a small patch could otherwise
//                   exhaust memory).
// Unknown members of an operation object are ignored (RFC 6902 section 4).
//
// Thread-safety: none beyond that of fhir::Json (the caller owns `document`).

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "fhir/json/json.h"

namespace medalliance::fhir {

[[nodiscard]] core::Status ApplyJsonPatch(Json& document, const Json& patch);

// Splits a JSON Pointer into unescaped reference tokens. "" is the whole document (no
// tokens). Error kBadRequest when the pointer is non-empty and does not start with '/'.
core::Result<std::vector<std::string>> ParseJsonPointer(std::string_view pointer);

// The node `pointer` designates in `document`, or nullptr when it does not exist (or the
// pointer is malformed).
const Json* ResolveJsonPointer(const Json& document, std::string_view pointer);

// JSON value equality as RFC 6902 "test" defines it: objects compare as unordered member
// sets, arrays element by element, strings by value, numbers by numeric value (1 == 1.0).
bool JsonValuesEqual(const Json& a, const Json& b);

}  // namespace medalliance::fhir
