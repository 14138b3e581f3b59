// goro/result.hpp: a value or the error that kept it from being made, to send
// through a channel (the book's Result{Error, Response}: errors travel with
// the values, so the goroutine that has the context decides what to do).
//
//   goro::result<int> r = goro::result<int>::ok(42);
//   if (r) use(*r); else log(r.error());
#pragma once

#include <exception>
#include <stdexcept>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

namespace goro {

/// Thrown by result::value() on a result that holds an error which is not
/// an exception_ptr (which value() rethrows instead).
class bad_result_access : public std::logic_error {
 public:
  bad_result_access() : std::logic_error("goro::result: value() of a result holding an error") {}
};

/// A T, or an E that says why there is none (E is std::exception_ptr by
/// default: what a stage that threw caught). Nothrow-movable when T and E
/// are, so it flows through channels.
template <class T, class E = std::exception_ptr>
class result {
 public:
  using value_type = T;
  using error_type = E;

  static result ok(T v) { return result(std::in_place_index<0>, std::move(v)); }
  static result fail(E e) { return result(std::in_place_index<1>, std::move(e)); }
  /// A failure carrying the exception being handled (call inside catch).
  static result from_current_exception()
    requires std::is_same_v<E, std::exception_ptr>
  {
    return fail(std::current_exception());
  }

  bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  /// The value; if there is none, rethrows the exception (E =
  /// exception_ptr), throws std::system_error (E = std::error_code), or
  /// throws bad_result_access.
  T& value() & {
    check();
    return std::get<0>(v_);
  }
  const T& value() const& {
    check();
    return std::get<0>(v_);
  }
  T&& value() && {
    check();
    return std::get<0>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  /// The error; E{} when there is a value.
  E error() const {
    if (has_value()) return E{};
    return std::get<1>(v_);
  }

 private:
  template <std::size_t I, class U>
  result(std::in_place_index_t<I> i, U&& u) : v_(i, std::forward<U>(u)) {}

  void check() const {
    if (has_value()) return;
    if constexpr (std::is_same_v<E, std::exception_ptr>) {
      if (std::get<1>(v_)) std::rethrow_exception(std::get<1>(v_));
    } else if constexpr (std::is_same_v<E, std::error_code>) {
      if (std::get<1>(v_)) throw std::system_error(std::get<1>(v_));
    }
    throw bad_result_access();
  }

  std::variant<T, E> v_;
};

}  // namespace goro
