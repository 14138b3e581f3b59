// goro/sync.hpp: Go's sync package (and x/sync's semaphore) for goroutines
// and plain threads alike.
//
//   goro::wait_group wg;  wg.go(f);  wg.wait();
//   goro::mutex mu;       std::lock_guard lock(mu);
//   goro::rw_mutex rw;    std::shared_lock read(rw);   std::unique_lock write(rw);
//   goro::cond c(mu);     c.wait();  c.signal();  c.broadcast();
//   goro::once o;         o.call(f);
//   goro::pool<std::unique_ptr<buffer>> p([] { return std::make_unique<buffer>(); });
//   goro::semaphore sem(10);  sem.acquire(3);  sem.release(3);
//
// A goroutine that blocks on any of these parks: its worker runs other
// goroutines. A plain thread that blocks sleeps on a futex. None of them may
// be copied or moved (Go's "must not be copied after first use").
//
// Misuse Go panics on (a negative wait_group counter, releasing more than a
// semaphore holds) throws goro::panic_error; misuse Go makes fatal (unlock of
// an unlocked mutex) ends the program with a message naming it.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>  // std::shared_lock, for rw_mutex
#include <stdexcept>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "goro/detail/config.hpp"
#include "goro/detail/runtime_core.hpp"
#include "goro/detail/sync_core.hpp"
#include "goro/errors.hpp"

namespace goro {

class context;

// ---- mutex -------------------------------------------------------------------

/// Go's sync.Mutex: Lockable, so std::lock_guard, std::unique_lock and
/// std::scoped_lock work. Not recursive.
///
/// Normal mode: a woken waiter competes with newly arriving lockers (which
/// spin briefly on a multicore machine), which keeps throughput high.
/// Starvation mode: once a waiter has waited over 1 ms, unlock hands the lock
/// straight to the longest waiter, FIFO, until the queue drains or a waiter
/// got it within 1 ms; so no waiter starves.
class mutex {
 public:
  constexpr mutex() noexcept = default;
  mutex(const mutex&) = delete;
  mutex& operator=(const mutex&) = delete;

  void lock() noexcept {
    std::int32_t expected = 0;
    if (state_.compare_exchange_strong(expected, locked, std::memory_order_acquire,
                                       std::memory_order_relaxed)) [[likely]] {
      return;
    }
    lock_slow();
  }
  /// Locks if that needs no wait. Like Go's TryLock, false while the mutex
  /// is in starvation mode even if it is momentarily unlocked.
  [[nodiscard]] bool try_lock() noexcept {
    std::int32_t old = state_.load(std::memory_order_relaxed);
    if ((old & (locked | starving)) != 0) return false;
    return state_.compare_exchange_strong(old, old | locked, std::memory_order_acquire,
                                          std::memory_order_relaxed);
  }
  /// Unlocks. Any goroutine or thread may unlock (the lock is not owned),
  /// as in Go. Unlocking an unlocked mutex ends the program.
  ///
  /// As with std::mutex, whoever locks the mutex next may destroy it, even
  /// while this call has not yet returned: the release of the locked bit is
  /// unlock's last access to the mutex, except in starvation mode, where
  /// nobody can lock it before the hand-off (see unlock_slow).
  void unlock() noexcept {
    std::int32_t expected = locked;
    if (state_.compare_exchange_strong(expected, 0, std::memory_order_release, std::memory_order_relaxed))
        [[likely]] {
      return;
    }
    unlock_slow(expected);
  }

 private:
  friend class rw_mutex;
  static constexpr std::int32_t locked = 1;
  static constexpr std::int32_t woken = 2;
  static constexpr std::int32_t starving = 4;
  static constexpr int waiter_shift = 3;

  GORO_API void lock_slow() noexcept;
  GORO_API void unlock_slow(std::int32_t old) noexcept;

  // locked | woken | starving | waiters << waiter_shift
  std::atomic<std::int32_t> state_{0};
  detail::sema sema_;
};

// ---- rw_mutex ----------------------------------------------------------------

/// Go's sync.RWMutex: Lockable and SharedLockable (std::shared_lock works).
/// Writer-preferring: once a writer waits, new readers wait behind it, so a
/// stream of readers cannot starve a writer. A reader must not take the read
/// lock again while holding it (a writer in between would deadlock both).
///
/// Unlike mutex, a writer's unlock() lets readers in before it releases the
/// writers' lock (Go's order, which the reader count needs), so destroy an
/// rw_mutex only once every unlock() has returned, not merely once the
/// writer's critical section is seen to have ended.
class rw_mutex {
 public:
  rw_mutex() noexcept = default;
  rw_mutex(const rw_mutex&) = delete;
  rw_mutex& operator=(const rw_mutex&) = delete;

  void lock_shared() noexcept {
    if (reader_count_.fetch_add(1, std::memory_order_acquire) + 1 < 0) [[unlikely]] {
      detail::sema_acquire(&reader_sem_, false, detail::wait_reason::rw_mutex_rlock);  // a writer is pending
    }
  }
  [[nodiscard]] bool try_lock_shared() noexcept {
    std::int32_t c = reader_count_.load(std::memory_order_relaxed);
    while (c >= 0) {
      if (reader_count_.compare_exchange_weak(c, c + 1, std::memory_order_acquire,
                                              std::memory_order_relaxed)) {
        return true;
      }
    }
    return false;
  }
  void unlock_shared() noexcept {
    std::int32_t r = reader_count_.fetch_sub(1, std::memory_order_release) - 1;
    if (r < 0) [[unlikely]] unlock_shared_slow(r);
  }

  void lock() noexcept {
    w_.lock();  // first, resolve competition with other writers
    // Announce the pending writer to readers (new ones now wait), then wait
    // for the active readers, if any.
    std::int32_t r = reader_count_.fetch_sub(max_readers, std::memory_order_acq_rel);
    if (r != 0 && reader_wait_.fetch_add(r, std::memory_order_acq_rel) + r != 0) [[unlikely]] {
      detail::sema_acquire(&writer_sem_, false, detail::wait_reason::rw_mutex_lock);
    }
  }
  GORO_API bool try_lock() noexcept;
  void unlock() noexcept {
    // Announce to readers there is no active writer.
    std::int32_t r = reader_count_.fetch_add(max_readers, std::memory_order_release) + max_readers;
    if (r != 0) [[unlikely]] unlock_slow(r);  // readers queued behind us, or misuse
    w_.unlock();
  }

  /// A Lockable view whose lock()/unlock() are this mutex's shared side (Go's
  /// RLocker), e.g. for a cond whose waiters hold the read lock.
  class shared_view {
   public:
    explicit shared_view(rw_mutex& m) noexcept : m_(&m) {}
    void lock() noexcept { m_->lock_shared(); }
    bool try_lock() noexcept { return m_->try_lock_shared(); }
    void unlock() noexcept { m_->unlock_shared(); }

   private:
    rw_mutex* m_;
  };
  shared_view rlocker() noexcept { return shared_view(*this); }

 private:
  static constexpr std::int32_t max_readers = 1 << 30;
  GORO_API void unlock_shared_slow(std::int32_t r) noexcept;
  GORO_API void unlock_slow(std::int32_t r) noexcept;

  mutex w_;                                  // held by a writer (pending or active)
  detail::sema writer_sem_;                  // a writer waits here for departing readers
  detail::sema reader_sem_;                  // readers wait here for the writer
  std::atomic<std::int32_t> reader_count_{0};  // readers; - max_readers while a writer is pending
  std::atomic<std::int32_t> reader_wait_{0};   // readers the pending writer still waits for
};

// ---- wait_group --------------------------------------------------------------

/// Go's sync.WaitGroup. Reusable once wait() has returned.
class wait_group {
 public:
  wait_group() noexcept = default;
  wait_group(const wait_group&) = delete;
  wait_group& operator=(const wait_group&) = delete;

  /// Adds delta (which may be negative) to the counter. Throws panic_error if
  /// it goes negative, or if a positive add from zero races a wait().
  void add(std::int64_t delta) {
    const std::uint64_t step = static_cast<std::uint64_t>(delta) << 32;
    const std::uint64_t state = state_.fetch_add(step, std::memory_order_acq_rel) + step;
    // Nobody waits and the counter is not negative: nothing to check or wake.
    if (static_cast<std::uint32_t>(state) == 0 && static_cast<std::int32_t>(state >> 32) >= 0) [[likely]] {
      return;
    }
    add_slow(state, delta);
  }
  /// add(-1).
  void done() { add(-1); }
  /// Blocks until the counter is zero.
  void wait() {
    if (static_cast<std::int32_t>(state_.load(std::memory_order_acquire) >> 32) == 0) return;
    wait_slow();
  }

  /// add(1), then runs f() in a new goroutine that calls done() when f
  /// returns (Go 1.25's WaitGroup.Go). f (and what it holds by value) is
  /// destroyed before done(), so before wait() returns.
  template <class F>
    requires std::is_invocable_v<std::decay_t<F>&&>
  void go(F&& f, source_location where = source_location::current()) {
    add(1);
    struct task {
      wait_group* wg;
      std::optional<std::decay_t<F>> fn;
      void operator()() {
        // The waiter may destroy what f's captures refer to (or own the
        // last reference to) once done() lets it go, and the runtime
        // destroys this task only later: so f goes first, then done(),
        // this goroutine's last touch of the group.
        struct finish {
          task* t;
          ~finish() {
            t->fn.reset();
            t->wg->done();
          }
        } fin{this};
        std::move(*fn)();
      }
    };
    try {
      detail::spawn(where, task{this, std::optional<std::decay_t<F>>(std::in_place, std::forward<F>(f))});
    } catch (...) {
      done();
      throw;
    }
  }

 private:
  // add()'s checks and wake-up, given the state it left.
  GORO_API void add_slow(std::uint64_t state, std::int64_t delta);
  GORO_API void wait_slow();

  std::atomic<std::uint64_t> state_{0};  // counter << 32 | waiters
  detail::sema sema_;
};

// ---- cond --------------------------------------------------------------------

/// Go's sync.Cond over any BasicLockable (goro::mutex, a rw_mutex's
/// rlocker(), std::mutex, ...). wait() must be called with the lock held; it
/// unlocks, parks, and locks again before returning. Waiters are served in
/// the order they began to wait: signal() wakes the longest waiter, never
/// one that began waiting after the signal.
class cond {
 public:
  template <class L>
    requires requires(L& l) {
      l.lock();
      l.unlock();
    }
  explicit cond(L& lockable) noexcept
      : lockable_(std::addressof(lockable)),
        lock_([](void* l) { static_cast<L*>(l)->lock(); }),
        unlock_([](void* l) { static_cast<L*>(l)->unlock(); }) {}
  /// A cond over a rw_mutex's shared side (the view is kept by value).
  explicit cond(rw_mutex::shared_view view) noexcept
      : view_(view),
        lockable_(&*view_),
        lock_([](void* l) { static_cast<rw_mutex::shared_view*>(l)->lock(); }),
        unlock_([](void* l) { static_cast<rw_mutex::shared_view*>(l)->unlock(); }) {}
  cond(const cond&) = delete;
  cond& operator=(const cond&) = delete;

  void wait() {
    std::uint32_t ticket = detail::notify_list_add(&notify_);
    unlock_(lockable_);
    detail::notify_list_wait(&notify_, ticket);
    lock_(lockable_);
  }
  /// while (!pred()) wait();
  template <class Pred>
  void wait(Pred pred) {
    while (!pred()) wait();
  }
  /// Wakes the longest waiter, if any. The lock need not be held.
  void signal() noexcept { detail::notify_list_notify_one(&notify_); }
  /// Wakes every waiter. The lock need not be held.
  void broadcast() noexcept { detail::notify_list_notify_all(&notify_); }

 private:
  std::optional<rw_mutex::shared_view> view_;
  void* lockable_;
  void (*lock_)(void*);
  void (*unlock_)(void*);
  detail::notify_list notify_;
};

// ---- once --------------------------------------------------------------------

/// Go's sync.Once: call(f) runs f the first time it is called; every other
/// caller waits until that call has returned. If f throws, the exception
/// reaches that caller and the once still counts as done (Go's rule: f is
/// never run again).
///
/// Once a call() has returned, the once may be destroyed (by an owner that
/// knows no other call() is still waiting in it), even if the call that ran
/// f has not returned yet: marking it done is that call's last access to
/// the once, but for waking callers that still wait in call().
class once {
 public:
  once() noexcept = default;
  once(const once&) = delete;
  once& operator=(const once&) = delete;

  template <class F>
  void call(F&& f) {
    if ((state_.load(std::memory_order_acquire) & done_bit) != 0) [[likely]] return;
    call_slow(f);
  }
  /// Whether f has run (or is done running, with or without an exception).
  bool done() const noexcept { return (state_.load(std::memory_order_acquire) & done_bit) != 0; }

 private:
  // Go locks a mutex around f and stores done before unlocking it, so a
  // caller that sees done may destroy the once while the unlock still runs.
  // Storing done after the unlock instead lets a caller that locks in
  // between run f again. So one word holds both: the runner publishes done
  // and learns who waits in a single exchange, its last access to the once
  // but for the wake of those waiters (who, still inside call(), keep the
  // once alive until sema_release_n has let them go).
  static constexpr std::uint32_t done_bit = 1;
  static constexpr std::uint32_t running_bit = 2;
  static constexpr int waiter_shift = 2;

  template <class F>
  void call_slow(F& f) {
    std::uint32_t s = state_.load(std::memory_order_acquire);
    for (;;) {
      if ((s & done_bit) != 0) return;
      if ((s & running_bit) == 0) {
        if (state_.compare_exchange_weak(s, s | running_bit, std::memory_order_acquire,
                                         std::memory_order_acquire)) {
          break;  // ours to run
        }
        continue;
      }
      // f is running: count ourselves in. Invariant: a waiter counted
      // before the runner's exchange gets one token from it; none can be
      // counted after (done is set: the CAS fails and we return).
      if (state_.compare_exchange_weak(s, s + (1u << waiter_shift), std::memory_order_acquire,
                                       std::memory_order_acquire)) {
        detail::sema_acquire(&sema_, false, detail::wait_reason::once_wait);  // a token only once done is set
        return;
      }
    }
    struct mark_done {
      once& o;
      ~mark_done() {  // also when f throws: done, and the waiters return normally
        std::uint32_t old = o.state_.exchange(done_bit, std::memory_order_acq_rel);
        if (std::uint32_t n = old >> waiter_shift; n != 0) detail::sema_release_n(&o.sema_, n);
      }
    } mark{*this};
    std::invoke(f);
  }

  std::atomic<std::uint32_t> state_{0};  // done_bit | running_bit | waiters << waiter_shift
  detail::sema sema_;                    // the waiters park here until done
};

namespace detail {
template <class R, class F>
struct once_state {
  goro::once o;
  std::optional<F> fn;  // dropped once it has run
  std::conditional_t<std::is_void_v<R>, bool, std::optional<R>> result{};
  std::exception_ptr error;

  void run() {
    o.call([this] {
      try {
        if constexpr (std::is_void_v<R>) {
          std::invoke(std::move(*fn));
        } else {
          result.emplace(std::invoke(std::move(*fn)));
        }
      } catch (...) {
        error = std::current_exception();
      }
      fn.reset();
    });
    if (error) std::rethrow_exception(error);
  }
};
}  // namespace detail

/// Go 1.21's sync.OnceFunc: a copyable function that runs f the first time it
/// is called (by any copy). If f throws, every call rethrows that exception.
template <class F>
  requires std::is_invocable_v<std::decay_t<F>&&>
auto once_func(F&& f) {
  auto s = std::make_shared<detail::once_state<void, std::decay_t<F>>>();
  s->fn.emplace(std::forward<F>(f));
  return [s] { s->run(); };
}

/// Go 1.21's sync.OnceValue: a copyable function that runs f once and
/// returns (a copy of) its result on every call; if f throws, every call
/// rethrows that exception.
template <class F>
  requires std::is_invocable_v<std::decay_t<F>&&> && (!std::is_void_v<std::invoke_result_t<std::decay_t<F>&&>>)
auto once_value(F&& f) {
  using R = std::decay_t<std::invoke_result_t<std::decay_t<F>&&>>;
  auto s = std::make_shared<detail::once_state<R, std::decay_t<F>>>();
  s->fn.emplace(std::forward<F>(f));
  return [s]() -> R {
    s->run();
    return *s->result;
  };
}

/// Go 1.21's sync.OnceValues: once_value for an f that returns several values
/// as a std::pair or std::tuple (auto [v, err] = get();).
template <class F>
  requires std::is_invocable_v<std::decay_t<F>&&>
auto once_values(F&& f) {
  using R = std::decay_t<std::invoke_result_t<std::decay_t<F>&&>>;
  static_assert(std::tuple_size<R>::value >= 1, "once_values: f must return a std::pair or std::tuple");
  return once_value(std::forward<F>(f));
}

// ---- pool --------------------------------------------------------------------

/// Go's sync.Pool for movable values (typically std::unique_ptr<X> or another
/// handle): a cache of values to reuse, not a container (any value may be
/// dropped at any time).
///
/// Each processor keeps its own values, reached without a lock; a full
/// per-processor cache spills half to a shared list, which a miss reads.
/// About once a second each processor moves its values to a victim cache and
/// drops the previous victims (Go does the same at each garbage collection),
/// so a burst's values are freed within two seconds of the burst ending.
/// T's destructor runs on a worker's own context then: it must not block.
template <class T>
  requires std::is_move_constructible_v<T>
class pool : private detail::pool_base {
 public:
  /// An empty pool's get() returns T{} (Go's nil).
  pool() noexcept(std::is_nothrow_default_constructible_v<std::function<T()>>) = default;
  /// An empty pool's get() returns new_fn().
  explicit pool(std::function<T()> new_fn) : new_(std::move(new_fn)) {}
  ~pool() override {
    unregister();
    for (auto& l : locals_) delete l.load(std::memory_order_acquire);
  }

  /// A pooled value if there is one, else new_fn() (or T{}).
  T get() {
    int slot = detail::pool_slot();
    if (slot != detail::pool_thread_slot) {
      detail::pool_slot_use use(&locals_[slot]);
      local* l = locals_[slot].load(std::memory_order_relaxed);
      if (l != nullptr && !l->items.empty()) return take(l->items);
      if (std::optional<T> v = take_shared()) return std::move(*v);
      if (l != nullptr && !l->victim.empty()) return take(l->victim);
    } else if (std::optional<T> v = take_shared()) {
      return std::move(*v);
    }
    if (new_) return new_();
    if constexpr (std::is_default_constructible_v<T>) {
      return T{};
    } else {
      throw panic_error("goro::pool: get() on an empty pool with no new function");
    }
  }

  /// Offers v for reuse.
  void put(T v) {
    int slot = detail::pool_slot();
    if (slot == detail::pool_thread_slot) {
      put_shared(std::move(v));
      return;
    }
    detail::pool_slot_use use(&locals_[slot]);
    local* l = locals_[slot].load(std::memory_order_relaxed);
    if (l == nullptr) {
      l = new local;
      l->items.reserve(local_max);
      locals_[slot].store(l, std::memory_order_release);
    }
    if (l->items.size() >= local_max) {
      // Spill the older half; the newest stay here, warm.
      detail::word_guard lock(shared_lock_);
      bool was_empty = shared_.empty();
      for (std::size_t i = 0; i < local_max / 2; ++i) shared_.push_back(std::move(l->items[i]));
      l->items.erase(l->items.begin(), l->items.begin() + local_max / 2);
      if (was_empty) detail::pool_mark(detail::pool_thread_slot);
    }
    if (!l->marked) {
      // Once per sweep period, not on every put into an empty cache.
      l->marked = true;
      detail::pool_mark(slot);
    }
    l->items.push_back(std::move(v));
  }

 private:
  static constexpr std::size_t local_max = 64;

  // Touched only by goroutines running on one processor and by that
  // processor's worker between them: never by two threads at once.
  struct alignas(64) local {
    std::vector<T> items;
    std::vector<T> victim;
    // The processor was told (pool_mark) that this cache may hold values
    // since its last sweep: its worker's pool_held flag is set until a sweep
    // finds every pool's slot empty, which clears this flag too.
    bool marked = false;
  };

  static T take(std::vector<T>& v) {
    T out = std::move(v.back());
    v.pop_back();
    return out;
  }

  std::optional<T> take_shared() {
    detail::word_guard lock(shared_lock_);
    if (!shared_.empty()) return take(shared_);
    if (!shared_victim_.empty()) return take(shared_victim_);
    return std::nullopt;
  }

  void put_shared(T v) {
    detail::word_guard lock(shared_lock_);
    bool was_empty = shared_.empty();
    shared_.push_back(std::move(v));
    if (was_empty) detail::pool_mark(detail::pool_thread_slot);
  }

  bool sweep(int slot) noexcept override {
    detail::pool_slot_use use(&locals_[slot]);
    local* l = locals_[slot].load(std::memory_order_acquire);
    if (l == nullptr) return false;
    l->victim.clear();
    std::swap(l->items, l->victim);
    l->marked = !l->victim.empty();
    return l->marked;
  }
  bool sweep_shared() noexcept override {
    detail::word_guard lock(shared_lock_);
    shared_victim_.clear();
    std::swap(shared_, shared_victim_);
    return !shared_victim_.empty();
  }

  std::atomic<local*> locals_[detail::pool_slots] = {};
  std::atomic<std::uint32_t> shared_lock_{0};
  std::vector<T> shared_;         // guarded by shared_lock_
  std::vector<T> shared_victim_;  // guarded by shared_lock_
  std::function<T()> new_;
};

// ---- semaphore ---------------------------------------------------------------

/// golang.org/x/sync/semaphore.Weighted: a weighted semaphore of `size`
/// units. Waiters are served FIFO, so a large request is not starved by a
/// stream of small ones (and a small one waits behind a large one).
class semaphore {
 public:
  /// Throws std::invalid_argument if size < 0.
  explicit semaphore(std::int64_t size) {
    if (size < 0) throw std::invalid_argument("goro::semaphore: negative size");
    core_.size = size;
  }
  semaphore(const semaphore&) = delete;
  semaphore& operator=(const semaphore&) = delete;

  /// Takes n units, blocking until they are free. n greater than the size
  /// could never succeed: throws std::invalid_argument (Go blocks until the
  /// context is done).
  void acquire(std::int64_t n = 1) { detail::weighted_acquire(&core_, n); }
  /// Takes n units, blocking until they are free or ctx is done; returns
  /// ctx.err() in that case (and takes nothing), else an empty error_code.
  /// A context that is done already fails even if the units are free (Go).
  GORO_API std::error_code acquire(const context& ctx, std::int64_t n = 1);
  /// Takes n units if they are free and nobody waits; else false.
  [[nodiscard]] bool try_acquire(std::int64_t n = 1) noexcept { return detail::weighted_try_acquire(&core_, n); }
  /// Returns n units. Throws panic_error if that is more than are held.
  void release(std::int64_t n = 1) { detail::weighted_release(&core_, n); }

 private:
  detail::weighted_core core_;
};

}  // namespace goro
