// src/runtime/park.cpp: see park.hpp.
#include "runtime/park.hpp"

#include "error/symbolize.hpp"
#include "runtime/processor.hpp"
#include "runtime/registry.hpp"

#include <execinfo.h>

#include <algorithm>
#include <cerrno>

namespace goro::detail {

int errno_now() noexcept { return errno; }

// ---- thread_parker: see park.hpp for the counting -----------------------------

void thread_parker::prepare() noexcept {
  state.store(0, std::memory_order_relaxed);
  if (internal) return;
  scheduler& s = sched();
  s.outside_parked.fetch_add(1, std::memory_order_seq_cst);
  parked_counted = true;
  if (registered) {
    // Active until now. The last active thread to park may leave every
    // goroutine blocked: have a worker look.
    if (s.outside_active.fetch_sub(1, std::memory_order_seq_cst) == 1) deadlock_poke();
  }
  registered = true;
}

void thread_parker::wake() noexcept {
  if (parked_counted) {
    parked_counted = false;
    scheduler& s = sched();
    s.outside_active.fetch_add(1, std::memory_order_seq_cst);
    s.outside_parked.fetch_sub(1, std::memory_order_seq_cst);
  }
  state.store(1, std::memory_order_release);
  futex_wake(&state, 1);
}

void thread_parker::note_active() noexcept {
  if (registered || internal) return;
  registered = true;
  sched().outside_active.fetch_add(1, std::memory_order_seq_cst);
}

thread_parker::~thread_parker() {
  if (!registered || internal || parked_counted) return;
  if (sched().outside_active.fetch_sub(1, std::memory_order_seq_cst) == 1) deadlock_poke();
}

thread_parker& this_thread_parker() noexcept {
  thread_local thread_parker tp;
  return tp;
}

parker parker::current() noexcept {
  parker p;
  p.g = current_goroutine();
  if (p.g == nullptr) p.t = &this_thread_parker();
  return p;
}

namespace {

// Records where g parks: the frames from parker::prepare's caller outwards.
// Not inlined, so that its return address is in parker::prepare.
GORO_NOINLINE void record_park_stack(goroutine* g) noexcept {
  constexpr int extra = 4;  // this frame, prepare's, a sanitizer interceptor's
  void* buf[park_stack::max_frames + extra];
  int n = ::backtrace(buf, park_stack::max_frames + extra);
  int first = first_frame_after(buf, n, __builtin_return_address(0), extra, 0);  // past prepare's frame
  n = std::min(n, first + park_stack::max_frames);
  registry_set_park_stack(g, buf + first, n - first);
}

}  // namespace

void parker::prepare(wait_reason reason) const noexcept {
  if (g != nullptr) {
    if (sched().dump_stacks.load(std::memory_order_relaxed)) [[unlikely]] record_park_stack(g);
    park_prepare(g, reason);
  } else {
    t->prepare();
  }
}

void parker::park() const noexcept {
  if (g != nullptr) {
    detail::park(g);
  } else {
    t->wait();
  }
}

void parker::wake() const noexcept {
  if (g != nullptr) {
    ready(g);
  } else {
    t->wake();
  }
}

}  // namespace goro::detail
