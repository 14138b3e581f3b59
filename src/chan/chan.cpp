// src/chan/chan.cpp: channel send, receive, close (Go's chan.go).
// The representation and its invariants are in chan_impl.hpp.
#include <cstdlib>
#include <new>

#include "chan/chan_impl.hpp"
#include "goro/errors.hpp"
#include "runtime/bubble.hpp"
#include "runtime/processor.hpp"

namespace goro::detail {

void block_forever(wait_reason reason) noexcept {
  parker me = parker::current();
  for (;;) {
    me.prepare(reason);
    me.park();
  }
}

std::size_t ring_min_capacity() noexcept {
  // GORO_CHAN_RING=<n>: from capacity n on (1: every buffered channel).
  // For tests, which run the channel suites on both representations, and
  // for measuring; the default is where the ring started to pay on the
  // machines measured (bench/limits.md).
  static const std::size_t min = [] {
    const char* env = std::getenv("GORO_CHAN_RING");
    if (env == nullptr || *env == '\0') return std::size_t{256};
    char* end = nullptr;
    unsigned long long n = std::strtoull(env, &end, 10);
    return *end == '\0' && n > 0 ? static_cast<std::size_t>(n) : std::size_t{256};
  }();
  return min;
}

chan_core* chan_make(const elem_ops* ops, std::size_t capacity) {
  runtime_start();
  std::size_t header = (sizeof(chan_core) + 63) & ~std::size_t{63};
  std::size_t align = ops->align > 64 ? ops->align : 64;
  bool ring = capacity != 0 && capacity >= ring_min_capacity();
  std::size_t value_off = 0, slot_size = ops->size, slots = capacity;
  if (ring) {
    // A slot: the stamp, then the value at its alignment. The slots: the
    // power of two at or above the capacity, and at least two (with one,
    // the stamp of a freed slot, p + 1, would read as position p written).
    std::size_t value_align = ops->align > alignof(std::atomic<std::uint64_t>) ? ops->align
                                                                               : alignof(std::atomic<std::uint64_t>);
    value_off = (sizeof(std::atomic<std::uint64_t>) + value_align - 1) & ~(value_align - 1);
    slot_size = (value_off + ops->size + value_align - 1) & ~(value_align - 1);
    if (capacity > (std::size_t{1} << 40)) throw std::bad_alloc();
    slots = 2;
    while (slots < capacity) slots <<= 1;
  }
  if (slots != 0 && slot_size > (SIZE_MAX - header) / slots) throw std::bad_alloc();
  void* mem = ::operator new(header + slots * slot_size, std::align_val_t{align});
  auto* c = ::new (mem) chan_core;
  c->ops = ops;
  c->cap = capacity;
  c->ring = ring;
  c->buf = static_cast<unsigned char*>(mem) + header;
  if (ring) {
    c->slot_size = slot_size;
    c->value_off = value_off;
    c->mask = slots - 1;
    for (std::uint64_t i = 0; i < slots; ++i) ::new (c->buf + i * slot_size) std::atomic<std::uint64_t>(i);
  }
  if (goroutine* g = current_goroutine()) c->bubble = g->bubble.load(std::memory_order_relaxed);
  return c;
}

void chan_retain(chan_core* c) noexcept { c->refs.fetch_add(1, std::memory_order_relaxed); }

void chan_release(chan_core* c) noexcept {
  if (c->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  // Last handle: nobody can wait on it any more. Destroy what is buffered.
  if (c->ring) {
    std::uint64_t t = c->tail.load(std::memory_order_relaxed) & ~chan_core::closed_bit;
    for (std::uint64_t h = c->head.load(std::memory_order_relaxed); h != t; ++h) c->destroy(c->value(h));
  } else {
    std::size_t n = c->count.load(std::memory_order_relaxed);
    for (std::size_t i = 0, x = c->recvx; i < n; ++i) {
      c->destroy(c->slot(x));
      if (++x == c->cap) x = 0;
    }
  }
  std::size_t align = c->ops->align > 64 ? c->ops->align : 64;
  c->~chan_core();
  ::operator delete(static_cast<void*>(c), std::align_val_t{align});
}

void chan_core::serve_receiver() noexcept {
  if (recvq.first.load(std::memory_order_seq_cst) == nullptr) return;
  lock.lock();
  waiter* w = recvq.dequeue();
  if (w != nullptr) {
    ring_status r = ring_pop(w->elem);
    w->success = r == ring_status::done;
    w->retry = !w->success;  // a receiver that did not wait took it
  }
  lock.unlock();
  if (w != nullptr) w->who.wake();
}

void chan_core::serve_sender() noexcept {
  if (sendq.first.load(std::memory_order_seq_cst) == nullptr) return;
  lock.lock();
  waiter* w = sendq.dequeue();
  if (w != nullptr) {
    // Not closed: close empties the queues under the lock we hold.
    ring_status r = ring_push(w->elem);
    w->success = r == ring_status::done;
    w->retry = !w->success;  // a sender that did not wait took the room
  }
  lock.unlock();
  if (w != nullptr) w->who.wake();
}

namespace {

// Buffered send and receive on the ring, and when it is full (empty) a
// wait until a counterpart or close says to look again (chan_impl.hpp).
// ring_wait queues the caller on q, tries `op` once more under the lock (queued
// first: see "Lost wake-ups"), and parks only if that is still blocked.
// Returns the try's done or closed; or, having parked, done if a
// counterpart moved the value (the room) for the caller (*served), and
// blocked if it was told to look again (on the ring close says that too).
template <class Op>
ring_status ring_wait(chan_core* c, waitq& q, void* elem, wait_reason reason, bool* served, Op op) {
  waiter w;
  w.who = parker::current();
  w.elem = elem;
  w.chan = c;
  c->lock.lock();
  q.enqueue(&w);
  ring_status r = op();
  if (r != ring_status::blocked) {
    q.remove(&w);
    c->lock.unlock();
    return r;
  }
  bubble_note_wait_on(w.who.g, c->bubble);
  w.who.prepare(reason);
  c->lock.unlock();
  w.who.park();
  bubble_note_wait_done(w.who.g);
  *served = !w.retry;
  return w.retry ? ring_status::blocked : ring_status::done;
}

void ring_send(chan_core* c, void* elem) {
  for (;;) {
    if (c->hand_over(elem)) return;
    ring_status r = c->ring_push(elem);
    bool served = false;
    if (r == ring_status::blocked) {
      r = ring_wait(c, c->sendq, elem, wait_reason::chan_send, &served, [&] { return c->ring_push(elem, true); });
    }
    if (r == ring_status::blocked) continue;
    if (r == ring_status::closed) throw closed_channel_error("send on closed channel");
    if (!served) c->serve_receiver();
    return;
  }
}

bool ring_recv(chan_core* c, void* out) {
  for (;;) {
    ring_status r = c->ring_pop(out);
    bool served = false;
    if (r == ring_status::blocked) {
      r = ring_wait(c, c->recvq, out, wait_reason::chan_receive, &served, [&] { return c->ring_pop(out, true); });
    }
    if (r == ring_status::blocked) continue;
    if (r == ring_status::closed) return false;
    if (!served) c->serve_sender();
    return true;
  }
}

}  // namespace

void chan_send(chan_core* c, void* elem) {
  if (c == nullptr) block_forever(wait_reason::chan_send_nil);
  if (c->ring) return ring_send(c, elem);
  c->lock.lock();
  if (c->closed.load(std::memory_order_relaxed)) {
    c->lock.unlock();
    throw closed_channel_error("send on closed channel");
  }
  if (waiter* w = c->recvq.dequeue()) {
    c->hand_to_receiver(w, elem);
    c->lock.unlock();
    w->who.wake();
    return;
  }
  if (!c->buffer_full()) {
    c->buffer_push(elem);
    c->lock.unlock();
    return;
  }
  waiter w;
  w.who = parker::current();
  w.elem = elem;
  w.chan = c;
  bubble_note_wait_on(w.who.g, c->bubble);
  w.who.prepare(wait_reason::chan_send);
  c->sendq.enqueue(&w);
  c->lock.unlock();
  w.who.park();
  bubble_note_wait_done(w.who.g);
  if (!w.success) throw closed_channel_error("send on closed channel");
}

bool chan_recv(chan_core* c, void* out) {
  if (c == nullptr) block_forever(wait_reason::chan_receive_nil);
  if (c->ring) return ring_recv(c, out);
  c->lock.lock();
  if (waiter* w = c->sendq.dequeue()) {
    c->take_from_sender(w, out);
    c->lock.unlock();
    w->who.wake();
    return true;
  }
  if (!c->buffer_empty()) {
    c->buffer_pop(out);
    c->lock.unlock();
    return true;
  }
  if (c->closed.load(std::memory_order_relaxed)) {
    c->lock.unlock();
    return false;
  }
  waiter w;
  w.who = parker::current();
  w.elem = out;
  w.chan = c;
  bubble_note_wait_on(w.who.g, c->bubble);
  w.who.prepare(wait_reason::chan_receive);
  c->recvq.enqueue(&w);
  c->lock.unlock();
  w.who.park();
  bubble_note_wait_done(w.who.g);
  return w.success;
}

bool chan_try_send(chan_core* c, void* elem) {
  if (c == nullptr) return false;
  if (c->ring) {
    if (c->hand_over(elem)) return true;
    ring_status r = c->ring_push(elem);
    if (r == ring_status::closed) throw closed_channel_error("send on closed channel");
    if (r == ring_status::blocked) return false;
    c->serve_receiver();
    return true;
  }
  if (c->send_would_block()) return false;
  c->lock.lock();
  if (c->closed.load(std::memory_order_relaxed)) {
    c->lock.unlock();
    throw closed_channel_error("send on closed channel");
  }
  if (waiter* w = c->recvq.dequeue()) {
    c->hand_to_receiver(w, elem);
    c->lock.unlock();
    w->who.wake();
    return true;
  }
  if (!c->buffer_full()) {
    c->buffer_push(elem);
    c->lock.unlock();
    return true;
  }
  c->lock.unlock();
  return false;
}

bool chan_try_recv(chan_core* c, void* out, bool* closed) {
  *closed = false;
  if (c == nullptr) return false;
  if (c->ring) {
    ring_status r = c->ring_pop(out);
    if (r == ring_status::closed) *closed = true;
    if (r != ring_status::done) return false;
    c->serve_sender();
    return true;
  }
  if (c->recv_would_block()) return false;
  c->lock.lock();
  if (waiter* w = c->sendq.dequeue()) {
    c->take_from_sender(w, out);
    c->lock.unlock();
    w->who.wake();
    return true;
  }
  if (!c->buffer_empty()) {
    c->buffer_pop(out);
    c->lock.unlock();
    return true;
  }
  *closed = c->closed.load(std::memory_order_relaxed);
  c->lock.unlock();
  return false;
}

void chan_close(chan_core* c) {
  if (c == nullptr) throw panic_error("close of nil channel");
  c->lock.lock();
  if (c->closed.load(std::memory_order_relaxed)) {
    c->lock.unlock();
    throw panic_error("close of closed channel");
  }
  c->closed.store(true, std::memory_order_relaxed);
  // The ring: pushes fail from here on (their CAS sees the bit); receivers
  // drain what is in it, then find it closed.
  if (c->ring) c->tail.fetch_or(chan_core::closed_bit, std::memory_order_seq_cst);
  // Everyone waiting leaves: receivers with nothing, senders with a panic;
  // on the ring all look again (a value may still be in it).
  waiter* wake_list = nullptr;
  for (waitq* q : {&c->recvq, &c->sendq}) {
    while (waiter* w = q->dequeue()) {
      w->success = false;
      w->retry = c->ring;
      w->next = wake_list;
      wake_list = w;
    }
  }
  c->lock.unlock();
  while (waiter* w = wake_list) {
    wake_list = w->next;
    w->who.wake();
  }
}

std::size_t chan_size(const chan_core* c) noexcept {
  if (c == nullptr) return 0;
  return c->ring ? c->ring_len() : c->count.load(std::memory_order_relaxed);
}

std::size_t chan_waiting(chan_core* c, bool senders) noexcept {
  if (c == nullptr) return 0;
  runtime_lock_guard lock(c->lock);
  std::size_t n = 0;
  for (waiter* w = (senders ? c->sendq : c->recvq).head(); w != nullptr; w = w->next) ++n;
  return n;
}

std::size_t chan_capacity(const chan_core* c) noexcept { return c == nullptr ? 0 : c->cap; }

}  // namespace goro::detail
