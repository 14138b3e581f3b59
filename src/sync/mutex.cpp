// src/sync/mutex.cpp: mutex, rw_mutex and wait_group (Go's sync.Mutex,
// sync.RWMutex and sync.WaitGroup), on the sema queues of sema.cpp.
//
// mutex state (one atomic int32, Go's layout):
//   bit 0 locked, bit 1 woken (a waiter was woken or an arrival is spinning:
//   unlock need not wake another), bit 2 starving, bits 3.. waiter count.
// The waiter count counts goroutines and threads queued (or about to queue)
// on sema_. Every transition is a CAS on state, except the two halves of a
// starvation hand-off (the holder's fetch_sub of locked, the receiving
// waiter's fetch_add), which nobody else can race with while starving is set.
//
// Destruction: like std::mutex, the mutex may be destroyed by whoever locks
// it next, before an unlock() that let it in has returned. So unlock's last
// access to *this is the CAS that clears locked (normal mode) or the sema
// hand-off (starvation mode); see unlock_slow. Go's unlock touches the state
// word again after releasing the lock, which its GC makes harmless.
#include <thread>

#include "goro/sync.hpp"
#include "runtime/processor.hpp"

namespace goro {

namespace {

constexpr std::int64_t starvation_threshold_ns = 1'000'000;

}  // namespace

void mutex::lock_slow() noexcept {
  std::int64_t wait_start = 0;
  bool is_starving = false;
  bool awoke = false;
  int iter = 0;
  std::int32_t old = state_.load(std::memory_order_relaxed);
  for (;;) {
    // Spin while locked in normal mode, if spinning can pay (Go's canSpin):
    // in starvation mode the lock goes to the queue, so spinning is useless.
    if ((old & (locked | starving)) == locked && detail::sync_can_spin(iter)) {
      // Set woken so that unlock does not wake a waiter we would compete with.
      if (!awoke && (old & woken) == 0 && (old >> waiter_shift) != 0 &&
          state_.compare_exchange_strong(old, old | woken, std::memory_order_relaxed)) {
        awoke = true;
      }
      detail::sync_spin();
      ++iter;
      old = state_.load(std::memory_order_relaxed);
      continue;
    }
    std::int32_t next = old;
    if ((old & starving) == 0) next |= locked;  // starving: new arrivals queue
    if ((old & (locked | starving)) != 0) next += 1 << waiter_shift;
    // Switch to starvation mode, unless the mutex was just unlocked (then
    // the unlocker expects waiters and would find none to hand it to).
    if (is_starving && (old & locked) != 0) next |= starving;
    if (awoke) {
      if ((next & woken) == 0) detail::sync_fatal("sync: inconsistent mutex state");
      next &= ~woken;
    }
    if (state_.compare_exchange_strong(old, next, std::memory_order_acquire, std::memory_order_relaxed)) {
      if ((old & (locked | starving)) == 0) return;  // took it
      // Waited before: go to the front of the queue.
      bool lifo = wait_start != 0;
      if (wait_start == 0) wait_start = detail::sync_nanotime();
      detail::sema_acquire(&sema_, lifo, detail::wait_reason::mutex_lock);
      is_starving = is_starving || detail::sync_nanotime() - wait_start > starvation_threshold_ns;
      old = state_.load(std::memory_order_relaxed);
      if ((old & starving) != 0) {
        // Handed to us: the state says unlocked with us still counted as a waiter.
        if ((old & (locked | woken)) != 0 || (old >> waiter_shift) == 0) {
          detail::sync_fatal("sync: inconsistent mutex state");
        }
        std::int32_t delta = locked - (1 << waiter_shift);
        // Leave starvation mode if we did not wait long or are the last waiter.
        if (!is_starving || (old >> waiter_shift) == 1) delta -= starving;
        state_.fetch_add(delta, std::memory_order_acquire);
        return;
      }
      awoke = true;
      iter = 0;
    }
    // A failed CAS reloaded old.
  }
}

void mutex::unlock_slow(std::int32_t old) noexcept {
  for (;;) {
    if ((old & locked) == 0) detail::sync_fatal("sync: unlock of unlocked mutex");
    if ((old & starving) != 0) {
      // Starvation: hand the lock to the front waiter; it runs next. The
      // locked bit is cleared here and set by the waiter; while starving,
      // arrivals queue instead of taking it, and only that waiter can clear
      // starving, so the mutex outlives this call however others use it.
      state_.fetch_sub(locked, std::memory_order_release);
      detail::sema_release(&sema_, true);
      return;
    }
    // Normal mode: release the lock and, in the same step, claim the wake of
    // one waiter unless one was already woken or an arrival is spinning
    // (woken). Go releases first and decides after, touching the state word
    // once more; here the release is the last access but for the wake, and
    // the waiter woken is still counted as a user of the mutex until it has
    // locked it, so the mutex cannot be destroyed under sema_release.
    std::int32_t next = old - locked;
    bool wake = (next >> waiter_shift) != 0 && (next & woken) == 0;
    if (wake) next = (next - (1 << waiter_shift)) | woken;
    if (state_.compare_exchange_weak(old, next, std::memory_order_release, std::memory_order_relaxed)) {
      if (wake) detail::sema_release(&sema_, false);
      return;
    }
    // A failed CAS reloaded old: a waiter or spinner changed the state.
  }
}

// ---- rw_mutex ------------------------------------------------------------------

void rw_mutex::unlock_shared_slow(std::int32_t r) noexcept {
  if (r + 1 == 0 || r + 1 == -max_readers) detail::sync_fatal("sync: unlock_shared of unlocked rw_mutex");
  // A writer is pending; the last departing reader lets it in.
  if (reader_wait_.fetch_sub(1, std::memory_order_acq_rel) - 1 == 0) {
    detail::sema_release(&writer_sem_, false);
  }
}

bool rw_mutex::try_lock() noexcept {
  if (!w_.try_lock()) return false;
  std::int32_t zero = 0;
  if (!reader_count_.compare_exchange_strong(zero, -max_readers, std::memory_order_acquire,
                                             std::memory_order_relaxed)) {
    w_.unlock();
    return false;
  }
  return true;
}

void rw_mutex::unlock_slow(std::int32_t r) noexcept {
  if (r >= max_readers) detail::sync_fatal("sync: unlock of unlocked rw_mutex");
  // Let in the readers that queued behind us (r > 0 here, or r < 0 for a
  // reader-count underflow, which only misuse can cause).
  if (r > 0) detail::sema_release_n(&reader_sem_, static_cast<std::uint32_t>(r));
}

// ---- wait_group ----------------------------------------------------------------

void wait_group::add_slow(std::uint64_t state, std::int64_t delta) {
  auto v = static_cast<std::int32_t>(state >> 32);
  auto w = static_cast<std::uint32_t>(state);
  if (v < 0) throw panic_error("sync: negative wait_group counter");
  if (w != 0 && delta > 0 && v == static_cast<std::int32_t>(delta)) {
    throw panic_error("sync: wait_group misuse: add called concurrently with wait");
  }
  if (v > 0 || w == 0) return;
  // The counter reached zero with waiters: nobody may change the state now
  // (an add racing here is the misuse Go reports).
  if (state_.load(std::memory_order_relaxed) != state) {
    throw panic_error("sync: wait_group misuse: add called concurrently with wait");
  }
  state_.store(0, std::memory_order_relaxed);
  // One release for all waiters: the first to return may destroy *this.
  detail::sema_release_n(&sema_, w);
}

void wait_group::wait_slow() {
  std::uint64_t state = state_.load(std::memory_order_acquire);
  for (;;) {
    if (static_cast<std::int32_t>(state >> 32) == 0) return;
    if (state_.compare_exchange_weak(state, state + 1, std::memory_order_acquire, std::memory_order_acquire)) {
      detail::sema_acquire(&sema_, false, detail::wait_reason::wait_group_wait);
      if (state_.load(std::memory_order_relaxed) != 0) {
        throw panic_error("sync: wait_group is reused before previous wait has returned");
      }
      return;
    }
  }
}

}  // namespace goro

namespace goro::detail {

bool sync_can_spin(int iter) noexcept {
  static const unsigned ncpu = std::thread::hardware_concurrency();
  if (iter >= 4 || ncpu <= 1) return false;
  processor* p = current_processor();
  if (p == nullptr) return true;  // a plain thread spins on its own time
  // Spin only if another processor is running (it may hold the lock and
  // release it soon) and nothing else waits to run here.
  scheduler& s = sched();
  if (s.maxprocs.load(std::memory_order_relaxed) <=
      s.nidle.load(std::memory_order_relaxed) + s.nspinning.load(std::memory_order_relaxed) + 1) {
    return false;
  }
  return p->runq.empty();
}

}  // namespace goro::detail
