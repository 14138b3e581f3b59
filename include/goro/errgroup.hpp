// goro/errgroup.hpp: golang.org/x/sync/errgroup: goroutines working on
// subtasks of one task, the first error cancelling the rest.
//
//   auto [g, ctx] = goro::errgroup::with_context(parent);
//   for (auto& url : urls)
//     g.go([ctx, url]() -> std::error_code { return fetch(ctx, url); });
//   if (std::error_code e = g.wait()) ...   // the first error
//
// A task is a function returning std::error_code (empty: success) or void.
// A task that throws fails too: wait() rethrows that exception if it was
// the group's first error. The first error (code or exception) cancels the
// group's context, with the code as its cause (errc::canceled for an
// exception); wait() cancels it in any case once every task has returned.
//
// An errgroup is a handle: copies name the same group (Go passes *Group).
#pragma once

#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

#include "goro/chan.hpp"
#include "goro/context.hpp"
#include "goro/errors.hpp"
#include "goro/runtime.hpp"
#include "goro/select.hpp"
#include "goro/sync.hpp"

namespace goro {

namespace detail {
/// What errgroup runs: a function returning std::error_code or void.
template <class F>
concept errgroup_task =
    std::is_invocable_v<std::decay_t<F>&> &&
    (std::is_void_v<std::invoke_result_t<std::decay_t<F>&>> ||
     std::is_convertible_v<std::invoke_result_t<std::decay_t<F>&>, std::error_code>);
}  // namespace detail

class errgroup {
 public:
  /// A group with no context and no limit (Go's zero Group).
  errgroup() : s_(std::make_shared<state>()) {}

  /// A group whose context, derived from parent, is cancelled by the first
  /// error or when wait() returns.
  static std::pair<errgroup, context> with_context(const context& parent) {
    auto [ctx, cancel] = goro::with_cancel_cause(parent);
    errgroup g;
    g.s_->cancel = std::move(cancel);
    return {std::move(g), std::move(ctx)};
  }

  /// Runs f in a new goroutine, first waiting for a free slot if a limit is set.
  template <class F>
    requires detail::errgroup_task<F>
  void go(F&& f, source_location where = source_location::current()) {
    if (s_->slots) s_->slots.send(std::monostate{});
    start(std::forward<F>(f), where);
  }

  /// Runs f in a new goroutine if a slot is free (always, with no limit);
  /// returns whether it did.
  template <class F>
    requires detail::errgroup_task<F>
  bool try_go(F&& f, source_location where = source_location::current()) {
    if (s_->slots && select(s_->slots.on_send(std::monostate{}), on_default()) == 1) return false;
    start(std::forward<F>(f), where);
    return true;
  }

  /// Allows at most n tasks at once; n < 0 removes the limit. Throws
  /// panic_error if tasks are running (Go panics too).
  void set_limit(std::int64_t n) {
    if (s_->slots && s_->slots.size() != 0) {
      throw panic_error("errgroup: modify limit while goroutines in the group are still active");
    }
    s_->slots = n < 0 ? chan<std::monostate>() : make_chan<std::monostate>(static_cast<std::size_t>(n));
  }

  /// Waits for every task, cancels the group's context, and returns the
  /// first error; rethrows it if it was an exception.
  std::error_code wait() {
    s_->wg.wait();
    if (s_->cancel) s_->cancel(s_->code);
    if (s_->error) std::rethrow_exception(s_->error);
    return s_->code;
  }

 private:
  struct state {
    wait_group wg;
    chan<std::monostate> slots;  // nil: no limit; else one buffered token per running task
    once first;                  // records the first error
    std::error_code code;        // written in first.call; read after wg.wait()
    std::exception_ptr error;    // likewise
    cancel_func cancel;          // with_context's; null otherwise

    void fail(std::error_code c, std::exception_ptr e) {
      first.call([&] {
        code = c;
        error = std::move(e);
        if (cancel) cancel(c ? c : make_error_code(errc::canceled));
      });
    }
  };

  template <class F>
  void start(F&& f, const source_location& where) {
    s_->wg.add(1);
    struct run {
      std::shared_ptr<state> s;
      std::optional<std::decay_t<F>> fn;
      void operator()() {
        // wait() may return (and its caller destroy what f's captures refer
        // to) as soon as done() lets it go, while the runtime destroys this
        // object only later: so f, with its captures, goes before done().
        struct finish {
          run& r;
          ~finish() {
            r.fn.reset();
            if (r.s->slots) r.s->slots.recv();
            r.s->wg.done();
          }
        } fin{*this};
        try {
          if constexpr (std::is_void_v<std::invoke_result_t<std::decay_t<F>&>>) {
            (*fn)();
          } else {
            if (std::error_code c = (*fn)()) s->fail(c, nullptr);
          }
        } catch (...) {
          s->fail(std::error_code(), std::current_exception());
        }
      }
    };
    try {
      detail::spawn(where, run{s_, std::optional<std::decay_t<F>>(std::in_place, std::forward<F>(f))});
    } catch (...) {
      if (s_->slots) s_->slots.recv();
      s_->wg.done();
      throw;
    }
  }

  std::shared_ptr<state> s_;
};

}  // namespace goro
