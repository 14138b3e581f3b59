// goro/pipeline.hpp: the pipeline patterns of "Concurrency in Go", chapter
// 4, as typed templates: generators, stages, or-channel, or-done, tee,
// bridge, fan-out/fan-in, batching and queuing.
//
//   auto done = goro::make_done();
//   for (int v : goro::generator(done, 1, 2, 3, 4) | goro::map([](int x) { return x * 2; })
//                                                  | goro::map([](int x) { return x + 1; }))
//     std::cout << v << '\n';
//   done.close();
//
// Rules every pattern here keeps:
//  - Its first argument is a stop_signal (a done channel or a context). When
//    it fires, every goroutine the pattern started returns, promptly, even
//    if nobody reads its output: nothing leaks.
//  - It owns the channels it creates and closes them when it returns; an
//    output closes once the input is closed and drained (or on stop).
//  - Values keep their order through one stage; fan_out and fan_in do not
//    keep it (fan_out_ordered does).
//  - No value is lost or duplicated unless the pipeline is stopped (values
//    in flight then are dropped, as in Go).
// Every pattern returns a stream<T>: a recv_chan<T> that remembers its stop
// signal, so that `stream | map(f)` needs no second mention of it.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#include "goro/chan.hpp"
#include "goro/result.hpp"
#include "goro/runtime.hpp"
#include "goro/select.hpp"
#include "goro/stop.hpp"

namespace goro {

/// A receive-only channel that carries the stop signal of the pipeline it
/// belongs to. Converts to recv_chan<T>; range-for reads it until closed.
template <class T>
class stream : public recv_chan<T> {
 public:
  stream() = default;
  stream(recv_chan<T> c, stop_signal stop) : recv_chan<T>(std::move(c)), stop_(std::move(stop)) {}
  const stop_signal& stop() const noexcept { return stop_; }

 private:
  stop_signal stop_;
};

/// A channel handle that can be read: chan<T>, recv_chan<T>, stream<T>.
template <class C>
concept receivable = requires { typename C::value_type; } &&
                     std::is_convertible_v<const C&, recv_chan<typename C::value_type>>;

namespace detail {

/// The next value of in, or empty if in is closed and drained or stop fired.
template <class T>
std::optional<T> recv_or_stop(const stop_signal& stop, const recv_chan<T>& in) {
  std::optional<T> v;
  if (select(in.on_recv(v), stop.on_stop()) == 1) return std::nullopt;
  return v;
}

/// Sends v on out unless stop fires first; false if it did.
template <class T>
bool send_or_stop(const stop_signal& stop, const chan<T>& out, T&& v) {
  return select(out.on_send(std::move(v)), stop.on_stop()) == 0;
}

/// Closes its channel when destroyed: a pattern's goroutine holds one, so
/// its output closes however the goroutine ends.
template <class T>
struct closer {
  chan<T> ch;
  ~closer() { ch.close(); }
};

/// A closer shared by several goroutines: the last one to finish (drop
/// its copy) closes the channel.
template <class T>
std::shared_ptr<closer<T>> shared_closer(const chan<T>& ch) {
  return std::shared_ptr<closer<T>>(new closer<T>{ch});
}

template <class T>
stream<T> make_stream(const chan<T>& out, const stop_signal& stop) {
  return stream<T>(out, stop);
}

}  // namespace detail

// ---- generators ----------------------------------------------------------------

/// Sends v, vs... in order, then closes (the book's generator).
template <class T, class... Ts>
  requires(std::is_convertible_v<Ts, T> && ...)
stream<T> generator(stop_signal stop, T v, Ts... vs) {
  auto out = make_chan<T>();
  std::vector<T> values;  // not an initializer_list: T may be move-only
  values.reserve(1 + sizeof...(Ts));
  values.push_back(std::move(v));
  (values.push_back(static_cast<T>(std::move(vs))), ...);
  go([stop, out, values = std::move(values)]() mutable {
    detail::closer<T> c{out};
    for (T& x : values) {
      if (!detail::send_or_stop(stop, out, std::move(x))) return;
    }
  });
  return detail::make_stream(out, stop);
}

/// Sends every element of range (copied first), in order, then closes.
/// Any input range: its end may be a sentinel (views::take_while, ...).
template <std::ranges::input_range R>
auto from(stop_signal stop, R&& range) -> stream<std::ranges::range_value_t<R>> {
  using T = std::ranges::range_value_t<R>;
  auto out = make_chan<T>();
  std::vector<T> values;
  if constexpr (std::ranges::sized_range<R>) values.reserve(static_cast<std::size_t>(std::ranges::size(range)));
  for (auto&& x : range) values.emplace_back(x);
  go([stop, out, values = std::move(values)]() mutable {
    detail::closer<T> c{out};
    for (T& x : values) {
      if (!detail::send_or_stop(stop, out, std::move(x))) return;
    }
  });
  return detail::make_stream(out, stop);
}

/// Sends v, vs..., v, vs..., ... until stopped (the book's repeat).
template <class T, class... Ts>
  requires(std::is_convertible_v<Ts, T> && ...) && std::is_copy_constructible_v<T>
stream<T> repeat(stop_signal stop, T v, Ts... vs) {
  auto out = make_chan<T>();
  std::vector<T> values{std::move(v), static_cast<T>(std::move(vs))...};
  go([stop, out, values = std::move(values)] {
    detail::closer<T> c{out};
    for (;;) {
      for (const T& x : values) {
        if (!detail::send_or_stop(stop, out, T(x))) return;
      }
    }
  });
  return detail::make_stream(out, stop);
}

/// Sends f(), f(), ... until stopped (the book's repeatFn).
template <class F>
  requires std::is_invocable_v<F&>
auto repeat_fn(stop_signal stop, F f) -> stream<std::decay_t<std::invoke_result_t<F&>>> {
  using T = std::decay_t<std::invoke_result_t<F&>>;
  auto out = make_chan<T>();
  go([stop, out, f = std::move(f)]() mutable {
    detail::closer<T> c{out};
    for (;;) {
      if (!detail::send_or_stop(stop, out, T(f()))) return;
    }
  });
  return detail::make_stream(out, stop);
}

/// The first n values of in, then closes (the book's take). Reads no more
/// than n values from in.
template <receivable C, class T = typename C::value_type>
stream<T> take(stop_signal stop, const C& input, std::size_t n) {
  recv_chan<T> in = input;
  auto out = make_chan<T>();
  go([stop, in, out, n] {
    detail::closer<T> c{out};
    for (std::size_t i = 0; i < n; ++i) {
      std::optional<T> v = detail::recv_or_stop(stop, in);
      if (!v || !detail::send_or_stop(stop, out, std::move(*v))) return;
    }
  });
  return detail::make_stream(out, stop);
}

// ---- stages ----------------------------------------------------------------------

/// f(v) for every v of in, in order (a generic stage; map is its name too).
template <receivable C, class F, class T = typename C::value_type>
  requires std::is_invocable_v<F&, T&&>
auto stage(stop_signal stop, const C& input, F f) -> stream<std::decay_t<std::invoke_result_t<F&, T&&>>> {
  recv_chan<T> in = input;
  using U = std::decay_t<std::invoke_result_t<F&, T&&>>;
  auto out = make_chan<U>();
  go([stop, in, out, f = std::move(f)]() mutable {
    detail::closer<U> c{out};
    while (std::optional<T> v = detail::recv_or_stop(stop, in)) {
      if (!detail::send_or_stop(stop, out, U(f(std::move(*v))))) return;
    }
  });
  return detail::make_stream(out, stop);
}

template <receivable C, class F, class T = typename C::value_type>
  requires std::is_invocable_v<F&, T&&>
auto map(stop_signal stop, const C& in, F f) {
  return goro::stage(std::move(stop), in, std::move(f));
}

/// The values of in for which pred(v) holds, in order.
template <receivable C, class Pred, class T = typename C::value_type>
  requires std::is_invocable_r_v<bool, Pred&, const T&>
stream<T> filter(stop_signal stop, const C& input, Pred pred) {
  recv_chan<T> in = input;
  auto out = make_chan<T>();
  go([stop, in, out, pred = std::move(pred)]() mutable {
    detail::closer<T> c{out};
    while (std::optional<T> v = detail::recv_or_stop(stop, in)) {
      if (!pred(std::as_const(*v))) continue;
      if (!detail::send_or_stop(stop, out, std::move(*v))) return;
    }
  });
  return detail::make_stream(out, stop);
}

/// f(v) for every v, with an exception thrown by f carried as the result's
/// error instead of ending the program (the book's error handling: the
/// reader, who has the context, decides).
template <receivable C, class F, class T = typename C::value_type>
  requires std::is_invocable_v<F&, T&&>
auto try_map(stop_signal stop, const C& in, F f) -> stream<result<std::decay_t<std::invoke_result_t<F&, T&&>>>> {
  using R = result<std::decay_t<std::invoke_result_t<F&, T&&>>>;
  return goro::stage(std::move(stop), in, [f = std::move(f)](T&& v) mutable -> R {
    try {
      return R::ok(f(std::move(v)));
    } catch (...) {
      return R::from_current_exception();
    }
  });
}

/// Groups in's values into vectors of n (the last one may be shorter).
template <receivable C, class T = typename C::value_type>
stream<std::vector<T>> batch(stop_signal stop, const C& input, std::size_t n) {
  recv_chan<T> in = input;
  if (n == 0) throw std::invalid_argument("goro::batch: batch size 0");
  auto out = make_chan<std::vector<T>>();
  go([stop, in, out, n] {
    detail::closer<std::vector<T>> c{out};
    std::vector<T> group;
    while (std::optional<T> v = detail::recv_or_stop(stop, in)) {
      group.push_back(std::move(*v));
      if (group.size() == n && !detail::send_or_stop(stop, out, std::exchange(group, {}))) return;
    }
    if (!group.empty() && !stop.stopped()) detail::send_or_stop(stop, out, std::move(group));
  });
  return detail::make_stream(out, stop);
}

/// A queue: in's values through a channel of `capacity`, so that a slow
/// reader does not hold up the stage before it for bursts of up to
/// `capacity` values (the book's "Queuing").
template <receivable C, class T = typename C::value_type>
stream<T> buffer(stop_signal stop, const C& input, std::size_t capacity) {
  recv_chan<T> in = input;
  auto out = make_chan<T>(capacity);
  go([stop, in, out] {
    detail::closer<T> c{out};
    while (std::optional<T> v = detail::recv_or_stop(stop, in)) {
      if (!detail::send_or_stop(stop, out, std::move(*v))) return;
    }
  });
  return detail::make_stream(out, stop);
}

// ---- or-channel, or-done, tee, bridge ----------------------------------------------

/// A done channel that closes as soon as any of chans delivers anything (a
/// value or its close): the book's or-channel, with one goroutine however
/// many channels (a select over all of them). With no channel: the nil
/// channel, which never closes. Channels of any element types may be mixed.
/// It takes no stop signal: its goroutine returns only once one of chans
/// fires, so put a done channel among them to be able to end it.
template <class... C>
  requires(receivable<C> && ...)
done_chan or_channel(const C&... chans) {
  if constexpr (sizeof...(C) == 0) {
    return {};
  } else {
    auto out = make_done();
    go([out, chans...] {
      detail::closer<std::monostate> c{out};
      select(chans.on_recv()...);
    });
    return out;
  }
}

/// The same over a run-time number of channels of one type (a dynamic select).
template <class T>
done_chan or_channel(const std::vector<recv_chan<T>>& chans) {
  if (chans.empty()) return {};
  auto out = make_done();
  std::vector<select_case<T>> cases;
  cases.reserve(chans.size());
  for (const auto& ch : chans) cases.push_back(select_case<T>::recv(ch));
  go([out, cases = std::move(cases)]() mutable {
    detail::closer<std::monostate> c{out};
    select(cases);
  });
  return out;
}

/// The vector form over chan<T> or stream<T> handles.
template <receivable C>
  requires(!std::is_same_v<C, recv_chan<typename C::value_type>>)
done_chan or_channel(const std::vector<C>& chans) {
  using T = typename C::value_type;
  return goro::or_channel(std::vector<recv_chan<T>>(chans.begin(), chans.end()));
}

/// c's values until c closes or stop fires: lets a plain range-for over a
/// channel that someone else owns still stop on done (the book's orDone).
template <receivable C, class T = typename C::value_type>
stream<T> or_done(stop_signal stop, const C& input) {
  recv_chan<T> c = input;
  auto out = make_chan<T>();
  go([stop, c, out] {
    detail::closer<T> cl{out};
    while (std::optional<T> v = detail::recv_or_stop(stop, c)) {
      if (!detail::send_or_stop(stop, out, std::move(*v))) return;
    }
  });
  return detail::make_stream(out, stop);
}

/// Two streams that each get every value of in, in order (the book's tee):
/// a value is sent to both before the next is read, so the slower reader
/// sets the pace.
template <receivable C, class T = typename C::value_type>
  requires std::is_copy_constructible_v<T>
std::pair<stream<T>, stream<T>> tee(stop_signal stop, const C& input) {
  recv_chan<T> in = input;
  auto out1 = make_chan<T>();
  auto out2 = make_chan<T>();
  go([stop, in, out1, out2] {
    detail::closer<T> c1{out1};
    detail::closer<T> c2{out2};
    while (std::optional<T> v = detail::recv_or_stop(stop, in)) {
      // The nil-channel trick: a channel that got the value becomes nil,
      // so the next select only offers it to the other one.
      chan<T> a = out1;
      chan<T> b = out2;
      for (int sent = 0; sent < 2; ++sent) {
        std::size_t r = select(a.on_send(*v), b.on_send(*v), stop.on_stop());
        if (r == 2) return;
        (r == 0 ? a : b) = chan<T>();
      }
    }
  });
  return {detail::make_stream(out1, stop), detail::make_stream(out2, stop)};
}

/// The values of each channel that arrives on chans, one channel after the
/// other, as one stream (the book's bridge). The channels that arrive may
/// be recv_chan<T>, chan<T> or stream<T>.
template <receivable C, class Inner = typename C::value_type, class T = typename Inner::value_type>
  requires receivable<Inner>
stream<T> bridge(stop_signal stop, const C& input) {
  recv_chan<Inner> chans = input;
  auto out = make_chan<T>();
  go([stop, chans, out] {
    detail::closer<T> c{out};
    while (std::optional<Inner> ch = detail::recv_or_stop(stop, chans)) {
      recv_chan<T> inner = *ch;
      while (std::optional<T> v = detail::recv_or_stop(stop, inner)) {
        if (!detail::send_or_stop(stop, out, std::move(*v))) return;
      }
      if (stop.stopped()) return;
    }
  });
  return detail::make_stream(out, stop);
}

// ---- fan-out, fan-in ----------------------------------------------------------------

/// Every value of every channel of chans, as one stream, in no particular
/// order across channels (the book's fanIn: one goroutine per channel).
template <class T>
stream<T> fan_in(stop_signal stop, std::vector<recv_chan<T>> chans) {
  auto out = make_chan<T>();
  if (chans.empty()) {
    out.close();
    return detail::make_stream(out, stop);
  }
  auto last_closes = detail::shared_closer(out);
  for (auto& ch : chans) {
    go([stop, ch, out, last_closes] {
      while (std::optional<T> v = detail::recv_or_stop(stop, ch)) {
        if (!detail::send_or_stop(stop, out, std::move(*v))) return;
      }
    });
  }
  return detail::make_stream(out, stop);
}

/// fan_in over a vector of chan<T> or stream<T> handles.
template <receivable C, class T = typename C::value_type>
  requires(!std::is_same_v<C, recv_chan<T>>)
stream<T> fan_in(stop_signal stop, const std::vector<C>& chans) {
  return goro::fan_in(std::move(stop), std::vector<recv_chan<T>>(chans.begin(), chans.end()));
}

/// f(v) for every v of in, computed by n goroutines at once; results come
/// in the order they are finished (the book's fan-out, fanned back in).
template <receivable C, class F, class T = typename C::value_type>
  requires std::is_invocable_v<F&, T&&> && std::is_copy_constructible_v<F>
auto fan_out(stop_signal stop, const C& input, std::size_t n, F f)
    -> stream<std::decay_t<std::invoke_result_t<F&, T&&>>> {
  recv_chan<T> in = input;
  using U = std::decay_t<std::invoke_result_t<F&, T&&>>;
  if (n == 0) throw std::invalid_argument("goro::fan_out: no workers");
  auto out = make_chan<U>();
  auto last_closes = detail::shared_closer(out);
  for (std::size_t i = 0; i < n; ++i) {
    go([stop, in, out, last_closes, f]() mutable {
      while (std::optional<T> v = detail::recv_or_stop(stop, in)) {
        if (!detail::send_or_stop(stop, out, U(f(std::move(*v))))) return;
      }
    });
  }
  return detail::make_stream(out, stop);
}

/// fan_out that keeps in's order: up to n values are worked on at once, and
/// their results are sent in the order the values arrived.
template <receivable C, class F, class T = typename C::value_type>
  requires std::is_invocable_v<F&, T&&> && std::is_copy_constructible_v<F>
auto fan_out_ordered(stop_signal stop, const C& input, std::size_t n, F f)
    -> stream<std::decay_t<std::invoke_result_t<F&, T&&>>> {
  recv_chan<T> in = input;
  using U = std::decay_t<std::invoke_result_t<F&, T&&>>;
  if (n == 0) throw std::invalid_argument("goro::fan_out_ordered: no workers");
  struct job {
    T value;
    chan<U> promise;  // capacity 1: the worker's one send never blocks
  };
  auto out = make_chan<U>();
  auto jobs = make_chan<job>();
  auto order = make_chan<chan<U>>(n);  // promises in arrival order; bounds the work in flight
  // The dispatcher: a promise per value, queued in order, then the job.
  go([stop, in, jobs, order] {
    detail::closer<job> cj{jobs};
    detail::closer<chan<U>> co{order};
    while (std::optional<T> v = detail::recv_or_stop(stop, in)) {
      auto promise = make_chan<U>(1);
      if (!detail::send_or_stop(stop, order, chan<U>(promise))) return;
      if (!detail::send_or_stop(stop, jobs, job{std::move(*v), promise})) return;
    }
  });
  for (std::size_t i = 0; i < n; ++i) {
    go([stop, jobs = recv_chan<job>(jobs), f]() mutable {
      while (std::optional<job> j = detail::recv_or_stop(stop, jobs)) j->promise.send(U(f(std::move(j->value))));
    });
  }
  // The collector: each promise in turn.
  go([stop, order = recv_chan<chan<U>>(order), out] {
    detail::closer<U> c{out};
    while (std::optional<chan<U>> promise = detail::recv_or_stop(stop, order)) {
      std::optional<U> r = detail::recv_or_stop(stop, recv_chan<U>(*promise));
      if (!r || !detail::send_or_stop(stop, out, std::move(*r))) return;
    }
  });
  return detail::make_stream(out, stop);
}

// ---- composing with | ------------------------------------------------------------------

namespace detail {
template <class F>
struct map_step {
  F f;
};
template <class P>
struct filter_step {
  P pred;
};
struct take_step {
  std::size_t n;
};
struct batch_step {
  std::size_t n;
};
struct buffer_step {
  std::size_t capacity;
};
}  // namespace detail

/// Pipeline steps for `stream | step`: the stream's stop signal is used.
template <class F>
detail::map_step<F> map(F f) {
  return {std::move(f)};
}
template <class P>
detail::filter_step<P> filter(P pred) {
  return {std::move(pred)};
}
inline detail::take_step take(std::size_t n) { return {n}; }
inline detail::batch_step batch(std::size_t n) { return {n}; }
inline detail::buffer_step buffer(std::size_t capacity) { return {capacity}; }

template <class T, class F>
auto operator|(const stream<T>& s, detail::map_step<F> step) {
  return goro::stage(s.stop(), s, std::move(step.f));
}
template <class T, class P>
stream<T> operator|(const stream<T>& s, detail::filter_step<P> step) {
  return goro::filter(s.stop(), s, std::move(step.pred));
}
template <class T>
stream<T> operator|(const stream<T>& s, detail::take_step step) {
  return goro::take(s.stop(), s, step.n);
}
template <class T>
stream<std::vector<T>> operator|(const stream<T>& s, detail::batch_step step) {
  return goro::batch(s.stop(), s, step.n);
}
template <class T>
stream<T> operator|(const stream<T>& s, detail::buffer_step step) {
  return goro::buffer(s.stop(), s, step.capacity);
}

}  // namespace goro
