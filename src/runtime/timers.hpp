// src/runtime/timers.hpp: per-processor timer heaps (Go's timers since 1.14).
//
// Each processor has a 4-ary min-heap of timer nodes ordered by `when`. A
// timer is added to the heap of the processor the adder runs on (processor 0
// from a plain thread); whoever runs a processor's scheduler runs its due
// timers, and idle workers run any processor's due timers and sleep until the
// earliest one.
//
// Invariants:
//  - node.heap is the heap holding the node, or null. It is written only
//    under that heap's lock; a remover reads it, locks that heap, and
//    re-checks it under the lock.
//  - node.when, node.period and node.index are guarded by the lock of the
//    heap holding the node.
//  - heap.earliest is heap[0]->when, or 0 when empty; written under the lock,
//    read without it as a hint.
//  - A node's fire() runs without any lock held, after the node left the heap
//    (one-shot) or was re-armed (periodic). fire() must not block.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "runtime/runtime_mutex.hpp"

namespace goro::detail {

struct processor;
struct timer_heap;

struct timer_node {
  std::int64_t when = 0;    // nanotime() deadline
  std::int64_t period = 0;  // > 0: re-armed every period after firing
  std::uint64_t seq = 0;    // copied to fire(); owners use it to discard stale firings
  // Owners that count references (time.cpp) count one for the heap while
  // the node is armed. A one-shot node's reference passes to fire() when it
  // is taken from the heap; a periodic node stays armed, so retain() is
  // called (under the heap lock) to give fire() its own. Either way fire()
  // drops one reference. Null when the owner keeps the node alive by other
  // means (a sleeping goroutine's node).
  void (*retain)(timer_node*) noexcept = nullptr;
  void (*fire)(timer_node*, std::uint64_t seq) noexcept = nullptr;
  void* owner = nullptr;  // for fire() and retain(): the object the node belongs to
  std::atomic<timer_heap*> heap{nullptr};
  // Set when a one-shot node is taken from its heap to fire; the owner's
  // fire() clears it (under the owner's lock). Lets stop() know a firing is
  // on its way.
  std::atomic<bool> inflight{false};
  std::atomic<bool> moving{false};  // between two heaps (timer_move_all)
  std::uint32_t index = 0;
};

struct timer_heap {
  runtime_mutex lock{lock_rank::timer_heap};
  std::vector<timer_node*> nodes;  // guarded by lock
  std::atomic<std::int64_t> earliest{0};
};

/// Arms node to fire at `when` (nanotime) on the caller's processor's heap;
/// for a goroutine in a bubble (bubble.hpp), at `when` on the bubble's
/// clock on the bubble's heap, unless `bubbled` is false (socket deadlines,
/// which run on the real clock). The node must not be in a heap.
void timer_add(timer_node* node, std::int64_t when, bool bubbled = true);
/// Disarms node; true if it was in a heap (so it will not fire for that arming).
bool timer_remove(timer_node* node) noexcept;
/// Moves every timer of `from` to `to`, `shift` added to each deadline (a
/// processor stopping for gomaxprocs hands its timers to processor 0).
void timer_move_all(timer_heap& from, timer_heap& to, std::int64_t shift = 0) noexcept;
/// timer_move_all to the heap timer_add would use outside a bubble (a
/// bubble ends: its timers go on in real time).
void timer_adopt_all(timer_heap& from, std::int64_t shift) noexcept;
/// Runs the due timers of heap; returns how many fired.
int timer_run_due(timer_heap& heap, std::int64_t now) noexcept;

}  // namespace goro::detail
