#pragma once
// Result<T>: a value or an Error, named like std::expected. An Error converts to a failed
// Result, so `return Error::NotFound(...)` works in any function returning Result<T>.

#include <cassert>
#include <type_traits>
#include <utility>
#include <variant>

#include "core/error.h"

namespace medalliance::core {

template <typename T>
class [[nodiscard]] Result {
 public:
  using value_type = T;

  Result(T value)
      : data_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : data_(std::in_place_index<1>, std::move(error)) {}  // NOLINT
  template <typename U, typename = std::enable_if_t<std::is_constructible_v<T, U&&> &&
                                                    !std::is_same_v<std::decay_t<U>, Error> &&
                                                    !std::is_same_v<std::decay_t<U>, Result>>>
  Result(U&& value) : data_(std::in_place_index<0>, T(std::forward<U>(value))) {}  // NOLINT

  bool has_value() const { return data_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & {
    assert(has_value());
    return std::get<0>(data_);
  }
  const T& value() const& {
    assert(has_value());
    return std::get<0>(data_);
  }
  T&& value() && {
    assert(has_value());
    return std::get<0>(std::move(data_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const& {
    assert(!has_value());
    return std::get<1>(data_);
  }
  Error&& error() && {
    assert(!has_value());
    return std::get<1>(std::move(data_));
  }

 private:
  std::variant<T, Error> data_;
};

// Result<void>: success or an Error.
struct Ok {};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Ok) {}                                                     // NOLINT
  Result(Error error) : error_(std::move(error)), failed_(true) {}  // NOLINT

  bool has_value() const { return !failed_; }
  explicit operator bool() const { return has_value(); }
  const Error& error() const& {
    assert(failed_);
    return error_;
  }
  Error&& error() && {
    assert(failed_);
    return std::move(error_);
  }

 private:
  Error error_{ErrorCode::kInternal, std::vector<Issue>{}};
  bool failed_ = false;
};

using Status = Result<void>;

}  // namespace medalliance::core

#define MA_CONCAT_INNER_(a, b) a##b
#define MA_CONCAT_(a, b) MA_CONCAT_INNER_(a, b)

// MA_RETURN_IF_ERROR(expr): expr yields a Result; on failure return its Error.
#define MA_RETURN_IF_ERROR(expr)            \
  do {                                      \
    auto&& ma_status_ = (expr);             \
    if (!ma_status_.has_value())            \
      return std::move(ma_status_).error(); \
  } while (false)

// MA_ASSIGN_OR_RETURN(decl, expr): decl = value of expr, or return its Error.
#define MA_ASSIGN_OR_RETURN(decl, expr) \
  MA_ASSIGN_OR_RETURN_IMPL_(MA_CONCAT_(ma_result_, __LINE__), decl, expr)
#define MA_ASSIGN_OR_RETURN_IMPL_(tmp, decl, expr) \
  auto tmp = (expr);                               \
  if (!tmp.has_value())                            \
    return std::move(tmp).error();                 \
  decl = std::move(tmp).value()
