// Result<T>: the error channel for untrusted input (files, configs, CLI arguments).
//
// Bugs are assertions; anything a user can get wrong comes back as an Error whose message names
// the file, tensor or key, the offset, and what was expected versus found. The library never
// exits or aborts on bad input; the CLI prints Error::message and exits with status 2.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include <fmt/format.h>

namespace qforge {

struct Error {
  std::string message;

  // Prefixes context ("reading model.safetensors: ") to the message, innermost last.
  Error&& Context(std::string_view what) && {
    message = fmt::format("{}: {}", what, message);
    return std::move(*this);
  }
};

template <typename... Args>
Error MakeError(fmt::format_string<Args...> f, Args&&... args) {
  return Error{fmt::format(f, std::forward<Args>(args)...)};
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}    // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { assert(ok()); return std::get<0>(v_); }
  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& { assert(!ok()); return std::get<1>(v_); }
  Error&& error() && { assert(!ok()); return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

// Status: a Result with no value.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)) {}  // NOLINT: implicit by design
  static Status Ok() { return Status(); }
  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const& { assert(!ok()); return *error_; }
  Error&& error() && { assert(!ok()); return std::move(*error_); }

 private:
  std::optional<Error> error_;
};

}  // namespace qforge

// QF_TRY(expr): evaluate a Status; on error return it (converted to the caller's Result/Status).
#define QF_TRY(expr)                                   \
  do {                                                 \
    auto qf_try_status_ = (expr);                      \
    if (!qf_try_status_.ok()) return std::move(qf_try_status_).error(); \
  } while (0)

#define QF_CONCAT_INNER(a, b) a##b
#define QF_CONCAT(a, b) QF_CONCAT_INNER(a, b)
// QF_ASSIGN_OR_RETURN(decl, expr): `decl = value of expr`, or return its error.
#define QF_ASSIGN_OR_RETURN(decl, expr) QF_ASSIGN_OR_RETURN_IMPL(QF_CONCAT(qf_res_, __LINE__), decl, expr)
#define QF_ASSIGN_OR_RETURN_IMPL(tmp, decl, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return std::move(tmp).error();   \
  decl = std::move(tmp).value()
