// src/runtime/netpoll.cpp: see netpoll.hpp.
//
// Locks: each poll_desc has a runtime_mutex (rank poll_desc) guarding its
// generation, closing flag and both sides (ready flags, waiters, deadlines).
// Deadline changes arm and disarm the side's timer while holding it (so the
// order is poll_desc → timer heap); a deadline timer's fire() takes it with
// no other lock held. Waiters are woken after the lock is released.
//
// Who polls: one idle worker at a time blocks in epoll_wait (it claims
// `blocked`, and sets wake_in_poll in its wake word so that wakep() breaks
// the wait through the eventfd instead of a futex wake); busy workers poll
// without blocking when they run out of local work and, at their fairness
// tick, if nobody polled for a while. A waiter that may have nobody to poll
// for it (a plain thread, or a goroutine whose worker has other work) wakes
// an idle worker, which then becomes the poller.
#include "runtime/netpoll.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>

#include "runtime/park.hpp"
#include "runtime/platform.hpp"
#include "runtime/processor.hpp"
#include "runtime/runtime_mutex.hpp"
#include "runtime/timers.hpp"

namespace goro::detail {

namespace {

struct poll_waiter {
  parker who;
  poll_result result = poll_result::ready;  // written by the waker, under the descriptor's lock
};

struct poll_side {
  poll_waiter* waiter = nullptr;
  bool ready = false;          // an edge came while nobody waited
  std::int64_t deadline = 0;   // nanotime(); 0: none; -1: passed
  std::uint64_t seq = 0;       // bumped at every deadline change: a firing with another seq is stale
  timer_node timer;
};

}  // namespace

struct poll_desc {
  runtime_mutex lock{lock_rank::poll_desc};
  // ---- guarded by lock ----
  std::uint32_t gen = 0;  // bumped when the descriptor is recycled
  bool closing = false;
  poll_side r, w;
  // ---- set at open, under lock, before the fd is registered ----
  int fd = -1;
  // ---- fixed ----
  std::uint32_t index = 0;
  poll_desc* next_free = nullptr;  // guarded by the table's lock
};

namespace {

// ---- the descriptor table ------------------------------------------------------

constexpr std::uint32_t chunk_size = 256;
constexpr std::uint32_t max_chunks = 4096;  // a million descriptors

struct desc_table {
  std::mutex lock;  // guards free and nchunks; chunks are published with release
  std::atomic<poll_desc*> chunks[max_chunks] = {};
  std::uint32_t nchunks = 0;
  poll_desc* free = nullptr;
};

desc_table& table() noexcept {
  static desc_table* t = new desc_table;  // never destroyed: events may name a descriptor at exit
  return *t;
}

poll_desc* lookup(std::uint32_t index) noexcept {
  std::uint32_t c = index / chunk_size;
  if (c >= max_chunks) return nullptr;
  poll_desc* chunk = table().chunks[c].load(std::memory_order_acquire);
  return chunk == nullptr ? nullptr : &chunk[index % chunk_size];
}

poll_desc* desc_alloc() noexcept {
  desc_table& t = table();
  std::lock_guard l(t.lock);
  if (t.free == nullptr) {
    if (t.nchunks == max_chunks) return nullptr;
    auto* chunk = new (std::nothrow) poll_desc[chunk_size];
    if (chunk == nullptr) return nullptr;
    for (std::uint32_t i = chunk_size; i-- > 0;) {
      chunk[i].index = t.nchunks * chunk_size + i;
      chunk[i].r.timer.owner = &chunk[i];
      chunk[i].w.timer.owner = &chunk[i];
      chunk[i].next_free = t.free;
      t.free = &chunk[i];
    }
    t.chunks[t.nchunks++].store(chunk, std::memory_order_release);
  }
  poll_desc* pd = t.free;
  t.free = pd->next_free;
  return pd;
}

void desc_free(poll_desc* pd) noexcept {
  desc_table& t = table();
  std::lock_guard l(t.lock);
  pd->next_free = t.free;
  t.free = pd;
}

// ---- the poller ------------------------------------------------------------------

constexpr std::uint64_t break_tag = ~std::uint64_t{0};
// How long busy workers let pass without a poll before polling at a
// fairness tick (Go's sysmon polls after 10 ms; goro has no sysmon).
constexpr std::int64_t stale_poll_ns = 1'000'000;

struct poller {
  std::once_flag once;
  int epfd = -1;
  int evfd = -1;
  bool pwait2 = false;  // epoll_pwait2 (ns timeouts) works on this kernel
  std::atomic<bool> inited{false};
  std::atomic<int> waiters{0};           // goroutines and threads in netpoll_wait
  std::atomic<bool> blocked{false};      // a worker claimed the blocking poll
  std::atomic<bool> break_pending{false};  // the eventfd was written and not yet read
  std::atomic<std::int64_t> last_poll{0};
};

poller g_poller;

[[noreturn]] void netpoll_fatal(const char* what) noexcept {
  std::fprintf(stderr, "goro: fatal error: netpoll: %s: errno %d\n", what, errno);
  std::fflush(stderr);
  std::abort();
}

void poller_init() noexcept {
  g_poller.epfd = epoll_create1(EPOLL_CLOEXEC);
  if (g_poller.epfd < 0) netpoll_fatal("epoll_create1");
  g_poller.evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (g_poller.evfd < 0) netpoll_fatal("eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;  // level-triggered: stays readable until the blocked poller reads it
  ev.data.u64 = break_tag;
  if (epoll_ctl(g_poller.epfd, EPOLL_CTL_ADD, g_poller.evfd, &ev) != 0) netpoll_fatal("epoll_ctl(eventfd)");
#if defined(SYS_epoll_pwait2)
  timespec zero{};
  epoll_event dummy;
  g_poller.pwait2 = syscall(SYS_epoll_pwait2, g_poller.epfd, &dummy, 1, &zero, nullptr, 0) >= 0;
#endif
  g_poller.inited.store(true, std::memory_order_release);
}

poll_side& side_of(poll_desc* pd, poll_mode mode) noexcept { return mode == poll_mode::read ? pd->r : pd->w; }

// Takes s's waiter with result r (under pd->lock); null if none.
poll_waiter* take(poll_side& s, poll_result r) noexcept {
  poll_waiter* w = s.waiter;
  if (w != nullptr) {
    s.waiter = nullptr;
    w->result = r;
  }
  return w;
}

void wake(poll_waiter* w) noexcept {
  if (w == nullptr) return;
  parker who = w->who;  // w lives on the waiter's stack: gone once it runs
  who.wake();
}

void deadline_fire(timer_node* n, std::uint64_t seq) noexcept {
  auto* pd = static_cast<poll_desc*>(n->owner);
  poll_waiter* w;
  {
    runtime_lock_guard l(pd->lock);
    poll_side& s = n == &pd->r.timer ? pd->r : pd->w;
    if (s.seq != seq) return;  // moved, removed, or the descriptor was recycled
    s.deadline = -1;
    w = take(s, poll_result::timeout);
  }
  wake(w);
}

// Disarms s's deadline timer and makes any firing of it stale. Under pd->lock.
void disarm(poll_side& s) noexcept {
  timer_remove(&s.timer);
  ++s.seq;
}

}  // namespace

// ---- descriptors ---------------------------------------------------------------

poll_desc* netpoll_open(int fd) noexcept {
  runtime_start();
  std::call_once(g_poller.once, poller_init);
  poll_desc* pd = desc_alloc();
  if (pd == nullptr) {
    errno = ENOMEM;
    return nullptr;
  }
  std::uint32_t gen;
  {
    runtime_lock_guard l(pd->lock);
    pd->fd = fd;
    pd->closing = false;
    pd->r.ready = pd->w.ready = false;
    pd->r.deadline = pd->w.deadline = 0;
    pd->r.timer.fire = pd->w.timer.fire = &deadline_fire;
    gen = pd->gen;
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.u64 = (std::uint64_t{gen} << 32) | pd->index;
  if (epoll_ctl(g_poller.epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
    int e = errno;
    {
      runtime_lock_guard l(pd->lock);
      ++pd->gen;
      pd->closing = true;
      pd->fd = -1;
    }
    desc_free(pd);
    errno = e;
    return nullptr;
  }
  return pd;
}

void netpoll_evict(poll_desc* pd) noexcept {
  poll_waiter* r;
  poll_waiter* w;
  {
    runtime_lock_guard l(pd->lock);
    pd->closing = true;
    disarm(pd->r);
    disarm(pd->w);
    r = take(pd->r, poll_result::closed);
    w = take(pd->w, poll_result::closed);
  }
  wake(r);
  wake(w);
}

void netpoll_close(poll_desc* pd) noexcept {
  epoll_event ev{};
  epoll_ctl(g_poller.epfd, EPOLL_CTL_DEL, pd->fd, &ev);
  runtime_lock_guard l(pd->lock);
  ++pd->gen;  // events still in flight for this fd are now stale
  pd->closing = true;
  disarm(pd->r);
  disarm(pd->w);
  pd->r.ready = pd->w.ready = false;
  pd->fd = -1;
}

void netpoll_free(poll_desc* pd) noexcept {
  {
    runtime_lock_guard l(pd->lock);
    if (pd->fd >= 0) {
      std::fprintf(stderr, "goro: fatal error: netpoll: a registered descriptor was freed\n");
      std::abort();
    }
  }
  desc_free(pd);
}

poll_result netpoll_prepare(poll_desc* pd, poll_mode mode) noexcept {
  runtime_lock_guard l(pd->lock);
  if (pd->closing) return poll_result::closed;
  if (side_of(pd, mode).deadline < 0) return poll_result::timeout;
  return poll_result::ready;
}

poll_result netpoll_wait(poll_desc* pd, poll_mode mode) noexcept {
  poll_waiter w;
  w.who = parker::current();
  g_poller.waiters.fetch_add(1, std::memory_order_seq_cst);
  {
    runtime_lock_guard l(pd->lock);
    poll_side& s = side_of(pd, mode);
    poll_result early = poll_result::ready;
    bool now = true;
    if (pd->closing) {
      early = poll_result::closed;
    } else if (s.deadline < 0) {
      early = poll_result::timeout;
    } else if (s.ready) {
      s.ready = false;  // consume the edge: the caller retries its system call
    } else if (s.waiter != nullptr) {
      netpoll_fatal("two waiters on one side of a socket");
    } else {
      now = false;
      s.waiter = &w;
      w.who.prepare(wait_reason::io_wait);
    }
    if (now) {
      g_poller.waiters.fetch_sub(1, std::memory_order_relaxed);
      return early;
    }
  }
  // Make sure somebody polls. A goroutine's own worker will, once it runs
  // out of work; a plain thread, or a worker with more goroutines to run,
  // needs an idle worker to become the poller.
  if (!g_poller.blocked.load(std::memory_order_seq_cst)) {
    processor* p = current_processor();
    if (p == nullptr || !p->runq.empty()) wakep();
  }
  w.who.park();
  g_poller.waiters.fetch_sub(1, std::memory_order_relaxed);
  return w.result;
}

void netpoll_set_deadline(poll_desc* pd, std::int64_t when, poll_mode mode) noexcept {
  poll_waiter* woken[2] = {nullptr, nullptr};
  {
    runtime_lock_guard l(pd->lock);
    if (pd->closing) return;
    std::int64_t now = when > 0 ? nanotime() : 0;
    int k = 0;
    for (poll_side* s : {&pd->r, &pd->w}) {
      if ((s == &pd->r && mode == poll_mode::write) || (s == &pd->w && mode == poll_mode::read)) continue;
      disarm(*s);
      if (when == 0) {
        s->deadline = 0;
      } else if (when <= now) {
        s->deadline = -1;
        woken[k++] = take(*s, poll_result::timeout);
      } else {
        s->deadline = when;
        s->timer.seq = s->seq;
        timer_add(&s->timer, when, false);  // real time, in a bubble too
      }
    }
  }
  wake(woken[0]);
  wake(woken[1]);
}

// ---- the scheduler's side ----------------------------------------------------------

bool netpoll_has_waiters() noexcept {
  return g_poller.inited.load(std::memory_order_acquire) && g_poller.waiters.load(std::memory_order_seq_cst) > 0;
}

bool netpoll_worker_blocked() noexcept { return g_poller.blocked.load(std::memory_order_seq_cst); }

bool netpoll_try_block() noexcept {
  bool expected = false;
  return g_poller.blocked.compare_exchange_strong(expected, true, std::memory_order_seq_cst);
}

void netpoll_unblock() noexcept { g_poller.blocked.store(false, std::memory_order_seq_cst); }

void netpoll_break() noexcept {
  if (!g_poller.inited.load(std::memory_order_acquire)) return;
  if (g_poller.break_pending.exchange(true, std::memory_order_acq_rel)) return;
  std::uint64_t one = 1;
  while (write(g_poller.evfd, &one, sizeof one) < 0 && errno == EINTR) {
  }
}

int netpoll_poll(std::int64_t timeout_ns, std::atomic<std::uint32_t>* word, std::uint32_t bit) noexcept {
  if (!g_poller.inited.load(std::memory_order_acquire)) return 0;
  // Small: a busy worker polls from the stack of the goroutine it switches
  // away from (next_local), which may be deep in user code.
  constexpr int max_events = 32;
  epoll_event events[max_events];
  int n;
  if (g_poller.pwait2 || timeout_ns == 0) {
#if defined(SYS_epoll_pwait2)
    timespec ts{timeout_ns / 1'000'000'000, timeout_ns % 1'000'000'000};
    n = timeout_ns == 0 ? epoll_wait(g_poller.epfd, events, max_events, 0)
                        : static_cast<int>(syscall(SYS_epoll_pwait2, g_poller.epfd, events, max_events,
                                                   timeout_ns < 0 ? nullptr : &ts, nullptr, 0));
#else
    n = epoll_wait(g_poller.epfd, events, max_events, 0);
#endif
  } else {
    // Milliseconds, rounded up: the caller does not block for a deadline
    // under a millisecond on such kernels (see the scheduler's idle path).
    int ms = timeout_ns < 0 ? -1 : static_cast<int>((timeout_ns + 999'999) / 1'000'000);
    n = epoll_wait(g_poller.epfd, events, max_events, ms);
  }
  if (word != nullptr) word->fetch_and(~bit, std::memory_order_acq_rel);
  g_poller.last_poll.store(nanotime(), std::memory_order_relaxed);
  if (n <= 0) return 0;
  poll_waiter* woken[2 * max_events];
  int k = 0;
  for (int i = 0; i < n; ++i) {
    std::uint64_t data = events[i].data.u64;
    if (data == break_tag) {
      // Only the blocking poll consumes a break: it was meant for that worker.
      if (timeout_ns != 0) {
        std::uint64_t v;
        while (read(g_poller.evfd, &v, sizeof v) < 0 && errno == EINTR) {
        }
        g_poller.break_pending.store(false, std::memory_order_release);
      }
      continue;
    }
    poll_desc* pd = lookup(static_cast<std::uint32_t>(data));
    if (pd == nullptr) continue;
    std::uint32_t ev = events[i].events;
    bool readable = (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
    bool writable = (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0;
    runtime_lock_guard l(pd->lock);
    if (pd->gen != static_cast<std::uint32_t>(data >> 32) || pd->closing) continue;  // stale
    for (poll_side* s : {readable ? &pd->r : nullptr, writable ? &pd->w : nullptr}) {
      if (s == nullptr) continue;
      if (poll_waiter* w = take(*s, poll_result::ready)) {
        woken[k++] = w;
      } else {
        s->ready = true;
      }
    }
  }
  for (int i = 0; i < k; ++i) wake(woken[i]);
  return k;
}

bool netpoll_precise() noexcept { return g_poller.pwait2; }

void netpoll_poll_if_stale(std::int64_t now) noexcept {
  if (!netpoll_has_waiters() || g_poller.blocked.load(std::memory_order_relaxed)) return;
  if (now - g_poller.last_poll.load(std::memory_order_relaxed) < stale_poll_ns) return;
  netpoll_poll(0, nullptr, 0);
}

}  // namespace goro::detail
