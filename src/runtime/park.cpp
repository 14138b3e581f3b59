// src/runtime/park.cpp: see park.hpp.
#include "runtime/park.hpp"

#include "runtime/processor.hpp"

#include <cerrno>

namespace goro::detail {

int errno_now() noexcept { return errno; }

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

void parker::prepare(wait_reason reason) const noexcept {
  if (g != nullptr) {
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
