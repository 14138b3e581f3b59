// src/runtime/processor.hpp: processors (Go's P), their worker threads, the
// global scheduler state, and the runtime-internal API the rest of goro uses.
//
// goro pairs each processor with one worker thread for life: nothing inside
// the runtime blocks a worker in a system call (blocking calls go to their own
// thread pool), so Go's separation of M from P would buy nothing here.
//
// Lock order (outer first), as lock_rank in runtime_mutex.hpp checks it in
// debug builds: the deadlock check's lock → a timer's lock → channel locks
// (in address order) → poll descriptors → timer heap locks → sched.lock. The
// global run queue and the idle list are under sched.lock; a processor's
// local run queue is lock-free.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <pthread.h>

#include "runtime/goroutine.hpp"
#include "runtime/records.hpp"
#include "runtime/runtime_mutex.hpp"
#include "runtime/timers.hpp"
#include "switch/context.hpp"

namespace goro::detail {

/// Go's runq: a bounded ring the owner pushes at the tail, and the owner and
/// thieves pop at the head with a CAS; plus the runnext slot, the goroutine
/// readied by the running one, which runs next.
struct local_runq {
  static constexpr std::uint32_t capacity = 256;
  alignas(64) std::atomic<std::uint32_t> head{0};  // consumers CAS it
  std::atomic<std::uint32_t> tail{0};              // only the owner stores it
  std::atomic<goroutine*> runnext{nullptr};
  std::atomic<goroutine*> slots[capacity] = {};

  std::uint32_t size() const noexcept {
    return tail.load(std::memory_order_acquire) - head.load(std::memory_order_acquire);
  }
  bool empty() const noexcept {
    return size() == 0 && runnext.load(std::memory_order_acquire) == nullptr;
  }
};

/// A batch of the global run queue (see scheduler.cpp): half a local queue
/// and the goroutine that did not fit, or single goroutines put one by one.
struct run_batch {
  static constexpr std::uint32_t capacity = local_runq::capacity / 2 + 1;
  run_batch* next = nullptr;
  std::uint32_t first = 0;  // g[first..n) are queued
  std::uint32_t n = 0;
  goroutine* g[capacity];
};

/// A processor's cache of free stacks and goroutine records. Touched only by
/// code running on the processor, but by several fibers there (goroutines and
/// the worker's own context), so the fields are relaxed atomics: TSan then
/// sees no race, and the objects themselves carry release/acquire (sanitizers.hpp).
template <class T, std::uint32_t N>
struct local_cache {
  std::atomic<std::uint32_t> count{0};
  std::atomic<T> items[N] = {};
};

constexpr int max_procs = 256;

struct processor {
  int id = 0;
  local_runq runq;

  // ---- owned by this processor's worker (relaxed atomics, see local_cache) ----
  std::atomic<goroutine*> current{nullptr};  // the goroutine running here; null: the worker's own context
  std::atomic<goroutine*> prev{nullptr};     // the goroutine switched away from; finish_switch settles it
  // The running goroutine while it has not joined the registry (null:
  // none). Written by this worker only (release as it is set, so that a
  // dump's acquire sees the record); read by dumps under this processor's
  // registry shard lock, behind the barrier protocol of registry.hpp.
  std::atomic<goroutine*> fresh{nullptr};
  std::atomic<std::uint32_t> schedtick{0};
  // Counters for goro::stats() (relaxed: only this worker writes them).
  std::atomic<std::uint64_t> nswitch{0};  // goroutines resumed or started here (the deadlock check's progress sign)
  std::atomic<std::uint64_t> nspawn{0};   // go() called here
  std::atomic<std::uint64_t> nexit{0};    // goroutines that returned here (num_goroutine())
  std::atomic<std::uint64_t> npark{0};    // parks that switched away
  std::atomic<std::uint64_t> nsteal{0};   // successful steals
  std::atomic<std::uint64_t> ntimer{0};   // timers fired here
  std::atomic<std::uint64_t> rng{0};
  std::atomic<std::uint64_t> id_next{0}, id_end{0};  // a batch of goroutine ids
  local_cache<char*, 32> stacks;                     // slot bases (no canary slots here)
  record_cache records;                              // free pending-goroutine records
  // A free batch of the global run queue, kept for this processor's next
  // spill (runq_put_slow) so that it is filled without the lock.
  std::atomic<run_batch*> spare_batch{nullptr};

  // ---- the worker's own context (g0), written once at worker start ----
  machine_context g0;
  void* g0_stack_lo = nullptr;
  std::size_t g0_stack_size = 0;
  void* g0_fake_stack = nullptr;
  void* g0_tsan_fiber = nullptr;
  eh_state* eh_globals = nullptr;  // this thread's __cxa_eh_globals (two leading fields)
  int* errno_location = nullptr;     // this thread's errno
  pthread_t thread{};

  // ---- sleeping ----
  // Futex the worker sleeps on: wake_look and wake_spin bits (scheduler.cpp),
  // set with fetch_or and consumed with exchange(0), so neither is lost to
  // the other; wake_sleeping, set by the worker (CAS from 0) only while it
  // is in its idle futex wait, tells wakep() that a futex wake is needed.
  std::atomic<std::uint32_t> wake_word{0};
  processor* idle_next = nullptr;           // guarded by sched.lock
  bool idle = false;                        // guarded by sched.lock
  std::atomic<bool> parked_for_gomaxprocs{false};
  // Counted in sched.nspinning. Written only by the worker itself (which
  // adopts the count wakep() made for it when it receives wake_spin).
  std::atomic<bool> spinning{false};
  // How long the worker waits before it looks again at victims that it left
  // their work to (find_runnable). Only the worker's own context touches it.
  std::int64_t steal_backoff_ns = 0;
  // Per victim (by id), the schedtick the worker last saw as it left the
  // victim's runnext to it, and since when it has seen that one
  // (runq_steal). Only the worker's own context touches them.
  struct runnext_watch {
    std::uint32_t tick = 0;
    const goroutine* next = nullptr;  // compared, never dereferenced
    std::int64_t since = 0;
  };
  runnext_watch watches[max_procs];

  timer_heap timers;

  // ---- pools (src/sync/pool.cpp), owned by this processor's worker ----
  std::atomic<bool> pool_held{false};            // some pool's slot for this processor may hold values
  std::atomic<std::int64_t> pool_next_sweep{0};  // nanotime() of the next sweep
};

// Fields are grouped by who writes them, one group per cache line: the
// read-mostly ones (read on every spawn, switch and park) must not share a
// line with the counters and lock that idle transitions and spawns write,
// or every read pays for the other core's writes.
struct scheduler {
  std::atomic<processor*> procs[max_procs] = {};

  // ---- read-mostly: written at start, on gomaxprocs() and by settings ----
  alignas(64) std::atomic<int> nprocs{0};  // processors created (ids 0..nprocs-1)
  std::atomic<int> maxprocs{0};            // processors allowed to run goroutines (ids 0..maxprocs-1)
  // process_barrier() works: run queue puts store with release, not
  // seq_cst, and idle workers settle behind the barrier before they block
  // (scheduler.cpp, "plain puts"). Set once at runtime start.
  std::atomic<bool> plain_puts{false};
  // goro::set_goroutine_times: every switch reads the clock to add up each
  // goroutine's run and wait time (off by default: two clock reads a switch).
  std::atomic<bool> goroutine_times{false};
  // goro::set_dump_stacks: every park records its stack (backtrace()) for
  // dumps and deadlock reports (off by default: microseconds a park).
  std::atomic<bool> dump_stacks{false};
  std::atomic<bool> exiting{false};
  std::atomic<int> internal_threads{0};  // goro's own helper threads (signal dumper, schedtrace)

  // ---- the global queue and the idle list ----
  alignas(64) runtime_mutex lock{lock_rank::sched};
  // Guarded by lock. The global run queue: a FIFO of batches (arrays of
  // goroutine pointers, scheduler.cpp), each taken whole by one worker, so
  // that nobody touches a goroutine with the lock held (see global_get);
  // and the free batches.
  run_batch* global_first = nullptr;
  run_batch* global_last = nullptr;
  run_batch* free_batches = nullptr;
  std::uint32_t nfree_batches = 0;
  processor* idle_head = nullptr;
  // Read without the lock as hints; written under it (global_size, nidle)
  // or with RMWs (nspinning). See the wake-up protocol in scheduler.cpp.
  std::atomic<std::int64_t> global_size{0};

  // ---- read by every wakep(); written when a worker starts or stops
  // spinning or goes idle ----
  alignas(64) std::atomic<int> nidle{0};
  std::atomic<int> nspinning{0};

  // ---- written by spawns (next_id, a batch of 16 at a time per processor)
  // and by plain threads ----
  alignas(64) std::atomic<std::uint64_t> next_id{1};
  std::atomic<std::uint64_t> nspawn_outside{0};  // go() called on plain threads
  // Plain threads that have used goro (parked in it, readied a goroutine,
  // started one) and may still wake a goroutine: counted while alive and not
  // parked in goro (park.hpp's thread_parker keeps the counts). The
  // deadlock check needs outside_active == 0.
  std::atomic<int> outside_active{0};
  std::atomic<int> outside_parked{0};
  std::atomic<int> nrun{0};  // run() calls whose main goroutine lives and is not abandoned
};

scheduler& sched() noexcept;

// ---- what the rest of the runtime uses --------------------------------------

/// The processor the calling thread runs, or null on a thread that is not a
/// worker. Never inlined and re-read after every switch: a goroutine may
/// resume on another worker, and a cached thread-local address would be stale.
GORO_NOINLINE processor* current_processor() noexcept;
/// The running goroutine, or null on a plain thread or a worker's own context.
GORO_NOINLINE goroutine* current_goroutine() noexcept;
/// For the fault handler: the running goroutine, read without any call that
/// is not async-signal-safe.
goroutine* signal_current_goroutine() noexcept;

/// Makes g runnable (waiting/parking → runnable). Callable from any thread,
/// with no channel lock held.
void ready(goroutine* g) noexcept;

/// Marks the running goroutine as about to park. After this, whoever finds
/// the goroutine in a wait queue may ready() it, even before park() is called.
void park_prepare(goroutine* g, wait_reason reason) noexcept;
/// Switches away from the running goroutine until it is readied. Returns at
/// once if it was readied since park_prepare.
void park(goroutine* g) noexcept;

/// For the deadlock check (registry.cpp): whether any run queue holds a
/// goroutine; the earliest timer of any processor (0: none); wakes one idle
/// worker, if every worker is idle, so that it checks again.
bool any_work() noexcept;
std::int64_t earliest_timer() noexcept;
void deadlock_poke() noexcept;
/// Whether every processor allowed to run goroutines is on the idle list.
bool all_idle() noexcept;
/// Threads of the blocking pool (blocking.cpp), started and not yet stopped.
int blocking_threads() noexcept;

/// A cheap per-worker random number (per-thread off the workers).
std::uint32_t fastrand() noexcept;
/// A random number in [0, n), n > 0: fastrand scaled by a multiply and a
/// shift (Lemire's; Go's fastrandn), not a division, which costs tens of
/// cycles. Slightly biased for an n that is not a power of two, as Go's.
inline std::uint32_t fastrandn(std::uint32_t n) noexcept {
  return static_cast<std::uint32_t>((static_cast<std::uint64_t>(fastrand()) * n) >> 32);
}

/// Makes sure the runtime is running (workers started).
void runtime_start() noexcept;

/// Wakes one idle worker, if there is one and nobody is spinning.
void wakep() noexcept;

/// Pools (src/sync/pool.cpp): sweeps p's slot of every pool if a sweep is
/// due; whether a sweep is pending (p or a shared list may hold values) and
/// when, to bound an idle worker's sleep; drops everything p holds (p stops).
/// Called on p, between goroutines.
void pool_sweep_if_due(processor* p, std::int64_t now) noexcept;
bool pool_sweep_pending(processor* p) noexcept;
std::int64_t pool_next_sweep(processor* p) noexcept;
void pool_drop_all(processor* p) noexcept;

}  // namespace goro::detail
