#pragma once
// A SQL fragment with its bound values in textual order: "?" marks a value; Number() turns
// the marks into the dialect's numbered placeholders once the statement is complete.

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

// Replaces each "?" with dialect.Placeholder(n). Values never appear in the text, so every
// "?" is a mark.
inline store::SqlQuery Number(const Fragment& fragment, const store::Dialect& dialect) {
  store::SqlQuery query;
  int n = 0;
  for (char c : fragment.sql) {
    if (c == '?') {
      query.sql += dialect.Placeholder(++n);
    } else {
      query.sql.push_back(c);
    }
  }
  query.params = fragment.params;
  return query;
}

}  // namespace medalliance::search::internal
