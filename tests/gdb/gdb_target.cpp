// tests/gdb/gdb_target.cpp: the program tests/gdb/gdb_test.py runs under gdb
// with tools/gdb/goro-gdb.py loaded.
//
// The main goroutine starts four goroutines, each in a function of its own
// that the backtraces gdb prints must show:
//   sleeper  named "sleeper", parked in chan recv()  (sleeper_waits_on_channel)
//   locker   parked in mutex lock()                  (locker_waits_on_mutex)
//   waiter   parked in wait_group wait()             (waiter_waits_on_group)
//   spinner  running on the other worker, never switching away (spinner_spins_until_released)
// It waits (bounded) until goro::goroutines() shows them so, prints goro's
// own dump for the driver to compare with gdb's `info goroutines`, and calls
// goro_gdb_stop_here(), where gdb stops. Then it stops a second time in
// goro_gdb_stop_on_signal_stack(), called by a SIGUSR1 handler running on
// the worker's alternate signal stack (where goro's stack-overflow report
// runs): a goroutine whose thread is not on the goroutine's stack. Then it
// releases everything and exits 0; any other outcome exits non-zero.
//
// Needs GOMAXPROCS >= 2 (the driver sets 2): the spinner holds one worker
// while the main goroutine runs on another.
#include <goro/debug.hpp>
#include <goro/goro.hpp>

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>

// What gdb reads: the goroutine ids, so that the driver can name them in
// commands (`goroutine <id> bt`) without guessing how goro numbers them.
struct gdb_target_ids_t {
  std::uint64_t main, sleeper, locker, waiter, spinner;
};
extern "C" {
gdb_target_ids_t gdb_target_ids{};
}

namespace {

std::atomic<bool> g_release{false};

// noinline and with a side effect the optimizer must keep, so that each is
// a frame of its own in a backtrace at any optimization level.
[[gnu::noinline]] void sleeper_waits_on_channel(goro::chan<int>& ch) {
  std::optional<int> v = ch.recv();
  if (!v || *v != 1) {
    std::fprintf(stderr, "gdb_target: the sleeper received the wrong value\n");
    std::_Exit(1);
  }
}

[[gnu::noinline]] void locker_waits_on_mutex(goro::mutex& mu) {
  mu.lock();
  mu.unlock();
}

[[gnu::noinline]] void waiter_waits_on_group(goro::wait_group& wg) { wg.wait(); }

// Never switches away, so it never joins a registry shard: dumps and the
// extension find it as its processor's fresh goroutine (registry.hpp).
[[gnu::noinline]] void spinner_spins_until_released() {
  while (!g_release.load(std::memory_order_acquire)) {
  }
}

// True when every goroutine is in the state the driver expects.
bool all_in_place(const gdb_target_ids_t& ids) {
  int ok = 0;
  for (const goro::goroutine_info& g : goro::goroutines()) {
    using st = goro::goroutine_info::status;
    auto waits_on = [&](const char* reason) {
      return g.state == st::waiting && std::strcmp(g.wait_reason, reason) == 0;
    };
    if ((g.id == ids.sleeper && waits_on("chan receive") && g.name == "sleeper") ||
        (g.id == ids.locker && waits_on("mutex lock")) || (g.id == ids.waiter && waits_on("wait_group wait")) ||
        (g.id == ids.spinner && g.state == st::running) || (g.id == ids.main && g.state == st::running)) {
      ++ok;
    }
  }
  return ok == 5;
}

}  // namespace

// Where gdb stops. extern "C" and noinline so that `break goro_gdb_stop_here`
// finds it; the asm keeps the call from being optimized away.
extern "C" [[gnu::noinline]] void goro_gdb_stop_here() { asm volatile("" ::: "memory"); }
extern "C" [[gnu::noinline]] void goro_gdb_stop_on_signal_stack() { asm volatile("" ::: "memory"); }

namespace {

void on_sigusr1(int) {
  stack_t ss;
  if (sigaltstack(nullptr, &ss) != 0 || (ss.ss_flags & SS_ONSTACK) == 0) {
    const char msg[] = "gdb_target: the SIGUSR1 handler is not on the signal stack\n";
    ssize_t r = ::write(2, msg, sizeof msg - 1);
    (void)r;
    _exit(1);
  }
  goro_gdb_stop_on_signal_stack();
}

// Raises SIGUSR1 on this worker thread; its handler runs on the signal
// stack goro gives every worker, and stops there for gdb.
[[gnu::noinline]] void main_goroutine_raises_signal() {
  struct sigaction sa {};
  sa.sa_handler = &on_sigusr1;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_ONSTACK;
  if (sigaction(SIGUSR1, &sa, nullptr) != 0 || pthread_kill(pthread_self(), SIGUSR1) != 0) {
    std::cerr << "gdb_target: cannot raise SIGUSR1\n";
    std::_Exit(1);
  }
}

[[gnu::noinline]] void main_goroutine_body() {
  gdb_target_ids_t ids{};
  ids.main = goro::this_goroutine::id();
  auto ch = goro::make_chan<int>();
  goro::mutex mu;
  mu.lock();
  goro::wait_group gate;  // the waiter waits for it
  gate.add(1);
  goro::wait_group done;  // the main goroutine waits for the four
  done.add(4);
  auto id_chan = goro::make_chan<std::uint64_t>(4);

  // Starts a goroutine (named, if name is) that runs body, and returns its id.
  auto start = [&](const char* name, auto body) {
    goro::go([&, name, body] {
      if (name != nullptr) goro::this_goroutine::set_name(name);
      id_chan.send(goro::this_goroutine::id());
      body();
      done.done();
    });
    return *id_chan.recv();
  };
  ids.sleeper = start("sleeper", [&] { sleeper_waits_on_channel(ch); });
  ids.locker = start(nullptr, [&] { locker_waits_on_mutex(mu); });
  ids.waiter = start(nullptr, [&] { waiter_waits_on_group(gate); });
  ids.spinner = start(nullptr, [] { spinner_spins_until_released(); });

  // Parking is quick, but nothing tells us it happened: poll, bounded.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!all_in_place(ids)) {
    if (std::chrono::steady_clock::now() > deadline) {
      std::cerr << "gdb_target: the goroutines did not reach their states within 30 s\n";
      goro::dump(std::cerr);
      std::_Exit(1);
    }
    goro::sleep(std::chrono::milliseconds(1));
  }
  gdb_target_ids = ids;  // goro_gdb_stop_here's memory clobber keeps the store

  std::cout << "gdb_target ids: main=" << ids.main << " sleeper=" << ids.sleeper << " locker=" << ids.locker
            << " waiter=" << ids.waiter << " spinner=" << ids.spinner << "\n";
  std::cout << "=== goro dump\n";
  goro::dump(std::cout);
  std::cout << "=== end of goro dump" << std::endl;  // flushed: gdb's output follows on the same pipe

  goro_gdb_stop_here();
  main_goroutine_raises_signal();

  g_release.store(true, std::memory_order_release);
  ch.send(1);
  mu.unlock();
  gate.done();
  done.wait();
  std::cout << "gdb_target: released every goroutine" << std::endl;
}

}  // namespace

int main() {
  // A hang under gdb (a goroutine that never parks, a driver that never
  // continues) ends here rather than at ctest's timeout.
  alarm(150);
  goro::run([] { main_goroutine_body(); });
  return 0;
}
