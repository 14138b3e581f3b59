// goro/detail/chan_core.hpp: the type-erased channel and select the typed
// templates in chan.hpp and select.hpp sit on. Not API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

#include "goro/detail/config.hpp"

namespace goro::detail {

/// How a channel moves and destroys its elements without knowing their type.
struct elem_ops {
  std::size_t size;
  std::size_t align;
  bool trivial;                                       // memcpy will do
  void (*move_construct)(void* dst, void* src) noexcept;  // dst uninitialised; src stays valid (moved-from)
  void (*destroy)(void* p) noexcept;
};

template <class T>
inline constexpr elem_ops elem_ops_for{
    sizeof(T), alignof(T), std::is_trivially_copyable_v<T>,
    [](void* dst, void* src) noexcept { ::new (dst) T(std::move(*static_cast<T*>(src))); },
    [](void* p) noexcept { static_cast<T*>(p)->~T(); }};

struct chan_core;

GORO_API chan_core* chan_make(const elem_ops* ops, std::size_t capacity);
GORO_API void chan_retain(chan_core* c) noexcept;
GORO_API void chan_release(chan_core* c) noexcept;

/// Sends *elem (moved from). Blocks until received or buffered; a nil channel
/// blocks forever. Throws closed_channel_error on a closed channel.
GORO_API void chan_send(chan_core* c, void* elem);
/// Receives into out (uninitialised storage). Blocks until a value arrives or
/// the channel is closed and drained; returns false in that case (out untouched).
GORO_API bool chan_recv(chan_core* c, void* out);
/// Non-blocking forms: sent/received or not. try_recv reports closed via *closed.
GORO_API bool chan_try_send(chan_core* c, void* elem);
GORO_API bool chan_try_recv(chan_core* c, void* out, bool* closed);
/// Throws panic_error on a closed or nil channel.
GORO_API void chan_close(chan_core* c);
GORO_API std::size_t chan_size(const chan_core* c) noexcept;
/// How many goroutines or threads wait in c's receive (or send) queue, select
/// waiters included. For tests and diagnostics: O(waiters), takes the lock.
GORO_API std::size_t chan_waiting(chan_core* c, bool senders) noexcept;
GORO_API std::size_t chan_capacity(const chan_core* c) noexcept;

/// One case of a select, type-erased.
struct select_case_raw {
  chan_core* chan;   // null: a nil channel, never ready
  void* elem;        // send: the value (moved from only if chosen); recv: storage for it
  bool is_send;
  bool received;     // out, recv only: a value was stored in elem (false: closed)
};

/// Go's selectgo. Returns the index of the case taken, or n when has_default
/// and nothing was ready. With n == 0 and no default, blocks forever.
GORO_API std::size_t select_raw(select_case_raw* cases, std::size_t n, bool has_default);

}  // namespace goro::detail
