#pragma once
// gzip (RFC 1952) compression with zlib, and Accept-Encoding negotiation.
//
// Thread-safety: stateless functions, safe from any thread.

#include <cstddef>
#include <string>
#include <string_view>

#include "core/result.h"

namespace medalliance::api::http {

// Compresses `data` into a gzip member. `level` is zlib's 0..9 (1 = fastest).
// Errors: kInternal when zlib fails (out of memory).
core::Result<std::string> GzipCompress(std::string_view data, int level = 1);

// Decompresses one or more concatenated gzip members. Stops with kPayloadTooLarge as soon as
// the output would exceed `max_output_bytes`; kBadRequest for corrupt or truncated input.
core::Result<std::string> GzipDecompress(std::string_view data, size_t max_output_bytes);

// True when an Accept-Encoding field value admits gzip: "gzip", "x-gzip" or "*" listed with a
// non-zero q-value (e.g. "br;q=1.0, gzip;q=0.8"), and gzip not refused by "gzip;q=0".
bool AcceptsGzip(std::string_view accept_encoding);

}  // namespace medalliance::api::http
