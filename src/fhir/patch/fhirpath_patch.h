#pragma once
// FHIRPath Patch (http://hl7.org/fhir/R4/fhirpatch.html) over fhir::Json.
//
// ApplyFhirPathPatch applies every `operation` parameter of `parameters` (a Parameters
// resource) to `resource`, in order. Each operation has the parts
//   type         add | insert | delete | replace | move (valueCode; valueString accepted)
//   path         a FHIRPath expression evaluated on the resource as patched so far
//   name         add: the child element to add ("birthDate"; for a choice element either the
//                base name "deceased", typed by the value, or "deceasedBoolean")
//   value        add, insert, replace: a value[x] (primitive or complex datatype), a
//                `resource`, or nested `part`s that build an element part by part
//                (backbone elements such as Patient.contact)
//   index        insert: position in the list (0 .. list size)
//   source, destination   move: positions in the list (0 .. list size - 1)
//
// Semantics (the spec leaves some open; these are ours, documented in doc/fhirpath.md):
//   add      `path` must match exactly one element; `name` is appended to it when the
//            element repeats, set when it does not (an error when already present). On a
//            primitive the child goes to its `_name` object (id, extension).
//   insert   `path` must match the elements of one list (one JSON array), which must exist.
//   delete   `path` must match at most one element; matching none changes nothing. An
//            emptied list is removed.
//   replace  `path` must match exactly one element; the whole element is replaced (a
//            primitive's `_name` id/extensions go with it). A choice element changes its
//            JSON name when the new value has another type (deceasedBoolean -> deceasedDateTime).
//   move     `path` must match the elements of one list; the element at `source` is removed
//            and reinserted at `destination`.
// Primitive lists stay aligned with their `_name` arrays. Values are copied as JSON, so
// numbers keep their source text (1.50 stays 1.50). Cardinality and choice types come from the
// R4 definitions; the result is not validated (the caller validates the patched resource).
//
// Atomic: operations run on a copy, and `resource` is replaced only when all succeed. Errors
// (the message names the failing operation's index, from 0):
//   kBadRequest     malformed Parameters: not a Parameters resource, a parameter that is not
//                   an `operation`, an unknown type or part, a missing or mistyped required
//                   part, a FHIRPath syntax error in `path`.
//   kUnprocessable  the patch does not apply: `path` matches no element or several where one
//                   is required, matches computed values instead of elements, the list for
//                   insert/move is missing or an index is out of range, add of a single
//                   element that is already present, a FHIRPath evaluation error.
//
// Thread-safety: none beyond that of fhir::Json (the caller owns `resource`).

#include "core/result.h"
#include "fhir/json/json.h"

namespace medalliance::fhir {

[[nodiscard]] core::Status ApplyFhirPathPatch(Json& resource, const Json& parameters);

}  // namespace medalliance::fhir
