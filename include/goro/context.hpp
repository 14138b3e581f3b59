// goro/context.hpp: Go's context package: cancellation trees, deadlines and
// request-scoped values.
//
//   auto [ctx, cancel] = goro::with_timeout(goro::background(), 50ms);
//   switch (goro::select(ch.on_recv(v), ctx.done().on_recv())) {
//     case 1: if (ctx.err() == goro::errc::deadline_exceeded) ...
//   }
//   cancel();                      // always call it (Go's vet insists too)
//
// A context is a cheap copyable handle to an immutable node; every method is
// safe from any goroutine or thread. Cancelling a context cancels all its
// descendants, once. Call cancel when done with a derived context: that
// stops its timer and unregisters it from its nearest cancellable ancestor.
// (One dropped uncancelled is unregistered and freed once nothing can see
// its cancellation: no handle to it or its descendants, nobody holding its
// done channel.)
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stop_token>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

#include "goro/chan.hpp"
#include "goro/detail/config.hpp"
#include "goro/time.hpp"

namespace goro {

// ---- errors --------------------------------------------------------------------

/// Why a context is done (Go's context.Canceled and DeadlineExceeded).
/// Compare ctx.err() against these, or against std::errc::operation_canceled
/// and std::errc::timed_out, which they are equivalent to.
enum class errc { canceled = 1, deadline_exceeded = 2 };

/// The category of goro::errc: messages "context canceled" and "context
/// deadline exceeded", as Go prints them.
GORO_API const std::error_category& context_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return std::error_code(static_cast<int>(e), context_category());
}

}  // namespace goro

template <>
struct std::is_error_code_enum<goro::errc> : std::true_type {};

namespace goro {

namespace detail {
struct ctx_node;
GORO_API void ctx_retain(ctx_node* n) noexcept;
GORO_API void ctx_release(ctx_node* n) noexcept;
}  // namespace detail

/// A typed key for context values: its address is its identity and T is the
/// type of the value it finds. Define keys as objects with static storage:
///   inline const goro::context_key<std::string> request_id;
template <class T>
class context_key {
 public:
  constexpr context_key() noexcept = default;
  context_key(const context_key&) = delete;
  context_key& operator=(const context_key&) = delete;
};

// ---- context -------------------------------------------------------------------

class context {
 public:
  /// The background context (never cancelled, no deadline, no values).
  GORO_API context() noexcept;
  context(const context& o) noexcept : n_(o.n_) { detail::ctx_retain(n_); }
  context(context&& o) noexcept : n_(std::exchange(o.n_, nullptr)) {}
  context& operator=(context o) noexcept {
    std::swap(n_, o.n_);
    return *this;
  }
  ~context() {
    if (n_ != nullptr) detail::ctx_release(n_);
  }

  /// A channel closed when the context is cancelled; the nil channel (never
  /// ready) for a context that can never be cancelled.
  GORO_API recv_chan<std::monostate> done() const;
  /// Empty until the context is done; then errc::canceled or
  /// errc::deadline_exceeded.
  GORO_API std::error_code err() const noexcept;
  /// When the context will be cancelled by a deadline, if ever.
  GORO_API std::optional<time_point> deadline() const noexcept;

  /// The value for key in this context or its nearest ancestor that has one;
  /// null if none. The pointee lives as long as any context that reaches it.
  template <class T>
  const T* value(const context_key<T>& key) const noexcept {
    return static_cast<const T*>(value_of(&key));
  }

  friend bool operator==(const context& a, const context& b) noexcept { return a.n_ == b.n_; }

 private:
  friend struct detail_context_access;
  explicit context(detail::ctx_node* n) noexcept : n_(n) {}  // adopts a reference
  GORO_API const void* value_of(const void* key) const noexcept;

  detail::ctx_node* n_;
};

/// Cancels its context (Go's CancelFunc): idempotent, safe from anywhere.
/// Copies cancel the same context.
class cancel_func {
 public:
  cancel_func() noexcept = default;
  cancel_func(const cancel_func& o) noexcept : n_(o.n_) {
    if (n_ != nullptr) detail::ctx_retain(n_);
  }
  cancel_func(cancel_func&& o) noexcept : n_(std::exchange(o.n_, nullptr)) {}
  cancel_func& operator=(cancel_func o) noexcept {
    std::swap(n_, o.n_);
    return *this;
  }
  ~cancel_func() {
    if (n_ != nullptr) detail::ctx_release(n_);
  }
  /// False for a default-constructed cancel_func (calling it does nothing).
  explicit operator bool() const noexcept { return n_ != nullptr; }
  /// Cancels with errc::canceled (and that as the cause).
  void operator()() const noexcept { (*this)(std::error_code()); }
  /// Cancels with errc::canceled and `cause` as cause(ctx) (Go's
  /// CancelCauseFunc; an empty cause means errc::canceled).
  GORO_API void operator()(std::error_code cause) const noexcept;

 private:
  friend struct detail_context_access;
  explicit cancel_func(detail::ctx_node* n) noexcept : n_(n) {}
  detail::ctx_node* n_ = nullptr;
};

/// Go's context.Background() and context.TODO(): never cancelled.
GORO_API context background() noexcept;
GORO_API context todo() noexcept;

/// A child cancelled when cancel is called or the parent is cancelled.
GORO_API std::pair<context, cancel_func> with_cancel(const context& parent);
/// The same; cancel(cause) sets what cause(ctx) returns (Go's WithCancelCause).
GORO_API std::pair<context, cancel_func> with_cancel_cause(const context& parent);
/// A child also cancelled, with errc::deadline_exceeded, at d (or at the
/// parent's deadline if that is earlier).
GORO_API std::pair<context, cancel_func> with_deadline(const context& parent, time_point d);
GORO_API std::pair<context, cancel_func> with_deadline_cause(const context& parent, time_point d,
                                                             std::error_code cause);
inline std::pair<context, cancel_func> with_timeout(const context& parent, std::chrono::nanoseconds d) {
  return with_deadline(parent, clock::now() + d);
}
inline std::pair<context, cancel_func> with_timeout_cause(const context& parent, std::chrono::nanoseconds d,
                                                          std::error_code cause) {
  return with_deadline_cause(parent, clock::now() + d, cause);
}
/// The cause of ctx's cancellation (Go's context.Cause): what was passed to
/// a cancel_func or a *_cause deadline, else ctx.err(); empty while not done.
GORO_API std::error_code cause(const context& ctx);

namespace detail {
struct ctx_value_holder {
  virtual ~ctx_value_holder() = default;
  const void* value = nullptr;
};
template <class T>
struct ctx_value_of final : ctx_value_holder {
  T v;
  explicit ctx_value_of(T x) : v(std::move(x)) { value = &v; }
};
GORO_API context ctx_with_value(const context& parent, const void* key, ctx_value_holder* holder);
}  // namespace detail

/// A child that carries value under key (Go's WithValue). Typed: the key's
/// T is the value's type.
template <class T, class U>
  requires std::is_constructible_v<T, U&&>
context with_value(const context& parent, const context_key<T>& key, U&& value) {
  return detail::ctx_with_value(parent, &key, new detail::ctx_value_of<T>(T(std::forward<U>(value))));
}

/// A child with parent's values but never cancelled, with no deadline (Go's
/// WithoutCancel).
GORO_API context without_cancel(const context& parent);

/// Runs f in its own goroutine once ctx is done (at once if it already is).
/// The returned stop() unregisters f; it returns true if that kept f from
/// being started (Go's context.AfterFunc).
GORO_API std::function<bool()> after_func(const context& ctx, std::function<void()> f);

/// A child cancelled when tok's stop is requested (or the parent is cancelled).
GORO_API std::pair<context, cancel_func> with_stop_token(const context& parent, std::stop_token tok);
/// A stop token whose stop is requested (from a new goroutine) once ctx is
/// done; the request stays registered with ctx until then. For a context
/// that can never be cancelled, a token that never stops.
GORO_API std::stop_token to_stop_token(const context& ctx);

/// Sleeps for d unless ctx is done first; returns ctx.err() in that case,
/// else an empty error_code.
GORO_API std::error_code sleep(const context& ctx, std::chrono::nanoseconds d);

}  // namespace goro
