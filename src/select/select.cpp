// src/select/select.cpp: Go's selectgo.
//
//  0. Probe (two or more live cases): visit the cases in a random order
//     (pollorder); for the first one that looks ready without a lock
//     (chan_core::*_looks_ready), lock its channel alone, and complete it if
//     it can proceed. A case that turns out not ready is unlocked and the
//     probe goes on. So a select with a ready case locks one channel, not
//     all of them; the choice is still the first ready case in a uniform
//     random order. One case and a default: a case that would block
//     (chan_core::*_would_block) returns the default with no lock taken.
//  1. Visit the cases in poll order with every involved channel locked (in
//     address order: lockorder), and take the first case that can proceed
//     now. This is what makes the choice among ready cases uniform, and the
//     select atomic: a case not chosen consumes and sends nothing. It also
//     decides, atomically, that nothing is ready, which the probe cannot.
//  2. Nothing ready and no default: enqueue one waiter per case, all sharing
//     a select_state, unlock, park. The first counterpart to CAS the state
//     completes exactly one case (chan_impl.hpp).
//  3. Woken: lock again and take the other waiters off their queues.
// A ring channel (chan_impl.hpp) needs no lock for its values: its case is
// tried without one in pass 0; pass 2 looks at the rings again once its
// waiters are queued; a default in pass 1 is taken only if the rings were
// all not ready at one moment (rings_settled); and a wake from a ring may
// say "look again", which starts the select over.
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

// A ring channel's case: the ring needs no lock, so this may run with
// the channel locked or not. The wake of a waiting counterpart comes after
// release(), as every wake must.
template <class Release>
bool try_ring_case(select_case_raw& sc, Release release, bool locked) {
  chan_core* c = sc.chan;
  if (sc.is_send) {
    if (locked) {
      if (waiter* w = c->hand_over_locked(sc.elem)) {
        release();
        w->who.wake();
        return true;
      }
    } else if (c->hand_over(sc.elem)) {
      return true;
    }
    ring_status r = c->ring_push(sc.elem);
    if (r == ring_status::blocked) return false;
    release();
    if (r == ring_status::closed) throw closed_channel_error("send on closed channel");
    c->serve_receiver();
    return true;
  }
  ring_status r = c->ring_pop(sc.elem);
  if (r == ring_status::blocked) return false;
  release();
  sc.received = r == ring_status::done;
  if (sc.received) c->serve_sender();
  return true;
}

// Completes case sc if it can proceed now, with its channel locked (and
// perhaps others). `release` unlocks what the caller locked; it is called
// before any wake and before a throw, and only when the case proceeded (or
// threw): on false the caller still holds its locks.
template <class Release>
bool try_case(select_case_raw& sc, Release release) {
  chan_core* c = sc.chan;
  if (c->ring) return try_ring_case(sc, release, true);
  if (sc.is_send) {
    if (c->closed.load(std::memory_order_relaxed)) {
      release();
      throw closed_channel_error("send on closed channel");
    }
    if (waiter* w = c->recvq.dequeue()) {
      c->hand_to_receiver(w, sc.elem);
      release();
      w->who.wake();
      return true;
    }
    if (!c->buffer_full()) {
      c->buffer_push(sc.elem);
      release();
      return true;
    }
    return false;
  }
  if (waiter* w = c->sendq.dequeue()) {
    c->take_from_sender(w, sc.elem);
    sc.received = true;
    release();
    w->who.wake();
    return true;
  }
  if (!c->buffer_empty()) {
    c->buffer_pop(sc.elem);
    sc.received = true;
    release();
    return true;
  }
  if (c->closed.load(std::memory_order_relaxed)) {
    sc.received = false;
    release();
    return true;
  }
  return false;
}

// Whether a ring case could proceed now (after a seq_cst fence: the
// waiter's half of the lost-wake-up pair, chan_impl.hpp).
bool ring_case_ready(const select_case_raw& sc) noexcept {
  const chan_core* c = sc.chan;
  std::uint64_t h = c->head.load(std::memory_order_relaxed);
  return c->ring_ready(sc.is_send, h, c->tail.load(std::memory_order_relaxed));
}

// Whether every ring case is still not ready at one moment. Pass 1 sees
// each ring at its own moment (rings need no lock), so a case may have
// become ready while a later one stopped being ready. Read every ring's
// positions, check that none is ready, and read them again: positions only
// grow (2^63 is never reached), so the same values twice mean they all held
// at the moment between the two reads.
bool rings_settled(const select_case_raw* cases, const std::size_t* order, std::size_t live) {
  small_array<std::uint64_t, 16> seen(2 * live);
  std::size_t m = 0;
  for (std::size_t k = 0; k < live; ++k) {
    const select_case_raw& sc = cases[order[k]];
    const chan_core* c = sc.chan;
    if (!c->ring) continue;
    std::uint64_t h = c->head.load(std::memory_order_seq_cst);
    std::uint64_t t = c->tail.load(std::memory_order_seq_cst);
    if (c->ring_ready(sc.is_send, h, t)) return false;
    seen[m++] = h;
    seen[m++] = t;
  }
  std::size_t j = 0;
  for (std::size_t k = 0; k < live && j < m; ++k) {
    const chan_core* c = cases[order[k]].chan;
    if (!c->ring) continue;
    if (c->head.load(std::memory_order_seq_cst) != seen[j] || c->tail.load(std::memory_order_seq_cst) != seen[j + 1]) {
      return false;
    }
    j += 2;
  }
  return true;
}

}  // namespace

std::size_t select_raw(select_case_raw* cases, std::size_t n, bool has_default) {
  small_array<std::size_t, 8> pollorder(n);
  small_array<std::size_t, 8> lockorder(n);

  // Random poll order over the non-nil cases (an inside-out Fisher-Yates).
  std::size_t live = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (cases[i].chan == nullptr) continue;
    std::size_t j = fastrandn(static_cast<std::uint32_t>(live + 1));
    pollorder[live] = pollorder[j];
    pollorder[j] = i;
    ++live;
  }
  if (live == 0) {
    if (has_default) return n;
    block_forever(n == 0 ? wait_reason::select_no_cases : wait_reason::select);
  }
  bool sorted = false;
  auto release = [&] { unlock_all(cases, lockorder.data(), live); };
  auto no_lock = [] {};

  // A ring channel's waiter may be told to look again (chan_impl.hpp):
  // the select then starts over.
  for (;;) {
    // Pass 0: probe, one channel locked at a time, a ring one not at
    // all (with one live case, pass 1 locks just that channel anyway; with
    // a default as well, a case that would block takes no lock at all,
    // Go's selectnbsend/selectnbrecv).
    if (live == 1 && has_default) {
      std::size_t i = pollorder[0];
      select_case_raw& sc = cases[i];
      if (sc.chan->ring) return try_ring_case(sc, no_lock, false) ? i : n;
      if (sc.is_send ? sc.chan->send_would_block() : sc.chan->recv_would_block()) return n;
    } else if (live > 1) {
      for (std::size_t k = 0; k < live; ++k) {
        std::size_t i = pollorder[k];
        select_case_raw& sc = cases[i];
        chan_core* c = sc.chan;
        if (c->ring) {
          // The try is the look: a few loads when it cannot proceed.
          if (try_ring_case(sc, no_lock, false)) return i;
          continue;
        }
        if (!(sc.is_send ? c->send_looks_ready() : c->recv_looks_ready())) continue;
        c->lock.lock();
        if (try_case(sc, [c] { c->lock.unlock(); })) return i;
        c->lock.unlock();
      }
    }

    // Lock order: by channel address, so two selects never deadlock each other.
    if (!sorted) {
      for (std::size_t i = 0; i < live; ++i) lockorder[i] = pollorder[i];
      std::sort(lockorder.data(), lockorder.data() + live,
                [&](std::size_t a, std::size_t b) { return cases[a].chan < cases[b].chan; });
      sorted = true;
    }
    lock_all(cases, lockorder.data(), live);

    // Pass 1: the first case that can proceed now, in poll order.
    for (std::size_t k = 0; k < live; ++k) {
      std::size_t i = pollorder[k];
      if (try_case(cases[i], release)) return i;
    }
    if (has_default) {
      if (!rings_settled(cases, pollorder.data(), live)) {
        release();
        continue;
      }
      release();
      return n;
    }

    // Pass 2: wait on every case.
    select_state state;
    parker me = parker::current();
    small_array<waiter, 8> waiters(n);
    bool rings = false;
    for (std::size_t k = 0; k < live; ++k) {
      std::size_t i = lockorder[k];
      waiter& w = waiters[i];
      w.who = me;
      w.elem = cases[i].elem;
      w.chan = cases[i].chan;
      w.sel = &state;
      w.case_index = i;
      (cases[i].is_send ? w.chan->sendq : w.chan->recvq).enqueue(&w);
      rings = rings || w.chan->ring;
    }
    // A ring channel's counterpart pushes or pops without the lock, then
    // looks at the queue: look at the rings again now that the waiters are
    // queued. Nobody can have dequeued them yet (every lock is held).
    bool again = false;
    if (rings) {
      std::atomic_thread_fence(std::memory_order_seq_cst);
      for (std::size_t k = 0; k < live && !again; ++k) {
        const select_case_raw& sc = cases[lockorder[k]];
        again = sc.chan->ring && ring_case_ready(sc);
      }
    }
    if (again) {
      for (std::size_t k = 0; k < live; ++k) {
        std::size_t i = lockorder[k];
        (cases[i].is_send ? cases[i].chan->sendq : cases[i].chan->recvq).remove(&waiters[i]);
      }
      release();
      continue;
    }
    for (std::size_t k = 0; k < live; ++k) bubble_note_wait_on(me.g, cases[lockorder[k]].chan->bubble);
    me.prepare(wait_reason::select);
    release();
    me.park();
    bubble_note_wait_done(me.g);

    // Pass 3: one case fired; take the other waiters back.
    lock_all(cases, lockorder.data(), live);
    for (std::size_t k = 0; k < live; ++k) {
      std::size_t i = lockorder[k];
      waiter& w = waiters[i];
      if (w.queued) (cases[i].is_send ? w.chan->sendq : w.chan->recvq).remove(&w);
    }
    release();

    waiter* fired = state.fired;
    std::size_t i = fired->case_index;
    if (fired->retry) continue;  // a ring channel's: look again
    if (cases[i].is_send) {
      if (!fired->success) throw closed_channel_error("send on closed channel");
    } else {
      cases[i].received = fired->success;
    }
    return i;
  }
}

}  // namespace goro::detail
