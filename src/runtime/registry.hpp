// src/runtime/registry.hpp: every goroutine that has started and not yet
// returned (Go's allgs), for goro::dump, goro::goroutines and the leak
// check; and the deadlock check that reads it.
//
// A goroutine is listed from its first run, but joins a shard only when it
// first switches away (parks or yields), names itself or records where it
// parks; one that runs to completion without doing so never takes a shard
// lock. Until then it is its processor's `fresh` goroutine, and a dump
// finds it there (the protocol is below). Where membarrier is not
// available the protocol cannot work, and a goroutine joins its shard when
// it first runs. A pending goroutine is only a record on a run queue, and a
// spawn storm would pay for a million entries nobody reads: dumps count
// pending goroutines (num_goroutine() minus the listed) without listing
// them.
//
// The registry is sharded, one shard per processor, so that a goroutine's
// joining and leaving take a lock that is almost never contended: a
// goroutine joins the shard of the processor it runs on and stays there,
// wherever it runs later. Shard locks are spin locks (a few pointer writes
// under them, or a copy for a dump): innermost, nothing is locked under one,
// and several are taken only in index order (the deadlock report takes
// them all).
//
// Reading a fresh goroutine (registry.cpp). processor::fresh is written
// only by its worker (set as the goroutine first runs, cleared under the
// shard lock as it joins, cleared as it returns) and read by dumps under
// the processor's shard lock. A fresh goroutine cannot switch away, so it
// cannot run anywhere else or join another shard while a dump holds that
// lock. What a dump must not do is read one that is returning, whose stack
// is about to be reused. That is an asymmetric Dekker pair: a dump counts
// itself in the readers, runs process_barrier(), then reads `fresh` (under
// the lock); a returning fresh goroutine clears `fresh`, then reads the
// readers, with only a compiler fence between, and if any are counted,
// takes and drops its processor's shard lock before it goes. Either its
// read comes after the barrier it was made to run and sees the reader (it
// waits for the lock, so for any read of it in progress), or its clear came
// before that barrier and every later read of `fresh` sees it. The
// returning side, run by every goroutine, pays a plain store and a load;
// the barrier is paid by dumps.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "runtime/goroutine.hpp"

namespace goro::detail {

struct thread_parker;
struct processor;

/// A run() call waiting for its main goroutine (run_main's frame). The
/// deadlock check fills in report, sets deadlocked and wakes done.
struct run_state {
  thread_parker* done = nullptr;
  bool deadlocked = false;
  std::string report;
  run_state* next_reported = nullptr;  // the deadlock check's list of callers to wake
};

/// At runtime start: decides whether goroutines join lazily (membarrier works).
void registry_init() noexcept;
/// g (id, parent, spawn_site, run set) is about to run on p for the first
/// time: it becomes p's fresh goroutine, or joins p's shard at once.
void registry_start(processor* p, goroutine* g) noexcept;
/// g, p's fresh goroutine (the running one), joins p's shard. Called before
/// it first switches away, names itself or records where it parks.
void registry_join(processor* p, goroutine* g) noexcept;
/// How many goroutines are listed (started, not returned).
std::int64_t registry_size() noexcept;
/// g (running on p) returns: it leaves the registry, its name is freed.
/// Afterwards no dump reads it.
void registry_exit(processor* p, goroutine* g) noexcept;
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
