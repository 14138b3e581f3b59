// bench/boost_fiber/fiber_support.hpp: what the Boost.Fiber twins share. It
// plays the part that ../bench_support.hpp plays for goro: gomaxprocs, a
// latch, run_fixed / run_timed / run_parallel with the same counters. See
// README.md in this folder for the design, and boost_fiber_bench.cpp's head
// comment for how each Go notion maps onto Boost.Fiber.
//
// gomaxprocs = P is a pool of P OS threads that run fibers: round_robin when
// P == 1, work_stealing(P) when P > 1 (the calling thread of every fiber
// world is a pool thread; Google Benchmark's own thread never runs fibers).
// Pools live for the whole process: Boost 1.74's work_stealing keeps its
// schedulers in a static array sized once (a static barrier, an ever growing
// id counter), so it can be installed on exactly P threads once per process,
// never on fresh threads per run. Between runs the pool threads sleep on an
// OS condition variable, so they cost nothing while another pool runs.
#pragma once

#include "../bench_common.hpp"

#include <boost/context/stack_context.hpp>
#include <boost/fiber/algo/round_robin.hpp>
#include <boost/fiber/algo/work_stealing.hpp>
#include <boost/fiber/buffered_channel.hpp>
#include <boost/fiber/condition_variable.hpp>
#include <boost/fiber/fiber.hpp>
#include <boost/fiber/fixedsize_stack.hpp>
#include <boost/fiber/mutex.hpp>
#include <boost/fiber/operations.hpp>
#include <boost/fiber/unbuffered_channel.hpp>

#include <sys/mman.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

// Functions that read a thread_local must not be inlined into a fiber's code:
// a fiber can migrate to another thread (work_stealing) across any switch,
// and the compiler may keep a thread_local's address in a register across
// calls it can see into. noipa also stops GCC from treating them as pure.
#if defined(__clang__)
#define BF_BENCH_TLS_ENTRY __attribute__((noinline))
#else
#define BF_BENCH_TLS_ENTRY __attribute__((noinline, noipa))
#endif

namespace bf_bench {

using bench_common::count;
using bench_common::per_unit;
using bench_common::quick;
using bench_common::seconds_of;

// ---- fiber stacks ---------------------------------------------------------------
//
// 8 KiB per fiber (Boost's own skynet benchmarks use 2 pages, pooled). Less is
// unsafe with Boost 1.74: detail::spinlock_ttas::lock() keeps a
// `static thread_local std::minstd_rand{std::random_device{}()}`, so every
// function that inlines it reserves a ~5 KiB frame (a random_device), and
// every fiber writes a return address ~5.8 KiB below its stack top (measured:
// deepest write 5.8-6.5 KiB). So every fiber touches 2 pages whatever its
// stack size: 8 KiB of RSS per live fiber is the floor.
//
// The stacks come from a process-wide depot that never gives memory back:
// 64 MiB arenas (mmap, MADV_HUGEPAGE where THP allows it; a fresh 4 KiB page
// costs ~13 us to fault in on this VM, a huge page ~0.25 us per 4 KiB), cut
// into 8 KiB slots, reused warm. Each thread keeps a small cache; batches move
// through a mutex-protected global list, so a stack freed on another thread
// (a fiber that migrated) is fine. Boost's pooled_fixedsize_stack is no
// option: its boost::pool is not thread-safe, and it threads its free list
// through the stack bottoms (a third page per fiber).
//
// The depot also counts live stacks per thread: a fiber's stack is returned
// only when Boost releases its terminated context, so "no counted stack out"
// means every fiber of a run has exited (see pool::run).
inline constexpr std::size_t stack_size = 8 * 1024;

namespace detail {

inline constexpr std::uint64_t stack_canary = 0x5ee5'c0ff'ee15'0f1bULL;
inline constexpr std::size_t arena_bytes = std::size_t{64} << 20;

/// One thread's cache of free stacks and its counts of counted stacks taken
/// and given back (written by the owning thread only; read by pool::run).
struct thread_stacks {
  static constexpr int capacity = 256;
  static constexpr int batch = 128;
  void* items[capacity] = {};
  int n = 0;
  bool registered = false;
  std::atomic<std::int64_t> taken{0};
  std::atomic<std::int64_t> given{0};
};

/// Trivially destructible and constant-initialized: no TLS wrapper, and it
/// stays valid while other thread_locals (Boost's scheduler) are destroyed.
inline constinit thread_local thread_stacks tls_stacks;

struct depot {
  std::mutex mu;
  std::vector<void*> spare;
  std::vector<thread_stacks*> threads;
  char* next = nullptr;
  char* end = nullptr;
};

/// Leaked on purpose: stacks may come back while the process exits.
inline depot& the_depot() {
  static depot* d = new depot;
  return *d;
}

/// Moves up to `batch` spare stacks (or fresh slots) into `c`. Called with
/// c.n == 0.
inline void refill(thread_stacks& c) {
  depot& d = the_depot();
  std::lock_guard<std::mutex> lk(d.mu);
  if (!c.registered) {
    d.threads.push_back(&c);
    c.registered = true;
  }
  while (c.n < thread_stacks::batch && !d.spare.empty()) {
    c.items[c.n++] = d.spare.back();
    d.spare.pop_back();
  }
  while (c.n < thread_stacks::batch) {
    if (d.next == d.end) {
      void* a = ::mmap(nullptr, arena_bytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (a == MAP_FAILED) {
        if (c.n > 0) return;
        std::fprintf(stderr, "boost_fiber_bench: out of memory for fiber stacks\n");
        std::abort();
      }
#ifdef MADV_HUGEPAGE
      ::madvise(a, arena_bytes, MADV_HUGEPAGE);
#endif
      d.next = static_cast<char*>(a);
      d.end = d.next + arena_bytes;
    }
    // The canary sits in the lowest word: nothing legitimate writes there.
    std::memcpy(d.next, &stack_canary, sizeof stack_canary);
    c.items[c.n++] = d.next;
    d.next += stack_size;
  }
}

/// Moves `batch` stacks from a full cache to the global list.
inline void spill(thread_stacks& c) {
  depot& d = the_depot();
  std::lock_guard<std::mutex> lk(d.mu);
  for (int i = 0; i < thread_stacks::batch; ++i) d.spare.push_back(c.items[--c.n]);
}

#ifdef BF_BENCH_STACK_CHECK
// -DBF_BENCH_STACK_CHECK: paint every stack on take, and record the deepest
// byte written on give (reported as the counter "stack_depth" in bytes).
inline constexpr unsigned char stack_paint = 0xa5;
inline std::atomic<std::size_t> deepest_stack_use{0};
#endif

BF_BENCH_TLS_ENTRY inline void* take_stack(bool counted) {
  thread_stacks& c = tls_stacks;
  if (c.n == 0) refill(c);
  if (counted) c.taken.store(c.taken.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  void* bottom = c.items[--c.n];
#ifdef BF_BENCH_STACK_CHECK
  std::memset(static_cast<char*>(bottom) + sizeof stack_canary, stack_paint, stack_size - sizeof stack_canary);
#endif
  return bottom;
}

BF_BENCH_TLS_ENTRY inline void give_stack(void* bottom, bool counted) {
  std::uint64_t canary;
  std::memcpy(&canary, bottom, sizeof canary);
  if (canary != stack_canary) {
    std::fprintf(stderr, "boost_fiber_bench: fiber stack overflow (%zu-byte stacks)\n", stack_size);
    std::abort();
  }
#ifdef BF_BENCH_STACK_CHECK
  {
    const unsigned char* p = static_cast<const unsigned char*>(bottom) + sizeof stack_canary;
    const unsigned char* top = static_cast<const unsigned char*>(bottom) + stack_size;
    while (p < top && *p == stack_paint) ++p;
    std::size_t used = static_cast<std::size_t>(top - p);
    std::size_t old = deepest_stack_use.load(std::memory_order_relaxed);
    while (used > old && !deepest_stack_use.compare_exchange_weak(old, used)) {
    }
  }
#endif
  thread_stacks& c = tls_stacks;
  if (!c.registered) {
    depot& d = the_depot();
    std::lock_guard<std::mutex> lk(d.mu);
    d.threads.push_back(&c);
    c.registered = true;
  }
  if (c.n == thread_stacks::capacity) spill(c);
  c.items[c.n++] = bottom;
  if (counted) c.given.store(c.given.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

/// Counted stacks taken and not yet given back, over all threads. All takes
/// of a run happen before the run's work returns, and gives may only lag, so
/// 0 is never seen too early.
inline std::int64_t live_stacks() {
  depot& d = the_depot();
  std::lock_guard<std::mutex> lk(d.mu);
  std::int64_t live = 0;
  for (thread_stacks* t : d.threads) {
    live += t->taken.load(std::memory_order_acquire) - t->given.load(std::memory_order_acquire);
  }
  return live;
}

}  // namespace detail

/// Boost.Context StackAllocator over the depot. `counted` stacks are waited
/// for at the end of each run; uncounted ones may outlive a run (BM_Sleep's
/// parked fibers).
struct stack_allocator {
  bool counted = true;
  boost::context::stack_context allocate() {
    boost::context::stack_context sctx;
    sctx.size = stack_size;
    sctx.sp = static_cast<char*>(detail::take_stack(counted)) + stack_size;
    return sctx;
  }
  void deallocate(boost::context::stack_context& sctx) noexcept {
    detail::give_stack(static_cast<char*>(sctx.sp) - stack_size, counted);
  }
};

/// Go's `go f()`: a detached fiber, launch::post (the new fiber is queued,
/// the caller keeps running, as in Go).
template <class F>
void go(F&& f) {
  boost::fibers::fiber(std::allocator_arg, stack_allocator{}, std::forward<F>(f)).detach();
}

/// A fiber that pool::run does not wait for (it must park or exit by itself).
template <class F>
void go_uncounted(F&& f) {
  boost::fibers::fiber(std::allocator_arg, stack_allocator{false}, std::forward<F>(f)).detach();
}

// ---- wait group ------------------------------------------------------------------

/// Counts down to zero, then lets wait() return: the part of a WaitGroup the
/// benchmarks need (goro_bench::latch's twin; Boost.Fiber has no wait group).
/// An atomic counter; only the last done() takes the fiber mutex, to set the
/// flag and notify under it, so that the waiter (which always goes through the
/// mutex) may destroy the latch as soon as wait() returns.
class latch {
 public:
  explicit latch(std::int64_t n) : left_(n) {}
  void done() {
    if (left_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<boost::fibers::mutex> lk(mu_);
      zero_ = true;
      cv_.notify_all();
    }
  }
  void wait() {
    std::unique_lock<boost::fibers::mutex> lk(mu_);
    cv_.wait(lk, [this] { return zero_; });
  }

 private:
  std::atomic<std::int64_t> left_;
  boost::fibers::mutex mu_;
  boost::fibers::condition_variable cv_;
  bool zero_ = false;
};

// ---- gomaxprocs: a pool of threads running fibers ------------------------------------

/// P OS threads with a fiber scheduler installed once each. run(job) wakes
/// them, runs job as a fiber (started on thread 0; it may migrate), and
/// returns once job has returned and every counted fiber has exited; then the
/// threads sleep again (on an OS condition variable).
class pool {
 public:
  explicit pool(int procs) : procs_(procs) {
    for (int i = 0; i < procs_; ++i) threads_.emplace_back([this, i] { thread_main(i); });
  }
  pool(const pool&) = delete;
  pool& operator=(const pool&) = delete;
  ~pool() {
    {
      std::lock_guard<std::mutex> lk(m_);
      shutdown_ = true;
    }
    start_cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

  int procs() const { return procs_; }

  void run(const std::function<void()>& job) {
    std::unique_lock<std::mutex> lk(m_);
    job_ = &job;
    finished_ = 0;
    ++epoch_;
    start_cv_.notify_all();
    done_cv_.wait(lk, [this] { return finished_ == procs_; });
    job_ = nullptr;
  }

 private:
  // Runs each thread's lazy per-thread set-up on the thread's own stack, not
  // on an 8 KiB fiber stack: Boost's spinlock seeds a thread_local
  // minstd_rand from a std::random_device on first use (one copy in
  // libboost_fiber, one in the header code compiled here).
  static void warm_up() {
    boost::fibers::mutex m;
    m.lock();
    m.unlock();
    boost::fibers::condition_variable cv;
    cv.notify_all();
    boost::fibers::buffered_channel<int> b(2);
    b.push(1);
    int v = 0;
    b.pop(v);
    b.close();
    boost::fibers::unbuffered_channel<int> u;
    u.close();
  }

  void thread_main(int index) {
    if (procs_ == 1) {
      boost::fibers::use_scheduling_algorithm<boost::fibers::algo::round_robin>();
    } else {
      // suspend = true: an idle thread sleeps until work is pushed to it,
      // as goro's and Go's idle workers do. With the default (spinning
      // idle threads) ping-pong at P = 2 costs ~3 us per round trip here,
      // against ~0.3 us this way: the fairer figure for Boost.Fiber.
      boost::fibers::use_scheduling_algorithm<boost::fibers::algo::work_stealing>(
          static_cast<std::uint32_t>(procs_), true);
    }
    warm_up();
    std::uint64_t seen = 0;
    for (;;) {
      const std::function<void()>* job = nullptr;
      {
        std::unique_lock<std::mutex> lk(m_);
        start_cv_.wait(lk, [&] { return shutdown_ || epoch_ != seen; });
        if (shutdown_) break;
        seen = epoch_;
        job = job_;
      }
      if (index == 0) {
        // The main work runs as a fiber (a big stack of its own: it is no
        // "goroutine" of the benchmark), joined by this thread's main context.
        boost::fibers::fiber(std::allocator_arg, boost::fibers::fixedsize_stack(64 * 1024),
                             [job] { (*job)(); })
            .join();
        // Wait until every counted fiber has exited and been released (a
        // sender on an unbuffered channel may still be queued to return).
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
        while (detail::live_stacks() != 0) {
          boost::this_fiber::yield();
          if (std::chrono::steady_clock::now() > deadline) {
            std::fprintf(stderr, "boost_fiber_bench: fibers still alive 120 s after a run\n");
            std::abort();
          }
        }
        {
          std::lock_guard<boost::fibers::mutex> lk(fm_);
          done_epoch_ = seen;
        }
        fcv_.notify_all();
      } else {
        // Block this thread's main context (fiber-aware: the thread keeps
        // running, and stealing, fibers) until thread 0 says the run is over.
        std::unique_lock<boost::fibers::mutex> lk(fm_);
        fcv_.wait(lk, [&] { return done_epoch_ == seen; });
      }
      std::lock_guard<std::mutex> lk(m_);
      if (++finished_ == procs_) done_cv_.notify_all();
    }
  }

  const int procs_;
  std::vector<std::thread> threads_;
  // OS-level hand-off between Google Benchmark's thread and the pool.
  std::mutex m_;
  std::condition_variable start_cv_, done_cv_;
  const std::function<void()>* job_ = nullptr;
  std::uint64_t epoch_ = 0;
  int finished_ = 0;
  bool shutdown_ = false;
  // Fiber-level: thread 0 tells the helpers that the run is over.
  boost::fibers::mutex fm_;
  boost::fibers::condition_variable fcv_;
  std::uint64_t done_epoch_ = 0;
};

/// The pool for gomaxprocs = state.range(0), created on first use and joined
/// at exit; nullptr (with SkipWithError) if it cannot exist: work_stealing
/// allows one thread count > 1 per process.
inline pool* pool_for(benchmark::State& state) {
  struct registry {
    std::mutex mu;
    std::unique_ptr<pool> one, many;
  };
  static registry r;
  const int procs = static_cast<int>(state.range(0));
  std::lock_guard<std::mutex> lk(r.mu);
  if (procs < 1) {
    state.SkipWithError("gomaxprocs must be >= 1");
    return nullptr;
  }
  if (procs == 1) {
    if (!r.one) r.one = std::make_unique<pool>(1);
    return r.one.get();
  }
  if (!r.many) r.many = std::make_unique<pool>(procs);
  if (r.many->procs() != procs) {
    state.SkipWithError("Boost.Fiber 1.74's work_stealing can be set up for one thread count per process");
    return nullptr;
  }
  return r.many.get();
}

// ---- benchmark drivers (the twins of ../bench_support.hpp's) ----------------------

/// Runs `work` (which does `units` units of the fixed work) once per
/// benchmark iteration as the main fiber at gomaxprocs = state.range(0), and
/// reports the time per unit as the counter `name`.
template <class Work>
void run_fixed(benchmark::State& state, std::int64_t units, const char* name, Work work) {
  pool* p = pool_for(state);
  if (p == nullptr) return;
  std::function<void()> job = [&] { work(state); };
  for (auto _ : state) {
    p->run(job);
  }
  state.counters[name] = per_unit(units);
#ifdef BF_BENCH_STACK_CHECK
  state.counters["stack_depth"] = static_cast<double>(detail::deepest_stack_use.exchange(0));
#endif
}

/// For b.N-style benchmarks registered with UseManualTime(): runs fn(procs)
/// once per iteration as the main fiber; fn does `ops` ops and returns the
/// seconds its timed part took; reports ns/op.
template <class Fn>
void run_timed(benchmark::State& state, std::int64_t ops, Fn fn) {
  pool* p = pool_for(state);
  if (p == nullptr) return;
  const int procs = p->procs();
  double seconds = 0;
  std::function<void()> job = [&] { seconds = fn(procs); };
  for (auto _ : state) {
    p->run(job);
    state.SetIterationTime(seconds);
  }
  state.counters["ns/op"] = per_unit(ops);
#ifdef BF_BENCH_STACK_CHECK
  state.counters["stack_depth"] = static_cast<double>(detail::deepest_stack_use.exchange(0));
#endif
}

/// Runs `ops` ops split evenly over `fibers` new fibers, body(k) doing k of
/// them, and returns once they all have.
template <class Body>
void split(std::int64_t ops, int fibers, Body& body) {
  latch wg(fibers);
  for (int g = 0; g < fibers; ++g) {
    std::int64_t k = bench_common::share(ops, fibers, g);
    go([&body, &wg, k] {
      body(k);
      wg.done();
    });
  }
  wg.wait();
}

/// run_timed for an fn(ops) timed whole.
template <class Fn>
void run_timed_ops(benchmark::State& state, std::int64_t ops, Fn fn) {
  run_timed(state, ops, [&](int) { return seconds_of([&] { fn(ops); }); });
}

/// Go's b.RunParallel (with b.SetParallelism(parallelism)): each iteration,
/// parallelism x gomaxprocs fibers share `ops` ops statically; body(k) runs
/// k of them. Register with UseManualTime().
template <class Body>
void run_parallel(benchmark::State& state, std::int64_t ops, int parallelism, Body body) {
  run_timed(state, ops, [&](int procs) { return seconds_of([&] { split(ops, parallelism * procs, body); }); });
}

}  // namespace bf_bench
