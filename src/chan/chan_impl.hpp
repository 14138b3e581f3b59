// src/chan/chan_impl.hpp: the channel's representation, shared by chan.cpp
// and select.cpp (Go's hchan and sudog).
//
// Invariants (c.lock guards everything below it in chan_core):
//  - count <= cap; the buffered values are the count slots from recvx.
//  - If recvq is non-empty, the buffer is empty (receivers wait only for an
//    empty channel); if sendq is non-empty, the buffer is full. Hence a
//    sender that finds a receiver hands its value over directly, past the
//    buffer, and FIFO order of values is kept.
//  - A waiter is on at most one queue (queued says so) and its fields are
//    read and written under that channel's lock until it is dequeued; the
//    dequeuer then owns it until it calls who.wake(), and never touches it
//    after.
//  - A select's waiters share one select_state: the first dequeuer to CAS
//    done 0→1 completes the select; others skip its stale waiters.
//  - Never wake while holding a channel lock: collect, unlock, then wake.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "goro/detail/chan_core.hpp"
#include "runtime/park.hpp"
#include "runtime/runtime_mutex.hpp"

namespace goro::detail {

struct waiter;

struct select_state {
  std::atomic<std::uint32_t> done{0};
  waiter* fired = nullptr;  // written by the dequeuer that won `done`
};

struct waiter {
  parker who;
  void* elem = nullptr;        // send: the value to take; recv: where to put it
  chan_core* chan = nullptr;
  select_state* sel = nullptr;  // null unless part of a select
  std::size_t case_index = 0;
  bool success = false;        // set by the dequeuer: true = a value moved; false = closed
  bool queued = false;
  waiter* prev = nullptr;
  waiter* next = nullptr;
};

/// FIFO of waiters, doubly linked so a select can take its waiters back.
/// Written under the channel's lock. `first` is atomic (relaxed: plain moves)
/// only so that the lock-free hints below (chan_core's *_looks_ready and
/// *_would_block) may read it without the lock.
struct waitq {
  std::atomic<waiter*> first{nullptr};
  waiter* last = nullptr;

  bool empty() const noexcept { return head() == nullptr; }
  waiter* head() const noexcept { return first.load(std::memory_order_relaxed); }

  void enqueue(waiter* w) noexcept {
    w->next = nullptr;
    w->prev = last;
    if (last != nullptr) {
      last->next = w;
    } else {
      first.store(w, std::memory_order_relaxed);
    }
    last = w;
    w->queued = true;
  }

  void remove(waiter* w) noexcept {
    if (w->prev != nullptr) {
      w->prev->next = w->next;
    } else {
      first.store(w->next, std::memory_order_relaxed);
    }
    if (w->next != nullptr) {
      w->next->prev = w->prev;
    } else {
      last = w->prev;
    }
    w->prev = w->next = nullptr;
    w->queued = false;
  }

  /// The first waiter that may still be completed; stale select waiters
  /// (their select already completed elsewhere) are dropped on the way.
  waiter* dequeue() noexcept {
    while (waiter* w = head()) {
      remove(w);
      if (w->sel == nullptr) return w;
      std::uint32_t expected = 0;
      if (w->sel->done.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) {
        w->sel->fired = w;
        return w;
      }
    }
    return nullptr;
  }
};

struct chan_core {
  std::atomic<std::int64_t> refs{1};
  const elem_ops* ops = nullptr;
  std::size_t cap = 0;
  runtime_mutex lock{lock_rank::channel};
  std::atomic<std::size_t> count{0};  // written under lock; read without it by size()
  std::size_t recvx = 0;
  std::size_t sendx = 0;
  std::atomic<bool> closed{false};    // written under lock
  waitq recvq;
  waitq sendq;
  unsigned char* buf = nullptr;
  // The goro::testing::bubble it was made in, or null; compared, never
  // followed (a member waiting on another bubble's channel, or one made
  // outside, is not durably blocked: bubble.hpp). Immutable.
  const void* bubble = nullptr;

  void* slot(std::size_t i) const noexcept { return buf + i * ops->size; }

  void move(void* dst, void* src) const noexcept {
    if (ops->trivial) {
      std::memcpy(dst, src, ops->size);
    } else {
      ops->move_construct(dst, src);
    }
  }
  void destroy(void* p) const noexcept {
    if (!ops->trivial) ops->destroy(p);
  }

  // ---- operations; lock held ----

  /// Sender met waiting receiver w (dequeued): the value goes straight to it.
  void hand_to_receiver(waiter* w, void* elem) noexcept {
    move(w->elem, elem);
    w->success = true;
  }
  /// Receiver met waiting sender w (dequeued). Unbuffered: take its value.
  /// Buffered (so full): take the head, and w's value joins the tail.
  void take_from_sender(waiter* w, void* out) noexcept {
    if (cap == 0) {
      move(out, w->elem);
    } else {
      void* head = slot(recvx);
      move(out, head);
      destroy(head);
      move(head, w->elem);  // the head slot becomes the tail
      if (++recvx == cap) recvx = 0;
      sendx = recvx;
    }
    w->success = true;
  }
  void buffer_push(void* elem) noexcept {
    move(slot(sendx), elem);
    if (++sendx == cap) sendx = 0;
    count.store(count.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  void buffer_pop(void* out) noexcept {
    void* head = slot(recvx);
    move(out, head);
    destroy(head);
    if (++recvx == cap) recvx = 0;
    count.store(count.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
  }
  bool buffer_full() const noexcept { return count.load(std::memory_order_relaxed) == cap; }
  bool buffer_empty() const noexcept { return count.load(std::memory_order_relaxed) == 0; }

  // ---- without the lock: hints, which the lock must confirm ----

  /// Whether a send could proceed now: closed (it would throw), a receiver
  /// waits, or the buffer has room.
  bool send_looks_ready() const noexcept {
    return closed.load(std::memory_order_relaxed) || recvq.head() != nullptr ||
           count.load(std::memory_order_relaxed) < cap;
  }
  /// Whether a receive could proceed now: a sender waits, a value is
  /// buffered, or the channel is closed.
  bool recv_looks_ready() const noexcept {
    return sendq.head() != nullptr || count.load(std::memory_order_relaxed) != 0 ||
           closed.load(std::memory_order_relaxed);
  }

  /// Whether a send would block: true is a valid answer for a non-blocking
  /// send, as in Go's chansend fast path. The channel was seen not closed,
  /// then not ready (no receiver waits on an unbuffered one, a buffered one
  /// is full); a closed channel never goes from ready to not ready, so
  /// there was a moment between the two reads when it was open and not
  /// ready, even if it was closed in between.
  bool send_would_block() const noexcept {
    if (closed.load(std::memory_order_acquire)) return false;
    return cap == 0 ? recvq.first.load(std::memory_order_relaxed) == nullptr
                    : count.load(std::memory_order_relaxed) == cap;
  }
  /// Whether a receive would block (Go's chanrecv fast path): one read finds
  /// nothing to receive (no sender waits on an unbuffered channel; a
  /// buffered one is empty, and its senders wait only while it is full),
  /// and a later read finds the channel open, so it was open at the first.
  /// The acquire keeps the second read after the first.
  bool recv_would_block() const noexcept {
    bool empty = cap == 0 ? sendq.first.load(std::memory_order_acquire) == nullptr
                          : count.load(std::memory_order_acquire) == 0;
    return empty && !closed.load(std::memory_order_relaxed);
  }
};

/// Blocks the caller forever (an operation on a nil channel, an empty select).
[[noreturn]] void block_forever(wait_reason reason) noexcept;

}  // namespace goro::detail
