// goro/rate.hpp: golang.org/x/time/rate: a token-bucket rate limiter, and
// the multiLimiter of "Concurrency in Go" (chapter 5, rate limiting).
//
//   goro::rate::limiter lim(goro::rate::every(100ms), 3);  // 10 a second, bursts of 3
//   if (!lim.allow()) return;                               // drop what exceeds the rate,
//   if (std::error_code e = lim.wait(ctx)) return e;        // or wait for a token,
//   auto r = lim.reserve();  goro::sleep(r.delay());        // or schedule it yourself.
//
//   goro::rate::limiter per_second(2, 2), per_minute(goro::rate::every(6s), 10);
//   goro::rate::multi_limiter api(per_second, per_minute);  // the strictest wins
//   api.wait(ctx);
//
// A limiter is a bucket of burst() tokens, full at first, refilled at
// get_limit() tokens a second; each event takes one token (n for the *_n
// forms). allow() takes them if they are there now; reserve() takes them
// anyway, perhaps from the future, and says how long to wait before acting;
// wait() reserves and sleeps that long (a goroutine parks, a plain thread
// blocks) unless its context ends first. A limit of inf allows everything,
// whatever the burst; a limit of 0 allows the burst and then nothing.
//
// Every method that reads the clock has a form taking the time explicitly
// (allow_n(now, n), reserve_n(now, n), tokens_at(t), set_limit_at(t, r),
// cancel_at(t)): tests drive the limiter on a clock of their own. Times that
// go backwards are tolerated as in Go: the bucket does not refill for them.
//
// Errors (wait, wait_n) are std::error_codes: ctx.err() when the context
// ends first, else one of goro::rate::errc below.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "goro/context.hpp"
#include "goro/select.hpp"
#include "goro/time.hpp"

namespace goro::rate {

/// Events per second (Go's rate.Limit). 0 allows no events beyond the burst.
using limit = double;

/// The infinite limit: every event is allowed, whatever the burst.
inline constexpr limit inf = std::numeric_limits<double>::infinity();

/// What reservation::delay() returns for a reservation that is not ok (Go's
/// InfDuration).
inline constexpr std::chrono::nanoseconds inf_duration = std::chrono::nanoseconds::max();

/// The limit that allows one event every `interval` (Go's rate.Every);
/// inf for interval <= 0.
inline limit every(std::chrono::nanoseconds interval) noexcept {
  if (interval <= std::chrono::nanoseconds::zero()) return inf;
  return 1.0 / std::chrono::duration<double>(interval).count();
}

// ---- errors --------------------------------------------------------------------

/// Why wait() or wait_n() failed at once (it returns ctx.err() instead when
/// the context ended).
enum class errc {
  /// n is more than the burst (and the limit is not inf): no wait can ever
  /// grant it. Equivalent to std::errc::invalid_argument.
  exceeds_burst = 1,
  /// The tokens would come only after the context's deadline, so wait gave
  /// up without sleeping. Equivalent to std::errc::timed_out.
  would_exceed_deadline = 2,
  /// The limit is 0 and the bucket does not hold n tokens: they never come
  /// (unless set_limit raises the limit). Go reports this as
  /// would_exceed_deadline even without a deadline.
  never_refilled = 3,
};

namespace detail {
class rate_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "goro.rate"; }
  std::string message(int c) const override {
    switch (static_cast<errc>(c)) {
      case errc::exceeds_burst: return "rate: wait(n) exceeds limiter's burst";
      case errc::would_exceed_deadline: return "rate: wait(n) would exceed context deadline";
      case errc::never_refilled: return "rate: wait(n) can never be granted at a zero limit";
    }
    return "rate: unknown error";
  }
  std::error_condition default_error_condition(int c) const noexcept override {
    switch (static_cast<errc>(c)) {
      case errc::exceeds_burst: return std::errc::invalid_argument;
      case errc::would_exceed_deadline: return std::errc::timed_out;
      default: return std::error_condition(c, *this);
    }
  }
};
}  // namespace detail

/// The category of goro::rate::errc ("goro.rate").
inline const std::error_category& category() noexcept {
  static const detail::rate_category c;
  return c;
}

inline std::error_code make_error_code(errc e) noexcept { return std::error_code(static_cast<int>(e), category()); }

}  // namespace goro::rate

template <>
struct std::is_error_code_enum<goro::rate::errc> : std::true_type {};

namespace goro::rate {

class limiter;
class multi_limiter;

namespace detail {

// Unit conversions between tokens and time at rate r. Go computes these in
// float64 and converts; here the double-to-int64 conversion saturates
// (converting an out-of-range double is undefined in C++).

/// How long r takes to produce `tokens` (negative for negative tokens);
/// inf_duration if never (r <= 0) or not representable.
inline std::chrono::nanoseconds duration_from_tokens(limit r, double tokens) noexcept {
  if (!(r > 0)) return inf_duration;
  double ns = tokens / r * 1e9;
  constexpr double two_63 = 9223372036854775808.0;
  if (!(ns < two_63)) return inf_duration;
  if (ns <= -two_63) return std::chrono::nanoseconds::min();
  return std::chrono::nanoseconds(static_cast<std::int64_t>(ns));
}

/// How many tokens r produces in d (negative for negative d). Whole seconds
/// and the rest are scaled apart to keep precision (golang.org/issue/34861).
inline double tokens_from_duration(limit r, std::chrono::nanoseconds d) noexcept {
  if (!(r > 0) || d == std::chrono::nanoseconds::zero()) return 0;
  if (std::isinf(r)) return d > std::chrono::nanoseconds::zero() ? inf : -inf;  // not 0 * inf = NaN
  constexpr std::int64_t ns_per_s = 1'000'000'000;
  return static_cast<double>(d.count() / ns_per_s) * r + static_cast<double>(d.count() % ns_per_s) * r / 1e9;
}

/// t + d, or time_point::max() if that is not representable.
inline time_point add_saturated(time_point t, std::chrono::nanoseconds d) noexcept {
  auto c = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  if (d.count() > 0 && c > std::numeric_limits<std::int64_t>::max() - d.count()) return time_point::max();
  if (d.count() < 0 && c < std::numeric_limits<std::int64_t>::min() - d.count()) return time_point::min();
  return t + d;
}

}  // namespace detail

// ---- reservation ---------------------------------------------------------------

/// Tokens a limiter has granted, perhaps for the future (Go's rate.Reservation):
/// act after delay(), or cancel() to give the tokens back. Movable, not
/// copyable (a copy could give the tokens back twice). Cancelling needs the
/// limiter: do not cancel a reservation that outlives it.
class reservation {
 public:
  /// A reservation that is not ok.
  reservation() noexcept = default;
  reservation(reservation&& o) noexcept { *this = std::move(o); }
  reservation& operator=(reservation&& o) noexcept {
    if (this != &o) {
      lim_ = std::exchange(o.lim_, nullptr);
      tokens_ = std::exchange(o.tokens_, 0);
      time_to_act_ = o.time_to_act_;
      limit_ = o.limit_;
      ok_ = std::exchange(o.ok_, false);
    }
    return *this;
  }
  reservation(const reservation&) = delete;
  reservation& operator=(const reservation&) = delete;

  /// Whether the limiter granted the tokens: false if n exceeded the burst,
  /// or (for wait and allow) they would come too late, or never (a zero
  /// limit). A reservation that is not ok has delay() == inf_duration and
  /// cancel() does nothing.
  bool ok() const noexcept { return ok_; }
  /// How long from now to wait before acting; 0: act now.
  std::chrono::nanoseconds delay() const { return delay_from(clock::now()); }
  /// How long from t to wait before acting; 0 if the time has come.
  std::chrono::nanoseconds delay_from(time_point t) const noexcept {
    if (!ok_) return inf_duration;
    if (time_to_act_ <= t) return std::chrono::nanoseconds::zero();
    return time_to_act_ - t;
  }
  /// When the reserved events may happen (meaningful only if ok()).
  time_point time_to_act() const noexcept { return time_to_act_; }

  /// The holder will not act: gives the tokens back, except those that
  /// reservations made after this one already count on (so they keep their
  /// times). Gives nothing once the time to act has passed. Idempotent.
  void cancel() { cancel_at(clock::now()); }
  /// cancel() as of time t.
  inline void cancel_at(time_point t);

 private:
  friend class limiter;
  reservation(limiter* lim, int tokens, time_point time_to_act, limit r) noexcept
      : lim_(lim), tokens_(tokens), time_to_act_(time_to_act), limit_(r), ok_(true) {}

  limiter* lim_ = nullptr;
  int tokens_ = 0;          // still to give back on cancel; 0 once cancelled
  time_point time_to_act_{};
  limit limit_ = 0;         // the limit when reserved (it may change since)
  bool ok_ = false;
};

// ---- limiter -------------------------------------------------------------------

/// A token bucket (Go's rate.Limiter): burst() tokens, full at first,
/// refilled at get_limit() tokens a second. Safe to use from any goroutine
/// or thread at once. Neither copyable nor movable (reservations point to it).
///
/// Invariants (mu_ held):
///   - tokens_ is the bucket as of last_, at most burst_ (or the burst before
///     set_burst lowered it; advance() caps it). tokens_ < 0 means tokens
///     reserved ahead: the bucket refills them first, so later reservations
///     wait behind them.
///   - last_event_ is the time to act of the latest reservation (it may be in
///     the future); cancel uses it to tell which tokens are still its own.
///   - with limit_ == inf nothing is counted: tokens_, last_ and last_event_
///     keep the values of the last finite limit.
///
/// Why std::mutex and not goro::mutex: no critical section here calls into
/// goro or can park; each is a few floating-point operations, so a waiter
/// waits nanoseconds, less than parking and resuming a goroutine would take.
/// goro::mutex would park a contending goroutine instead of blocking its
/// worker, which pays off only for long critical sections. (wait() sleeps
/// outside the lock.)
class limiter {
 public:
  /// A limiter allowing r events a second, in bursts of at most `burst`.
  limiter(limit r, int burst) noexcept : limit_(r), burst_(burst), tokens_(burst) {}
  limiter(const limiter&) = delete;
  limiter& operator=(const limiter&) = delete;

  /// The rate: events per second.
  limit get_limit() const {
    std::lock_guard lock(mu_);
    return limit_;
  }
  /// The most tokens one call may take (allow_n, reserve_n, wait_n), and the
  /// size of the bucket. 0 allows nothing, unless the limit is inf.
  int burst() const {
    std::lock_guard lock(mu_);
    return burst_;
  }
  /// The tokens available now (fractional; negative while tokens are
  /// reserved ahead).
  double tokens() const { return tokens_at(clock::now()); }
  /// The tokens available at t.
  double tokens_at(time_point t) const {
    std::lock_guard lock(mu_);
    return advance(t);
  }

  /// allow_n(now, 1).
  bool allow() { return allow_n(clock::now(), 1); }
  /// Takes n tokens if the bucket holds them at `now`; whether it did. For
  /// events to drop when they exceed the rate.
  bool allow_n(time_point now, int n) { return reserve_for(now, n, std::chrono::nanoseconds::zero()).ok(); }

  /// reserve_n(now, 1).
  reservation reserve() { return reserve_n(clock::now(), 1); }
  /// Takes n tokens as of `now`, those not yet in the bucket from its future;
  /// the reservation says how long to wait before acting. Not ok if n
  /// exceeds the burst, or if the limit is 0 and the bucket lacks them.
  reservation reserve_n(time_point now, int n) { return reserve_for(now, n, inf_duration); }

  /// wait_n(ctx, 1).
  std::error_code wait(const context& ctx) { return wait_n(ctx, 1); }
  /// Takes n tokens, waiting until they are there. May park (a plain thread
  /// blocks). Fails at once, taking nothing, with errc::exceeds_burst if n
  /// exceeds the burst (unless the limit is inf), with ctx.err() if ctx is
  /// done, with errc::would_exceed_deadline if the tokens come after ctx's
  /// deadline, with errc::never_refilled if they never come. If ctx ends
  /// while waiting, gives the tokens back (cancel) and returns ctx.err().
  std::error_code wait_n(const context& ctx, int n);

  /// set_limit_at(now, r).
  void set_limit(limit r) { set_limit_at(clock::now(), r); }
  /// Changes the rate as of t. Reservations made before keep their times.
  void set_limit_at(time_point t, limit r) {
    std::lock_guard lock(mu_);
    tokens_ = advance(t);
    last_ = t;
    limit_ = r;
  }
  /// set_burst_at(now, b).
  void set_burst(int b) { set_burst_at(clock::now(), b); }
  /// Changes the burst as of t.
  void set_burst_at(time_point t, int b) {
    std::lock_guard lock(mu_);
    tokens_ = advance(t);
    last_ = t;
    burst_ = b;
  }

 private:
  friend class reservation;
  friend class multi_limiter;

  /// The common core of allow, reserve and wait: takes n tokens as of now if
  /// they come within max_wait (inf_duration: whenever they come).
  reservation reserve_for(time_point now, int n, std::chrono::nanoseconds max_wait) {
    std::lock_guard lock(mu_);
    if (limit_ == inf) return reservation(this, n, now, 0);  // limit 0: cancel gives all n back (Go)
    double tokens = advance(now) - n;
    std::chrono::nanoseconds wait = std::chrono::nanoseconds::zero();
    if (tokens < 0) wait = detail::duration_from_tokens(limit_, -tokens);
    time_point act = detail::add_saturated(now, wait);
    // Unlike Go, a wait that never ends (zero limit) is not ok even when
    // max_wait is unbounded: its time to act is not a time.
    bool ok = n <= burst_ && wait != inf_duration && wait <= max_wait && act != time_point::max();
    if (!ok) return reservation();
    last_ = now;
    tokens_ = tokens;
    last_event_ = act;
    return reservation(this, n, act, limit_);
  }

  /// Gives back what r reserved, as of t (reservation::cancel_at).
  void give_back(const reservation& r, time_point t) {
    std::lock_guard lock(mu_);
    if (limit_ == inf || r.tokens_ == 0 || r.time_to_act_ < t) return;
    // Tokens reserved after r, between its time to act and the latest
    // reservation's, came after r's in the queue: they are not r's to give.
    double give = r.tokens_ - detail::tokens_from_duration(r.limit_, last_event_ - r.time_to_act_);
    if (!(give > 0)) return;
    tokens_ = std::min(advance(t) + give, static_cast<double>(burst_));
    last_ = t;
    if (r.time_to_act_ == last_event_ && r.limit_ > 0 && !std::isinf(r.limit_)) {
      // r was the latest reservation: the latest event is now the one before.
      time_point prev = detail::add_saturated(r.time_to_act_, detail::duration_from_tokens(r.limit_, -r.tokens_));
      if (prev >= t) last_event_ = prev;
    }
  }

  /// The tokens at t: tokens_ plus what the rate added since last_ (none
  /// if t is before last_), at most burst_. mu_ held.
  double advance(time_point t) const {
    time_point last = t < last_ ? t : last_;
    double tokens = tokens_ + detail::tokens_from_duration(limit_, t - last);
    return std::min(tokens, static_cast<double>(burst_));
  }

  /// Why a wait's reservation was not ok, given the bound it had.
  static std::error_code refused(std::chrono::nanoseconds max_wait) noexcept {
    return max_wait == inf_duration ? errc::never_refilled : errc::would_exceed_deadline;
  }

  /// Sleeps until the latest of rs may act, unless ctx ends first: then
  /// cancels them all and returns ctx.err(). May park.
  static std::error_code sleep_until_all(const context& ctx, time_point now, std::span<reservation> rs) {
    std::chrono::nanoseconds delay = std::chrono::nanoseconds::zero();
    for (const reservation& r : rs) delay = std::max(delay, r.delay_from(now));
    if (delay <= std::chrono::nanoseconds::zero()) return {};
    timer t(delay);
    if (select(t.c().on_recv(), ctx.done().on_recv()) == 0) return {};  // done() of background: nil, never
    t.stop();
    for (reservation& r : rs) r.cancel();  // may let other waiters act sooner
    return ctx.err();
  }

  /// The longest a wait under ctx may last from now (inf_duration: no deadline).
  static std::chrono::nanoseconds wait_bound(const context& ctx, time_point now) {
    std::optional<time_point> deadline = ctx.deadline();
    return deadline ? *deadline - now : inf_duration;
  }

  mutable std::mutex mu_;
  limit limit_;                 // guarded by mu_
  int burst_;                   // guarded by mu_
  double tokens_;               // guarded by mu_; as of last_
  time_point last_{};           // guarded by mu_; when tokens_ was last brought up to date
  time_point last_event_{};     // guarded by mu_; latest time to act reserved (past or future)
};

inline void reservation::cancel_at(time_point t) {
  if (!ok_ || lim_ == nullptr || tokens_ == 0) return;
  lim_->give_back(*this, t);
  tokens_ = 0;
}

inline std::error_code limiter::wait_n(const context& ctx, int n) {
  {
    std::lock_guard lock(mu_);
    if (n > burst_ && limit_ != inf) return errc::exceeds_burst;
  }
  if (std::error_code e = ctx.err()) return e;
  time_point now = clock::now();
  std::chrono::nanoseconds bound = wait_bound(ctx, now);
  reservation r = reserve_for(now, n, bound);
  if (!r.ok()) return refused(bound);
  return sleep_until_all(ctx, now, std::span<reservation>(&r, 1));
}

// ---- multi_limiter ---------------------------------------------------------------

/// Several limiters as one, the strictest winning (the multiLimiter of
/// "Concurrency in Go", chapter 5): e.g. 2 a second and 10 a minute. An
/// event needs a token from each. Holds pointers: the limiters must outlive
/// it. Copyable (copies share the limiters).
class multi_limiter {
 public:
  /// Over the given limiters and the limiters of the given multi_limiters
  /// (each limiter once, however often it is named).
  template <class... L>
    requires(sizeof...(L) > 0 &&
             ((std::same_as<L, limiter> || std::same_as<std::remove_const_t<L>, multi_limiter>) && ...))
  explicit multi_limiter(L&... ls) {
    (add(ls), ...);
  }
  explicit multi_limiter(std::span<limiter* const> ls) {
    for (limiter* l : ls) add(*l);
  }

  /// The smallest limit of its limiters (inf with none).
  limit get_limit() const {
    limit r = inf;
    for (const limiter* l : ls_) r = std::min(r, l->get_limit());
    return r;
  }
  /// The limiters, each once.
  std::span<limiter* const> limiters() const noexcept { return ls_; }

  /// allow_n(now, 1).
  bool allow() { return allow_n(clock::now(), 1); }
  /// Takes n tokens from every limiter if each holds them at `now`; if one
  /// does not, takes none (gives back those taken) and returns false.
  bool allow_n(time_point now, int n) {
    return with_slots([&](std::span<reservation> rs) {
      return reserve_all(now, n, std::chrono::nanoseconds::zero(), rs);
    });
  }

  /// wait_n(ctx, 1).
  std::error_code wait(const context& ctx) { return wait_n(ctx, 1); }
  /// Reserves n tokens on every limiter, then waits for the longest delay;
  /// fails as limiter::wait_n does, cancelling the reservations it made
  /// (those whose time to act has not passed give their tokens back). May park.
  std::error_code wait_n(const context& ctx, int n) {
    for (limiter* l : ls_) {
      std::lock_guard lock(l->mu_);
      if (n > l->burst_ && l->limit_ != inf) return errc::exceeds_burst;
    }
    if (std::error_code e = ctx.err()) return e;
    time_point now = clock::now();
    std::chrono::nanoseconds bound = limiter::wait_bound(ctx, now);
    return with_slots([&](std::span<reservation> rs) -> std::error_code {
      if (!reserve_all(now, n, bound, rs)) return limiter::refused(bound);
      return limiter::sleep_until_all(ctx, now, rs);
    });
  }

 private:
  void add(limiter& l) {
    if (std::find(ls_.begin(), ls_.end(), &l) == ls_.end()) ls_.push_back(&l);
  }
  void add(const multi_limiter& m) {
    for (limiter* l : m.ls_) add(*l);
  }

  /// Reserves n tokens on each limiter into rs; if one refuses, cancels the
  /// ones before it as of now and returns false.
  bool reserve_all(time_point now, int n, std::chrono::nanoseconds max_wait, std::span<reservation> rs) {
    for (std::size_t i = 0; i < ls_.size(); ++i) {
      rs[i] = ls_[i]->reserve_for(now, n, max_wait);
      if (!rs[i].ok()) {
        while (i-- > 0) rs[i].cancel_at(now);
        return false;
      }
    }
    return true;
  }

  /// Runs f on a span of ls_.size() reservations, on the stack when few.
  template <class F>
  std::invoke_result_t<F&, std::span<reservation>> with_slots(F&& f) {
    constexpr std::size_t on_stack = 4;
    if (ls_.size() <= on_stack) {
      std::array<reservation, on_stack> a;
      return f(std::span<reservation>(a.data(), ls_.size()));
    }
    std::vector<reservation> v(ls_.size());
    return f(std::span<reservation>(v));
  }

  std::vector<limiter*> ls_;  // set at construction, then read-only
};

}  // namespace goro::rate
