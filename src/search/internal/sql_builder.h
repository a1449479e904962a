#pragma once
// A SQL fragment with its bound values in textual order: "?" marks a value; Number() turns
// the marks into the dialect's numbered placeholders once the statement is complete.

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"

namespace medalliance::search::internal {

struct Fragment {
  std::string sql;
  std::vector<store::SqlValue> params;

  Fragment& Text(std::string_view text) {
    sql += text;
    return *this;
  }
  Fragment& Bind(store::SqlValue value) {
    sql += '?';
    params.push_back(std::move(value));
    return *this;
  }
  Fragment& Append(const Fragment& other) {
    sql += other.sql;
    params.insert(params.end(), other.params.begin(), other.params.end());
    return *this;
  }
  bool Empty() const { return sql.empty(); }
};

// The statement with its values written in as SQL literals, for reading and for pasting into
// `sqlite3 DB 'EXPLAIN QUERY PLAN ...'`. Not for execution.
inline std::string Inline(const Fragment& fragment) {
  std::string out;
  size_t next = 0;
  for (char c : fragment.sql) {
    if (c != '?' || next >= fragment.params.size()) {
      out.push_back(c);
      continue;
    }
    const store::SqlValue& value = fragment.params[next++];
    if (const auto* i = std::get_if<int64_t>(&value)) {
      out += std::to_string(*i);
    } else if (const auto* d = std::get_if<double>(&value)) {
      char buffer[64];
      std::snprintf(buffer, sizeof(buffer), "%.17g", *d);
      out += buffer;
    } else if (const auto* s = std::get_if<std::string>(&value)) {
      out.push_back('\'');
      for (char ch : *s) {
        out.push_back(ch);
        if (ch == '\'')
          out.push_back('\'');
      }
      out.push_back('\'');
    } else {
      out += "NULL";
    }
  }
  return out;
}

// With MA_SEARCH_SQL set in the environment, every search statement is written to stderr
// (Inline form, one line each, prefixed "search-sql: ") before it runs: a debugging aid for
// EXPLAIN QUERY PLAN (doc/search.md, "Reading the plans").
inline void TraceSql(const Fragment& fragment) {
  static const bool enabled = std::getenv("MA_SEARCH_SQL") != nullptr;
  if (enabled)
    std::fprintf(stderr, "search-sql: %s\n", Inline(fragment).c_str());
}

// Replaces each "?" with dialect.Placeholder(n). Values never appear in the text, so every
// "?" is a mark.
inline store::SqlQuery Number(const Fragment& fragment, const store::Dialect& dialect) {
  TraceSql(fragment);
  store::SqlQuery query;
  query.sql.reserve(fragment.sql.size() + fragment.params.size() * 4);
  int n = 0;
  size_t run = 0;  // copies the text between marks in runs, not a character at a time
  for (size_t mark = fragment.sql.find('?'); mark != std::string::npos;
       mark = fragment.sql.find('?', run)) {
    query.sql.append(fragment.sql, run, mark - run);
    query.sql += dialect.Placeholder(++n);
    run = mark + 1;
  }
  query.sql.append(fragment.sql, run, std::string::npos);
  query.params = fragment.params;
  return query;
}

}  // namespace medalliance::search::internal
