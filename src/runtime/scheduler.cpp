// src/runtime/scheduler.cpp: goroutines on processors: spawning, switching,
// parking, readying, work stealing, idle workers, gomaxprocs, process exit.
//
// Invariants:
//  - A goroutine runs on at most one worker at a time. It leaves its stack
//    only through switch_to(); the worker that switched away from it settles
//    its state (finish_switch) in the context it switched to, so nobody can
//    resume a goroutine that is still running on its stack.
//  - Goroutine status transitions (see gstatus):
//      pending → running                       first run (materialize)
//      runnable → running                      resumed by a worker
//      running → parking → waiting → runnable  park, switch, ready
//      parking → woken → runnable              ready() raced the switch
//      running → yielding → runnable           yield
//      running → dead                          return
//    ready() does the only transitions a foreign thread makes, by CAS.
//  - Memory order: a goroutine resuming loads its status with acquire; the
//    ready()/finish_switch that made it runnable stored or CASed with
//    release. So whatever its waker wrote (a received value) is visible.
//  - Wake-up protocol (Go's "delicate dance"): whoever adds work stores it
//    on the run queue, then reads nidle/nspinning (seq_cst) in wakep(); a
//    worker going idle increments nidle and drops nspinning (seq_cst RMWs),
//    then re-reads every run queue, and again behind a process-wide barrier
//    before it blocks (idle_settle). One of the two always sees the other:
//    no runnable goroutine is left while every worker sleeps. The adder's
//    store is a plain release store where membarrier works (plain_puts),
//    a seq_cst one where it does not.
//  - At most maxprocs workers run goroutines; a worker whose processor id is
//    >= maxprocs hands its queue to the global queue and sleeps.
#include <cxxabi.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <mutex>
#include <new>
#include <thread>
#include <typeinfo>
#include <vector>

#include "goro/runtime.hpp"
#include "runtime/bubble.hpp"
#include "runtime/netpoll.hpp"
#include "runtime/park.hpp"
#include "runtime/processor.hpp"
#include "runtime/records.hpp"
#include "runtime/registry.hpp"
#include "runtime/sanitizers.hpp"
#include "runtime/trace.hpp"

namespace goro::detail {

const char* to_string(wait_reason r) noexcept {
  switch (r) {
    case wait_reason::none: return "";
    case wait_reason::chan_receive: return "chan receive";
    case wait_reason::chan_send: return "chan send";
    case wait_reason::chan_receive_nil: return "chan receive (nil chan)";
    case wait_reason::chan_send_nil: return "chan send (nil chan)";
    case wait_reason::select: return "select";
    case wait_reason::select_no_cases: return "select (no cases)";
    case wait_reason::sleep: return "sleep";
    case wait_reason::sync: return "sync";
    case wait_reason::mutex_lock: return "mutex lock";
    case wait_reason::rw_mutex_rlock: return "rw_mutex rlock";
    case wait_reason::rw_mutex_lock: return "rw_mutex lock";
    case wait_reason::cond_wait: return "cond wait";
    case wait_reason::wait_group_wait: return "wait_group wait";
    case wait_reason::once_wait: return "once wait";
    case wait_reason::semaphore_acquire: return "semaphore acquire";
    case wait_reason::io_wait: return "IO wait";
    case wait_reason::blocking: return "blocking call";
    case wait_reason::forever: return "forever";
    case wait_reason::bubble: return "bubble";
    case wait_reason::bubble_wait: return "bubble wait";
  }
  return "?";
}

namespace {

constinit scheduler g_sched;
thread_local processor* tls_processor = nullptr;

constexpr std::uint32_t fairness_interval = 61;

// Bits of processor::wake_word.
constexpr std::uint32_t wake_look = 1;  // look again: gomaxprocs changed, the process exits
constexpr std::uint32_t wake_spin = 2;  // from wakep(): you are counted in nspinning
constexpr std::uint32_t wake_sleeping = 4;  // set by the worker itself while in its idle futex wait
constexpr std::uint32_t wake_in_poll = 8;   // set by the worker itself while it blocks in the netpoller
// How long an idle worker polls its wake word before sleeping.
constexpr std::int64_t idle_poll_ns = 50'000;
// How long it sleeps at most, between looks, when its barrier failed
// (idle_settle).
constexpr std::int64_t unordered_idle_ns = 50'000;
constexpr int steal_rounds = 4;
// How long a thief watches a running victim's queue before stealing from it
// (runq_steal): about 2 us here.
constexpr int steal_watch_pauses = 100;
// A victim's queue is left to it if it would empty it within this many
// such moments, at the pace it was seen going.
constexpr std::uint32_t steal_drain_watches = 8;
// A running victim's runnext is stolen only once the victim has not
// scheduled (schedtick unchanged) for this long (runq_steal).
constexpr std::int64_t runnext_stall_ns = 2'000;
// How long a spinning worker goes on watching victims it left their work to.
constexpr std::int64_t steal_watch_ns = 50'000;
// Between two looks at such victims it waits, first steal_backoff_min_ns,
// twice as long after each look that leaves them their work again, up to
// steal_backoff_max_ns. Each look reads the victim's hottest lines (its
// run queue, current, schedtick), which its worker writes at every switch
// and must then fetch back: looking every microsecond slowed a ping-pong
// pair on the other core by 60%, and up to every 8 us still cost the P=2
// hand-off rows 6-16% against up to every 64 us (A/B, 3 rounds: spawn_seq
// 0.84, pingpong 0.90, thread_ring 0.94; 128 us gained nothing more). Go's
// spinning thread looks about as often: its usleep(3) before taking a
// running victim's runnext lasts some 50 us with the timer slack. New work
// in the global queue ends the wait at once; new work on a victim's local
// queue waits for the next look.
constexpr std::int64_t steal_backoff_min_ns = 1'000;
constexpr std::int64_t steal_backoff_max_ns = 64'000;
// How long a due timer is left to its own worker, if that worker is awake,
// before another worker runs it (run_all_due_timers). Below steal_watch_ns,
// so that a worker that declined a timer is still watching when it may take it.
constexpr std::int64_t timer_steal_grace_ns = 5'000;

// Gives q's worker the wake bit `bit`, and wakes it if it sleeps: on its
// futex (wake_sleeping) or in the netpoller (wake_in_poll). The worker sets
// either bit with a CAS from 0, so a bit given before that makes the CAS
// fail and the worker does not sleep; one given after is seen here.
void kick(processor* q, std::uint32_t bit) noexcept {
  std::uint32_t old = q->wake_word.fetch_or(bit, std::memory_order_acq_rel);
  if (old & wake_sleeping) {
    futex_wake(&q->wake_word, 1);
  } else if (old & wake_in_poll) {
    netpoll_break();
  }
}

[[noreturn]] void fatal(const char* msg) noexcept {
  std::fprintf(stderr, "goro: fatal error: %s\n", msg);
  std::fflush(stderr);
  std::abort();
}

std::uint64_t splitmix(std::uint64_t& s) noexcept {
  std::uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

template <class T>
std::uint32_t relaxed_inc(std::atomic<T>& a) noexcept {
  T v = a.load(std::memory_order_relaxed);
  a.store(v + 1, std::memory_order_relaxed);
  return static_cast<std::uint32_t>(v);
}
// Adds to a counter only its owner writes (no RMW needed).
template <class T>
void relaxed_add(std::atomic<T>& a, T n) noexcept {
  a.store(a.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

// ---- goroutine records and stacks (per-processor caches) ---------------------

template <class T, std::uint32_t N>
bool cache_pop(local_cache<T, N>& c, T& out) noexcept {
  std::uint32_t n = c.count.load(std::memory_order_relaxed);
  if (n == 0) return false;
  out = c.items[n - 1].load(std::memory_order_relaxed);
  c.count.store(n - 1, std::memory_order_relaxed);
  return true;
}
template <class T, std::uint32_t N>
bool cache_push(local_cache<T, N>& c, T v) noexcept {
  std::uint32_t n = c.count.load(std::memory_order_relaxed);
  if (n == N) return false;
  c.items[n].store(v, std::memory_order_relaxed);
  c.count.store(n + 1, std::memory_order_relaxed);
  return true;
}

stack_slot stack_get(processor* p) {
  char* base = nullptr;
  if (cache_pop(p->stacks, base)) {
    san::tsan_acquire(base);
    stack_slot s;
    s.base = base;
    return s;
  }
  return stack_allocate();
}

void stack_put(processor* p, stack_slot s) noexcept {
  san::asan_unpoison(s.lo(), static_cast<std::size_t>(s.hi() - s.lo()));
  if (!s.canary) {
    san::tsan_release(s.base);
    if (cache_push(p->stacks, s.base)) return;
    // Full: hand half of the cache to the global pool, keep the warmest.
    stack_slot batch[16];
    std::uint32_t k = 0;
    char* b = nullptr;
    while (k < 16 && cache_pop(p->stacks, b)) {
      // Pushed by other fibers of this worker (TSan orders none of them
      // with us): acquire what each pusher released, so that whoever
      // takes the stack from the global pool is ordered after its last
      // user, as stack_get's acquire orders the cache's takers.
      san::tsan_acquire(b);
      batch[k].base = b;
      ++k;
    }
    // The oldest entries are at the bottom; popping takes the newest. Keep
    // the newest: push them back and free what remains below.
    stack_free(batch, k);
    cache_push(p->stacks, s.base);
    return;
  }
  stack_free(&s, 1);
}

std::uint64_t next_goroutine_id(processor* p) noexcept {
  if (p == nullptr) return g_sched.next_id.fetch_add(1, std::memory_order_relaxed);
  std::uint64_t id = p->id_next.load(std::memory_order_relaxed);
  if (id == p->id_end.load(std::memory_order_relaxed)) {
    constexpr std::uint64_t batch = 16;
    id = g_sched.next_id.fetch_add(batch, std::memory_order_relaxed);
    p->id_end.store(id + batch, std::memory_order_relaxed);
  }
  p->id_next.store(id + 1, std::memory_order_relaxed);
  return id;
}

// ---- run queues ---------------------------------------------------------------

// The global run queue is a FIFO of batches, each an array of goroutine
// pointers. What runq_put_slow spills (half a local queue and the goroutine
// that did not fit) is one batch, filled by the spilling processor before it
// takes the lock; global_get takes the first batch whole and copies it into
// its local queue after releasing the lock. The lock is therefore held for a
// few pointer moves, and no goroutine record is read before the goroutine
// runs. Go's globrunqget instead walks up to 128 goroutines linked through
// their records under sched.lock, a cache miss each on a record another core
// wrote: long enough, in a broadcast of 100,000 wake-ups, for the lock's other
// takers to sleep. Single goroutines (a plain thread's go() or ready(), a
// stopping processor's queue) join the last batch while it has room.
//
// Invariants, under g_sched.lock: global_first..global_last are linked
// through next; a queued batch holds g[first..n), first < n; global_size is
// the sum of their n - first. free_batches holds nfree_batches empty
// batches, at most free_batches_max. A batch on neither list belongs to one
// thread: a processor's spare_batch (owner only), the one a global_get is
// emptying, or the one a global_put allocated without the lock.
constexpr std::uint32_t batch_capacity = run_batch::capacity;
constexpr std::uint32_t free_batches_max = 64;

run_batch* batch_new() noexcept {
  auto* b = new (std::nothrow) run_batch;
  if (b == nullptr) fatal("out of memory for the global run queue");
  return b;
}

// Under the lock: queues b, filled.
void global_link(run_batch* b) noexcept {
  b->next = nullptr;
  if (g_sched.global_last != nullptr) {
    g_sched.global_last->next = b;
  } else {
    g_sched.global_first = b;
  }
  g_sched.global_last = b;
  g_sched.global_size.fetch_add(b->n - b->first, std::memory_order_seq_cst);
}

// Under the lock: a free batch, or null.
run_batch* free_pop() noexcept {
  run_batch* b = g_sched.free_batches;
  if (b != nullptr) {
    g_sched.free_batches = b->next;
    --g_sched.nfree_batches;
  }
  return b;
}

// Under the lock: keeps b for reuse; returns it instead when enough are kept
// (the caller deletes it after unlocking).
run_batch* free_push(run_batch* b) noexcept {
  if (g_sched.nfree_batches == free_batches_max) return b;
  b->next = g_sched.free_batches;
  g_sched.free_batches = b;
  ++g_sched.nfree_batches;
  return nullptr;
}

void global_put(goroutine* g) noexcept {
  san::tsan_ignore_accesses ignore;  // batches: the runtime's business (see switch_to)
  run_batch* fresh = nullptr;        // allocated without the lock when no free batch was left
  for (;;) {
    {
      runtime_lock_guard lock(g_sched.lock);
      run_batch* last = g_sched.global_last;
      if (last != nullptr && last->n < batch_capacity) {
        last->g[last->n++] = g;
        g_sched.global_size.fetch_add(1, std::memory_order_seq_cst);
        break;
      }
      run_batch* b = fresh != nullptr ? std::exchange(fresh, nullptr) : free_pop();
      if (b != nullptr) {
        b->first = 0;
        b->n = 1;
        b->g[0] = g;
        global_link(b);
        break;
      }
    }
    fresh = batch_new();
  }
  delete fresh;  // not needed after all: another put made room meanwhile
}

// Moves half of a full local queue, plus g, to the global queue as one batch.
// Owner only.
bool runq_put_slow(processor* p, goroutine* g, std::uint32_t h, std::uint32_t t) noexcept {
  san::tsan_ignore_accesses ignore;  // batches: the runtime's business (see switch_to)
  constexpr std::uint32_t n = local_runq::capacity / 2;
  run_batch* b = p->spare_batch.load(std::memory_order_relaxed);
  if (b == nullptr) {
    b = batch_new();
    p->spare_batch.store(b, std::memory_order_relaxed);
  }
  for (std::uint32_t i = 0; i < n; ++i) {
    b->g[i] = p->runq.slots[(h + i) % local_runq::capacity].load(std::memory_order_relaxed);
  }
  if (!p->runq.head.compare_exchange_strong(h, h + n, std::memory_order_acq_rel)) return false;
  (void)t;
  b->g[n] = g;
  b->first = 0;
  b->n = n + 1;
  runtime_lock_guard lock(g_sched.lock);
  global_link(b);
  // The next spill's batch, filled without the lock as this one was.
  p->spare_batch.store(free_pop(), std::memory_order_relaxed);
  return true;
}

// Starts fetching g's record, which the worker is about to read (to run g)
// and another core most likely wrote (a spawner, a waker): a queue of
// goroutines then costs no cache miss each. A stale pointer costs nothing
// but a useless prefetch.
inline void prefetch_record(const goroutine* g) noexcept {
  auto* rec = reinterpret_cast<const char*>(g);
  for (std::size_t off = 0; off < sizeof(goroutine); off += 64) __builtin_prefetch(rec + off);
  __builtin_prefetch(rec + sizeof(goroutine) - 1);
}

// Plain puts (sched.plain_puts). Two others read runnext and tail. A
// thief: it only ever takes a runnext that is set (a CAS from non-null) and
// never stores tail, so a plain store into an empty runnext or of tail loses
// it nothing. And a worker going idle: it counts itself in nidle, then looks
// at every queue (any_work), while the putter stores, then reads nidle
// (wakep). That is a Dekker pair, a full barrier needed on each side. A
// seq_cst store would be the putter's (an exchange on x86: about 9% of a
// hand-off at P=1, and more at P=2, where the other core reads the line).
// Instead the idle side pays for both sides, and only as it is about to
// block: idle_settle() runs process_barrier() (membarrier: every running
// thread of the process passes a full barrier) and then looks at the queues
// again. A put whose store that barrier did not order before the look read
// nidle after the barrier, so it saw the sleeper counted and woke a worker.
// Until it settles an idle worker only polls; a put it missed waits at most
// for that poll, and only if the putter does not run the goroutine first.
// Where membarrier does not work, puts store seq_cst and nobody settles.
template <class T>
inline void publish(std::atomic<T>& a, T v) noexcept {
  if (g_sched.plain_puts.load(std::memory_order_relaxed)) [[likely]] {
    a.store(v, std::memory_order_release);
  } else {
    a.store(v, std::memory_order_seq_cst);
  }
  // The barrier argument needs the store before wakep()'s load of nidle in
  // program order: the compiler may otherwise swap a release store and a
  // later load.
  std::atomic_signal_fence(std::memory_order_seq_cst);
}

// Puts g on p's local queue; in runnext when `next`. Owner only (code running on p).
void runq_put(processor* p, goroutine* g, bool next) noexcept {
  if (next) {
    // Only the owner makes runnext non-null: an empty one stays empty
    // until this store.
    if (p->runq.runnext.load(std::memory_order_relaxed) == nullptr) {
      publish(p->runq.runnext, g);
      return;
    }
    goroutine* old = p->runq.runnext.exchange(g, std::memory_order_seq_cst);
    if (old == nullptr) return;
    g = old;  // the displaced one goes to the tail
  }
  for (;;) {
    std::uint32_t h = p->runq.head.load(std::memory_order_acquire);
    // Acquire, although only this worker stores tail: the last store may be
    // another fiber's (goroutine's) on this worker, which TSan does not order
    // with this one (no_sync switches). The queued goroutines (pending
    // records, written by that fiber) reach whoever takes them from the slots
    // or, through runq_put_slow, from the global queue; the store of tail
    // below releases them only if this load acquired them. A plain move on
    // x86 either way.
    std::uint32_t t = p->runq.tail.load(std::memory_order_acquire);
    if (t - h < local_runq::capacity) {
      p->runq.slots[t % local_runq::capacity].store(g, std::memory_order_relaxed);
      publish(p->runq.tail, t + 1);
      return;
    }
    if (runq_put_slow(p, g, h, t)) return;
  }
}

// Puts gs[0..n) on p's local queue, in order, with one store of tail when
// they fit. Owner only.
void runq_put_array(processor* p, goroutine* const* gs, std::uint32_t n) noexcept {
  std::uint32_t h = p->runq.head.load(std::memory_order_acquire);
  std::uint32_t t = p->runq.tail.load(std::memory_order_acquire);  // acquire: see runq_put
  if (n <= local_runq::capacity - (t - h)) {
    for (std::uint32_t i = 0; i < n; ++i) {
      p->runq.slots[(t + i) % local_runq::capacity].store(gs[i], std::memory_order_relaxed);
    }
    publish(p->runq.tail, t + n);
    return;
  }
  for (std::uint32_t i = 0; i < n; ++i) runq_put(p, gs[i], false);  // the overflow spills
}

// Takes the next goroutine from p's local queue. Owner only.
goroutine* runq_get(processor* p) noexcept {
  goroutine* next = p->runq.runnext.load(std::memory_order_relaxed);
  if (next != nullptr &&
      p->runq.runnext.compare_exchange_strong(next, nullptr, std::memory_order_acq_rel)) {
    return next;
  }
  for (;;) {
    std::uint32_t h = p->runq.head.load(std::memory_order_acquire);
    // Acquire: the pusher may be another fiber (goroutine) on this worker.
    std::uint32_t t = p->runq.tail.load(std::memory_order_acquire);
    if (t == h) return nullptr;
    goroutine* g = p->runq.slots[h % local_runq::capacity].load(std::memory_order_relaxed);
    if (p->runq.head.compare_exchange_weak(h, h + 1, std::memory_order_acq_rel)) {
      // The goroutine after it will most likely run next, here: start
      // fetching its record while g runs.
      if (t - h > 1) prefetch_record(p->runq.slots[(h + 1) % local_runq::capacity].load(std::memory_order_relaxed));
      return g;
    }
  }
}

// Steals half of victim's queue into p's; returns one to run. With
// take_runnext, an otherwise empty victim may give up its runnext, after a
// short grace period in which its own worker would normally run it. Sets
// `declined` when it leaves work to a victim that was seen getting through
// it by itself (find_runnable then goes on watching).
goroutine* runq_steal(processor* p, processor* victim, bool take_runnext, bool& declined) noexcept {
  std::uint32_t t = p->runq.tail.load(std::memory_order_relaxed);
  bool watched = false;
  for (;;) {
    std::uint32_t vh = victim->runq.head.load(std::memory_order_acquire);
    std::uint32_t vt = victim->runq.tail.load(std::memory_order_acquire);
    std::uint32_t n = vt - vh;
    n -= n / 2;
    if (n == 0) {
      if (!take_runnext) return nullptr;
      goroutine* next = victim->runq.runnext.load(std::memory_order_acquire);
      if (next == nullptr) return nullptr;
      if (victim->current.load(std::memory_order_relaxed) != nullptr) {
        // The victim is running a goroutine and will most likely run its
        // runnext next (hand-offs go through runnext all the time). Go
        // sleeps 3 us here (50 or more with the timer slack) and steals;
        // goro steals only once the victim has not scheduled for
        // runnext_stall_ns, seen over this worker's looks (find_runnable's
        // backoff spaces them), i.e. its goroutine is really busy. A
        // shorter watch (100 PAUSEs, about 2 us) stole a ring of hand-offs
        // whenever the host interrupted its core, about 150 times a second
        // in thread_ring, each time moving the ring's goroutines to the
        // other core's cache.
        std::uint32_t tick = victim->schedtick.load(std::memory_order_relaxed);
        std::int64_t now = nanotime();
        processor::runnext_watch& w = p->watches[victim->id];
        if (w.since == 0 || w.tick != tick || w.next != next) {
          w.tick = tick;
          w.next = next;
          w.since = now;
        }
        if (now - w.since < runnext_stall_ns) {
          declined = true;
          return nullptr;
        }
      }
      if (victim->runq.runnext.compare_exchange_strong(next, nullptr, std::memory_order_acq_rel)) {
        p->watches[victim->id].since = 0;  // the same goroutine readied again is a new wait
        return next;
      }
      continue;
    }
    if (n > local_runq::capacity / 2) continue;  // read a torn head/tail; retry
    if (!watched && victim->current.load(std::memory_order_relaxed) != nullptr) {
      // The victim is running a goroutine. Watch it for a moment: if it is
      // working through its queue faster than what is left (a broadcast's
      // waiters, a hand-off chain), leave the queue to it. Stealing would
      // only spread one group of goroutines over two cores, where they
      // contend for the same locks; Go gets the same effect from the
      // latency of its thief. A queue left standing (a spawner, a long
      // goroutine) is stolen from after the moment.
      watched = true;
      for (int i = 0; i < steal_watch_pauses; ++i) cpu_relax();
      std::uint32_t h = victim->runq.head.load(std::memory_order_acquire);
      std::uint32_t left = victim->runq.tail.load(std::memory_order_acquire) - h;
      std::uint32_t done = h - vh;
      if (done != 0 && left <= steal_drain_watches * done) {
        declined = true;
        return nullptr;
      }
      continue;
    }
    for (std::uint32_t i = 0; i < n; ++i) {
      goroutine* g = victim->runq.slots[(vh + i) % local_runq::capacity].load(std::memory_order_relaxed);
      p->runq.slots[(t + i) % local_runq::capacity].store(g, std::memory_order_relaxed);
    }
    if (victim->runq.head.compare_exchange_strong(vh, vh + n, std::memory_order_acq_rel)) {
      n -= 1;
      goroutine* g = p->runq.slots[(t + n) % local_runq::capacity].load(std::memory_order_relaxed);
      prefetch_record(g);
      if (n != 0) publish(p->runq.tail, t + n);
      return g;
    }
  }
}

// Takes the first batch of the global queue: one goroutine to run, the rest
// into p's queue (which is empty unless just_one). With just_one (the
// fairness check of a worker that has local work) it takes the batch's first
// goroutine only. Go instead takes size/procs+1 so that every processor gets
// a share; here a worker that took a batch is stolen from like any other.
goroutine* global_get(processor* p, bool just_one) noexcept {
  if (g_sched.global_size.load(std::memory_order_relaxed) == 0) return nullptr;
  san::tsan_ignore_accesses ignore;  // batches: the runtime's business (see switch_to)
  run_batch* b;
  run_batch* extra = nullptr;  // a spare the free list had no room for
  {
    runtime_lock_guard lock(g_sched.lock);
    b = g_sched.global_first;
    if (b == nullptr) return nullptr;
    if (just_one && b->n - b->first > 1) {
      g_sched.global_size.fetch_sub(1, std::memory_order_relaxed);
      return b->g[b->first++];
    }
    g_sched.global_first = b->next;
    if (g_sched.global_first == nullptr) g_sched.global_last = nullptr;
    g_sched.global_size.fetch_sub(b->n - b->first, std::memory_order_relaxed);
    // b becomes p's spare once emptied: give the old one back.
    if (run_batch* old = p->spare_batch.load(std::memory_order_relaxed)) {
      p->spare_batch.store(nullptr, std::memory_order_relaxed);
      extra = free_push(old);
    }
  }
  // The batch is p's now: queue it without the lock.
  goroutine* g = b->g[b->first];
  prefetch_record(g);
  if (b->n - b->first > 1) {
    prefetch_record(b->g[b->first + 1]);  // runs next
    runq_put_array(p, b->g + b->first + 1, b->n - b->first - 1);
    // Between the unlock and the store of tail these goroutines were on no
    // queue another worker could see: one that looked then (global_size
    // already 0, this ring still empty) may have gone idle. Wake one, as
    // whoever adds work does.
    wakep();
  }
  if (p->spare_batch.load(std::memory_order_relaxed) == nullptr) {
    p->spare_batch.store(b, std::memory_order_relaxed);
  } else {
    delete b;  // runq_put_array spilled and made a spare (defensive: the ring was empty)
  }
  delete extra;
  return g;
}

processor* proc(int i) noexcept { return g_sched.procs[i].load(std::memory_order_acquire); }

// ---- switching -------------------------------------------------------------------

// The leading fields of the ABI's __cxa_eh_globals. Several fibers touch
// them on one thread, so goro reads and writes them (and errno) with relaxed
// atomic operations: plain moves, but not reported by ThreadSanitizer as
// races between goroutines that merely share a worker.
struct eh_globals_layout {
  void* caught;
  unsigned int uncaught;
};

void save_thread_state(processor* p, goroutine* g) noexcept {
  auto* eh = reinterpret_cast<eh_globals_layout*>(p->eh_globals);
  g->eh.caught = __atomic_load_n(&eh->caught, __ATOMIC_RELAXED);
  g->eh.uncaught = __atomic_load_n(&eh->uncaught, __ATOMIC_RELAXED);
}

void restore_thread_state(processor* p, const eh_state& st) noexcept {
  auto* eh = reinterpret_cast<eh_globals_layout*>(p->eh_globals);
  __atomic_store_n(&eh->caught, st.caught, __ATOMIC_RELAXED);
  __atomic_store_n(&eh->uncaught, st.uncaught, __ATOMIC_RELAXED);
}

// errno: the goroutines' own reads of it are plain (user code, after every
// system call), so the runtime's save and restore are hidden from TSan: an
// atomic here against a plain read in another goroutine on the same worker
// would be reported as a race, and the switch itself orders them.
void restore_errno(processor* p, int e) noexcept {
  san::tsan_ignore_accesses ignore;
  __atomic_store_n(p->errno_location, e, __ATOMIC_RELAXED);
}
int read_errno(processor* p) noexcept {
  san::tsan_ignore_accesses ignore;
  return __atomic_load_n(p->errno_location, __ATOMIC_RELAXED);
}

[[noreturn]] void goroutine_entry(void* arg) noexcept;

// Gives a pending goroutine its stack: moves the record to the top of a
// stack from p's pool, and the closure with it when small. Returns the
// goroutine's new address.
goroutine* materialize(processor* p, goroutine* rec) {
  stack_slot s = stack_get(p);
  auto top = reinterpret_cast<std::uintptr_t>(s.hi());
  auto at = (top - sizeof(goroutine)) & ~std::uintptr_t{63};
  auto* g = ::new (reinterpret_cast<void*>(at)) goroutine;
  g->id = rec->id;
  g->parent = rec->parent;
  g->run = rec->run;
  g->main = rec->main;
  g->bubble.store(rec->bubble.load(std::memory_order_relaxed), std::memory_order_relaxed);
  g->ops = rec->ops;
  g->spawn_site = rec->spawn_site;
  g->tsan_fiber = rec->tsan_fiber;
  g->stack = s;
  if (rec->closure_inline()) {
    g->ops->relocate(g->inline_closure, rec->closure);
    g->closure = g->inline_closure;
  } else {
    g->closure = rec->closure;
  }
  g->status.store(gstatus::runnable, std::memory_order_relaxed);
  context_make(&g->context, s.lo(), g, &goroutine_entry, g);
  record_free(&p->records, rec);
  registry_start(p, g);
  san::tsan_release(g);
  return g;
}

// Goroutine times (sched.goroutine_times): the time since its last stamp
// goes to wait_ns when it is switched in, to run_ns when it is switched out.
void stamp_in(goroutine* g) noexcept {
  std::int64_t now = nanotime();
  std::int64_t last = g->stamp.exchange(now, std::memory_order_relaxed);
  if (last != 0) g->wait_ns.fetch_add(now - last, std::memory_order_relaxed);
}
void stamp_out(goroutine* g) noexcept {
  std::int64_t now = nanotime();
  std::int64_t last = g->stamp.exchange(now, std::memory_order_relaxed);
  if (last != 0) g->run_ns.fetch_add(now - last, std::memory_order_relaxed);
}

// Prepares `next` (a goroutine taken from a queue) to run on p.
goroutine* prepare_to_run(processor* p, goroutine* next) {
  // The read is the runtime's, not the goroutine's business (see switch_to).
  san::tsan_ignore_reads_begin();
  bool pending = next->status.load(std::memory_order_relaxed) == gstatus::pending;
  san::tsan_ignore_reads_end();
  if (pending) next = materialize(p, next);
  relaxed_inc(p->nswitch);
  if (g_sched.goroutine_times.load(std::memory_order_relaxed)) [[unlikely]] stamp_in(next);
  trace_event(p, trace_kind::start, next);
  p->current.store(next, std::memory_order_relaxed);
  return next;
}

#if defined(GORO_ASAN)
// The stack bounds ASan is told about for a context.
void* stack_bottom(processor* p, goroutine* g) noexcept { return g ? g->stack.lo() : p->g0_stack_lo; }
std::size_t stack_size(processor* p, goroutine* g) noexcept {
  return g ? static_cast<std::size_t>(reinterpret_cast<char*>(g) - g->stack.lo()) : p->g0_stack_size;
}
#endif

void finish_switch(processor* p) noexcept;

// Switches from `from` (a goroutine, or null: p's own context) to `to` (a
// goroutine already prepared with prepare_to_run, or null: p's own context).
// Returns when `from` is resumed, possibly on another processor; the caller
// must re-read current_processor().
void switch_to(processor* p, goroutine* from, goroutine* to) noexcept {
  machine_context* from_ctx = &p->g0;
  void** fake_stack = &p->g0_fake_stack;
  if (from != nullptr) {
    from_ctx = &from->context;
    save_thread_state(p, from);
    if (from->stack.canary && !from->stack.canary_intact()) {
      stack_overflow_abort(from->id, from->spawn_site.file, from->spawn_site.line);
    }
    fake_stack = from->status.load(std::memory_order_relaxed) == gstatus::dead ? nullptr
                                                                                : &from->asan_fake_stack;
  }
  if (to == nullptr) p->current.store(nullptr, std::memory_order_relaxed);
  // A dying goroutine's last switch synchronizes with its successor (a
  // join: what it did before happens-before its stack's reuse); every other
  // switch carries no synchronization of its own.
  bool dying = from != nullptr && fake_stack == nullptr;
  // The switching fiber reads the target's saved state with no
  // happens-before edge to the target's later life (switches do not
  // synchronize, on purpose). Those reads are the runtime's business, not a
  // race: TSan is told to ignore them. TSan charges accesses after the fiber
  // switch to the target fiber, so everything is read before it.
  san::tsan_ignore_reads_begin();
  machine_context* to_ctx = to ? &to->context : &p->g0;
#if defined(GORO_ASAN)
  san::asan_start_switch(fake_stack, stack_bottom(p, to), stack_size(p, to));
#else
  (void)fake_stack;
#endif
  void* to_fiber = to ? to->tsan_fiber : p->g0_tsan_fiber;
#if !defined(GORO_SWITCH_UCONTEXT)
  void* to_sp = to_ctx->sp;
#endif
  san::tsan_ignore_reads_end();
  san::tsan_switch_to(to_fiber, !dying);
#if !defined(GORO_SWITCH_UCONTEXT)
  goro_context_switch(&from_ctx->sp, to_sp);
#else
  context_switch(from_ctx, to_ctx);
#endif
}

// First thing a goroutine does when it is resumed (or started): tell ASan,
// take its exception state back, settle the goroutine switched away from.
void resume_prologue(goroutine* g) noexcept {
  san::asan_finish_switch(g->asan_fake_stack);
  processor* p = current_processor();
  san::tsan_acquire(p);  // the worker's start-up writes (see worker_main)
  restore_thread_state(p, g->eh);
  finish_switch(p);  // may make system calls: errno is restored after it
  restore_errno(p, g->eh.saved_errno);
  (void)g->status.load(std::memory_order_acquire);  // pairs with ready()/finish_switch
  g->status.store(gstatus::running, std::memory_order_relaxed);
}

bool should_stop(processor* p) noexcept {
  return g_sched.exiting.load(std::memory_order_relaxed) ||
         p->id >= g_sched.maxprocs.load(std::memory_order_relaxed);
}

// The next goroutine p can run without stealing or sleeping, or null.
goroutine* next_local(processor* p) noexcept {
  if (should_stop(p)) return nullptr;
  std::uint32_t tick = relaxed_inc(p->schedtick);
  if (tick % fairness_interval == 0) {
    std::int64_t now = nanotime();
    pool_sweep_if_due(p, now);
    // A busy worker may never go idle to poll: let sockets in now and then.
    netpoll_poll_if_stale(now);
    if (goroutine* g = global_get(p, true)) return g;
  }
  std::int64_t due = p->timers.earliest.load(std::memory_order_relaxed);
  if (due != 0) {
    std::int64_t now = nanotime();
    if (due <= now) relaxed_add<std::uint64_t>(p->ntimer, timer_run_due(p->timers, now));
  }
  if (goroutine* g = runq_get(p)) return g;
  return global_get(p, false);
}

// Switches away from the running goroutine g, whose status says why
// (parking, yielding, dead), to the next local goroutine or to p's context.
void switch_away(processor* p, goroutine* g) noexcept {
  g->eh.saved_errno = read_errno(p);  // before next_local's system calls
  // Its first switch away (a returning goroutine has cleared fresh): from
  // now on it may run elsewhere, so it joins the registry.
  if (p->fresh.load(std::memory_order_relaxed) != nullptr) registry_join(p, g);
  if (g_sched.goroutine_times.load(std::memory_order_relaxed)) [[unlikely]] stamp_out(g);
  if (g_tracing.load(std::memory_order_relaxed)) [[unlikely]] {
    gstatus s = g->status.load(std::memory_order_relaxed);
    std::uint64_t why = s == gstatus::yielding ? trace_stop_yield
                        : s == gstatus::dead   ? trace_stop_exit
                                               : static_cast<std::uint64_t>(g->reason.load(std::memory_order_relaxed));
    trace_event(p, trace_kind::stop, g, why);
  }
  p->prev.store(g, std::memory_order_relaxed);
  goroutine* next = next_local(p);
  if (next != nullptr) next = prepare_to_run(p, next);
  switch_to(p, g, next);
  resume_prologue(g);
}

// Settles the goroutine p just switched away from. Runs in the context
// switched to, on p.
void finish_switch(processor* p) noexcept {
  goroutine* prev = p->prev.load(std::memory_order_relaxed);
  if (prev == nullptr) return;
  p->prev.store(nullptr, std::memory_order_relaxed);
  gstatus s = prev->status.load(std::memory_order_acquire);
  switch (s) {
    case gstatus::parking: {
      // Read before the commit: once waiting, prev may be readied, run and
      // return on another worker.
      bubble_state* b = nullptr;
      if (prev->bubble.load(std::memory_order_relaxed) != nullptr) [[unlikely]] {
        b = bubble_commit_begin(prev, prev->reason.load(std::memory_order_relaxed));
      }
      if (prev->status.compare_exchange_strong(s, gstatus::waiting, std::memory_order_acq_rel,
                                               std::memory_order_acquire)) {
        if (b != nullptr) [[unlikely]] bubble_commit_end(b, true);
        return;
      }
      if (b != nullptr) [[unlikely]] bubble_commit_end(b, false);
      if (s != gstatus::woken) fatal("finish_switch: a parking goroutine changed state unexpectedly");
      prev->status.store(gstatus::runnable, std::memory_order_release);
      runq_put(p, prev, true);
      wakep();
      return;
    }
    case gstatus::woken:
      prev->status.store(gstatus::runnable, std::memory_order_release);
      runq_put(p, prev, true);
      wakep();
      return;
    case gstatus::yielding:
      prev->status.store(gstatus::runnable, std::memory_order_release);
      runq_put(p, prev, false);
      wakep();
      return;
    case gstatus::dead: {
      san::tsan_destroy_fiber(prev->tsan_fiber);
      stack_slot s2 = prev->stack;
      prev->~goroutine();
      stack_put(p, s2);
      return;
    }
    default:
      fatal("finish_switch: unexpected goroutine state");
  }
}

[[noreturn]] void report_uncaught(goroutine* g) noexcept {
  const char* what = "(not a std::exception)";
  std::string type;
  try {
    throw;
  } catch (const std::exception& e) {
    what = e.what();
    if (const std::type_info* t = abi::__cxa_current_exception_type()) {
      int status = 0;
      char* name = abi::__cxa_demangle(t->name(), nullptr, nullptr, &status);
      type = name != nullptr ? name : t->name();
      std::free(name);
    }
  } catch (...) {
  }
  std::fprintf(stderr,
               "goro: panic: uncaught exception in goroutine %llu (started at %s:%u in %s): %s%s%s\n",
               static_cast<unsigned long long>(g->id), g->spawn_site.file, g->spawn_site.line,
               g->spawn_site.function, type.empty() ? "" : type.c_str(), type.empty() ? "" : ": ", what);
  std::fflush(stderr);
  std::abort();
}

[[noreturn]] void goroutine_exit(goroutine* g) noexcept {
  processor* p = current_processor();
  registry_exit(p, g);
  relaxed_inc(p->nexit);
  if (g->bubble.load(std::memory_order_relaxed) != nullptr) [[unlikely]] bubble_leave(g);
  g->status.store(gstatus::dead, std::memory_order_release);
  switch_away(p, g);
  fatal("a dead goroutine was resumed");
}

void goroutine_entry(void* arg) noexcept {
  auto* g = static_cast<goroutine*>(arg);
  san::asan_finish_switch(nullptr);
  san::tsan_acquire(g);
  {
    processor* p = current_processor();
    san::tsan_acquire(p);
    restore_thread_state(p, g->eh);
    finish_switch(p);
    restore_errno(p, 0);
    g->status.store(gstatus::running, std::memory_order_relaxed);
  }
  try {
    g->ops->invoke(g->closure);
  } catch (...) {
    report_uncaught(g);
  }
  g->ops->destroy(g->closure);
  if (!g->closure_inline()) ::operator delete(g->closure, std::align_val_t{g->ops->align});
  goroutine_exit(g);
}

// ---- idle workers ------------------------------------------------------------------

}  // namespace

bool any_work() noexcept {
  if (g_sched.global_size.load(std::memory_order_seq_cst) != 0) return true;
  int n = g_sched.nprocs.load(std::memory_order_acquire);
  for (int i = 0; i < n; ++i) {
    processor* q = proc(i);
    if (q->runq.tail.load(std::memory_order_seq_cst) != q->runq.head.load(std::memory_order_seq_cst) ||
        q->runq.runnext.load(std::memory_order_seq_cst) != nullptr) {
      return true;
    }
  }
  return false;
}

std::int64_t earliest_timer() noexcept {
  std::int64_t best = 0;
  int n = g_sched.nprocs.load(std::memory_order_acquire);
  for (int i = 0; i < n; ++i) {
    std::int64_t w = proc(i)->timers.earliest.load(std::memory_order_relaxed);
    if (w != 0 && (best == 0 || w < best)) best = w;
  }
  return best;
}

namespace {

// Runs the due timers of every processor on p; true if any fired. Sets
// *declined when it left some to their own worker (see below).
bool run_all_due_timers(processor* p, bool* declined = nullptr) noexcept {
  std::int64_t now = 0;
  bool fired = false;
  int n = g_sched.nprocs.load(std::memory_order_acquire);
  for (int i = 0; i < n; ++i) {
    processor* q = proc(i);
    std::int64_t w = q->timers.earliest.load(std::memory_order_relaxed);
    if (w == 0) continue;
    if (now == 0) now = nanotime();
    if (w > now) continue;
    // Another worker's timer, due for less than timer_steal_grace_ns, and
    // that worker awake: it runs its own due timers at its next switch,
    // most likely within the grace. Leave the timer to it (and say so:
    // the caller keeps watching), so that a chain of zero-delay timers
    // stays on its worker instead of crossing to ours at every link.
    if (q != p && now - w < timer_steal_grace_ns &&
        (q->wake_word.load(std::memory_order_relaxed) & (wake_sleeping | wake_in_poll)) == 0) {
      if (declined != nullptr) *declined = true;
      continue;
    }
    int fired_here = timer_run_due(q->timers, now);
    relaxed_add<std::uint64_t>(p->ntimer, fired_here);
    if (fired_here > 0) fired = true;
  }
  return fired;
}

// A spinning worker waits before looking at its victims again (see
// steal_backoff_min_ns), touching no other worker's lines; new work in the
// global queue ends the wait.
void steal_backoff(processor* p) noexcept {
  std::int64_t wait = p->steal_backoff_ns;
  if (wait < steal_backoff_min_ns) wait = steal_backoff_min_ns;
  p->steal_backoff_ns = wait * 2 < steal_backoff_max_ns ? wait * 2 : steal_backoff_max_ns;
  std::int64_t until = nanotime() + wait;
  do {
    for (int i = 0; i < 16; ++i) cpu_relax();
  } while (g_sched.global_size.load(std::memory_order_relaxed) == 0 && nanotime() < until);
}

void drop_spinning(processor* p) noexcept {
  if (!p->spinning) return;
  p->spinning = false;
  g_sched.nspinning.fetch_sub(1, std::memory_order_seq_cst);
}

// A spinning worker found work: if it was the last spinner, wake another so
// that more work finds a worker (Go's resetspinning).
void found_work(processor* p) noexcept {
  p->steal_backoff_ns = 0;
  if (!p->spinning) return;
  p->spinning = false;
  if (g_sched.nspinning.fetch_sub(1, std::memory_order_seq_cst) == 1) wakep();
}

// Removes p from the idle list if it is still on it; true if it was.
bool leave_idle(processor* p) noexcept {
  runtime_lock_guard lock(g_sched.lock);
  if (!p->idle) return false;
  processor** link = &g_sched.idle_head;
  while (*link != p) link = &(*link)->idle_next;
  *link = p->idle_next;
  p->idle = false;
  g_sched.nidle.fetch_sub(1, std::memory_order_seq_cst);
  return true;
}

[[noreturn]] void freeze() noexcept {
  // The process is exiting: never run another goroutine on this worker.
  std::atomic<std::uint32_t> never{0};
  for (;;) futex_wait(&never, 0);
}

void stop_for_gomaxprocs(processor* p) noexcept {
  drop_spinning(p);
  pool_drop_all(p);  // nobody would sweep a stopped processor's pooled values
  // Hand everything queued here to the others, timers included.
  while (goroutine* g = runq_get(p)) {
    global_put(g);
  }
  if (p->id != 0) timer_move_all(p->timers, proc(0)->timers);
  wakep();
  p->parked_for_gomaxprocs.store(true, std::memory_order_release);
  while (p->id >= g_sched.maxprocs.load(std::memory_order_acquire) &&
         !g_sched.exiting.load(std::memory_order_acquire)) {
    // Not on the idle list, so no wake_spin token can arrive here.
    if (p->wake_word.exchange(0, std::memory_order_acq_rel) == 0) futex_wait(&p->wake_word, 0, 100'000'000);
  }
  p->parked_for_gomaxprocs.store(false, std::memory_order_release);
}

// Before an idle worker blocks: the idle side of the plain-puts barrier (see
// publish). Unless every processor is idle, runs process_barrier() and
// looks at the queues again; true if there is work after all. With every
// processor idle (counted under the lock, maxprocs read seq_cst) no other
// worker can be putting: it must first leave the idle list, an RMW of
// nidle after ours, and its wakep() then sees us counted. (A worker still
// on the idle list may put onto its own queue, from a timer or the poller;
// it runs that goroutine itself.) Sets `unordered` if the barrier failed
// (membarrier refused after start, say by a seccomp filter installed
// later): the look then proves nothing, and the caller sleeps at most
// unordered_idle_ns before it looks again.
bool idle_settle(bool& unordered) noexcept {
  if (!g_sched.plain_puts.load(std::memory_order_relaxed)) return false;  // puts are seq_cst
  if (g_sched.maxprocs.load(std::memory_order_seq_cst) <= 1 || all_idle()) return false;
  if (!process_barrier()) unordered = true;
  return any_work();
}

// An idle worker (on the idle list, not spinning) waits for work: until a
// wakep() token, the earliest timer, or the next pool sweep; or, if it can
// claim the poller, until a socket it watches is ready. Returns to look again.
void idle_wait(processor* p, std::int64_t look_at) noexcept {
  stack_scavenge();
  std::int64_t now = nanotime();
  pool_sweep_if_due(p, now);
  // Wake up for the earliest timer, for the deadlock check's next look
  // (look_at), and for the next pool sweep, so that an idle program frees
  // pooled values. -1: no deadline.
  std::int64_t deadline = earliest_timer();
  if (deadline == 0) deadline = -1;
  // A timer already due here was left to its awake owner (run_all_due_timers):
  // look again when the grace is over, not at once.
  if (deadline >= 0 && deadline <= now) deadline = now + timer_steal_grace_ns;
  if (look_at >= 0 && (deadline < 0 || look_at < deadline)) deadline = look_at;
  if (pool_sweep_pending(p) && (deadline < 0 || pool_next_sweep(p) < deadline)) deadline = pool_next_sweep(p);
  bool io = netpoll_has_waiters();
  if (io && netpoll_poll(0, nullptr, 0) > 0) return;  // readied goroutines onto our queue
  bool settled = false;  // idle_settle() ran and found nothing
  auto settle = [&]() -> bool {  // true: there is work after all
    settled = true;
    bool unordered = false;
    if (idle_settle(unordered)) return true;
    if (unordered) {
      std::int64_t cap = nanotime() + unordered_idle_ns;
      if (deadline < 0 || deadline > cap) deadline = cap;
    }
    return false;
  };
  // Sockets are watched: wait in the poller, if no other worker does, saying
  // so (wake_in_poll) so that wakep() breaks the wait. At once, without the
  // poll below: what this worker waits for is most likely a socket, and
  // epoll_wait returns as soon as one is ready, where a poll of the wake
  // word would not see it. Not for a deadline the poller's clock cannot
  // keep (a kernel without epoll_pwait2 counts in milliseconds): the futex
  // wait below keeps it.
  if (io && (deadline < 0 || netpoll_precise() || deadline - now >= 1'000'000) && settle()) return;
  if (settled && netpoll_try_block()) {
    std::uint32_t expected = 0;
    if (p->wake_word.compare_exchange_strong(expected, wake_in_poll, std::memory_order_acq_rel,
                                             std::memory_order_acquire)) {
      std::int64_t left = -1;  // no deadline: no limit
      if (deadline >= 0) left = std::max<std::int64_t>(deadline - nanotime(), 0);
      if (left != 0) netpoll_poll(left, &p->wake_word, wake_in_poll);
      p->wake_word.fetch_and(~wake_in_poll, std::memory_order_acq_rel);  // if the poll returned at once
    }
    netpoll_unblock();
    return;
  }
  // Poll a moment first: a program that hands goroutines back and forth
  // calls wakep() again within microseconds, and a token that finds us
  // polling costs neither side a system call.
  std::int64_t poll_until = now + idle_poll_ns;
  if (deadline >= 0 && deadline < poll_until) poll_until = deadline;
  while (p->wake_word.load(std::memory_order_acquire) == 0 && nanotime() < poll_until) {
    for (int i = 0; i < 10; ++i) cpu_relax();
  }
  // Then sleep until the deadline, saying so (wake_sleeping), so that
  // wakep() knows it must make the futex call. The CAS fails once a
  // token has come; a spurious wake sleeps again for what is left.
  if (p->wake_word.load(std::memory_order_acquire) == 0 && !settled && settle()) return;
  for (;;) {
    std::int64_t left = -1;
    if (deadline >= 0) {
      left = deadline - nanotime();
      if (left <= 0) break;
    }
    std::uint32_t expected = 0;
    if (!p->wake_word.compare_exchange_strong(expected, wake_sleeping, std::memory_order_acq_rel,
                                              std::memory_order_acquire)) {
      break;
    }
    futex_wait(&p->wake_word, wake_sleeping, left);
    p->wake_word.fetch_and(~wake_sleeping, std::memory_order_acq_rel);
  }
}

// Finds a goroutine for p to run, stealing and then sleeping as needed.
// Runs in p's own context.
goroutine* find_runnable(processor* p) noexcept {
  for (;;) {
    if (g_sched.exiting.load(std::memory_order_acquire)) freeze();
    if (p->id >= g_sched.maxprocs.load(std::memory_order_acquire)) {
      stop_for_gomaxprocs(p);
      continue;
    }
    if (goroutine* g = next_local(p)) {
      found_work(p);
      return g;
    }
    // Sockets that became ready, unless a worker blocked in the poller gets them.
    if (netpoll_has_waiters() && !netpoll_worker_blocked() && netpoll_poll(0, nullptr, 0) > 0) {
      if (goroutine* g = runq_get(p)) {
        found_work(p);
        return g;
      }
    }
    // Steal, if spinning is worth it: at most half the busy processors spin.
    int procs = g_sched.maxprocs.load(std::memory_order_relaxed);
    if (!p->spinning &&
        2 * g_sched.nspinning.load(std::memory_order_relaxed) <
            procs - g_sched.nidle.load(std::memory_order_relaxed)) {
      p->spinning = true;
      g_sched.nspinning.fetch_add(1, std::memory_order_seq_cst);
    }
    if (p->spinning) {
      // While a victim keeps work it was seen draining itself (declined),
      // go on watching, still counted as spinning, for up to
      // steal_watch_ns: its wakep() calls then cost it two loads.
      bool declined = false;
      std::int64_t watch_until = 0;
      for (int round = 0;; ++round) {
        if (round >= steal_rounds) {
          if (!declined) break;
          std::int64_t now = nanotime();
          if (watch_until == 0) watch_until = now + steal_watch_ns;
          if (now >= watch_until) break;
          declined = false;
          steal_backoff(p);
          if (goroutine* g = next_local(p)) {
            found_work(p);
            return g;
          }
        }
        if (run_all_due_timers(p, &declined)) {
          if (goroutine* g = runq_get(p)) {
            found_work(p);
            return g;
          }
        }
        std::uint32_t start = fastrand();
        for (int k = 0; k < procs; ++k) {
          processor* victim = proc(static_cast<int>((start + k) % procs));
          if (victim == p || victim == nullptr) continue;
          if (goroutine* g = runq_steal(p, victim, round >= steal_rounds - 1, declined)) {
            relaxed_inc(p->nsteal);
            found_work(p);
            return g;
          }
        }
      }
    }
    // Nothing: go idle. Publish idleness, stop spinning, then look again.
    bool went_idle = false;
    {
      runtime_lock_guard lock(g_sched.lock);
      // With work in the global queue, retry instead (global_get locks again).
      if (g_sched.global_size.load(std::memory_order_relaxed) == 0) {
        p->idle = true;
        p->idle_next = g_sched.idle_head;
        g_sched.idle_head = p;
        g_sched.nidle.fetch_add(1, std::memory_order_seq_cst);
        went_idle = true;
      }
    }
    if (!went_idle) continue;
    bool was_spinning = p->spinning;
    drop_spinning(p);
    bool sleep = true;
    if (any_work() || should_stop(p) || run_all_due_timers(p)) {
      if (leave_idle(p)) {
        if (was_spinning) {
          p->spinning = true;
          g_sched.nspinning.fetch_add(1, std::memory_order_seq_cst);
        }
        continue;
      }
      sleep = false;  // wakep() took us off the idle list: its token is coming
    }
    if (sleep) {
      // The last worker to go idle checks for a deadlock (registry.cpp).
      std::int64_t look_at = -1;
      if (g_sched.nidle.load(std::memory_order_seq_cst) >= g_sched.maxprocs.load(std::memory_order_relaxed)) {
        look_at = deadlock_check(nanotime());
      }
      idle_wait(p, look_at);
    }
    if (!leave_idle(p)) {
      // wakep() took us off the idle list and counted us in nspinning; wait
      // for the token it sends, so that we adopt it exactly once.
      while ((p->wake_word.load(std::memory_order_acquire) & wake_spin) == 0) cpu_relax();
    }
    if (p->wake_word.exchange(0, std::memory_order_acq_rel) & wake_spin) p->spinning = true;
  }
}

[[noreturn]] void worker_main(processor* p) noexcept {
  tls_processor = p;
  p->eh_globals = reinterpret_cast<eh_state*>(abi::__cxa_get_globals());
  p->errno_location = &errno;
  p->g0_tsan_fiber = san::tsan_current_fiber();
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    void* addr = nullptr;
    std::size_t size = 0;
    pthread_attr_getstack(&attr, &addr, &size);
    pthread_attr_destroy(&attr);
    p->g0_stack_lo = addr;
    p->g0_stack_size = size;
  }
  stack_install_signal_stack();
  san::tsan_release(p);  // goroutines resumed here acquire p: they see the fields above
  for (;;) {
    goroutine* g = find_runnable(p);
    g = prepare_to_run(p, g);
    switch_to(p, nullptr, g);
    san::asan_finish_switch(p->g0_fake_stack);
    finish_switch(p);
  }
}

void* worker_thread(void* arg) { worker_main(static_cast<processor*>(arg)); }

std::mutex& start_mutex() noexcept {
  static std::mutex* m = new std::mutex;
  return *m;
}

// Creates processors (and their workers) up to n. start_mutex held.
void grow_procs(int n) {
  if (n > max_procs) n = max_procs;
  for (int i = g_sched.nprocs.load(std::memory_order_relaxed); i < n; ++i) {
    auto* p = new processor;
    p->id = i;
    std::uint64_t seed = static_cast<std::uint64_t>(nanotime()) + static_cast<std::uint64_t>(i) * 7919;
    p->rng.store(splitmix(seed), std::memory_order_relaxed);
    g_sched.procs[i].store(p, std::memory_order_release);
    g_sched.nprocs.store(i + 1, std::memory_order_release);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&p->thread, &attr, &worker_thread, p) != 0) fatal("cannot start a worker thread");
    pthread_attr_destroy(&attr);
  }
}

int default_procs() noexcept {
  for (const char* name : {"GORO_MAXPROCS", "GOMAXPROCS"}) {
    if (const char* env = std::getenv(name)) {
      int v = std::atoi(env);
      if (v > 0) return v < max_procs ? v : max_procs;
    }
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : (hw < max_procs ? static_cast<int>(hw) : max_procs);
}

void on_exit() noexcept {
  // Like a Go program returning from main: goroutines simply stop. Workers
  // stop at their next switch; wait a little for the ones running code, so
  // that static destructors do not run under their feet.
  g_sched.exiting.store(true, std::memory_order_seq_cst);
  int n = g_sched.nprocs.load(std::memory_order_acquire);
  processor* self = tls_processor;
  for (int i = 0; i < n; ++i) {
    processor* q = proc(i);
    kick(q, wake_look);
  }
  std::int64_t deadline = nanotime() + 200'000'000;
  for (int i = 0; i < n; ++i) {
    processor* q = proc(i);
    if (q == self) continue;
    while (q->current.load(std::memory_order_relaxed) != nullptr && nanotime() < deadline) {
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }
  trace_write();
  if (num_goroutine() > 0) stack_register_for_leak_check();
}

}  // namespace

scheduler& sched() noexcept { return g_sched; }

bool all_idle() noexcept {
  runtime_lock_guard lock(g_sched.lock);
  int procs = g_sched.maxprocs.load(std::memory_order_seq_cst);  // seq_cst: see idle_settle
  int n = 0;
  for (processor* q = g_sched.idle_head; q != nullptr; q = q->idle_next) {
    if (q->id < procs) ++n;
  }
  return n >= procs;
}

void deadlock_poke() noexcept {
  if (g_sched.exiting.load(std::memory_order_relaxed) || g_sched.nrun.load(std::memory_order_seq_cst) == 0) return;
  if (g_sched.nidle.load(std::memory_order_seq_cst) < g_sched.maxprocs.load(std::memory_order_relaxed)) return;
  processor* q = nullptr;
  {
    runtime_lock_guard lock(g_sched.lock);
    int procs = g_sched.maxprocs.load(std::memory_order_relaxed);
    for (q = g_sched.idle_head; q != nullptr && q->id >= procs;) q = q->idle_next;
  }
  // Still on the idle list: wake_look makes it look again and, finding
  // nothing, check. (Idle workers are never freed, so q stays valid.)
  if (q != nullptr) kick(q, wake_look);
}

#if defined(GORO_LOCK_RANKS)
namespace {
struct held_lock {
  const void* lock;
  lock_rank rank;
};
// Trivially destructible, so that it still works in thread-exit code that
// runs after other thread_locals are destroyed (thread_parker's destructor
// takes sched.lock). A select holds one lock per channel, so there is no
// fixed bound: beyond `capacity`, locks are counted but not checked.
struct held_locks {
  static constexpr std::size_t capacity = 128;
  held_lock locks[capacity];
  std::size_t size = 0;      // entries in locks
  std::size_t unchecked = 0;  // held beyond capacity
};
GORO_NOINLINE held_locks& this_thread_held_locks() noexcept {
  thread_local constinit held_locks h{};
  return h;
}
}  // namespace

void lock_order_acquire(const void* lock, lock_rank rank) noexcept {
  held_locks& h = this_thread_held_locks();
  for (std::size_t i = 0; i < h.size; ++i) {
    const held_lock& l = h.locks[i];
    if (l.rank > rank || (l.rank == rank && std::less<const void*>()(lock, l.lock)) || l.lock == lock) {
      std::fprintf(stderr, "goro: fatal error: lock order violation: taking %p (rank %d) while holding %p (rank %d)\n",
                   lock, static_cast<int>(rank), l.lock, static_cast<int>(l.rank));
      std::abort();
    }
  }
  if (h.size < held_locks::capacity) {
    h.locks[h.size++] = {lock, rank};
  } else {
    ++h.unchecked;
  }
}

void lock_order_release(const void* lock) noexcept {
  held_locks& h = this_thread_held_locks();
  for (std::size_t i = h.size; i-- > 0;) {
    if (h.locks[i].lock == lock) {
      h.locks[i] = h.locks[--h.size];
      return;
    }
  }
  if (h.unchecked > 0) {
    --h.unchecked;
    return;
  }
  fatal("unlock of a runtime lock this thread does not hold");
}
#endif

// A goroutine reads the thread-local of whichever worker it runs on; under
// TSan that read has no happens-before edge to the worker thread's start
// (it is how the goroutine finds the worker to synchronize with), so TSan
// is told to ignore it.
processor* current_processor() noexcept {
  san::tsan_ignore_reads_begin();
  processor* p = tls_processor;
  san::tsan_ignore_reads_end();
  asm volatile("" ::: "memory");
  return p;
}

goroutine* current_goroutine() noexcept {
  processor* p = current_processor();
  return p != nullptr ? p->current.load(std::memory_order_relaxed) : nullptr;
}

goroutine* signal_current_goroutine() noexcept {
  processor* p = tls_processor;
  return p != nullptr ? p->current.load(std::memory_order_relaxed) : nullptr;
}

std::uint32_t fastrand() noexcept {
  processor* p = current_processor();
  if (p != nullptr) {
    std::uint64_t s = p->rng.load(std::memory_order_relaxed);
    std::uint64_t r = splitmix(s);
    p->rng.store(s, std::memory_order_relaxed);
    return static_cast<std::uint32_t>(r >> 32);
  }
  thread_local std::uint64_t state = static_cast<std::uint64_t>(nanotime()) ^
                                     reinterpret_cast<std::uintptr_t>(&state);
  return static_cast<std::uint32_t>(splitmix(state) >> 32);
}

void runtime_start() noexcept {
  if (g_sched.nprocs.load(std::memory_order_acquire) != 0) [[likely]] return;
  std::lock_guard lock(start_mutex());
  if (g_sched.nprocs.load(std::memory_order_relaxed) != 0) return;
  stack_install_overflow_handler();
  registry_init();  // before any goroutine runs
  g_sched.plain_puts.store(process_barrier_ready(), std::memory_order_relaxed);  // before any put
  int n = default_procs();
  g_sched.maxprocs.store(n, std::memory_order_release);
  grow_procs(n);
  trace_start_from_env();
  std::atexit(&on_exit);
  diagnostics_start();
}

void wakep() noexcept {
  if (g_sched.nidle.load(std::memory_order_seq_cst) == 0) return;
  if (g_sched.nspinning.load(std::memory_order_seq_cst) != 0) return;
  int expected = 0;
  if (!g_sched.nspinning.compare_exchange_strong(expected, 1, std::memory_order_seq_cst)) return;
  processor* q = nullptr;
  {
    runtime_lock_guard lock(g_sched.lock);
    int procs = g_sched.maxprocs.load(std::memory_order_relaxed);
    processor** link = &g_sched.idle_head;
    while (*link != nullptr && (*link)->id >= procs) link = &(*link)->idle_next;
    q = *link;
    if (q != nullptr) {
      *link = q->idle_next;
      q->idle = false;
      g_sched.nidle.fetch_sub(1, std::memory_order_seq_cst);
    }
  }
  if (q == nullptr) {
    g_sched.nspinning.fetch_sub(1, std::memory_order_seq_cst);
    return;
  }
  // q adopts the nspinning we counted. A worker still polling sees the token
  // by itself; only a sleeping one needs the system call.
  kick(q, wake_spin);
}

void ready(goroutine* g) noexcept {
  gstatus s = g->status.load(std::memory_order_acquire);
  for (;;) {
    if (s == gstatus::waiting) {
      if (bubble_state* b = g->bubble.load(std::memory_order_relaxed)) [[unlikely]] {
        if (durably_blocked(g, g->reason.load(std::memory_order_relaxed))) bubble_woken(b);  // before it can run
      }
      // Off its stack: nobody but us (its one waker) may change its status
      // now, so a plain store does (and saves a locked instruction).
      g->status.store(gstatus::runnable, std::memory_order_release);
      break;
    }
    if (s == gstatus::parking) {
      if (g->status.compare_exchange_weak(s, gstatus::woken, std::memory_order_release,
                                          std::memory_order_relaxed)) {
        return;  // the worker switching away from it will requeue it
      }
    } else {
      fatal("ready() of a goroutine that is not waiting");
    }
  }
  processor* p = current_processor();
  trace_event(p, trace_kind::unblock, g);
  if (p != nullptr && p->id < g_sched.maxprocs.load(std::memory_order_relaxed)) {
    runq_put(p, g, true);
  } else {
    if (p == nullptr) this_thread_parker().note_active();  // a plain thread that wakes goroutines
    global_put(g);
  }
  wakep();
}

void park_prepare(goroutine* g, wait_reason reason) noexcept {
  g->reason.store(reason, std::memory_order_relaxed);
  g->wait_since.store(coarse_nanotime(), std::memory_order_relaxed);
  g->status.store(gstatus::parking, std::memory_order_release);
}

void park(goroutine* g) noexcept {
  if (g->status.load(std::memory_order_acquire) == gstatus::woken) {
    g->status.store(gstatus::running, std::memory_order_relaxed);
    g->reason.store(wait_reason::none, std::memory_order_relaxed);
    return;
  }
  processor* p = current_processor();
  relaxed_inc(p->npark);
  switch_away(p, g);
  g->reason.store(wait_reason::none, std::memory_order_relaxed);
}

// ---- runtime_core.hpp ---------------------------------------------------------------

goroutine* goroutine_new(const closure_ops* ops, const source_location& where, void** storage) {
  runtime_start();
  processor* p = current_processor();
  goroutine* g = record_alloc(p != nullptr ? &p->records : nullptr);
  g->ops = ops;
  g->spawn_site = where;
  if (ops->relocate != nullptr && ops->size <= goroutine::inline_closure_size && ops->align <= 16) {
    g->closure = g->inline_closure;
  } else {
    try {
      g->closure = ::operator new(ops->size, std::align_val_t{ops->align});
    } catch (...) {
      record_free(p != nullptr ? &p->records : nullptr, g);
      throw;
    }
  }
  *storage = g->closure;
  return g;
}

void goroutine_discard(goroutine* g) noexcept {
  if (!g->closure_inline()) ::operator delete(g->closure, std::align_val_t{g->ops->align});
  processor* p = current_processor();
  record_free(p != nullptr ? &p->records : nullptr, g);
}

void goroutine_start(goroutine* g) noexcept {
  processor* p = current_processor();
  g->id = next_goroutine_id(p);
  g->tsan_fiber = san::tsan_create_fiber();
  goroutine* parent = p != nullptr ? p->current.load(std::memory_order_relaxed) : nullptr;
  if (p != nullptr) {
    relaxed_inc(p->nspawn);
  } else {
    g_sched.nspawn_outside.fetch_add(1, std::memory_order_relaxed);
  }
  g->parent = parent != nullptr ? parent->id : 0;
  if (parent != nullptr) {
    if (bubble_state* b = parent->bubble.load(std::memory_order_relaxed)) [[unlikely]] bubble_join(b, g);
  }
  trace_event(p, trace_kind::create, g, g->parent);
  if (p == nullptr && g->run == nullptr) this_thread_parker().note_active();  // it may go on interacting
  g->status.store(gstatus::pending, std::memory_order_relaxed);
  if (p != nullptr && p->id < g_sched.maxprocs.load(std::memory_order_relaxed)) {
    runq_put(p, g, true);
  } else {
    global_put(g);
  }
  wakep();
}

void run_main(void (*fn)(void*), void* arg, const source_location& where) {
  runtime_start();
  struct main_closure {
    void (*fn)(void*);
    void* arg;
    thread_parker* done;
    void operator()() const {
      fn(arg);
      g_sched.nrun.fetch_sub(1, std::memory_order_seq_cst);
      done->wake();
    }
  };
  thread_parker& done = this_thread_parker();
  run_state rs;
  rs.done = &done;
  void* storage = nullptr;
  using C = closure<main_closure>;
  goroutine* g = goroutine_new(&C::ops, where, &storage);
  ::new (storage) C{main_closure{fn, arg, &done}, {}};
  g->run = &rs;
  g->main = true;
  g_sched.nrun.fetch_add(1, std::memory_order_seq_cst);
  done.prepare();
  goroutine_start(g);
  done.wait();
  // The deadlock check wrote rs before waking us (done's release/acquire).
  if (rs.deadlocked) throw goro::deadlock_error(rs.report);
}

void yield() noexcept {
  goroutine* g = current_goroutine();
  if (g == nullptr) {
    sched_yield();
    return;
  }
  processor* p = current_processor();
  if (p->runq.empty() && g_sched.global_size.load(std::memory_order_relaxed) == 0 &&
      p->timers.earliest.load(std::memory_order_relaxed) == 0 && !should_stop(p)) {
    return;  // nothing else to run here
  }
  g->status.store(gstatus::yielding, std::memory_order_release);
  switch_away(p, g);
}

int gomaxprocs(int n) {
  runtime_start();
  int old = g_sched.maxprocs.load(std::memory_order_acquire);
  if (n <= 0 || n == old) return old;
  if (n > max_procs) n = max_procs;
  {
    std::lock_guard lock(start_mutex());
    grow_procs(n);
    g_sched.maxprocs.store(n, std::memory_order_seq_cst);
  }
  int created = g_sched.nprocs.load(std::memory_order_acquire);
  for (int i = 0; i < created; ++i) {
    processor* q = proc(i);
    kick(q, wake_look);
  }
  if (n < old) {
    // Wait until the processors beyond n have stopped running goroutines.
    processor* self = current_processor();
    if (self != nullptr && self->id >= n) goro::detail::yield();  // get off a stopping processor
    for (int i = n; i < created; ++i) {
      processor* q = proc(i);
      while (!q->parked_for_gomaxprocs.load(std::memory_order_acquire) &&
             !g_sched.exiting.load(std::memory_order_relaxed) &&
             g_sched.maxprocs.load(std::memory_order_relaxed) <= i) {
        if (current_goroutine() != nullptr) {
          goro::detail::yield();
        } else {
          std::this_thread::sleep_for(std::chrono::microseconds(20));
        }
      }
    }
  }
  return old;
}

// Go() calls counted where they happened, less the returns counted where
// they happened: no counter that every core writes. Spawns are read first,
// then returns, so a goroutine started and gone while we read lowers the
// count rather than raising it: the result is never more than the
// goroutines alive when the spawns had been read (leak checks wait while it
// exceeds the registered ones, and must not wait for a goroutine that is
// gone).
std::int64_t num_goroutine() noexcept {
  int n = g_sched.nprocs.load(std::memory_order_acquire);
  auto count = static_cast<std::int64_t>(g_sched.nspawn_outside.load(std::memory_order_relaxed));
  // Acquire: the loads of the returns below stay after these.
  for (int i = 0; i < n; ++i) count += static_cast<std::int64_t>(proc(i)->nspawn.load(std::memory_order_acquire));
  for (int i = 0; i < n; ++i) count -= static_cast<std::int64_t>(proc(i)->nexit.load(std::memory_order_relaxed));
  return count > 0 ? count : 0;
}

std::uint64_t current_goroutine_id() noexcept {
  goroutine* g = current_goroutine();
  return g != nullptr ? g->id : 0;
}

}  // namespace goro::detail
