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

chan_core* chan_make(const elem_ops* ops, std::size_t capacity) {
  runtime_start();
  std::size_t header = (sizeof(chan_core) + 63) & ~std::size_t{63};
  std::size_t align = ops->align > 64 ? ops->align : 64;
  if (capacity != 0 && ops->size > (SIZE_MAX - header) / capacity) throw std::bad_alloc();
  void* mem = ::operator new(header + capacity * ops->size, std::align_val_t{align});
  auto* c = ::new (mem) chan_core;
  c->ops = ops;
  c->cap = capacity;
  c->buf = static_cast<unsigned char*>(mem) + header;
  if (goroutine* g = current_goroutine()) c->bubble = g->bubble.load(std::memory_order_relaxed);
  return c;
}

void chan_retain(chan_core* c) noexcept { c->refs.fetch_add(1, std::memory_order_relaxed); }

void chan_release(chan_core* c) noexcept {
  if (c->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  // Last handle: nobody can wait on it any more. Destroy what is buffered.
  std::size_t n = c->count.load(std::memory_order_relaxed);
  for (std::size_t i = 0, x = c->recvx; i < n; ++i) {
    c->destroy(c->slot(x));
    if (++x == c->cap) x = 0;
  }
  std::size_t align = c->ops->align > 64 ? c->ops->align : 64;
  c->~chan_core();
  ::operator delete(static_cast<void*>(c), std::align_val_t{align});
}

void chan_send(chan_core* c, void* elem) {
  if (c == nullptr) block_forever(wait_reason::chan_send_nil);
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
  if (c == nullptr || c->send_would_block()) return false;
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
  if (c == nullptr || c->recv_would_block()) return false;
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
  // Everyone waiting leaves: receivers with nothing, senders with a panic.
  waiter* wake_list = nullptr;
  for (waitq* q : {&c->recvq, &c->sendq}) {
    while (waiter* w = q->dequeue()) {
      w->success = false;
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
  return c == nullptr ? 0 : c->count.load(std::memory_order_relaxed);
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
