// src/runtime/registry.hpp: every goroutine that has started and not yet
// returned (Go's allgs), for goro::dump, goro::goroutines and the leak
// check; and the deadlock check that reads it.
//
// The registry is sharded, one shard per processor plus one for plain
// threads, so that go() and a goroutine's return take a lock that is almost
// never contended: a goroutine joins the shard of the processor (or thread)
// that started it and stays there, wherever it runs. Shard locks have rank
// `registry`, the innermost: nothing is locked under one, and several are
// taken only in index order (the deadlock report takes them all).
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
};

/// g (id, parent, spawn_site, run set) joins shard `shard`.
void registry_add(goroutine* g, int shard) noexcept;
/// now (materialize's copy of the pending record old) takes old's place.
void registry_replace(goroutine* old, goroutine* now) noexcept;
/// g leaves (it returns); frees its name.
void registry_remove(goroutine* g) noexcept;
/// Names g (the running goroutine).
void registry_set_name(goroutine* g, std::string_view name);
std::string registry_name(goroutine* g);

/// Called by a worker about to sleep with every worker idle and no work
/// queued. Reports a deadlock to the waiting run() calls if one is
/// confirmed. Returns when the caller should look again (a nanotime()
/// deadline), or -1 for no need.
std::int64_t deadlock_check(std::int64_t now) noexcept;

}  // namespace goro::detail
