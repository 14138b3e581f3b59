// src/chan/chan_impl.hpp: the channel's representation, shared by chan.cpp
// and select.cpp (Go's hchan and sudog).
//
// An unbuffered channel, and a buffered one below ring_min_capacity(), are
// Go's: everything under c.lock. A larger buffered one keeps its values in a
// lock-free ring (Vyukov's bounded queue), and its lock guards only the
// waiter queues: a sender and a receiver on two cores then meet on no line
// but the slot's (spsc/2 about half the time of the locked buffer). Below
// that capacity the lock's single RMW an operation is cheaper: a small
// buffer fills and empties often, and a wait on the ring costs the ring's
// CASes on top of the lock's. Invariants (c.lock guards recvq, sendq,
// closed's writes, and the locked buffer):
//  - Unbuffered and the locked buffer: if recvq is non-empty, the buffer is
//    empty (receivers wait only for an empty channel); if sendq is
//    non-empty, the buffer is full. Hence a sender that finds a receiver
//    hands its value over directly (hand_to_receiver), and a receiver that
//    finds a waiting sender on a full buffer takes the head and moves the
//    sender's value to the tail (take_from_sender): FIFO order holds.
//  - Ring: values move only through the ring, so FIFO order is the
//    ring's: a value sent before another (happens-before) is received
//    before it, whoever waits. The one exception keeps that order too: a
//    sender that finds a receiver waiting and the ring empty (under the
//    lock) hands its value straight over (hand_over). Otherwise a sender
//    that pushed serves the first waiting receiver: it pops the oldest
//    value into the receiver's storage (serve_receiver); a receiver that
//    popped serves the first waiting sender: it pushes the sender's value
//    (serve_sender). So waiters are served in the order they came, as in
//    Go. If a party that needs no wait took the value (the room) in
//    between, the waiter is told to look again (retry), and close tells
//    every waiter to look again.
//  - Lost wake-ups (ring): a waiter queues itself under the lock and,
//    still under it, tries the ring again; only then does it prepare and
//    park. A party that pushed or popped reads the queue's head after its
//    seq_cst CAS on the ring's index. The waiter's try reads the index after
//    a seq_cst fence (ring_push/ring_pop with `waiter` set fence before
//    deciding "full" or "empty"). That is the store-buffering pair: either the try sees the
//    push (pop), or the counterpart sees the waiter and wakes it.
//  - A waiter is on at most one queue (queued says so) and its fields are
//    read and written under that channel's lock until it is dequeued; the
//    dequeuer then owns it until it calls who.wake(), and never touches it
//    after.
//  - A select's waiters share one select_state: the first dequeuer to CAS
//    done 0->1 completes the select; others skip its stale waiters.
//  - Never wake while holding a channel lock: collect, unlock, then wake.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>

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
  bool retry = false;          // buffered: set by the dequeuer: nothing moved, look again
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

/// What a ring operation found.
enum class ring_status : std::uint8_t {
  done,     // pushed (popped)
  blocked,  // full (empty)
  closed,   // push: the channel is closed; pop: closed and drained
};

struct chan_core {
  // The fields of the locked paths first, in the order they had before the
  // ring, so that a locked channel's lock and buffer indices share a line.
  std::atomic<std::int64_t> refs{1};
  const elem_ops* ops = nullptr;
  std::size_t cap = 0;
  runtime_mutex lock{lock_rank::channel};
  // ---- the locked buffer (lock held; count is read without it) ----
  // The buffered values are the count slots from recvx.
  std::atomic<std::size_t> count{0};
  std::size_t recvx = 0;
  std::size_t sendx = 0;
  std::atomic<bool> closed{false};  // written under lock
  waitq recvq;
  waitq sendq;
  unsigned char* buf = nullptr;  // the ring's slots, or the locked buffer's values
  // The goro::testing::bubble it was made in, or null; compared, never
  // followed (a member waiting on another bubble's channel, or one made
  // outside, is not durably blocked: bubble.hpp). Immutable.
  const void* bubble = nullptr;
  // A buffered channel of capacity ring_min_capacity() or more keeps its
  // values in the ring below; a smaller one in the locked buffer (Go's),
  // where a send or receive costs one lock and nothing else. Immutable.
  bool ring = false;

  // ---- the ring ----
  // Positions count up from 0 (2^63 is never reached); position p lives in
  // slot p & mask; the ring has mask + 1 slots, the power of two at or
  // above cap and at least 2.
  // The channel holds tail - head values, at most cap. Slot i's stamp is
  // the position a sender may write there next (i at first), p + 1 once
  // position p is written, and p + mask + 1 once it is read. The stamps'
  // release/acquire order a value's writes before its reads.
  //
  // A sender claims position tail by CAS, then waits for the slot's stamp
  // to say the previous lap's receiver is done with it (it claimed it, as
  // fewer than cap values are held, and is a few instructions from its
  // stamp); a receiver likewise. Neither reads a slot before its CAS, so
  // the CAS does not wait for a load of another line. Whether there is room
  // (a value) is read from a copy of the other side's index kept on one's
  // own line: seen_head (seen_tail) only ever lags, so when it says there
  // is room (a value) there is; when it says not, the real index is read,
  // after a seq_cst fence: the waiter's half of the lost-wake-up pair.
  std::size_t slot_size = 0;   // stamp, then the value at value_off (ring)
  std::size_t value_off = 0;
  std::uint64_t mask = 0;
  static constexpr std::uint64_t closed_bit = std::uint64_t{1} << 63;  // in tail
  alignas(64) std::atomic<std::uint64_t> head{0};       // receivers' next position
  std::atomic<std::uint64_t> seen_tail{0};              // a tail receivers read (relaxed)
  alignas(64) std::atomic<std::uint64_t> tail{0};       // senders' next position | closed_bit
  std::atomic<std::uint64_t> seen_head{0};              // a head senders read (relaxed)
  char pad_[64 - 2 * sizeof(std::atomic<std::uint64_t>)];

  std::atomic<std::uint64_t>& stamp(std::uint64_t pos) const noexcept {
    return *std::launder(reinterpret_cast<std::atomic<std::uint64_t>*>(buf + (pos & mask) * slot_size));
  }
  void* value(std::uint64_t pos) const noexcept { return buf + (pos & mask) * slot_size + value_off; }

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

  // ---- unbuffered and the locked buffer; lock held ----

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
      void* head_slot = slot(recvx);
      move(out, head_slot);
      destroy(head_slot);
      move(head_slot, w->elem);  // the head slot becomes the tail
      if (++recvx == cap) recvx = 0;
      sendx = recvx;
    }
    w->success = true;
  }
  void* slot(std::size_t i) const noexcept { return buf + i * ops->size; }
  void buffer_push(void* elem) noexcept {
    move(slot(sendx), elem);
    if (++sendx == cap) sendx = 0;
    count.store(count.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  void buffer_pop(void* out) noexcept {
    void* head_slot = slot(recvx);
    move(out, head_slot);
    destroy(head_slot);
    if (++recvx == cap) recvx = 0;
    count.store(count.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
  }
  bool buffer_full() const noexcept { return count.load(std::memory_order_relaxed) == cap; }
  bool buffer_empty() const noexcept { return count.load(std::memory_order_relaxed) == 0; }

  // ---- buffered: the ring, lock-free (the lock may be held or not) ----

  /// Moves *elem into the ring. `blocked` (full) and `closed` leave it.
  /// `waiter`: the caller is queued as a waiting sender and parks on
  /// `blocked`, so "full" must be read after a seq_cst fence (the
  /// lost-wake-up pair); anyone else may read it without.
  ring_status ring_push(void* elem, bool waiter = false) noexcept {
    // The loads of the indices are seq_cst (plain loads on x86), so that a
    // "full" ("empty") answer without the fence is still one moment's: the
    // index read first was not yet moved on when the other was read.
    std::uint64_t t = tail.load(std::memory_order_seq_cst);
    for (int misses = 0;;) {
      if ((t & closed_bit) != 0) return ring_status::closed;
      auto held = static_cast<std::int64_t>(t - seen_head.load(std::memory_order_relaxed));
      if (held >= static_cast<std::int64_t>(cap)) {
        if (waiter) std::atomic_thread_fence(std::memory_order_seq_cst);
        std::uint64_t h = head.load(std::memory_order_seq_cst);
        seen_head.store(h, std::memory_order_relaxed);
        // t only lags the real tail, so this many were held at the read.
        if (static_cast<std::int64_t>(t - h) >= static_cast<std::int64_t>(cap)) return ring_status::blocked;
      } else if (held < 0) {
        t = tail.load(std::memory_order_seq_cst);  // t is older than a head seen since
        continue;
      }
      // seq_cst: the claim is the store half of the lost-wake-up pair.
      if (tail.compare_exchange_weak(t, t + 1, std::memory_order_seq_cst)) break;
      contention_backoff(misses++);
    }
    std::atomic<std::uint64_t>& st = stamp(t);
    for (int tries = 0; st.load(std::memory_order_acquire) != t; ++tries) ring_backoff(tries);
    move(value(t), elem);
    st.store(t + 1, std::memory_order_release);
    return ring_status::done;
  }

  /// Moves the oldest value into out (uninitialised storage). `closed`:
  /// closed and drained. `waiter`: as for ring_push.
  ring_status ring_pop(void* out, bool waiter = false) noexcept {
    std::uint64_t h = head.load(std::memory_order_seq_cst);  // seq_cst: see ring_push
    for (int misses = 0;;) {
      if (static_cast<std::int64_t>(seen_tail.load(std::memory_order_relaxed) - h) <= 0) {
        if (waiter) std::atomic_thread_fence(std::memory_order_seq_cst);
        std::uint64_t t = tail.load(std::memory_order_seq_cst);
        bool closed_now = (t & closed_bit) != 0;
        t &= ~closed_bit;
        seen_tail.store(t, std::memory_order_relaxed);
        // head <= tail always, and h only lags the real head: t <= h means
        // the two were equal at the read, empty.
        if (static_cast<std::int64_t>(t - h) <= 0) return closed_now ? ring_status::closed : ring_status::blocked;
      }
      if (head.compare_exchange_weak(h, h + 1, std::memory_order_seq_cst)) break;
      contention_backoff(misses++);
    }
    std::atomic<std::uint64_t>& st = stamp(h);
    for (int tries = 0; st.load(std::memory_order_acquire) != h + 1; ++tries) ring_backoff(tries);
    void* v = value(h);
    move(out, v);
    destroy(v);
    st.store(h + mask + 1, std::memory_order_release);
    return ring_status::done;
  }

  /// Another party's CAS won: let it have the line for a while (as the
  /// channel lock's spin does) rather than take it straight back.
  static void contention_backoff(int misses) noexcept {
    for (int i = 0, n = 1 << (misses < 6 ? misses : 6); i < n; ++i) cpu_relax();
  }

  /// A counterpart claimed the slot and has not yet stamped it (a few
  /// instructions, unless its thread was preempted right there).
  static void ring_backoff(int tries) noexcept {
    if (tries < 6) {
      for (int i = 0; i < (4 << tries); ++i) cpu_relax();
    } else {
      os_yield();
    }
  }

  /// Values in the ring: a tail and a head read at one moment.
  std::size_t ring_len() const noexcept {
    for (;;) {
      std::uint64_t t = tail.load(std::memory_order_seq_cst);
      std::uint64_t h = head.load(std::memory_order_seq_cst);
      if (tail.load(std::memory_order_seq_cst) != t) continue;
      t &= ~closed_bit;
      return t > h ? static_cast<std::size_t>(t - h) : 0;
    }
  }
  /// Whether a send (receive) could proceed with the ring's indices at h
  /// and t (t as loaded, closed_bit and all): room (a value), or closed.
  bool ring_ready(bool send, std::uint64_t h, std::uint64_t t) const noexcept {
    if ((t & closed_bit) != 0) return true;
    return send ? t - h < cap : t != h;
  }

  /// Lock held: a receiver waits and the ring is empty (so it holds no value
  /// sent before this one): the value goes straight to the receiver, as in
  /// Go, instead of a push and a pop on the receiver's behalf (two CASes).
  /// Returns the receiver to wake once the lock is released, or null.
  waiter* hand_over_locked(void* elem) noexcept {
    if (recvq.head() == nullptr) return nullptr;
    if (tail.load(std::memory_order_seq_cst) != head.load(std::memory_order_seq_cst)) return nullptr;  // values, or closed
    waiter* w = recvq.dequeue();
    if (w != nullptr) {
      move(w->elem, elem);
      w->success = true;
      w->retry = false;
    }
    return w;
  }
  /// The same, taking the lock if a receiver seems to wait; true if handed.
  bool hand_over(void* elem) noexcept {
    if (recvq.head() == nullptr) return false;
    lock.lock();
    waiter* w = hand_over_locked(elem);
    lock.unlock();
    if (w == nullptr) return false;
    w->who.wake();
    return true;
  }

  /// After a push: the first waiting receiver, if any, gets the oldest
  /// value. After a pop: the first waiting sender's value goes into the
  /// ring. Each takes the lock only if its queue's head is set; that
  /// seq_cst load is the load half of the lost-wake-up pair (a plain load
  /// on x86 and ARMv8).
  void serve_receiver() noexcept;
  void serve_sender() noexcept;

  // ---- not the ring, without the lock: hints, which the lock must confirm ----

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

  /// Not the ring: whether a send would block. True is a valid answer for
  /// a non-blocking send, as in Go's chansend fast path. The channel was
  /// seen not closed, then not ready (no receiver waits on an unbuffered
  /// one, a buffered one is full); a closed channel never goes from ready to
  /// not ready, so there was a moment between the two reads when it was
  /// open and not ready, even if it was closed in between.
  bool send_would_block() const noexcept {
    if (closed.load(std::memory_order_acquire)) return false;
    return cap == 0 ? recvq.first.load(std::memory_order_relaxed) == nullptr
                    : count.load(std::memory_order_relaxed) == cap;
  }
  /// Not the ring: whether a receive would block (Go's chanrecv fast path):
  /// one read finds nothing to receive (no sender waits on an unbuffered
  /// channel; a buffered one is empty, and its senders wait only while it
  /// is full), and a later read finds the channel open, so it was open at
  /// the first. The acquire keeps the second read after the first.
  bool recv_would_block() const noexcept {
    bool empty = cap == 0 ? sendq.first.load(std::memory_order_acquire) == nullptr
                          : count.load(std::memory_order_acquire) == 0;
    return empty && !closed.load(std::memory_order_relaxed);
  }
};

/// The smallest capacity whose channels use the ring (chan_make).
std::size_t ring_min_capacity() noexcept;

/// Blocks the caller forever (an operation on a nil channel, an empty select).
[[noreturn]] void block_forever(wait_reason reason) noexcept;

}  // namespace goro::detail
