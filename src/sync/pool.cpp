// src/sync/pool.cpp: the registry of pools and their sweeping (sync.hpp's
// pool<T>).
//
// Each processor's worker sweeps its own slot of every pool about once a
// second (pool_sweep_if_due, from the scheduler between goroutines and
// before sleeping): values move to the slot's victim cache and the previous
// victims are destroyed. The slot is touched only by code running on that
// processor, one piece at a time, so the sweep needs no lock but the
// registry's. The shared overflow lists (one per pool, under its own lock)
// are swept by whichever worker first finds the shared deadline passed.
//
// Locks: registry_lock guards the list of pools and is held while sweeping,
// so that a pool's destructor (which unregisters first) never races a sweep.
// Order: registry_lock → a pool's shared lock.
#include <atomic>

#include "goro/detail/sync_core.hpp"
#include "runtime/platform.hpp"
#include "runtime/processor.hpp"

namespace goro::detail {

namespace {

constexpr std::int64_t sweep_period_ns = 1'000'000'000;

}  // namespace

struct pool_registry {
  static inline std::atomic<std::uint32_t> lock{0};
  static inline pool_base* head = nullptr;  // guarded by lock
  // Some pool's shared list may hold values; set by pool_mark, cleared by a
  // shared sweep that leaves nothing.
  static inline std::atomic<bool> shared_held{false};
  static inline std::atomic<std::int64_t> shared_next_sweep{0};

  // lock held. Sweeps slot of every pool (twice: drops everything); returns
  // whether values remain.
  static bool sweep_slot(int slot, bool twice) noexcept {
    bool held = false;
    for (pool_base* q = head; q != nullptr; q = q->next_) {
      held |= q->sweep(slot);
      if (twice) held = q->sweep(slot) || held;
    }
    return held;
  }
  static bool sweep_shared_lists() noexcept {
    bool held = false;
    for (pool_base* q = head; q != nullptr; q = q->next_) held |= q->sweep_shared();
    return held;
  }
};

pool_base::pool_base() {
  word_guard g(pool_registry::lock);
  next_ = pool_registry::head;
  if (next_ != nullptr) next_->prev_ = this;
  pool_registry::head = this;
  registered_ = true;
}

pool_base::~pool_base() { unregister(); }

void pool_base::unregister() noexcept {
  word_guard g(pool_registry::lock);
  if (!registered_) return;
  if (prev_ != nullptr) {
    prev_->next_ = next_;
  } else {
    pool_registry::head = next_;
  }
  if (next_ != nullptr) next_->prev_ = prev_;
  registered_ = false;
}

int pool_slot() noexcept {
  processor* p = current_processor();  // one TLS read (current_goroutine() would be a second)
  if (p == nullptr || p->current.load(std::memory_order_relaxed) == nullptr) return pool_thread_slot;
  return p->id;
}

void pool_mark(int slot) noexcept {
  if (slot != pool_thread_slot) {
    sched().procs[slot].load(std::memory_order_relaxed)->pool_held.store(true, std::memory_order_relaxed);
    return;
  }
  // An idle worker sleeping with no deadline would not sweep: wake one, so
  // that it sleeps until the next sweep instead.
  if (!pool_registry::shared_held.exchange(true, std::memory_order_relaxed) &&
      sched().nprocs.load(std::memory_order_acquire) > 0) {
    wakep();
  }
}

bool pool_sweep_pending(processor* p) noexcept {
  return p->pool_held.load(std::memory_order_relaxed) ||
         pool_registry::shared_held.load(std::memory_order_relaxed);
}

std::int64_t pool_next_sweep(processor* p) noexcept {
  return p->pool_next_sweep.load(std::memory_order_relaxed);
}

void pool_sweep_if_due(processor* p, std::int64_t now) noexcept {
  if (now < p->pool_next_sweep.load(std::memory_order_relaxed)) return;
  p->pool_next_sweep.store(now + sweep_period_ns, std::memory_order_relaxed);
  if (!pool_sweep_pending(p)) return;
  word_guard g(pool_registry::lock);
  if (p->pool_held.load(std::memory_order_relaxed)) {
    p->pool_held.store(pool_registry::sweep_slot(p->id, false), std::memory_order_relaxed);
  }
  std::int64_t shared_due = pool_registry::shared_next_sweep.load(std::memory_order_relaxed);
  if (pool_registry::shared_held.load(std::memory_order_relaxed) && now >= shared_due &&
      pool_registry::shared_next_sweep.compare_exchange_strong(shared_due, now + sweep_period_ns,
                                                               std::memory_order_relaxed)) {
    // Cleared first: a value put meanwhile marks it again.
    pool_registry::shared_held.store(false, std::memory_order_relaxed);
    if (pool_registry::sweep_shared_lists()) pool_registry::shared_held.store(true, std::memory_order_relaxed);
  }
}

void pool_drop_all(processor* p) noexcept {
  if (!p->pool_held.load(std::memory_order_relaxed)) return;
  word_guard g(pool_registry::lock);
  pool_registry::sweep_slot(p->id, true);
  p->pool_held.store(false, std::memory_order_relaxed);
}

}  // namespace goro::detail
