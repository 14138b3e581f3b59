// goro/detail/runtime_core.hpp: the type-erased entry points runtime.hpp's
// templates call. Not API: names and signatures change without notice.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <new>
#include <tuple>
#include <type_traits>
#include <utility>

#include "goro/detail/config.hpp"

namespace goro::detail {

struct goroutine;

/// What a goroutine waits on; shown in dumps and deadlock reports
/// (to_string in scheduler.cpp gives Go's words for them).
enum class wait_reason : std::uint8_t {
  none,
  chan_receive,
  chan_send,
  chan_receive_nil,
  chan_send_nil,
  select,
  select_no_cases,
  sleep,
  sync,  // a goro sync primitive not named below
  mutex_lock,
  rw_mutex_rlock,
  rw_mutex_lock,
  cond_wait,
  wait_group_wait,
  once_wait,
  semaphore_acquire,
  io_wait,   // a socket (the netpoller)
  blocking,  // a call running on the blocking pool (goro::blocking)
  forever,
  bubble,       // goro::testing::bubble's caller, waiting for its goroutines
  bubble_wait,  // goro::testing::bubble_wait
};
GORO_API const char* to_string(wait_reason r) noexcept;

/// How the runtime handles a goroutine's closure without knowing its type.
struct closure_ops {
  void (*invoke)(void* self);  // runs it; may throw
  void (*destroy)(void* self) noexcept;
  // Moves the closure to dst and destroys the source. Null when the closure
  // cannot be moved without throwing; it then lives on the heap.
  void (*relocate)(void* dst, void* src) noexcept;
  std::size_t size;
  std::size_t align;
};

/// The decayed function and arguments of go(f, args...), as std::thread keeps them.
template <class F, class... A>
struct closure {
  F fn;
  std::tuple<A...> args;

  static void invoke(void* self) {
    auto& c = *static_cast<closure*>(self);
    std::apply(
        [&](A&... a) { std::invoke(std::move(c.fn), std::move(a)...); }, c.args);
  }
  static void destroy(void* self) noexcept { static_cast<closure*>(self)->~closure(); }
  static void relocate(void* dst, void* src) noexcept {
    auto* s = static_cast<closure*>(src);
    ::new (dst) closure(std::move(*s));
    s->~closure();
  }
  static constexpr closure_ops ops{
      &invoke, &destroy,
      std::is_nothrow_move_constructible_v<closure> ? &relocate : nullptr,
      sizeof(closure), alignof(closure)};
};

/// Allocates a goroutine that has not started. *storage receives where the
/// closure must be constructed (inside the goroutine record when small).
GORO_API goroutine* goroutine_new(const closure_ops* ops, const source_location& where,
                                  void** storage);
/// Frees a goroutine whose closure could not be constructed.
GORO_API void goroutine_discard(goroutine* g) noexcept;
/// Makes a new goroutine runnable.
GORO_API void goroutine_start(goroutine* g) noexcept;

template <class F, class... A>
void spawn(const source_location& where, F&& f, A&&... a) {
  using C = closure<std::decay_t<F>, std::decay_t<A>...>;
  void* storage = nullptr;
  goroutine* g = goroutine_new(&C::ops, where, &storage);
  try {
    ::new (storage) C{std::forward<F>(f), std::tuple<std::decay_t<A>...>(std::forward<A>(a)...)};
  } catch (...) {
    goroutine_discard(g);
    throw;
  }
  goroutine_start(g);
}

/// Runs fn(arg) as the main goroutine and blocks the calling thread until it
/// returns. fn must not throw (run() catches inside it). Throws
/// goro::deadlock_error if the runtime finds the main goroutine deadlocked.
GORO_API void run_main(void (*fn)(void*), void* arg, const source_location& where);

GORO_API void yield() noexcept;
GORO_API int gomaxprocs(int n);
GORO_API std::int64_t num_goroutine() noexcept;
GORO_API std::uint64_t current_goroutine_id() noexcept;

}  // namespace goro::detail
