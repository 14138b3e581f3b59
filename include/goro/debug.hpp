// goro/debug.hpp: seeing inside a running program.
//
//   goro::goroutines()            a snapshot of every goroutine
//   goro::dump(os)                the snapshot, printed like Go's goroutine dump
//   goro::dump_on_signal(sig)     dump to stderr whenever sig arrives (SIGQUIT)
//   goro::stats()                 the scheduler's counters and queues
//   goro::set_goroutine_times(on) add up each goroutine's run and wait time
//   goro::set_dump_stacks(on)     record where goroutines park: stacks in dumps
//   goro::set_deadlock_detection  turn run()'s deadlock check off and on
//   GORO_SCHEDTRACE=<ms>          a line of stats to stderr every <ms> (Go's schedtrace)
//   GORO_TRACE=<file>             an execution trace (Chrome trace-event JSON) at exit
//   goro::this_goroutine::set_name / name   a name shown in dumps
//
// run() throws goro::deadlock_error (runtime.hpp) when its main goroutine
// and every other goroutine are blocked and nothing can wake them; its
// what() is "all goroutines are asleep - deadlock!" followed by the dump.
// See docs/debugging.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "goro/detail/config.hpp"
#include "goro/runtime.hpp"

namespace goro {

/// One goroutine, as goroutines() saw it.
struct goroutine_info {
  enum class status : std::uint8_t {
    runnable,  // ready to run
    running,   // on a worker right now
    waiting,   // blocked; wait_reason says on what
  };
  std::uint64_t id = 0;
  std::uint64_t parent = 0;  // the goroutine that started it; 0: a plain thread
  std::string name;          // this_goroutine::set_name; empty if none
  status state = status::runnable;
  const char* wait_reason = "";  // "chan receive", "mutex lock", ...; "" unless waiting
  std::chrono::nanoseconds waiting_for{0};  // since it blocked (a few ms resolution)
  source_location created_at;  // where go() (or run()) was called
  bool main = false;           // the main goroutine of a run() call
  bool deadlocked = false;     // part of a deadlock already reported (parked for good)
  // Time on a worker and off one (blocked or waiting for a worker), added
  // up while set_goroutine_times(true) is on; zero otherwise.
  std::chrono::nanoseconds run_time{0};
  std::chrono::nanoseconds wait_time{0};
  // Where it waits: the return addresses of its stack as it parked,
  // innermost first (from the caller of goro's park, a channel receive for
  // instance). Recorded only while set_dump_stacks(true) is on; empty
  // otherwise, and for goroutines not waiting.
  std::vector<void*> stack;
};

/// One processor (Go's P) as stats() saw it.
struct processor_stats {
  int id = 0;
  bool idle = false;      // its worker sleeps, waiting for work
  bool spinning = false;  // its worker looks for work to steal
  std::uint32_t run_queue = 0;  // goroutines queued on it (runnext included)
  std::size_t timers = 0;       // timers armed on its heap
  std::uint64_t switches = 0;   // goroutines it has resumed or started
  std::uint64_t spawns = 0;     // go() called on it
  std::uint64_t parks = 0;      // goroutines that blocked on it
  std::uint64_t steals = 0;     // times it stole work from another
  std::uint64_t timers_fired = 0;
};

/// The scheduler, as stats() saw it (each figure read on its own, not at
/// one instant). Counters count from the program's start.
struct scheduler_stats {
  int gomaxprocs = 0;
  std::int64_t goroutines = 0;        // num_goroutine()
  std::int64_t global_run_queue = 0;  // goroutines in the global queue
  int idle_procs = 0;
  int spinning_procs = 0;
  int threads = 0;           // the process's threads, all of them (/proc)
  int blocking_threads = 0;  // goro::blocking's pool
  std::uint64_t switches = 0, spawns = 0, parks = 0, steals = 0, timers_fired = 0;  // sums over procs
  std::vector<processor_stats> procs;  // the gomaxprocs processors
};

/// Reads the scheduler's figures. Cheap enough to call every second.
GORO_API scheduler_stats stats();

/// Turns on (or off) adding up each goroutine's run and wait time
/// (goroutine_info::run_time, wait_time; shown in dumps). Costs two clock
/// reads a switch, so off by default; GORO_GOROUTINE_TIMES=1 turns it on at
/// start. Returns the old setting.
GORO_API bool set_goroutine_times(bool on) noexcept;

/// Every goroutine that has run and not returned, ordered by id. Goroutines
/// made by go() that have not run yet are not listed (num_goroutine()
/// counts them; dump() says how many). A snapshot: each entry is
/// consistent, the whole is not taken at one instant.
GORO_API std::vector<goroutine_info> goroutines();

/// Writes `g` in the dump format: a header line
///   goroutine 7 "name" [chan receive, 2.5 s]:
/// then its stack, if recorded (one "#i address function+offset (module)"
/// line a frame), then where and by whom it was started.
GORO_API void format(std::ostream& os, const goroutine_info& g);

/// Writes every goroutine in the dump format, blank-line separated, after a
/// line counting them (Go's goroutine dump; stacks with set_dump_stacks(true),
/// or in gdb: docs/debugging.md).
GORO_API void dump(std::ostream& os);

/// From now on, writes a dump to stderr each time signal `sig` arrives (like
/// a Go program on SIGQUIT, but the program goes on). The handler only
/// writes to a pipe; a thread of goro's writes the dump. Returns false if
/// the handler cannot be installed.
GORO_API bool dump_on_signal(int sig);

/// Turns on (or off) recording where each goroutine parks, so that dumps,
/// goroutines() and deadlock reports show the stacks of waiting goroutines;
/// returns the old setting. Off by default: it costs a backtrace() a park
/// (a few microseconds). GORO_DUMP_STACKS=1 in the environment turns it on.
/// Function names appear for exported symbols only (link with -rdynamic,
/// CMake's ENABLE_EXPORTS); otherwise module+offset, which addr2line reads.
GORO_API bool set_dump_stacks(bool on) noexcept;

/// Turns run()'s deadlock check off (false) or back on; returns the old
/// setting. On by default; GORO_DEADLOCK=0 in the environment turns it off.
GORO_API bool set_deadlock_detection(bool on) noexcept;

namespace this_goroutine {
/// Names the running goroutine in dumps and deadlock reports. Does nothing
/// on a plain thread.
GORO_API void set_name(std::string_view name);
/// The running goroutine's name; empty if unnamed or on a plain thread.
GORO_API std::string name();
}  // namespace this_goroutine

}  // namespace goro
