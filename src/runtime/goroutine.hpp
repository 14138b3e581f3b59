// src/runtime/goroutine.hpp: the goroutine record (Go's g).
//
// Life of a goroutine:
//   go(f) makes a *pending* record on the heap (no stack yet: a million
//   goroutines that have not started cost no stack memory). The first time a
//   worker runs it, it takes a warm stack from its pool and moves the record
//   (and, when small, the closure) to the top of that stack, so that a parked
//   goroutine costs one page. The heap record is recycled.
//
// Invariants:
//  - status is the only field two threads may write at once; every other field
//    belongs to whoever runs the goroutine, or (when it is not running) to the
//    one code path that holds it: the run queue entry, the waiter queue that
//    will ready it, the worker switching away from it.
//  - The registry (every goroutine started and not yet returned, for dumps
//    and the deadlock check) reads a goroutine from other threads: id,
//    parent, spawn_site and run are written before it first runs and never
//    after; reason and wait_since are relaxed atomics written by the
//    goroutine itself; all_prev, all_next and name are guarded by the lock
//    of its registry shard (shard, fixed when it joins one). Before it
//    joins, dumps read it through processor::fresh (registry.hpp).
//  - A goroutine is on at most one run queue, and only when runnable.
//  - While parking (status::parking or woken) it still runs on its stack;
//    nobody but the worker that switches away from it may resume it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "goro/detail/runtime_core.hpp"
#include "runtime/stack.hpp"
#include "switch/context.hpp"

namespace goro::detail {

enum class gstatus : std::uint32_t {
  pending,   // made by go(), never run, no stack; on a run queue
  runnable,  // on a run queue (or being handed to a worker)
  running,   // executing on a worker
  yielding,  // switching away to be requeued (yield): still on its stack
  parking,   // committed to park, still on its stack; ready() only marks it woken
  woken,     // ready() came while parking: the worker switching away requeues it
  waiting,   // off its stack, parked; ready() requeues it
  dead,      // returned; the worker switching away frees its stack
};

/// Saved C++ exception state (__cxa_eh_globals): per OS thread in the ABI, so
/// it is swapped at every switch, or a goroutine that parks inside a catch
/// block would rethrow another goroutine's exception.
struct eh_state {
  void* caught = nullptr;
  unsigned int uncaught = 0;
  int saved_errno = 0;  // errno is per thread too: a goroutine keeps its own across switches
};

/// goroutine::shard of a goroutine that has not joined the registry.
inline constexpr std::uint16_t unregistered_shard = 0xFFFF;

struct run_state;     // a run() call waiting for its main goroutine (scheduler.cpp)
struct bubble_state;  // goro::testing::bubble (bubble.hpp)

struct goroutine {
  machine_context context;  // saved registers while not running
  std::atomic<gstatus> status{gstatus::pending};
  std::atomic<wait_reason> reason{wait_reason::none};
  // Part of a deadlock already reported: parked for good, left out of leak
  // checks and later deadlock checks. Written under the shard lock.
  bool abandoned = false;
  bool main = false;             // started by run() (stays true once abandoned)
  // Its registry shard (a processor id), or unregistered_shard. Written
  // once, by the goroutine itself, under that shard's lock (registry.hpp).
  std::uint16_t shard = unregistered_shard;
  run_state* run = nullptr;      // run()'s main goroutine: its caller; else null
  // The bubble it was started in, fixed at start (null: none). A bubble's
  // driver sets its own while it starts the bubble's first goroutine and
  // while it fires the bubble's timers, so that what they start joins the
  // bubble. Atomic (relaxed) because a bubble's deadlock report reads every
  // goroutine's, a driver's included.
  std::atomic<bubble_state*> bubble{nullptr};
  // A member of a bubble waits on a channel of another bubble or of none:
  // not durably blocked. Written by the goroutine before it parks and
  // cleared once it runs again; read by whoever commits or ends the park.
  bool wait_outside = false;
  std::uint64_t id = 0;
  std::uint64_t parent = 0;      // id of the goroutine that started it; 0: a plain thread
  goroutine* all_prev = nullptr;  // registry links (shard lock)
  goroutine* all_next = nullptr;
  char* name = nullptr;           // this_goroutine::set_name (shard lock); malloc'd
  // Where it last parked, with sched.dump_stacks on (shard lock); malloc'd
  // at its first park then, freed as it returns.
  struct park_stack* parked_at = nullptr;
  stack_slot stack;           // none while pending
  const closure_ops* ops = nullptr;
  void* closure = nullptr;    // into inline_closure, or the heap when too big or not nothrow-movable
  source_location spawn_site;
  eh_state eh;
  void* asan_fake_stack = nullptr;
  void* tsan_fiber = nullptr;
  std::atomic<std::int64_t> wait_since{0};  // coarse_nanotime() at park (relaxed)
  // With sched.goroutine_times on (relaxed; written by whoever switches it):
  // nanoseconds on a worker, off one, and nanotime() of its last switch in
  // or out (0: not stamped yet).
  std::atomic<std::int64_t> run_ns{0};
  std::atomic<std::int64_t> wait_ns{0};
  std::atomic<std::int64_t> stamp{0};

  static constexpr std::size_t inline_closure_size = 64;
  alignas(16) unsigned char inline_closure[inline_closure_size];

  bool closure_inline() const noexcept {
    return closure == static_cast<const void*>(inline_closure);
  }
};

}  // namespace goro::detail
