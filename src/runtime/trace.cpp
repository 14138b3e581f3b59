// src/runtime/trace.cpp: see trace.hpp.
#include "runtime/trace.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "runtime/platform.hpp"
#include "runtime/processor.hpp"
#include "runtime/runtime_mutex.hpp"

namespace goro::detail {

std::atomic<bool> g_tracing{false};

namespace {

constexpr std::size_t max_events = std::size_t{1} << 21;  // per buffer: 2 M events, 64 MiB

struct event {
  std::int64_t ts;
  std::uint64_t g;
  std::uint64_t arg;
  trace_kind kind;
};

struct buffer {
  spin_lock lock;  // the owner worker (or the plain threads), and the writer at exit
  std::vector<event> events;  // guarded by lock
  std::uint64_t dropped = 0;  // guarded by lock
};

struct trace_state {
  std::string path;
  std::int64_t start = 0;
  buffer procs[max_procs];
  buffer threads;  // events of plain threads
};
trace_state* g_trace = nullptr;  // set before g_tracing, never freed

void append(buffer& b, const event& e) noexcept {
  if (b.events.size() >= max_events) {
    ++b.dropped;
    return;
  }
  try {
    b.events.push_back(e);
  } catch (...) {
    ++b.dropped;
  }
}

void write_event(std::FILE* f, bool& first, int tid, const event& e, std::int64_t start) {
  double ts = static_cast<double>(e.ts - start) / 1000.0;  // microseconds
  std::fputs(first ? "\n" : ",\n", f);
  first = false;
  switch (e.kind) {
    case trace_kind::start:
      std::fprintf(f, R"({"name":"goroutine %llu","ph":"B","ts":%.3f,"pid":1,"tid":%d,"args":{"goroutine":%llu}})",
                   static_cast<unsigned long long>(e.g), ts, tid, static_cast<unsigned long long>(e.g));
      break;
    case trace_kind::stop: {
      const char* why = e.arg == trace_stop_yield  ? "yield"
                        : e.arg == trace_stop_exit ? "exit"
                                                   : to_string(static_cast<wait_reason>(e.arg));
      std::fprintf(f, R"({"name":"goroutine %llu","ph":"E","ts":%.3f,"pid":1,"tid":%d,"args":{"stopped":"%s"}})",
                   static_cast<unsigned long long>(e.g), ts, tid, why);
      break;
    }
    case trace_kind::create:
      std::fprintf(f,
                   R"({"name":"go","ph":"i","s":"t","ts":%.3f,"pid":1,"tid":%d,"args":{"goroutine":%llu,"parent":%llu}})",
                   ts, tid, static_cast<unsigned long long>(e.g), static_cast<unsigned long long>(e.arg));
      break;
    case trace_kind::unblock:
      std::fprintf(f, R"({"name":"unblock","ph":"i","s":"t","ts":%.3f,"pid":1,"tid":%d,"args":{"goroutine":%llu}})",
                   ts, tid, static_cast<unsigned long long>(e.g));
      break;
  }
}

}  // namespace

void trace_event_slow(processor* p, trace_kind kind, const goroutine* g, std::uint64_t arg) noexcept {
  event e{nanotime(), g->id, arg, kind};
  buffer& b = p != nullptr ? g_trace->procs[p->id] : g_trace->threads;
  b.lock.lock();
  append(b, e);
  b.lock.unlock();
}

void trace_start_from_env() noexcept {
  const char* path = std::getenv("GORO_TRACE");
  if (path == nullptr || *path == '\0') return;
  try {
    auto* t = new trace_state;
    t->path = path;
    t->start = nanotime();
    g_trace = t;
    g_tracing.store(true, std::memory_order_release);
  } catch (...) {
    std::fprintf(stderr, "goro: GORO_TRACE: out of memory\n");
  }
}

void trace_write() noexcept {
  if (g_trace == nullptr || !g_tracing.exchange(false, std::memory_order_acq_rel)) return;
  trace_state& t = *g_trace;
  std::FILE* f = std::fopen(t.path.c_str(), "w");
  if (f == nullptr) {
    std::fprintf(stderr, "goro: GORO_TRACE: cannot write %s\n", t.path.c_str());
    return;
  }
  std::fputs(R"({"displayTimeUnit":"ns","traceEvents":[)", f);
  bool first = true;
  std::uint64_t dropped = 0;
  int n = sched().nprocs.load(std::memory_order_acquire);
  for (int i = 0; i <= n; ++i) {
    bool threads = i == n;
    buffer& b = threads ? t.threads : t.procs[i];
    int tid = threads ? max_procs : i;
    std::fputs(first ? "\n" : ",\n", f);
    first = false;
    std::fprintf(f, R"({"name":"thread_name","ph":"M","pid":1,"tid":%d,"args":{"name":"%s%d"}})", tid,
                 threads ? "plain threads" : "P", threads ? 0 : i);
    b.lock.lock();
    // A goroutine still running at exit has a start without a stop: close
    // its slice so that viewers nest the rest correctly.
    std::uint64_t open = 0;
    for (const event& e : b.events) {
      write_event(f, first, tid, e, t.start);
      if (e.kind == trace_kind::start) open = e.g;
      if (e.kind == trace_kind::stop) open = 0;
    }
    if (open != 0 && !b.events.empty()) {
      write_event(f, first, tid, event{b.events.back().ts, open, trace_stop_exit, trace_kind::stop}, t.start);
    }
    dropped += b.dropped;
    b.lock.unlock();
  }
  std::fprintf(f, "\n],\"otherData\":{\"dropped_events\":\"%llu\"}}\n", static_cast<unsigned long long>(dropped));
  std::fclose(f);
}

}  // namespace goro::detail
