#include "api/http/gzip.h"

#include <algorithm>
#include <charconv>
#include <optional>

#include <zlib.h>

#include "api/http/message.h"

namespace medalliance::api::http {

namespace {

constexpr int kGzipWindowBits = 15 + 16;    // 32 KiB window, gzip wrapper
constexpr int kGunzipWindowBits = 15 + 16;  // gzip only
constexpr size_t kChunk = 64 * 1024;

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// q-value of one Accept-Encoding element's parameters ("q=0.5"); 1 when absent or malformed.
double QValue(std::string_view params) {
  while (!params.empty()) {
    size_t semi = params.find(';');
    std::string_view param = Trim(params.substr(0, semi));
    params = semi == std::string_view::npos ? std::string_view{} : params.substr(semi + 1);
    if (param.size() >= 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=') {
      std::string_view number = Trim(param.substr(2));
      double value = 1.0;
      auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
      (void)end;
      if (ec == std::errc())
        return value;
    }
  }
  return 1.0;
}

}  // namespace

core::Result<std::string> GzipCompress(std::string_view data, int level) {
  z_stream stream{};
  if (deflateInit2(&stream, std::clamp(level, 0, 9), Z_DEFLATED, kGzipWindowBits, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    return core::Error::Internal("deflateInit2 failed");
  }
  std::string out;
  out.resize(deflateBound(&stream, static_cast<uLong>(data.size())) + 32);
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&stream, Z_FINISH);
  size_t produced = stream.total_out;
  deflateEnd(&stream);
  if (rc != Z_STREAM_END)
    return core::Error::Internal("deflate failed");
  out.resize(produced);
  return out;
}

core::Result<std::string> GzipDecompress(std::string_view data, size_t max_output_bytes) {
  z_stream stream{};
  if (inflateInit2(&stream, kGunzipWindowBits) != Z_OK) {
    return core::Error::Internal("inflateInit2 failed");
  }
  std::string out;
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  std::optional<core::Error> error;
  for (;;) {
    size_t used = out.size();
    size_t grow = std::max(kChunk, data.size() * 4);
    if (used >= max_output_bytes + 1) {
      error =
          core::Error(core::ErrorCode::kPayloadTooLarge,
                      "decompressed body exceeds " + std::to_string(max_output_bytes) + " bytes");
      break;
    }
    grow = std::min(grow, max_output_bytes + 1 - used);
    out.resize(used + grow);
    stream.next_out = reinterpret_cast<Bytef*>(out.data() + used);
    stream.avail_out = static_cast<uInt>(grow);
    int rc = inflate(&stream, Z_NO_FLUSH);
    out.resize(used + grow - stream.avail_out);
    if (rc == Z_STREAM_END) {
      if (stream.avail_in == 0)
        break;
      // Another gzip member follows (concatenated members are one valid gzip file).
      if (inflateReset(&stream) != Z_OK) {
        error = core::Error::BadRequest("corrupt gzip body");
        break;
      }
      continue;
    }
    if (rc == Z_BUF_ERROR && stream.avail_in == 0) {
      error = core::Error::BadRequest("truncated gzip body");
      break;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      error = core::Error::BadRequest("corrupt gzip body");
      break;
    }
  }
  inflateEnd(&stream);
  if (error)
    return std::move(*error);
  if (out.size() > max_output_bytes) {
    return core::Error(core::ErrorCode::kPayloadTooLarge,
                       "decompressed body exceeds " + std::to_string(max_output_bytes) + " bytes");
  }
  return out;
}

bool AcceptsGzip(std::string_view accept_encoding) {
  std::optional<double> gzip_q;
  std::optional<double> any_q;
  while (!accept_encoding.empty()) {
    size_t comma = accept_encoding.find(',');
    std::string_view element = accept_encoding.substr(0, comma);
    accept_encoding =
        comma == std::string_view::npos ? std::string_view{} : accept_encoding.substr(comma + 1);
    size_t semi = element.find(';');
    std::string_view coding = Trim(element.substr(0, semi));
    double q = semi == std::string_view::npos ? 1.0 : QValue(element.substr(semi + 1));
    if (EqualsIgnoreCase(coding, "gzip") || EqualsIgnoreCase(coding, "x-gzip")) {
      gzip_q = q;
    } else if (coding == "*") {
      any_q = q;
    }
  }
  if (gzip_q)
    return *gzip_q > 0;
  return any_q && *any_q > 0;
}

}  // namespace medalliance::api::http
