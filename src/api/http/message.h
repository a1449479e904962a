#pragma once
// Plain HTTP message types shared by the server and the layers above it. Nothing here depends
// on Boost.Beast, so routing and REST code can be written and tested without it.
//
// Thread-safety: plain values; no internal synchronization.

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace medalliance::api::http {

// An ordered list of header fields with case-insensitive name lookup. Names keep the
// spelling they were added with; repeated fields are kept in order (Add) or collapsed (Set).
class Headers {
 public:
  using Field = std::pair<std::string, std::string>;
  using const_iterator = std::vector<Field>::const_iterator;

  Headers() = default;
  Headers(std::initializer_list<Field> fields) : fields_(fields) {}

  // The value of the first field named `name` (any case), or "" when there is none.
  std::string_view Get(std::string_view name) const;
  bool Has(std::string_view name) const;
  // Every value of the fields named `name`, in order.
  std::vector<std::string_view> GetAll(std::string_view name) const;

  // Appends a field, keeping existing ones with the same name.
  void Add(std::string name, std::string value);
  // Replaces every field named `name` by one field.
  void Set(std::string name, std::string value);
  // Removes every field named `name`; returns how many were removed.
  size_t Remove(std::string_view name);

  size_t size() const { return fields_.size(); }
  bool empty() const { return fields_.empty(); }
  const_iterator begin() const { return fields_.begin(); }
  const_iterator end() const { return fields_.end(); }

 private:
  std::vector<Field> fields_;
};

// ASCII case-insensitive equality, as HTTP field names and tokens compare.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

struct Request {
  std::string method;  // as sent: "GET", "POST", ...
  std::string target;  // raw request-target: "/Patient?name=J%C3%BCrgen"
  std::string path;    // percent-decoded path without the query: "/Patient"
  std::string query;   // raw query string without '?': "name=J%C3%BCrgen"
  Headers headers;
  std::string body;            // already gunzipped when the client sent Content-Encoding: gzip
  std::string remote_address;  // peer IP address, e.g. "127.0.0.1"
};

struct Response {
  int status = 200;
  Headers headers;
  std::string body;
};

}  // namespace medalliance::api::http
