// src/runtime/registry.cpp: the goroutine registry, goroutine dumps and the
// deadlock check. See registry.hpp.
//
// The deadlock check (Go's checkdead, made safe for a program with plain
// threads). A deadlock is reported when, twice in a row confirm_ns apart
// with no goroutine run in between (the progress sign: every processor's
// nswitch):
//  - every processor is idle and no run queue holds a goroutine;
//  - some run() call waits for its main goroutine (nrun > 0);
//  - no timer is pending and no goroutine waits on a socket (either may
//    still wake someone), and no goroutine waits on a blocking() call;
//  - no plain thread that has used goro is outside a goro wait
//    (outside_active == 0): such a thread may still wake someone;
//  - the process has no thread goro does not know about: workers, blocking
//    pool threads, plain threads parked in goro, and the sanitizer's
//    background thread. An unknown thread might be about to send on a
//    channel, so while one exists there is no report (and the check looks
//    again later, backing off, since it may be a thread that is exiting);
//  - every goroutine in the registry is waiting (all shard locks held).
// The two passes close the windows in which a goroutine is readied by code
// the counters do not see yet (a timer firing on a worker still counted as
// idle, a thread between its first goro call and its registration).
#include "runtime/registry.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include "goro/debug.hpp"
#include "goro/testing.hpp"
#include "goro/time.hpp"
#include "error/symbolize.hpp"
#include "runtime/netpoll.hpp"
#include "runtime/park.hpp"
#include "runtime/processor.hpp"
#include "runtime/sanitizers.hpp"

namespace goro::detail {

namespace {

constexpr int nshards = max_procs;  // one per processor

struct alignas(64) shard {
  spin_lock lock;
  goroutine* head = nullptr;  // guarded by lock
  std::int64_t size = 0;      // guarded by lock
};

struct shard_guard {
  explicit shard_guard(shard& s) noexcept : s_(s) { s_.lock.lock(); }
  ~shard_guard() { s_.lock.unlock(); }
  shard_guard(const shard_guard&) = delete;
  shard_guard& operator=(const shard_guard&) = delete;
  shard& s_;
};
constinit shard g_shards[nshards];

// Every shard locked, in index order (a deadlock report, a bubble's).
struct all_shards_guard {
  all_shards_guard() noexcept {
    for (shard& s : g_shards) s.lock.lock();
  }
  ~all_shards_guard() {
    for (int i = nshards; i-- > 0;) g_shards[i].lock.unlock();
  }
  all_shards_guard(const all_shards_guard&) = delete;
  all_shards_guard& operator=(const all_shards_guard&) = delete;
};

// Whether goroutines join their shard lazily (registry.hpp): set once at
// runtime start, before any goroutine runs, to whether process_barrier()
// works. Relaxed: a goroutine that joined eagerly is handled either way.
std::atomic<bool> g_lazy{false};

// Dumps that may be reading processors' fresh goroutines right now (the
// barrier protocol of registry.hpp). Incremented seq_cst before the
// barrier; read by every returning fresh goroutine.
std::atomic<int> g_fresh_readers{0};

// Counts a dump among the readers of fresh goroutines and runs the barrier.
// If the barrier fails (it worked at start, so it should not), ok is false
// and the dump must not read `fresh`: those goroutines are then counted as
// not yet started.
struct fresh_reader {
  fresh_reader() noexcept {
    g_fresh_readers.fetch_add(1, std::memory_order_seq_cst);
    ok = g_lazy.load(std::memory_order_relaxed) && process_barrier();
  }
  ~fresh_reader() { g_fresh_readers.fetch_sub(1, std::memory_order_release); }
  fresh_reader(const fresh_reader&) = delete;
  fresh_reader& operator=(const fresh_reader&) = delete;
  bool ok = false;
};

// Processor i's fresh goroutine, or null. To dereference it, the caller
// holds shard i's lock (so the goroutine cannot join a shard or switch
// away) and a fresh_reader (so it cannot return and be freed).
goroutine* fresh_of(int i) noexcept {
  scheduler& s = sched();
  if (i >= s.nprocs.load(std::memory_order_acquire)) return nullptr;
  return s.procs[i].load(std::memory_order_acquire)->fresh.load(std::memory_order_acquire);
}

constexpr std::int64_t confirm_ns = 10'000'000;
constexpr std::int64_t max_backoff_ns = 1'000'000'000;

struct deadlock_state {
  runtime_mutex lock{lock_rank::deadlock};
  // Guarded by lock: the first pass of a check, waiting for its confirmation.
  bool candidate = false;
  std::uint64_t sign = 0;
  std::int64_t since = 0;
  std::int64_t backoff = confirm_ns;
};
constinit deadlock_state g_dead;

std::atomic<int> g_detection{-1};  // -1: not read from the environment yet

bool detection_on() noexcept {
  int v = g_detection.load(std::memory_order_relaxed);
  if (v < 0) {
    const char* env = std::getenv("GORO_DEADLOCK");
    v = (env != nullptr && (std::strcmp(env, "0") == 0 || std::strcmp(env, "off") == 0)) ? 0 : 1;
    int expected = -1;
    if (!g_detection.compare_exchange_strong(expected, v, std::memory_order_relaxed)) v = expected;
  }
  return v != 0;
}

void link_front(shard& s, goroutine* g) noexcept {
  ++s.size;
  g->all_prev = nullptr;
  g->all_next = s.head;
  if (s.head != nullptr) s.head->all_prev = g;
  s.head = g;
}

void unlink(shard& s, goroutine* g) noexcept {
  --s.size;
  if (g->all_prev != nullptr) {
    g->all_prev->all_next = g->all_next;
  } else {
    s.head = g->all_next;
  }
  if (g->all_next != nullptr) g->all_next->all_prev = g->all_prev;
}

goroutine_info info_of(const goroutine* g, std::int64_t now) {
  goroutine_info i;
  i.id = g->id;
  i.parent = g->parent;
  if (g->name != nullptr) i.name = g->name;
  i.created_at = g->spawn_site;
  i.main = g->main;
  i.deadlocked = g->abandoned;
  switch (g->status.load(std::memory_order_acquire)) {
    case gstatus::pending:
    case gstatus::runnable:
    case gstatus::yielding:
    case gstatus::woken:
      i.state = goroutine_info::status::runnable;
      break;
    case gstatus::running:
    case gstatus::dead:  // returning right now
      i.state = goroutine_info::status::running;
      break;
    case gstatus::parking:
    case gstatus::waiting: {
      i.state = goroutine_info::status::waiting;
      wait_reason r = g->reason.load(std::memory_order_relaxed);
      i.wait_reason = to_string(r);
      if (r == wait_reason::none) i.wait_reason = "parking";
      std::int64_t since = g->wait_since.load(std::memory_order_relaxed);
      if (since != 0 && now > since) i.waiting_for = std::chrono::nanoseconds(now - since);
      // Recorded as it parked (dump stacks on), under the shard lock we hold.
      if (const park_stack* st = g->parked_at) i.stack.assign(st->frames, st->frames + st->n);
      break;
    }
  }
  i.run_time = std::chrono::nanoseconds(g->run_ns.load(std::memory_order_relaxed));
  i.wait_time = std::chrono::nanoseconds(g->wait_ns.load(std::memory_order_relaxed));
  return i;
}

// Reads field 20 (num_threads) of /proc/self/stat; -1 if unreadable.
int os_threads() noexcept {
  int fd = ::open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[1024];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return -1;
  buf[n] = '\0';
  const char* p = std::strrchr(buf, ')');  // the command name may hold spaces
  if (p == nullptr) return -1;
  int field = 2;
  for (++p; *p != '\0'; ++p) {
    if (*p == ' ' && ++field == 20) return std::atoi(p + 1);
  }
  return -1;
}

int known_threads() noexcept {
  scheduler& s = sched();
  int n = s.nprocs.load(std::memory_order_acquire) + blocking_threads() +
          s.outside_parked.load(std::memory_order_seq_cst) + s.internal_threads.load(std::memory_order_relaxed);
#if defined(GORO_TSAN)
  n += 1;  // ThreadSanitizer's background thread
#endif
  return n;
}

std::uint64_t progress_sign() noexcept {
  scheduler& s = sched();
  std::uint64_t sum = 0;
  int n = s.nprocs.load(std::memory_order_acquire);
  for (int i = 0; i < n; ++i) {
    sum += s.procs[i].load(std::memory_order_acquire)->nswitch.load(std::memory_order_relaxed);
  }
  return sum;
}

// Whether nothing outside the goroutines could wake one (first gates of
// the check; cheap, no locks).
bool nothing_pending() noexcept {
  scheduler& s = sched();
  return s.nrun.load(std::memory_order_seq_cst) > 0 && s.outside_active.load(std::memory_order_seq_cst) == 0 &&
         earliest_timer() == 0 && !netpoll_has_waiters() && !any_work();
}

// Appends the goroutines of s to out (all, or only those not abandoned).
// s locked by the caller.
void collect(std::vector<goroutine_info>& out, const shard& s, std::int64_t now, bool skip_abandoned) {
  for (const goroutine* g = s.head; g != nullptr; g = g->all_next) {
    if (!(skip_abandoned && g->abandoned)) out.push_back(info_of(g, now));
  }
}

void sort_by_id(std::vector<goroutine_info>& gs) {
  std::sort(gs.begin(), gs.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
}

// The dump's header line: "3 goroutines<what> (and 2 not yet started)".
void write_count(std::ostream& os, std::size_t n, const char* what, std::int64_t pending) {
  os << n << (n == 1 ? " goroutine" : " goroutines") << what;
  if (pending > 0) os << " (and " << pending << " not yet started)";
}

// The dump's body: each goroutine in format(), a blank line between.
void write_list(std::ostream& os, const std::vector<goroutine_info>& gs) {
  bool first = true;
  for (const goroutine_info& g : gs) {
    if (!first) os << '\n';
    first = false;
    goro::format(os, g);
  }
}

// Takes every shard lock; confirms that every goroutine not abandoned is
// waiting on something only another goroutine can end; if so, abandons them
// all and hands the report to every waiting run() caller. True if reported.
bool report_if_dead(std::int64_t now) noexcept {
  bool dead = true;
  bool has_main = false;
  run_state* runs = nullptr;  // the callers to wake, linked through next_reported
  std::string report;
  {
    all_shards_guard lock;  // the registry cannot change while we decide
    // A fresh goroutine is running (the check's gates say none is; this
    // only keeps the report from ever leaving one out). Not dereferenced:
    // no fresh_reader needed.
    for (int i = 0; i < nshards && dead; ++i) {
      if (fresh_of(i) != nullptr) dead = false;
    }
    for (shard& s : g_shards) {
      for (goroutine* g = s.head; g != nullptr && dead; g = g->all_next) {
        if (g->abandoned) continue;
        if (g->status.load(std::memory_order_acquire) != gstatus::waiting) {
          dead = false;
          break;
        }
        wait_reason r = g->reason.load(std::memory_order_relaxed);
        // A sleep in a bubble ends only when the bubble's driver runs its
        // timers, and the driver is waiting too.
        if (r == wait_reason::blocking || r == wait_reason::io_wait ||
            (r == wait_reason::sleep && g->bubble.load(std::memory_order_relaxed) == nullptr)) {
          dead = false;
        }
        if (g->run != nullptr) has_main = true;
      }
      if (!dead) break;
    }
    if (dead && has_main) {
      try {
        std::vector<goroutine_info> gs;
        for (const shard& s : g_shards) collect(gs, s, now, true);
        sort_by_id(gs);
        std::ostringstream os;
        os << "all goroutines are asleep - deadlock!\n\n";
        write_list(os, gs);
        report = os.str();
      } catch (...) {
        report = "all goroutines are asleep - deadlock! (out of memory for the dump)";
      }
      for (shard& s : g_shards) {
        for (goroutine* g = s.head; g != nullptr; g = g->all_next) {
          if (g->abandoned) continue;
          g->abandoned = true;
          if (g->run != nullptr) {
            g->run->next_reported = runs;
            runs = g->run;
            g->run = nullptr;
            sched().nrun.fetch_sub(1, std::memory_order_seq_cst);
          }
        }
      }
    }
  }
  if (!(dead && has_main)) return false;
  while (runs != nullptr) {
    run_state* rs = runs;
    runs = rs->next_reported;  // before the wake: rs may be gone after it
    try {
      rs->report = report;
    } catch (...) {
    }
    rs->deadlocked = true;
    rs->done->wake();
  }
  return true;
}

}  // namespace

// ---- the registry ------------------------------------------------------------

void registry_init() noexcept { g_lazy.store(process_barrier_ready(), std::memory_order_relaxed); }

namespace {
// g, running on p, joins p's shard. Clearing `fresh` under the lock: a dump
// holding it sees g either fresh or in the list.
void join_shard(processor* p, goroutine* g) noexcept {
  shard& s = g_shards[p->id];
  shard_guard lock(s);
  link_front(s, g);
  g->shard = static_cast<std::uint16_t>(p->id);
  p->fresh.store(nullptr, std::memory_order_relaxed);
}
}  // namespace

void registry_start(processor* p, goroutine* g) noexcept {
  if (g_lazy.load(std::memory_order_relaxed)) {
    p->fresh.store(g, std::memory_order_release);  // g's fields, written before, to a dump's acquire
  } else {
    join_shard(p, g);
  }
}

void registry_join(processor* p, goroutine* g) noexcept {
#if !defined(NDEBUG)
  if (p->fresh.load(std::memory_order_relaxed) != g) {
    std::fprintf(stderr, "goro: fatal error: registry_join of a goroutine that is not its processor's fresh one\n");
    std::abort();
  }
#endif
  join_shard(p, g);
}

std::int64_t registry_size() noexcept {
  fresh_reader reader;
  std::int64_t n = 0;
  for (int i = 0; i < nshards; ++i) {
    shard_guard lock(g_shards[i]);
    n += g_shards[i].size;
    if (reader.ok && fresh_of(i) != nullptr) ++n;
  }
  return n;
}

void registry_exit(processor* p, goroutine* g) noexcept {
  if (g->shard == unregistered_shard) {
    // The returning half of the barrier protocol (registry.hpp). A fresh
    // goroutine has no name or park stack: those join it first.
    p->fresh.store(nullptr, std::memory_order_relaxed);
    // Only the compiler must keep the load after the store; the CPU is
    // ordered by the reader's barrier. Acquire: a 0 written by a reader's
    // release decrement orders that reader's reads of g before g's reuse
    // (which the hardware does anyway; the sanitizer needs the edge).
    std::atomic_signal_fence(std::memory_order_seq_cst);
    if (g_fresh_readers.load(std::memory_order_acquire) != 0) [[unlikely]] {
      shard_guard wait(g_shards[p->id]);  // a dump reading g holds this lock until it is done
    }
    return;
  }
  char* name = nullptr;
  park_stack* stack = nullptr;
  {
    shard& s = g_shards[g->shard];
    shard_guard lock(s);
    unlink(s, g);
    name = g->name;
    g->name = nullptr;
    stack = g->parked_at;
    g->parked_at = nullptr;
  }
  std::free(name);
  std::free(stack);
}

void registry_set_park_stack(goroutine* g, void* const* frames, int n) noexcept {
  park_stack* fresh = nullptr;
  if (g->parked_at == nullptr) {  // only g writes the pointer: no lock to read it
    fresh = static_cast<park_stack*>(std::malloc(sizeof(park_stack)));
    if (fresh == nullptr) return;  // no stack in dumps: not worth failing a park for
  }
  if (g->shard == unregistered_shard) registry_join(current_processor(), g);
  shard_guard lock(g_shards[g->shard]);
  if (fresh != nullptr) g->parked_at = fresh;
  g->parked_at->n = n;
  std::copy(frames, frames + n, g->parked_at->frames);
}

void registry_set_name(goroutine* g, std::string_view name) {
  char* copy = nullptr;
  if (!name.empty()) {
    copy = static_cast<char*>(std::malloc(name.size() + 1));
    if (copy == nullptr) throw std::bad_alloc();
    std::memcpy(copy, name.data(), name.size());
    copy[name.size()] = '\0';
  }
  if (g->shard == unregistered_shard) registry_join(current_processor(), g);
  char* old = nullptr;
  {
    shard& s = g_shards[g->shard];
    shard_guard lock(s);
    old = g->name;
    g->name = copy;
  }
  std::free(old);
}

std::string registry_name(goroutine* g) {
  if (g->shard == unregistered_shard) return {};  // never named: naming joins
  shard& s = g_shards[g->shard];
  shard_guard lock(s);
  return g->name != nullptr ? std::string(g->name) : std::string();
}

std::string registry_abandon_bubble(const bubble_state* b, const char* headline) {
  std::vector<goroutine_info> gs;
  std::int64_t now = coarse_nanotime();
  {
    all_shards_guard lock;
    for (shard& s : g_shards) {
      for (goroutine* g = s.head; g != nullptr; g = g->all_next) {
        if (g->bubble.load(std::memory_order_relaxed) != b || g->abandoned) continue;
        g->abandoned = true;
        try {
          gs.push_back(info_of(g, now));
        } catch (...) {
          // Out of memory: left out of the list, abandoned all the same.
        }
      }
    }
  }
  sort_by_id(gs);
  std::ostringstream os;
  os << headline << "\n\n";
  write_list(os, gs);
  return os.str();
}

// ---- the deadlock check ----------------------------------------------------------

std::int64_t deadlock_check(std::int64_t now) noexcept {
  if (!detection_on() || !nothing_pending()) return -1;
  runtime_lock_guard lock(g_dead.lock);
  std::uint64_t sign = progress_sign();
  if (!g_dead.candidate || g_dead.sign != sign) {
    g_dead.candidate = true;
    g_dead.sign = sign;
    g_dead.since = now;
    g_dead.backoff = confirm_ns;
    return now + confirm_ns;
  }
  if (now - g_dead.since < confirm_ns) return g_dead.since + confirm_ns;
  if (!all_idle()) return -1;
  int os = os_threads();
  if (os < 0 || os > known_threads()) {
    // A thread goro does not know: it may wake someone. Look again later.
    std::int64_t at = now + g_dead.backoff;
    g_dead.backoff = std::min(g_dead.backoff * 2, max_backoff_ns);
    return at;
  }
  g_dead.candidate = false;
  report_if_dead(coarse_nanotime());
  return -1;
}

}  // namespace goro::detail

// ---- goro/debug.hpp ------------------------------------------------------------------

namespace goro {

std::vector<goroutine_info> goroutines() {
  using namespace detail;
  std::vector<goroutine_info> out;
  std::int64_t now = coarse_nanotime();
  fresh_reader reader;
  for (int i = 0; i < nshards; ++i) {
    shard_guard lock(g_shards[i]);
    collect(out, g_shards[i], now, false);
    if (reader.ok) {
      if (const goroutine* g = fresh_of(i)) out.push_back(info_of(g, now));
    }
  }
  sort_by_id(out);
  return out;
}

namespace {

void format_duration(std::ostream& os, std::chrono::nanoseconds d) {
  using namespace std::chrono;
  auto ms = duration_cast<milliseconds>(d).count();
  if (ms == 0 && d.count() > 0) {
    os << duration_cast<microseconds>(d).count() << " us";
  } else if (ms < 1000) {
    os << ms << " ms";
  } else if (ms < 60'000) {
    os << ms / 1000 << '.' << (ms % 1000) / 100 << " s";
  } else {
    os << ms / 60'000 << " minutes";
  }
}

}  // namespace

void format(std::ostream& os, const goroutine_info& g) {
  os << "goroutine " << g.id;
  if (!g.name.empty()) os << " \"" << g.name << '"';
  os << " [";
  switch (g.state) {
    case goroutine_info::status::runnable: os << "runnable"; break;
    case goroutine_info::status::running: os << "running"; break;
    case goroutine_info::status::waiting:
      os << g.wait_reason << ", ";
      format_duration(os, g.waiting_for);
      break;
  }
  os << ']';
  if (g.main) os << " (main)";
  if (g.deadlocked) os << " (deadlocked)";
  os << ":\n";
  if (!g.stack.empty()) {
    std::string frames = detail::symbolize_frames(g.stack);
    for (std::size_t at = 0; at < frames.size();) {
      std::size_t end = frames.find('\n', at);
      if (end == std::string::npos) end = frames.size();
      os << '\t' << std::string_view(frames).substr(at, end - at) << '\n';
      at = end + 1;
    }
  }
  os << "\tstarted ";
  if (g.main) {
    os << "by run()";
  } else if (g.parent != 0) {
    os << "by goroutine " << g.parent;
  } else {
    os << "by a thread";
  }
  os << " at " << g.created_at.file << ':' << g.created_at.line;
  if (g.created_at.function != nullptr && g.created_at.function[0] != '\0') os << " in " << g.created_at.function;
  os << '\n';
  if (g.run_time.count() != 0 || g.wait_time.count() != 0) {
    os << "\tran ";
    format_duration(os, g.run_time);
    os << ", waited ";
    format_duration(os, g.wait_time);
    os << '\n';
  }
}

void dump(std::ostream& os) {
  std::vector<goroutine_info> gs = goroutines();
  std::int64_t pending = num_goroutine() - static_cast<std::int64_t>(gs.size());  // a moment apart: approximate
  detail::write_count(os, gs.size(), "", pending);
  os << "\n\n";
  detail::write_list(os, gs);
  os.flush();
}

namespace {
int g_signal_pipe[2] = {-1, -1};

void on_dump_signal(int) {
  int saved = errno;
  char c = 0;
  ssize_t r = ::write(g_signal_pipe[1], &c, 1);  // full pipe: a dump is pending anyway
  (void)r;
  errno = saved;
}
}  // namespace

bool dump_on_signal(int sig) {
  static std::mutex mu;
  std::lock_guard lock(mu);
  if (g_signal_pipe[0] < 0) {
    if (::pipe2(g_signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return false;
    int fl = ::fcntl(g_signal_pipe[0], F_GETFL);
    ::fcntl(g_signal_pipe[0], F_SETFL, fl & ~O_NONBLOCK);  // the dumper blocks; the handler must not
    std::thread([] {
      detail::mark_runtime_thread();  // not a thread that could wake a goroutine
      for (;;) {
        char c;
        ssize_t n = ::read(g_signal_pipe[0], &c, 1);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        std::ostringstream os;
        os << "goro: goroutine dump (signal)\n";
        dump(os);
        std::string s = os.str();
        std::fwrite(s.data(), 1, s.size(), stderr);
        std::fflush(stderr);
      }
    }).detach();
    detail::sched().internal_threads.fetch_add(1, std::memory_order_relaxed);
  }
  struct sigaction sa {};
  sa.sa_handler = &on_dump_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  return ::sigaction(sig, &sa, nullptr) == 0;
}

bool set_deadlock_detection(bool on) noexcept {
  (void)detail::detection_on();  // read the environment first
  bool old = detail::g_detection.exchange(on ? 1 : 0, std::memory_order_relaxed) != 0;
  // Everything may already be blocked, with no worker due to look again.
  if (on && !old) detail::deadlock_poke();
  return old;
}

namespace this_goroutine {
void set_name(std::string_view name) {
  if (detail::goroutine* g = detail::current_goroutine()) detail::registry_set_name(g, name);
}
std::string name() {
  detail::goroutine* g = detail::current_goroutine();
  return g != nullptr ? detail::registry_name(g) : std::string();
}
}  // namespace this_goroutine

}  // namespace goro

// ---- goro/testing.hpp ----------------------------------------------------------------

namespace goro::testing {

goroutine_set snapshot() {
  goroutine_set s;
  for (const goroutine_info& g : goroutines()) s.ids.push_back(g.id);
  return s;
}

std::vector<goroutine_info> leaked_since(const goroutine_set& before, std::chrono::milliseconds grace) {
  auto deadline = std::chrono::steady_clock::now() + grace;
  auto wait = std::chrono::microseconds(100);
  for (;;) {
    std::vector<goroutine_info> leaked;
    for (goroutine_info& g : goroutines()) {
      if (g.deadlocked || std::binary_search(before.ids.begin(), before.ids.end(), g.id)) continue;
      leaked.push_back(std::move(g));
    }
    // Goroutines not yet started are not listed: wait for them to start
    // (they are runnable), in case one of them leaks.
    bool pending = num_goroutine() > detail::registry_size();
    if ((leaked.empty() && !pending) || std::chrono::steady_clock::now() >= deadline) return leaked;
    // Polling, not synchronization: goroutines finishing have no one to
    // tell. From a goroutine, park (the leaked ones may need this worker).
    if (detail::current_goroutine() != nullptr) {
      goro::sleep(wait);
    } else {
      std::this_thread::sleep_for(wait);
    }
    wait = std::min<std::chrono::microseconds>(wait * 2, std::chrono::milliseconds(20));
  }
}

std::string check_leaks(const goroutine_set& before, std::chrono::milliseconds grace) {
  std::vector<goroutine_info> leaked = leaked_since(before, grace);
  // Goroutines still waiting for their first run after the grace period
  // outlived the test too (whose they are, nobody can tell: not listed).
  std::int64_t pending = num_goroutine() - detail::registry_size();
  if (leaked.empty() && pending <= 0) return {};
  std::ostringstream os;
  detail::write_count(os, leaked.size(), " leaked", pending);
  os << ":\n\n";
  detail::write_list(os, leaked);
  return os.str();
}

}  // namespace goro::testing

// ---- stats and schedtrace --------------------------------------------------------------

namespace goro {

scheduler_stats stats() {
  using namespace detail;
  scheduler& s = sched();
  scheduler_stats st;
  st.gomaxprocs = s.maxprocs.load(std::memory_order_acquire);
  st.goroutines = detail::num_goroutine();
  st.global_run_queue = s.global_size.load(std::memory_order_relaxed);
  st.threads = os_threads();
  st.blocking_threads = blocking_threads();
  st.spawns = s.nspawn_outside.load(std::memory_order_relaxed);
  int n = std::min(st.gomaxprocs, s.nprocs.load(std::memory_order_acquire));
  std::vector<bool> idle(static_cast<std::size_t>(n), false);
  {
    runtime_lock_guard lock(s.lock);
    for (processor* q = s.idle_head; q != nullptr; q = q->idle_next) {
      if (q->id < n) idle[static_cast<std::size_t>(q->id)] = true;
    }
  }
  for (int i = 0; i < n; ++i) {
    processor* q = s.procs[i].load(std::memory_order_acquire);
    processor_stats ps;
    ps.id = i;
    ps.idle = idle[static_cast<std::size_t>(i)];
    ps.spinning = q->spinning.load(std::memory_order_relaxed);
    ps.run_queue = q->runq.size() + (q->runq.runnext.load(std::memory_order_relaxed) != nullptr ? 1 : 0);
    {
      runtime_lock_guard lock(q->timers.lock);
      ps.timers = q->timers.nodes.size();
    }
    ps.switches = q->nswitch.load(std::memory_order_relaxed);
    ps.spawns = q->nspawn.load(std::memory_order_relaxed);
    ps.parks = q->npark.load(std::memory_order_relaxed);
    ps.steals = q->nsteal.load(std::memory_order_relaxed);
    ps.timers_fired = q->ntimer.load(std::memory_order_relaxed);
    st.idle_procs += ps.idle ? 1 : 0;
    st.spinning_procs += ps.spinning ? 1 : 0;
    st.switches += ps.switches;
    st.spawns += ps.spawns;
    st.parks += ps.parks;
    st.steals += ps.steals;
    st.timers_fired += ps.timers_fired;
    st.procs.push_back(ps);
  }
  return st;
}

bool set_dump_stacks(bool on) noexcept {
  return detail::sched().dump_stacks.exchange(on, std::memory_order_relaxed);
}

bool set_goroutine_times(bool on) noexcept {
  return detail::sched().goroutine_times.exchange(on, std::memory_order_relaxed);
}

}  // namespace goro

namespace goro::detail {

namespace {

// GORO_SCHEDTRACE=<ms>: Go's GODEBUG=schedtrace, one line per period.
void schedtrace_loop(std::int64_t period_ms) noexcept {
  mark_runtime_thread();
  std::int64_t start = nanotime();
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(period_ms));
    try {
      scheduler_stats st = goro::stats();
      std::ostringstream os;
      os << "SCHED " << (nanotime() - start) / 1'000'000 << "ms: gomaxprocs=" << st.gomaxprocs
         << " idleprocs=" << st.idle_procs << " threads=" << st.threads << " spinningthreads=" << st.spinning_procs
         << " goroutines=" << st.goroutines << " runqueue=" << st.global_run_queue << " [";
      for (std::size_t i = 0; i < st.procs.size(); ++i) os << (i ? " " : "") << st.procs[i].run_queue;
      os << "] switches=" << st.switches << " parks=" << st.parks << " steals=" << st.steals
         << " timers_fired=" << st.timers_fired << '\n';
      std::string line = os.str();
      std::fwrite(line.data(), 1, line.size(), stderr);
      std::fflush(stderr);
    } catch (...) {
    }
  }
}

}  // namespace

void diagnostics_start() noexcept {
  if (const char* env = std::getenv("GORO_GOROUTINE_TIMES"); env != nullptr && std::strcmp(env, "1") == 0) {
    sched().goroutine_times.store(true, std::memory_order_relaxed);
  }
  if (const char* env = std::getenv("GORO_DUMP_STACKS"); env != nullptr && std::strcmp(env, "1") == 0) {
    sched().dump_stacks.store(true, std::memory_order_relaxed);
  }
  if (const char* env = std::getenv("GORO_SCHEDTRACE")) {
    long ms = std::atol(env);
    if (ms > 0) {
      try {
        std::thread(schedtrace_loop, static_cast<std::int64_t>(ms)).detach();
        sched().internal_threads.fetch_add(1, std::memory_order_relaxed);
      } catch (...) {
        std::fprintf(stderr, "goro: GORO_SCHEDTRACE: cannot start a thread\n");
      }
    }
  }
}

}  // namespace goro::detail
