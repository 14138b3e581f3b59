// src/select/select.cpp: Go's selectgo.
//
//  1. Visit the ready-able cases in a random order (pollorder) with every
//     involved channel locked (in address order: lockorder), and take the
//     first case that can proceed now. This is what makes the choice among
//     ready cases uniform, and the select atomic: a case not chosen consumes
//     and sends nothing.
//  2. Nothing ready and no default: enqueue one waiter per case, all sharing
//     a select_state, unlock, park. The first counterpart to CAS the state
//     completes exactly one case (chan_impl.hpp).
//  3. Woken: lock again and take the other waiters off their queues.
#include <algorithm>
#include <memory>

#include "chan/chan_impl.hpp"
#include "goro/errors.hpp"
#include "runtime/bubble.hpp"
#include "runtime/processor.hpp"

namespace goro::detail {
namespace {

// Stack storage for small selects, heap for large dynamic ones.
template <class T, std::size_t N>
class small_array {
 public:
  explicit small_array(std::size_t n) : data_(n <= N ? inline_ : (heap_ = std::make_unique<T[]>(n)).get()) {}
  T& operator[](std::size_t i) noexcept { return data_[i]; }
  T* data() noexcept { return data_; }

 private:
  T inline_[N];
  std::unique_ptr<T[]> heap_;
  T* data_;
};

void lock_all(select_case_raw* cases, const std::size_t* lockorder, std::size_t n) noexcept {
  chan_core* last = nullptr;
  for (std::size_t i = 0; i < n; ++i) {
    chan_core* c = cases[lockorder[i]].chan;
    if (c != last) c->lock.lock();
    last = c;
  }
}

void unlock_all(select_case_raw* cases, const std::size_t* lockorder, std::size_t n) noexcept {
  // Any order will do; unlock each distinct channel once.
  chan_core* last = nullptr;
  for (std::size_t i = 0; i < n; ++i) {
    chan_core* c = cases[lockorder[i]].chan;
    if (c != last) c->lock.unlock();
    last = c;
  }
}

}  // namespace

std::size_t select_raw(select_case_raw* cases, std::size_t n, bool has_default) {
  small_array<std::size_t, 8> pollorder(n);
  small_array<std::size_t, 8> lockorder(n);

  // Random poll order over the non-nil cases (an inside-out Fisher-Yates).
  std::size_t live = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (cases[i].chan == nullptr) continue;
    std::size_t j = fastrand() % (live + 1);
    pollorder[live] = pollorder[j];
    pollorder[j] = i;
    ++live;
  }
  if (live == 0) {
    if (has_default) return n;
    block_forever(n == 0 ? wait_reason::select_no_cases : wait_reason::select);
  }
  // Lock order: by channel address, so two selects never deadlock each other.
  for (std::size_t i = 0; i < live; ++i) lockorder[i] = pollorder[i];
  std::sort(lockorder.data(), lockorder.data() + live,
            [&](std::size_t a, std::size_t b) { return cases[a].chan < cases[b].chan; });

  lock_all(cases, lockorder.data(), live);

  // Pass 1: the first case that can proceed now, in poll order.
  for (std::size_t k = 0; k < live; ++k) {
    std::size_t i = pollorder[k];
    select_case_raw& sc = cases[i];
    chan_core* c = sc.chan;
    if (sc.is_send) {
      if (c->closed.load(std::memory_order_relaxed)) {
        unlock_all(cases, lockorder.data(), live);
        throw closed_channel_error("send on closed channel");
      }
      if (waiter* w = c->recvq.dequeue()) {
        c->hand_to_receiver(w, sc.elem);
        unlock_all(cases, lockorder.data(), live);
        w->who.wake();
        return i;
      }
      if (!c->buffer_full()) {
        c->buffer_push(sc.elem);
        unlock_all(cases, lockorder.data(), live);
        return i;
      }
    } else {
      if (waiter* w = c->sendq.dequeue()) {
        c->take_from_sender(w, sc.elem);
        sc.received = true;
        unlock_all(cases, lockorder.data(), live);
        w->who.wake();
        return i;
      }
      if (!c->buffer_empty()) {
        c->buffer_pop(sc.elem);
        sc.received = true;
        unlock_all(cases, lockorder.data(), live);
        return i;
      }
      if (c->closed.load(std::memory_order_relaxed)) {
        sc.received = false;
        unlock_all(cases, lockorder.data(), live);
        return i;
      }
    }
  }
  if (has_default) {
    unlock_all(cases, lockorder.data(), live);
    return n;
  }

  // Pass 2: wait on every case.
  select_state state;
  parker me = parker::current();
  small_array<waiter, 8> waiters(n);
  for (std::size_t k = 0; k < live; ++k) bubble_note_wait_on(me.g, cases[lockorder[k]].chan->bubble);
  me.prepare(wait_reason::select);
  for (std::size_t k = 0; k < live; ++k) {
    std::size_t i = lockorder[k];
    waiter& w = waiters[i];
    w.who = me;
    w.elem = cases[i].elem;
    w.chan = cases[i].chan;
    w.sel = &state;
    w.case_index = i;
    (cases[i].is_send ? w.chan->sendq : w.chan->recvq).enqueue(&w);
  }
  unlock_all(cases, lockorder.data(), live);
  me.park();
  bubble_note_wait_done(me.g);

  // Pass 3: one case fired; take the other waiters back.
  lock_all(cases, lockorder.data(), live);
  for (std::size_t k = 0; k < live; ++k) {
    std::size_t i = lockorder[k];
    waiter& w = waiters[i];
    if (w.queued) (cases[i].is_send ? w.chan->sendq : w.chan->recvq).remove(&w);
  }
  unlock_all(cases, lockorder.data(), live);

  waiter* fired = state.fired;
  std::size_t i = fired->case_index;
  if (cases[i].is_send) {
    if (!fired->success) throw closed_channel_error("send on closed channel");
  } else {
    cases[i].received = fired->success;
  }
  return i;
}

}  // namespace goro::detail
