// goro/select.hpp: Go's select statement.
//
//   std::optional<int> v;
//   switch (goro::select(in.on_recv(v), out.on_send(x), goro::on_default())) {
//     case 0: /* received into v (empty: in is closed) */ break;
//     case 1: /* x was sent */ break;
//     case 2: /* nothing was ready */ break;
//   }
//
// select waits until one of its cases can proceed, proceeds with exactly
// that one, and returns its index (in argument order). Among cases ready at
// once it picks uniformly at random. With on_default() it never blocks: the
// default case is taken when nothing is ready. Cases on nil channels are
// never ready; select() with no case blocks forever. A case not chosen
// receives nothing and sends nothing (an rvalue given to on_send is not
// moved from). Handlers given to on_recv/on_send/on_default run after the
// choice, in the calling goroutine.
//
// For a number of cases known only at run time (Go's reflect.Select), build
// a std::vector<goro::select_case<T>> and call goro::select(cases) or
// goro::try_select(cases).
#pragma once

#include <array>
#include <cstddef>
#include <limits>
#include <optional>
#include <span>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "goro/chan.hpp"
#include "goro/detail/chan_core.hpp"
#include "goro/detail/select_cases.hpp"

namespace goro {

/// The default case: taken when no other case is ready.
[[nodiscard]] inline detail::default_case<> on_default() { return detail::default_case<>{}; }
/// The default case with a handler.
template <class F>
  requires std::is_invocable_v<std::decay_t<F>&>
[[nodiscard]] detail::default_case<std::decay_t<F>> on_default(F&& f) {
  return detail::default_case<std::decay_t<F>>(std::forward<F>(f));
}

namespace detail {

template <class... C>
struct select_layout {
  static constexpr std::size_t count = sizeof...(C);
  static constexpr std::array<bool, count + 1> is_default{is_default_case<std::remove_cvref_t<C>>::value...,
                                                         false};
  static constexpr std::size_t defaults = (std::size_t{0} + ... + is_default_case<std::remove_cvref_t<C>>::value);
  static constexpr std::size_t chans = count - defaults;
  static constexpr std::size_t npos = std::numeric_limits<std::size_t>::max();
  // raw_index[i]: where case i sits in the raw array (npos for the default).
  static constexpr std::array<std::size_t, count + 1> raw_index = [] {
    std::array<std::size_t, count + 1> a{};
    std::size_t k = 0;
    for (std::size_t i = 0; i < count; ++i) a[i] = is_default[i] ? npos : k++;
    return a;
  }();
  static constexpr std::size_t default_index = [] {
    for (std::size_t i = 0; i < count; ++i) {
      if (is_default[i]) return i;
    }
    return npos;
  }();
};

template <class Case>
void fill_raw(Case& c, select_case_raw* raw, std::size_t k) {
  if constexpr (is_chan_case<std::remove_cvref_t<Case>>::value) raw[k] = c.raw();
}

template <class Case>
void complete_case(Case& c, const select_case_raw* raw, std::size_t k) {
  if constexpr (is_chan_case<std::remove_cvref_t<Case>>::value) {
    c.complete(raw[k]);
  } else {
    c.complete();
  }
}

}  // namespace detail

/// Waits for one of the cases, proceeds with it, and returns its index. See
/// the top of this file.
template <class... Cases>
  requires((detail::is_chan_case<std::remove_cvref_t<Cases>>::value ||
            detail::is_default_case<std::remove_cvref_t<Cases>>::value) &&
           ...)
std::size_t select(Cases&&... cases) {
  using layout = detail::select_layout<Cases...>;
  static_assert(layout::defaults <= 1, "goro::select: at most one on_default()");
  std::array<detail::select_case_raw, layout::chans == 0 ? 1 : layout::chans> raw{};
  auto refs = std::forward_as_tuple(cases...);
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (detail::fill_raw(std::get<I>(refs), raw.data(), layout::raw_index[I]), ...);
  }(std::index_sequence_for<Cases...>{});
  std::size_t r = detail::select_raw(raw.data(), layout::chans, layout::defaults != 0);
  std::size_t chosen = r == layout::chans ? layout::default_index : [&] {
    for (std::size_t i = 0; i < layout::count; ++i) {
      if (layout::raw_index[i] == r) return i;
    }
    return layout::npos;
  }();
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    ((I == chosen ? detail::complete_case(std::get<I>(refs), raw.data(), layout::raw_index[I]) : void()),
     ...);
  }(std::index_sequence_for<Cases...>{});
  return chosen;
}

/// One case of a dynamic select (Go's reflect.SelectCase) over channels of T.
/// Unlike the cases on_recv/on_send build, it owns its channel handle and
/// value, so it can be kept in a container.
template <class T>
class select_case {
 public:
  /// A receive case. After select() chooses it, value() holds what was
  /// received, or is empty if the channel was closed.
  static select_case recv(recv_chan<T> c) { return select_case(c, std::nullopt, false); }
  /// A send case of v. After select() chooses it, value() is empty; if it is
  /// not chosen, v stays in value().
  static select_case send(send_chan<T> c, T v) { return select_case(c, std::optional<T>(std::move(v)), true); }

  select_case(select_case&&) noexcept = default;
  select_case& operator=(select_case&&) noexcept = default;

  bool is_send() const noexcept { return is_send_; }
  std::optional<T>& value() noexcept { return value_; }
  const std::optional<T>& value() const noexcept { return value_; }

 private:
  template <class U>
  friend std::size_t detail_select_dynamic(std::span<select_case<U>>, bool);

  template <class C>
  select_case(const C& c, std::optional<T> v, bool is_send)
      : ref_(detail::chan_access::ref(c)), value_(std::move(v)), is_send_(is_send) {}

  detail::chan_ref<T> ref_;
  std::optional<T> value_;
  bool is_send_;
};

template <class T>
std::size_t detail_select_dynamic(std::span<select_case<T>> cases, bool has_default) {
  struct slot {
    alignas(T) unsigned char buf[sizeof(T)];
  };
  std::vector<detail::select_case_raw> raw(cases.size());
  std::vector<slot> bufs(cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    select_case<T>& c = cases[i];
    if (c.is_send_ && !c.value_) throw panic_error("goro::select: a send case without a value");
    raw[i] = {c.ref_.core(), c.is_send_ ? static_cast<void*>(&*c.value_) : static_cast<void*>(bufs[i].buf),
              c.is_send_, false};
  }
  std::size_t r = detail::select_raw(raw.data(), raw.size(), has_default);
  if (r == cases.size()) return r;
  select_case<T>& c = cases[r];
  if (c.is_send_) {
    c.value_.reset();
  } else if (raw[r].received) {
    T* p = std::launder(reinterpret_cast<T*>(bufs[r].buf));
    c.value_.emplace(std::move(*p));
    p->~T();
  } else {
    c.value_.reset();
  }
  return r;
}

/// Dynamic select: waits for one of the cases and returns its index.
template <class T>
std::size_t select(std::span<select_case<T>> cases) {
  return detail_select_dynamic(cases, false);
}
template <class T>
std::size_t select(std::vector<select_case<T>>& cases) {
  return detail_select_dynamic(std::span<select_case<T>>(cases), false);
}

/// Dynamic select with a default: the index of the case taken, or empty if
/// none was ready.
template <class T>
std::optional<std::size_t> try_select(std::span<select_case<T>> cases) {
  std::size_t r = detail_select_dynamic(cases, true);
  if (r == cases.size()) return std::nullopt;
  return r;
}
template <class T>
std::optional<std::size_t> try_select(std::vector<select_case<T>>& cases) {
  return try_select(std::span<select_case<T>>(cases));
}

}  // namespace goro
