// goro/detail/sync_core.hpp: the type-erased pieces sync.hpp's classes are
// built from. Not API: names and layouts change without notice.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "goro/detail/config.hpp"
#include "goro/detail/runtime_core.hpp"

namespace goro::detail {

struct sema_waiter;

/// An intrusive FIFO of waiter records (W has a `W* next`), each on its
/// waiter's own stack; guarded by the lock of the queue that holds it.
template <class W>
struct waiter_list {
  W* head = nullptr;
  W* tail = nullptr;

  bool empty() const noexcept { return head == nullptr; }
  void push_back(W* w) noexcept {
    w->next = nullptr;
    if (tail != nullptr) {
      tail->next = w;
    } else {
      head = w;
    }
    tail = w;
  }
  void push_front(W* w) noexcept {
    w->next = head;
    head = w;
    if (tail == nullptr) tail = w;
  }
  W* pop_front() noexcept {
    W* w = head;
    if (w == nullptr) return nullptr;
    head = w->next;
    if (head == nullptr) tail = nullptr;
    w->next = nullptr;
    return w;
  }
  /// Unlinks the first waiter for which pred holds and returns it (or null).
  template <class Pred>
  W* remove_first(Pred pred) noexcept {
    for (W *prev = nullptr, *w = head; w != nullptr; prev = w, w = w->next) {
      if (!pred(w)) continue;
      (prev != nullptr ? prev->next : head) = w->next;
      if (tail == w) tail = prev;
      w->next = nullptr;
      return w;
    }
    return nullptr;
  }
  /// Empties the list; returns what it held, linked through next.
  W* take_all() noexcept {
    W* w = head;
    head = tail = nullptr;
    return w;
  }
};

/// Go's runtime semaphore (semacquire/semrelease), one per object instead of
/// Go's table hashed by address: a count of tokens and a queue of parked
/// waiters (goroutines or plain threads). src/sync/sema.cpp has the protocol
/// and why a release touches the object only until it unlocks.
struct sema {
  std::atomic<std::uint32_t> lock{0};  // word lock guarding the rest
  std::uint32_t count = 0;             // tokens nobody has taken
  waiter_list<sema_waiter> waiters;
};

/// Takes a token, parking until one is released. lifo queues the caller at
/// the front (a mutex waiter that was woken and lost the race goes back first).
GORO_API void sema_acquire(sema* s, bool lifo, wait_reason why = wait_reason::sync) noexcept;
/// Gives a token to the longest waiter (and wakes it), or keeps it if nobody
/// waits. handoff: then yield, so that the woken waiter runs at once (mutex
/// starvation mode).
GORO_API void sema_release(sema* s, bool handoff) noexcept;
/// n releases under one lock: once it returns, the object may be gone.
GORO_API void sema_release_n(sema* s, std::uint32_t n) noexcept;

/// Go's notifyList (sync.Cond): tickets handed out at wait, served in order.
struct notify_list {
  std::atomic<std::uint32_t> wait{0};    // next ticket to hand out
  std::atomic<std::uint32_t> notify{0};  // next ticket to wake; written under lock
  std::atomic<std::uint32_t> lock{0};
  waiter_list<sema_waiter> waiters;  // guarded by lock, in arrival order
};

GORO_API std::uint32_t notify_list_add(notify_list* l) noexcept;
GORO_API void notify_list_wait(notify_list* l, std::uint32_t ticket) noexcept;
GORO_API void notify_list_notify_one(notify_list* l) noexcept;
GORO_API void notify_list_notify_all(notify_list* l) noexcept;

/// Whether a goroutine spinning for a mutex should spin once more (Go's
/// sync_runtime_canSpin), and the spin itself.
GORO_API bool sync_can_spin(int iter) noexcept;
GORO_API void sync_spin() noexcept;
GORO_API std::int64_t sync_nanotime() noexcept;

/// Terminates the program with "fatal error: <msg>" (Go's fatal for misuse
/// that cannot be recovered: unlock of an unlocked mutex).
[[noreturn]] GORO_API void sync_fatal(const char* msg) noexcept;

// ---- pool<T> ---------------------------------------------------------------

// ThreadSanitizer: goroutine switches are invisible to it (the runtime
// switches fibers with no_sync, so that races between goroutines sharing a
// worker are still reported), so a pool slot, which goroutines of one
// processor use one after another, is handed over explicitly.
#if defined(__SANITIZE_THREAD__)
#define GORO_DETAIL_POOL_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GORO_DETAIL_POOL_TSAN 1
#endif
#endif
#if defined(GORO_DETAIL_POOL_TSAN)
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
#endif

/// Marks the use of a pool slot, from the point it is taken to the point it
/// is left, as ordered after the previous use (a no-op without TSan).
class pool_slot_use {
 public:
  explicit pool_slot_use(void* slot) noexcept : slot_(slot) {
#if defined(GORO_DETAIL_POOL_TSAN)
    __tsan_acquire(slot_);
#endif
  }
  ~pool_slot_use() {
#if defined(GORO_DETAIL_POOL_TSAN)
    __tsan_release(slot_);
#endif
  }
  pool_slot_use(const pool_slot_use&) = delete;
  pool_slot_use& operator=(const pool_slot_use&) = delete;

 private:
  [[maybe_unused]] void* slot_;
};

/// The number of per-processor slots a pool keeps: one per possible
/// processor, plus the last one for plain threads (index pool_thread_slot).
inline constexpr int pool_slots = 257;
inline constexpr int pool_thread_slot = 256;

/// The slot of the calling goroutine's processor, or pool_thread_slot on a
/// plain thread. Valid until the caller blocks or yields: goroutines are not
/// preempted, so no other goroutine touches the slot meanwhile.
GORO_API int pool_slot() noexcept;
/// Tells the runtime that processor slot `slot` holds pooled values, so that
/// it sweeps them even when idle.
GORO_API void pool_mark(int slot) noexcept;

/// What the runtime sees of a pool: registered at construction, swept by each
/// processor's worker (for its own slot) about once a second.
class pool_base {
 public:
  pool_base(const pool_base&) = delete;
  pool_base& operator=(const pool_base&) = delete;

  /// Called by processor `slot`'s worker (no goroutine running there), or
  /// with every slot when a processor stops: moves the slot's values to its
  /// victim cache and drops the old victims. Returns whether values remain.
  virtual bool sweep(int slot) noexcept = 0;
  /// Sweeps the shared overflow list (under its lock). Returns whether
  /// values remain.
  virtual bool sweep_shared() noexcept = 0;

 protected:
  GORO_API pool_base();
  GORO_API virtual ~pool_base();
  /// Unregisters; after it returns no worker sweeps this pool. Call first
  /// thing in the derived destructor.
  GORO_API void unregister() noexcept;

 private:
  friend struct pool_registry;
  pool_base* prev_ = nullptr;  // guarded by the registry lock
  pool_base* next_ = nullptr;
  bool registered_ = false;
};

/// The word lock used by pools' shared lists and semaphores: spins briefly,
/// then sleeps on a futex. Never held across a park.
GORO_API void word_lock_slow(std::atomic<std::uint32_t>& w) noexcept;
GORO_API void word_unlock_slow(std::atomic<std::uint32_t>& w) noexcept;

inline void word_lock(std::atomic<std::uint32_t>& w) noexcept {
  std::uint32_t expected = 0;
  if (!w.compare_exchange_strong(expected, 1, std::memory_order_acquire, std::memory_order_relaxed)) {
    word_lock_slow(w);
  }
}
inline void word_unlock(std::atomic<std::uint32_t>& w) noexcept {
  if (w.exchange(0, std::memory_order_release) == 2) word_unlock_slow(w);
}

class word_guard {
 public:
  explicit word_guard(std::atomic<std::uint32_t>& w) noexcept : w_(w) { word_lock(w_); }
  ~word_guard() { word_unlock(w_); }
  word_guard(const word_guard&) = delete;
  word_guard& operator=(const word_guard&) = delete;

 private:
  std::atomic<std::uint32_t>& w_;
};

// ---- semaphore ---------------------------------------------------------------

struct weighted_waiter;

// The units held and whether anybody waits share one word, so that taking
// units nobody waits for, and returning units nobody waits for, is one CAS
// with no lock (semaphore.cpp).
struct weighted_core {
  static constexpr std::uint64_t queued = std::uint64_t{1} << 62;  // the waiter list is not empty
  static constexpr std::uint64_t held_mask = queued - 1;           // the units held
  std::int64_t size = 0;
  // held | queued. `queued` is set and cleared only under lock; while it is
  // set, the held units only go down without the lock (releases).
  std::atomic<std::uint64_t> state{0};
  std::atomic<std::uint32_t> lock{0};
  waiter_list<weighted_waiter> waiters;  // guarded by lock; FIFO; not empty iff queued
};

GORO_API void weighted_acquire(weighted_core* s, std::int64_t n);
GORO_API bool weighted_try_acquire(weighted_core* s, std::int64_t n) noexcept;
GORO_API void weighted_release(weighted_core* s, std::int64_t n);

}  // namespace goro::detail
