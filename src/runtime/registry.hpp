// src/runtime/registry.hpp: every goroutine that has started and not yet
// returned (Go's allgs), for goro::dump, goro::goroutines and the leak
// check; and the deadlock check that reads it.
//
// A goroutine joins the registry when it first runs (materialize), not at
// go(): a pending goroutine is only a record on a run queue, and a spawn
// storm would pay for a million entries nobody reads. Dumps count pending
// goroutines (num_goroutine() minus the registered) without listing them.
//
// The registry is sharded, one shard per processor, so that a goroutine's
// start and return take a lock that is almost never contended: a goroutine
// joins the shard of the processor it first runs on and stays there,
// wherever it runs later. Shard locks are spin locks (a few pointer writes
// under them, or a copy for a dump): innermost, nothing is locked under one,
// and several are taken only in index order (the deadlock report takes
// them all).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "runtime/goroutine.hpp"

namespace goro::detail {

struct thread_parker;

/// A run() call waiting for its main goroutine (run_main's frame). The
/// deadlock check fills in report, sets deadlocked and wakes done.
struct run_state {
  thread_parker* done = nullptr;
  bool deadlocked = false;
  std::string report;
  run_state* next_reported = nullptr;  // the deadlock check's list of callers to wake
};

/// g (id, parent, spawn_site, run set) joins shard `shard` (a processor id).
void registry_add(goroutine* g, int shard) noexcept;
/// How many goroutines are registered (started, not returned).
std::int64_t registry_size() noexcept;
/// g leaves (it returns); frees its name.
void registry_remove(goroutine* g) noexcept;
/// Names g (the running goroutine).
void registry_set_name(goroutine* g, std::string_view name);
std::string registry_name(goroutine* g);

struct bubble_state;
/// Marks every goroutine of bubble b deadlocked (abandoned, as after a
/// deadlock report) and returns headline and their dump.
std::string registry_abandon_bubble(const bubble_state* b, const char* headline);

/// The return addresses of a parked stack, innermost first.
struct park_stack {
  static constexpr int max_frames = 32;
  int n = 0;
  void* frames[max_frames];
};
/// g (the running goroutine, about to park) parked at frames[0..n).
void registry_set_park_stack(goroutine* g, void* const* frames, int n) noexcept;

/// At runtime start: reads GORO_GOROUTINE_TIMES and GORO_SCHEDTRACE (which
/// starts the thread that prints the trace).
void diagnostics_start() noexcept;

/// Called by a worker about to sleep with every worker idle and no work
/// queued. Reports a deadlock to the waiting run() calls if one is
/// confirmed. Returns when the caller should look again (a nanotime()
/// deadline), or -1 for no need.
std::int64_t deadlock_check(std::int64_t now) noexcept;

}  // namespace goro::detail
