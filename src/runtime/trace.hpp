// src/runtime/trace.hpp: GORO_TRACE=<file>, an execution trace in Chrome's
// trace-event JSON (Perfetto and chrome://tracing open it): per processor,
// a slice for each run of a goroutine, ending with why it stopped (its wait
// reason, "yield" or "exit"), and instants for go() and for each wake-up.
//
// Events go to a buffer per processor (its worker is the only writer, under
// the buffer's spin lock, which the writer at exit also takes), and to one
// buffer for plain threads. Each buffer holds at most max_events; beyond,
// events are counted as dropped. The file is written at process exit.
// With GORO_TRACE unset, each hook costs one relaxed load.
#pragma once

#include <atomic>
#include <cstdint>

#include "runtime/goroutine.hpp"

namespace goro::detail {

struct processor;

enum class trace_kind : std::uint8_t { create, start, stop, unblock };

extern std::atomic<bool> g_tracing;

void trace_event_slow(processor* p, trace_kind kind, const goroutine* g, std::uint64_t arg) noexcept;

/// Records an event on p's buffer (null p: the plain threads' buffer).
/// arg: create → the parent's id; stop → why (trace_stop_* or a wait_reason).
inline void trace_event(processor* p, trace_kind kind, const goroutine* g, std::uint64_t arg = 0) noexcept {
  if (g_tracing.load(std::memory_order_relaxed)) [[unlikely]] trace_event_slow(p, kind, g, arg);
}

constexpr std::uint64_t trace_stop_yield = 1000;
constexpr std::uint64_t trace_stop_exit = 1001;

/// At runtime start: starts tracing if GORO_TRACE names a file.
void trace_start_from_env() noexcept;
/// At process exit, once the workers have stopped switching: writes the file.
void trace_write() noexcept;

}  // namespace goro::detail
