// src/runtime/blocking.cpp: goro::blocking's pool of threads (the part of
// Go's runtime that hands an M blocked in a system call's P to another M;
// goro pairs Ps with workers for life, so blocking calls leave the workers
// instead).
//
// A goroutine queues a job holding its parker, parks, and is readied by the
// pool thread that ran the job. Threads are started on demand, up to
// max_threads; one idle for idle_exit stops. Beyond max_threads, jobs queue:
// a program cannot exhaust threads through blocking().
//
// Locking: pool::mu (a std::mutex: pool threads are plain threads) guards
// the queue and the counters. It is held only to queue or take a job, never
// while a job runs or a waiter is woken.
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <system_error>
#include <thread>

#include "goro/net.hpp"
#include "runtime/park.hpp"
#include "runtime/processor.hpp"

namespace goro::detail {

namespace {

constexpr int max_threads = 64;
constexpr auto idle_exit = std::chrono::seconds(10);

struct blocking_job {
  void (*fn)(void*) noexcept;
  void* arg;
  parker who;
  blocking_job* next = nullptr;
};

struct blocking_pool {
  std::mutex mu;
  std::condition_variable cv;
  // Guarded by mu:
  blocking_job* head = nullptr;
  blocking_job* tail = nullptr;
  int threads = 0;  // started and not yet stopped
  int idle = 0;     // waiting on cv for a job
  int queued = 0;   // jobs in the queue: while queued <= idle, a notify is enough
};

blocking_pool& pool() noexcept {
  static auto* p = new blocking_pool;  // never destroyed: threads may outlive static destruction
  return *p;
}

void pool_thread() noexcept {
  mark_runtime_thread();  // it readies goroutines, but only the one whose job it ran
  blocking_pool& bp = pool();
  std::unique_lock l(bp.mu);
  for (;;) {
    while (bp.head == nullptr) {
      ++bp.idle;
      bool timed_out = bp.cv.wait_for(l, idle_exit) == std::cv_status::timeout;
      --bp.idle;
      if (timed_out && bp.head == nullptr) {
        --bp.threads;
        return;
      }
    }
    blocking_job* job = bp.head;
    --bp.queued;
    bp.head = job->next;
    if (bp.head == nullptr) bp.tail = nullptr;
    l.unlock();
    job->fn(job->arg);
    parker who = job->who;  // job lives on the waiter's stack: gone once it runs
    who.wake();
    l.lock();
  }
}

}  // namespace

int blocking_threads() noexcept {
  blocking_pool& bp = pool();
  std::lock_guard l(bp.mu);
  return bp.threads;
}

void blocking_call(void (*fn)(void*) noexcept, void* arg) {
  parker me = parker::current();
  if (me.g == nullptr) {  // a plain thread may block itself
    fn(arg);
    return;
  }
  blocking_job job{fn, arg, me};
  blocking_pool& bp = pool();
  me.prepare(wait_reason::blocking);  // the pool thread may wake us as soon as the job is queued
  {
    std::lock_guard l(bp.mu);
    if (bp.tail != nullptr) {
      bp.tail->next = &job;
    } else {
      bp.head = &job;
    }
    bp.tail = &job;
    // An idle thread counts until it wakes, so compare with the queue: each
    // job needs its own thread, woken or started.
    if (++bp.queued <= bp.idle) {
      bp.cv.notify_one();
    } else if (bp.threads < max_threads) {
      try {
        std::thread(pool_thread).detach();
        ++bp.threads;
      } catch (const std::system_error&) {
        // Out of threads: the job waits for a running pool thread; with none, nobody would run it.
        if (bp.threads == 0) {
          std::fprintf(stderr, "goro: fatal error: blocking: cannot start a thread\n");
          std::abort();
        }
      }
    }
  }
  me.park();
}

}  // namespace goro::detail
