// goro/detail/select_cases.hpp: the case objects ch.on_recv(...),
// ch.on_send(...) and on_default(...) build for goro::select. Not API.
//
// A case lives only during the select call that names it: it keeps pointers
// to its arguments (an rvalue passed to on_send is moved from only if that
// case is chosen).
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

#include "goro/detail/chan_core.hpp"

namespace goro::detail {

struct no_handler {};

/// Calls a receive handler the way its signature asks: with the
/// std::optional<T> (empty: closed), with the T (T{} when closed, as Go gives
/// the zero value), or with nothing.
template <class T, class F>
void invoke_recv_handler(F& f, std::optional<T>&& v) {
  if constexpr (std::is_invocable_v<F&, std::optional<T>&&>) {
    f(std::move(v));
  } else if constexpr (std::is_invocable_v<F&, T&&>) {
    static_assert(std::is_default_constructible_v<T>,
                  "on_recv(f): f takes a T, and T has no zero value for a closed channel; take std::optional<T>");
    if (v) {
      f(std::move(*v));
    } else {
      f(T{});
    }
  } else {
    static_assert(std::is_invocable_v<F&>,
                  "on_recv(f): f must take std::optional<T>, T, or nothing");
    f();
  }
}

template <class T, class F = no_handler>
class recv_case {
 public:
  using value_type = T;
  recv_case(chan_core* c, std::optional<T>* dest, F f) : chan_(c), dest_(dest), fn_(std::move(f)) {}
  recv_case(const recv_case&) = delete;
  recv_case& operator=(const recv_case&) = delete;
  ~recv_case() {
    if (holds_) std::launder(reinterpret_cast<T*>(buf_))->~T();
  }

  select_case_raw raw() noexcept { return {chan_, buf_, false, false}; }

  /// After select chose this case: deliver what raw() received.
  void complete(const select_case_raw& r) {
    std::optional<T> v;
    if (r.received) {
      holds_ = true;
      T* p = std::launder(reinterpret_cast<T*>(buf_));
      v.emplace(std::move(*p));
      p->~T();
      holds_ = false;
    }
    if constexpr (std::is_same_v<F, no_handler>) {
      if (dest_ != nullptr) *dest_ = std::move(v);
    } else {
      invoke_recv_handler<T>(fn_, std::move(v));  // a handler case has no destination
    }
  }

 private:
  chan_core* chan_;
  std::optional<T>* dest_;
  [[no_unique_address]] F fn_;
  bool holds_ = false;
  alignas(T) unsigned char buf_[sizeof(T)];
};

template <class T, class F = no_handler>
class send_case {
 public:
  using value_type = T;
  /// Sends *value, moving from it only if chosen.
  send_case(chan_core* c, T* value, F f) : chan_(c), value_(value), fn_(std::move(f)) {}
  /// Sends a copy of value, made now.
  send_case(chan_core* c, const T& value, F f)
      : chan_(c), copy_(std::in_place, value), value_(&*copy_), fn_(std::move(f)) {}
  send_case(const send_case&) = delete;
  send_case& operator=(const send_case&) = delete;

  select_case_raw raw() noexcept { return {chan_, value_, true, false}; }

  void complete(const select_case_raw&) {
    if constexpr (!std::is_same_v<F, no_handler>) fn_();
  }

 private:
  chan_core* chan_;
  std::optional<T> copy_;
  T* value_;
  [[no_unique_address]] F fn_;
};

template <class F = no_handler>
class default_case {
 public:
  explicit default_case(F f = {}) : fn_(std::move(f)) {}
  void complete() {
    if constexpr (!std::is_same_v<F, no_handler>) fn_();
  }

 private:
  [[no_unique_address]] F fn_;
};

template <class C>
struct is_default_case : std::false_type {};
template <class F>
struct is_default_case<default_case<F>> : std::true_type {};

template <class C>
struct is_chan_case : std::false_type {};
template <class T, class F>
struct is_chan_case<recv_case<T, F>> : std::true_type {};
template <class T, class F>
struct is_chan_case<send_case<T, F>> : std::true_type {};

}  // namespace goro::detail
