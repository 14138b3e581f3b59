// goro/replicate.hpp: replicated requests (Concurrency in Go, ch. 5): send
// the same request to several handlers, take the first answer, cancel the
// rest.
//
//   auto r = goro::first_of(ctx, 3, [](const goro::context& c) -> std::optional<reply> {
//     return fetch(c, url);              // empty: this replica has no answer
//   });
//   if (r) use(*r.value, r.replica);     // else r.err says why
//
// first_of(ctx, n, f) starts n goroutines ("replicas"), replica i calling
// f(child, i) if f takes an index, else f(child). `child` is one context,
// derived from ctx, that first_of cancels as soon as it has an answer (or
// ctx is done). f copies: each replica calls its own copy of f.
//
// f returns R or std::optional<R>. A replica that returns a value (or a
// non-empty optional) answers; one that returns an empty optional gives up,
// and first_of goes on waiting for the others. So a replica that sees its
// context cancelled should return std::nullopt: that is never mistaken for
// an answer. (A replica returning a plain R after the cancel is not taken
// either, unless the cancel came from ctx and the answer raced it: as with
// Go's select, either may win then.)
//
// first_of returns once it has an answer, ctx is done, or every replica has
// given up, and only after every replica has returned: it waits for the
// losers, which leaves no goroutine behind (when first_of returns, each
// replica's copy of f has been destroyed and its goroutine is finishing,
// past its last touch of anything). So replicas must honour their
// context's cancellation for first_of to return promptly.
//
// The result, replica_result<R>:
//   value    the first answer; empty if there was none
//   replica  which replica (0 .. n-1) gave it
//   err      why value is empty: ctx.err() (errc::canceled or
//            errc::deadline_exceeded) if ctx was done first,
//            std::errc::no_message if every replica gave up
// If ctx is already done, first_of starts nothing and returns ctx.err().
// An exception thrown by f ends the program (as any exception escaping a
// goroutine).
#pragma once

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <type_traits>
#include <utility>

#include "goro/chan.hpp"
#include "goro/context.hpp"
#include "goro/runtime.hpp"
#include "goro/select.hpp"
#include "goro/sync.hpp"

namespace goro {

/// What first_of returns. Converts to true if there is an answer.
template <class R>
struct replica_result {
  std::optional<R> value;   // the first answer, if any
  std::size_t replica = 0;  // which replica gave it
  std::error_code err;      // why there is none (see the top of this file)

  explicit operator bool() const noexcept { return value.has_value(); }
};

namespace detail {

template <class F>
decltype(auto) call_replica(F& f, const context& ctx, std::size_t i) {
  if constexpr (std::is_invocable_v<F&, const context&, std::size_t>) {
    return f(ctx, i);
  } else {
    return f(ctx);
  }
}

template <class F>
  requires std::is_invocable_v<F&, const context&, std::size_t> || std::is_invocable_v<F&, const context&>
using replica_return_t =
    std::remove_cvref_t<decltype(call_replica(std::declval<F&>(), std::declval<const context&>(), 0))>;

template <class R>
struct replica_answer {
  using type = R;
};
template <class R>
struct replica_answer<std::optional<R>> {
  using type = R;
};

template <class F>
using replica_answer_t = typename replica_answer<replica_return_t<F>>::type;

}  // namespace detail

/// Runs n replicas of f and returns the first answer; see the top of this
/// file. Blocks until every replica has returned. Throws
/// std::invalid_argument if n is 0.
template <class F>
  requires std::is_copy_constructible_v<std::decay_t<F>> &&
           (!std::is_void_v<detail::replica_return_t<std::decay_t<F>>>)
replica_result<detail::replica_answer_t<std::decay_t<F>>> first_of(const context& ctx, std::size_t n, F&& f) {
  using R = detail::replica_answer_t<std::decay_t<F>>;
  using answer = std::pair<std::size_t, std::optional<R>>;
  if (n == 0) throw std::invalid_argument("goro::first_of: no replicas");
  replica_result<R> out;
  if (std::error_code e = ctx.err()) {
    out.err = e;
    return out;
  }

  // Buffered for every replica, so a loser's send never blocks it.
  auto answers = make_chan<answer>(n);
  auto [child, cancel] = with_cancel(ctx);
  wait_group replicas;
  try {
    for (std::size_t i = 0; i < n; ++i) {
      replicas.go([child = child, answers, f = std::decay_t<F>(f), i]() mutable {
        answers.send(answer(i, std::optional<R>(detail::call_replica(f, child, i))));
      });
    }
  } catch (...) {  // could not start them all: stop those that did start
    cancel();
    replicas.wait();
    throw;
  }

  for (std::size_t pending = n; pending > 0 && !out.value; --pending) {
    std::optional<answer> a;
    if (select(answers.on_recv(a), ctx.done().on_recv()) == 1) {
      out.err = ctx.err();
      break;
    }
    if (a->second) {
      out.value = std::move(a->second);
      out.replica = a->first;
    }
  }
  cancel();
  replicas.wait();
  if (!out.value && !out.err) {
    out.err = ctx.err() ? ctx.err() : std::make_error_code(std::errc::no_message);
  }
  return out;
}

}  // namespace goro
