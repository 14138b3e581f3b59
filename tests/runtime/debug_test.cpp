// tests/runtime/debug_test.cpp: deadlock reports, goroutine dumps, names,
// the leak check (goro/debug.hpp, goro/testing.hpp, goro/gtest.hpp).
//
// A test that expects run() to report a deadlock cannot wait for it from
// another thread or under a timer: either would keep the program from being
// deadlocked. Those tests are bounded by an alarm instead (SIGALRM ends the
// process with a message).
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "goro/gtest.hpp"
#include "support/test_support.hpp"

namespace {

using namespace goro_test;

// Bounds a test that blocks in run() with no timer and no helper thread.
class Deadlock : public ::testing::Test {
 protected:
  alarm_bound bound_{"debug_test: a deadlock was not reported within the alarm\n", std::chrono::seconds(60)};

  // The report run(f) throws, or "(returned)".
  template <class F>
  static std::string report_of(F f) {
    try {
      goro::run(f);
    } catch (const goro::deadlock_error& e) {
      return e.what();
    }
    return "(returned)";
  }
};

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// From a plain thread, without any goro wait (which would make the thread
// known to goro): waits (bounded) until a live run()'s main goroutine has
// been blocked for at least d, longer than the deadlock check needs to
// confirm a report. Polls a condition; the sleep only paces the polling.
bool main_blocked_for(std::chrono::milliseconds d) {
  for (auto deadline = std::chrono::steady_clock::now() + wait_limit; std::chrono::steady_clock::now() < deadline;) {
    for (const goro::goroutine_info& g : goro::goroutines()) {
      if (g.main && !g.deadlocked && g.state == goro::goroutine_info::status::waiting && g.waiting_for >= d) {
        return true;
      }
    }
    std::this_thread::sleep_for(1ms);
  }
  return false;
}

// From a goroutine: waits (bounded) until the goroutine named `name` is
// parked and returns it as goroutines() shows it (id 0 if it never was).
goro::goroutine_info parked(const std::string& name) {
  goro::goroutine_info found;
  bool ok = eventually([&] {
    for (const goro::goroutine_info& g : goro::goroutines()) {
      if (g.name == name && g.state == goro::goroutine_info::status::waiting) {
        found = g;
        return true;
      }
    }
    return false;
  });
  EXPECT_TRUE(ok) << "goroutine \"" << name << "\" never parked";
  return found;
}

// A function of the test's own, which a recorded park stack must show (not
// inlined, and no tail call: the write after the receive).
volatile int after_the_wait = 0;
__attribute__((noinline)) void goro_debug_test_waits_here(const goro::chan<int>& c) {
  c.recv();
  after_the_wait = after_the_wait + 1;
}

// Starts a goroutine named `name` that waits in goro_debug_test_waits_here
// on c, and returns it as goroutines() shows it once it is parked.
goro::goroutine_info start_named_waiter(const std::string& name, const goro::chan<int>& c) {
  goro::go([name, c] {
    goro::this_goroutine::set_name(name);
    goro_debug_test_waits_here(c);
  });
  return parked(name);
}

TEST_F(Deadlock, MainGoroutineAloneOnAChannel) {
  std::string r = report_of([] { goro::make_chan<int>().recv(); });
  EXPECT_EQ(r.rfind("all goroutines are asleep - deadlock!", 0), 0u) << r;
  EXPECT_TRUE(contains(r, "[chan receive, ")) << r;
  EXPECT_TRUE(contains(r, "(main):")) << r;
  EXPECT_TRUE(contains(r, "started by run() at ")) << r;
  EXPECT_TRUE(contains(r, "debug_test.cpp")) << r;
}

TEST_F(Deadlock, EveryGoroutineListedWithWhatItWaitsOn) {
  int line = 0;
  std::string r = report_of([&] {
    auto c = goro::make_chan<int>();
    goro::chan<int> nil;
    goro::mutex mu;
    mu.lock();
    goro::rw_mutex rw;
    rw.lock();
    goro::wait_group wg;
    wg.add(1);
    goro::mutex mu2;
    goro::cond cv(mu2);
    auto started = goro::make_chan<int>(8);
    line = __LINE__ + 1;
    goro::go([&] { goro::this_goroutine::set_name("locker"); started.send(1); mu.lock(); });
    goro::go([&] { started.send(1); rw.lock_shared(); });
    goro::go([&] { started.send(1); c.send(1); });
    goro::go([&] { started.send(1); nil.recv(); });
    goro::go([&] { started.send(1); goro::select(); });
    goro::go([&] {
      mu2.lock();
      started.send(1);
      cv.wait();
    });
    for (int i = 0; i < 6; ++i) started.recv();
    wg.wait();
  });
  EXPECT_TRUE(contains(r, "[wait_group wait, ")) << r;
  EXPECT_TRUE(contains(r, "\"locker\" [mutex lock, ")) << r;
  EXPECT_TRUE(contains(r, "[rw_mutex rlock, ")) << r;
  EXPECT_TRUE(contains(r, "[chan send, ")) << r;
  EXPECT_TRUE(contains(r, "[chan receive (nil chan), ")) << r;
  EXPECT_TRUE(contains(r, "[select (no cases), ")) << r;
  EXPECT_TRUE(contains(r, "[cond wait, ")) << r;
  EXPECT_TRUE(contains(r, "debug_test.cpp:" + std::to_string(line))) << r;
  EXPECT_TRUE(contains(r, "started by goroutine ")) << r;
}

TEST_F(Deadlock, ReportShowsWhereEachGoroutineWaitsWithDumpStacksOn) {
  scoped_setting stacks(goro::set_dump_stacks, true);
  std::string r = report_of([] { goro_debug_test_waits_here(goro::make_chan<int>()); });
  EXPECT_TRUE(contains(r, "goro_debug_test_waits_here")) << r;
  EXPECT_TRUE(contains(r, "#0 ")) << r;
}

TEST_F(Deadlock, ARunAfterADeadlockWorks) {
  std::string r = report_of([] { goro::make_chan<int>().send(1); });
  EXPECT_TRUE(contains(r, "deadlock")) << r;
  EXPECT_EQ(goro::run([] { return 7; }), 7);
  // The abandoned goroutine is still listed, marked.
  bool found = false;
  for (const goro::goroutine_info& g : goro::goroutines()) {
    if (g.deadlocked && g.main && std::string(g.wait_reason) == "chan send") found = true;
  }
  EXPECT_TRUE(found);
}

TEST_F(Deadlock, NoReportWhileATimerIsPending) {
  int v = 0;
  std::string r = report_of([&] {
    auto c = goro::make_chan<int>();
    goro::after_func(30ms, [c] { goro::go([c] { c.send(5); }); });
    v = *c.recv();
  });
  EXPECT_EQ(r, "(returned)");
  EXPECT_EQ(v, 5);
}

TEST_F(Deadlock, NoReportWhileAThreadUnknownToGoroRuns) {
  // The thread has never used goro when everything blocks: goro cannot know
  // it will send, so it must not report while the thread exists.
  auto c = goro::make_chan<int>(1);
  std::promise<void> go_on;
  std::thread t([c, f = go_on.get_future()]() mutable {
    f.wait();
    EXPECT_TRUE(main_blocked_for(50ms));  // long enough for a report, were one made
    c.send(9);
  });
  int v = 0;
  std::string r = report_of([&] {
    go_on.set_value();
    v = *c.recv();
  });
  t.join();
  EXPECT_EQ(r, "(returned)");
  EXPECT_EQ(v, 9);
}

TEST_F(Deadlock, NoReportWhileAWokenThreadMayStillAct) {
  // The thread parks in goro, is woken by a goroutine, and sends later: from
  // its wake on, it counts as a thread that may act.
  auto to_thread = goro::make_chan<int>();
  auto back = goro::make_chan<int>(1);  // so that the thread ends even after a false report
  std::thread t([=] {
    int x = *to_thread.recv();
    EXPECT_TRUE(main_blocked_for(50ms));  // long enough for a report, were one made
    back.send(x + 1);
  });
  int v = 0;
  std::string r = report_of([&] {
    to_thread.send(1);
    v = *back.recv();
  });
  t.join();
  EXPECT_EQ(r, "(returned)");
  EXPECT_EQ(v, 2);
}

TEST_F(Deadlock, ReportedOnceTheUnknownThreadIsGone) {
  std::promise<void> go_on;
  std::thread t([f = go_on.get_future()] { f.wait(); });
  std::string r = report_of([&] {
    go_on.set_value();  // the thread exits; nobody can wake the main goroutine
    goro::make_chan<int>().recv();
  });
  t.join();
  EXPECT_TRUE(contains(r, "all goroutines are asleep")) << r;
}

TEST_F(Deadlock, ReportedWhenTurnedBackOnWithEverythingBlocked) {
  // Off while the main goroutine blocks; a thread turns the check back on
  // once it has been blocked a while, and exits. Nothing else happens after
  // that, so the check must run because it was turned on.
  EXPECT_TRUE(goro::set_deadlock_detection(false));
  std::thread t([] {
    EXPECT_TRUE(main_blocked_for(20ms));
    EXPECT_FALSE(goro::set_deadlock_detection(true));
  });
  std::string r = report_of([] { goro::make_chan<int>().recv(); });
  t.join();
  EXPECT_TRUE(contains(r, "all goroutines are asleep")) << r;
}

// ---- dumps ---------------------------------------------------------------------

TEST(Dump, ListsGoroutinesWithStateReasonNameAndOrigin) {
  goro::run([] {
    goro::this_goroutine::set_name("the main one");
    EXPECT_EQ(goro::this_goroutine::name(), "the main one");
    auto c = goro::make_chan<int>();
    auto ready = goro::make_chan<int>();
    int line = __LINE__ + 1;
    goro::go([=] { goro::this_goroutine::set_name("waiter"); ready.send(1); c.recv(); });
    ready.recv();
    goro::goroutine_info w = parked("waiter");  // it sent, then blocks on c
    ASSERT_EQ(w.state, goro::goroutine_info::status::waiting);
    EXPECT_STREQ(w.wait_reason, "chan receive");
    EXPECT_EQ(w.parent, goro::this_goroutine::id());
    EXPECT_EQ(w.created_at.line, static_cast<std::uint32_t>(line));
    EXPECT_FALSE(w.main);
    EXPECT_GE(w.waiting_for.count(), 0);

    std::ostringstream os;
    goro::dump(os);
    std::string d = os.str();
    EXPECT_TRUE(contains(d, "goroutine " + std::to_string(goro::this_goroutine::id()) +
                                " \"the main one\" [running] (main):"))
        << d;
    EXPECT_TRUE(contains(d, "goroutine " + std::to_string(w.id) + " \"waiter\" [chan receive, ")) << d;
    EXPECT_TRUE(contains(d, "debug_test.cpp:" + std::to_string(line))) << d;
    c.send(0);
  });
}

TEST(Dump, StackOfAWaitingGoroutineWithDumpStacksOn) {
  scoped_setting stacks(goro::set_dump_stacks, true);
  goro::run([] {
    auto c = goro::make_chan<int>();
    goro::goroutine_info w = start_named_waiter("stacked", c);
    ASSERT_FALSE(w.stack.empty());
    std::ostringstream os;
    goro::format(os, w);
    std::string f = os.str();
    // Innermost first: goro's receive, then the test's function, all before
    // the "started by" line.
    std::size_t ours = f.find("goro_debug_test_waits_here");
    EXPECT_NE(ours, std::string::npos) << f;
    EXPECT_LT(f.find("\t#0 "), ours) << f;
    EXPECT_LT(ours, f.find("started by goroutine")) << f;
    c.close();
  });
}

TEST(Dump, NoStacksUnlessAskedFor) {
  scoped_setting stacks(goro::set_dump_stacks, false);
  goro::run([] {
    auto c = goro::make_chan<int>();
    goro::goroutine_info w = start_named_waiter("unstacked", c);
    EXPECT_TRUE(w.stack.empty());
    std::ostringstream os;
    goro::format(os, w);
    EXPECT_FALSE(contains(os.str(), "#0 ")) << os.str();
    c.close();
  });
}

TEST(Dump, RunnableAndNotYetStarted) {
  goro::run([] {
    int old = goro::gomaxprocs(1);  // nothing runs until this goroutine blocks
    auto ready = goro::make_chan<int>();
    auto c = goro::make_chan<int>();
    auto done = goro::make_chan<int>(2);
    goro::go([=] {
      ready.send(1);
      c.recv();
      done.send(1);
    });
    // Not run yet: counted, not listed.
    std::ostringstream os;
    goro::dump(os);
    EXPECT_TRUE(contains(os.str(), "(and 1 not yet started)")) << os.str();
    std::uint64_t me = goro::this_goroutine::id();
    auto child = [&] {
      goro::goroutine_info found;
      for (const goro::goroutine_info& g : goro::goroutines()) {
        if (g.parent == me) found = g;
      }
      return found;
    };
    EXPECT_EQ(child().id, 0u);
    ready.recv();  // it runs, parks on c
    EXPECT_EQ(child().state, goro::goroutine_info::status::waiting);
    c.send(0);  // readies it; we keep the processor
    EXPECT_EQ(child().state, goro::goroutine_info::status::runnable);
    goro::gomaxprocs(old);
    EXPECT_TRUE(recv_within(goro::recv_chan<int>(done)).has_value());
  });
}

TEST(Dump, OnASignal) {
  // stderr into a pipe while the signal's dump is written.
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  int saved = ::dup(2);
  ASSERT_GE(saved, 0);
  std::fflush(stderr);
  ::dup2(fds[1], 2);
  auto c = goro::make_chan<int>();
  goro::go([c] {
    goro::this_goroutine::set_name("signal-watched");
    c.recv();
  });
  ASSERT_TRUE(goro::dump_on_signal(SIGUSR1));
  std::string out;
  // The goroutine may not have run yet: signal until it shows up.
  for (auto deadline = std::chrono::steady_clock::now() + wait_limit;
       !contains(out, "\"signal-watched\" [chan receive") && std::chrono::steady_clock::now() < deadline;) {
    ::raise(SIGUSR1);
    pollfd pfd{fds[0], POLLIN, 0};
    while (::poll(&pfd, 1, 50) == 1) {
      char buf[4096];
      ssize_t n = ::read(fds[0], buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
  }
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  ::close(fds[0]);
  ::close(fds[1]);
  c.close();
  EXPECT_TRUE(contains(out, "goro: goroutine dump (signal)")) << out;
  EXPECT_TRUE(contains(out, "\"signal-watched\" [chan receive")) << out;
}

// A goroutine that has not switched away yet has not joined a registry
// shard (registry.hpp): dumps, the leak check and the count find it through
// its processor. Driven from this plain thread, so that it works at any P.
TEST(Dump, ARunningGoroutineThatNeverSwitchedIsListed) {
  struct flags {
    std::atomic<int> step{0};  // 1: started; 2: named; 3: told to return
  };
  auto f = std::make_shared<flags>();  // outlives a failed test
  auto done = goro::make_chan<int>();
  auto before = goro::testing::snapshot();
  // Waits (bounded, never switching away) until the step is s or later.
  auto reach = [f](int s) { return spin_until([&] { return f->step.load() >= s; }); };
  int line = __LINE__ + 1;
  goro::go([f, done, reach] {
    f->step = 1;
    reach(2);
    goro::this_goroutine::set_name("spinner");
    f->step = 3;
    reach(4);
    done.close();  // no receiver waits: returns without switching away
  });
  auto find = [&] {
    goro::goroutine_info found;
    for (const goro::goroutine_info& g : goro::goroutines()) {
      if (g.created_at.line == static_cast<std::uint32_t>(line)) found = g;
    }
    return found;
  };
  ASSERT_TRUE(reach(1));
  goro::goroutine_info g = find();
  EXPECT_NE(g.id, 0u);
  EXPECT_EQ(g.state, goro::goroutine_info::status::running);
  EXPECT_EQ(g.parent, 0u);  // started by a plain thread
  EXPECT_EQ(g.name, "");
  std::string leaks = goro::testing::check_leaks(before, 0ms);
  EXPECT_TRUE(contains(leaks, "1 goroutine leaked:")) << leaks;
  EXPECT_FALSE(contains(leaks, "not yet started")) << leaks;

  f->step = 2;  // it names itself, which joins its shard, and runs on
  ASSERT_TRUE(reach(3));
  g = find();
  EXPECT_EQ(g.state, goro::goroutine_info::status::running);
  EXPECT_EQ(g.name, "spinner");
  leaks = goro::testing::check_leaks(before, 0ms);
  EXPECT_TRUE(contains(leaks, "1 goroutine leaked:")) << leaks;
  EXPECT_FALSE(contains(leaks, "not yet started")) << leaks;

  f->step = 4;
  EXPECT_FALSE(recv_within(goro::recv_chan<int>(done)).has_value());  // closed
  EXPECT_EQ(goro::testing::check_leaks(before), "");
}

// Dumps while goroutines start and return without ever switching away, each
// read through its processor (registry.hpp): every one listed must be one
// of them, whole. Under ASan and TSan this is the test of the barrier
// protocol that keeps a dump from reading a returning goroutine. How many
// a run catches running depends on the machine (0 to about 700 here), so
// it is not asserted; with the returning side's wait removed, the TSan
// build reported the race on its first run.
TEST(Dump, WhileGoroutinesStartAndReturnWithoutSwitching) {
  static constexpr int n = 20'000;
  std::atomic<bool> spawning{true};
  std::atomic<std::uint64_t> spawner{0};
  std::atomic<int> ran{0};
  std::atomic<int> line{0};
  bounded_thread dumper([&] {
    std::int64_t dumps = 0;
    while (spawning.load() || dumps < 10) {
      std::uint64_t parent = spawner.load();
      std::vector<std::uint64_t> ids;
      for (const goro::goroutine_info& g : goro::goroutines()) {
        ids.push_back(g.id);
        if (parent == 0 || g.parent != parent) continue;
        EXPECT_EQ(g.created_at.line, static_cast<std::uint32_t>(line.load()));
        // Runnable in the moment between its worker picking it and its first instruction.
        EXPECT_NE(g.state, goro::goroutine_info::status::waiting);
        EXPECT_NE(g.id, 0u);
      }
      std::sort(ids.begin(), ids.end());
      EXPECT_EQ(std::adjacent_find(ids.begin(), ids.end()), ids.end()) << "a goroutine listed twice";
      ++dumps;
    }
  });
  goro::run([&] {
    auto all = goro::make_chan<int>();
    line = __LINE__ + 4;
    spawner = goro::this_goroutine::id();
    for (int i = 0; i < n; ++i) {
      if (i % 64 == 0) goro::yield();  // at P=1 too, let the children run while the spawner lives
      goro::go([all, &ran] {
        if (ran.fetch_add(1) + 1 == n) all.close();
      });
    }
    EXPECT_FALSE(recv_within(goro::recv_chan<int>(all)).has_value());  // closed by the last
  });
  spawning = false;
  EXPECT_TRUE(dumper.join());
  EXPECT_EQ(ran.load(), n);
}

TEST(Dump, NameOnAPlainThreadIsEmpty) {
  goro::this_goroutine::set_name("ignored");
  EXPECT_EQ(goro::this_goroutine::name(), "");
}

// ---- stats -----------------------------------------------------------------------

TEST(Stats, CountsSpawnsSwitchesParksAndQueues) {
  goro::scheduler_stats before = goro::stats();
  EXPECT_EQ(before.gomaxprocs, goro::gomaxprocs());
  EXPECT_EQ(static_cast<int>(before.procs.size()), before.gomaxprocs);
  EXPECT_GE(before.threads, before.gomaxprocs);
  goro::run([] {
    auto c = goro::make_chan<int>();
    goro::wait_group wg;
    for (int i = 0; i < 100; ++i) {
      wg.go([c] { c.recv(); });  // each parks until the sends below
    }
    for (int i = 0; i < 100; ++i) c.send(i);
    wg.wait();
    goro::sleep(1ms);  // a timer that fires
  });
  goro::scheduler_stats after = goro::stats();
  EXPECT_GE(after.spawns - before.spawns, 101u);  // 100 and run()'s main goroutine
  EXPECT_GE(after.switches - before.switches, 101u);
  EXPECT_GE(after.parks - before.parks, 1u);
  EXPECT_GE(after.timers_fired - before.timers_fired, 1u);
  std::uint64_t sum = 0;
  for (const goro::processor_stats& p : after.procs) sum += p.switches;
  EXPECT_EQ(sum, after.switches);
}

TEST(Stats, GoroutineTimes) {
  bool old = goro::set_goroutine_times(true);
  goro::run([] {
    auto proceed = goro::make_chan<int>();
    auto busy_done = goro::make_chan<int>(1);
    auto resumed = goro::make_chan<int>(1);
    goro::go([=] {
      goro::this_goroutine::set_name("timed");
      for (auto until = std::chrono::steady_clock::now() + 20ms; std::chrono::steady_clock::now() < until;) {
      }  // 20 ms on a worker
      busy_done.send(1);
      proceed.recv();  // off the worker while the main goroutine sleeps 20 ms
      resumed.send(1);
      proceed.recv();  // parked, so that its figures are final when read
    });
    busy_done.recv();
    goro::sleep(20ms);
    proceed.send(1);
    resumed.recv();
    goro::goroutine_info t = parked("timed");
    EXPECT_GE(t.run_time, 20ms);
    EXPECT_GE(t.wait_time, 15ms);
    std::ostringstream os;
    goro::format(os, t);
    EXPECT_TRUE(contains(os.str(), "\tran ")) << os.str();
    proceed.send(1);
  });
  goro::set_goroutine_times(old);
}

// ---- the leak check ------------------------------------------------------------

TEST(LeakCheck, ReportsALeakedGoroutineAndPassesOnceItEnds) {
  goro::run([] {
    auto before = goro::testing::snapshot();
    auto c = goro::make_chan<int>();
    auto started = goro::make_chan<int>(1);
    goro::go([=] {
      started.send(1);
      c.recv();
    });
    started.recv();
    std::string leaks = goro::testing::check_leaks(before, 20ms);
    EXPECT_TRUE(contains(leaks, "1 goroutine leaked:")) << leaks;
    EXPECT_TRUE(contains(leaks, "debug_test.cpp")) << leaks;
    c.close();
    EXPECT_EQ(goro::testing::check_leaks(before), "");
  });
}

TEST(LeakCheck, TheGoogleTestListenerFailsALeakingTest) {
  goro::testing::leak_check_listener listener(20ms);
  const ::testing::TestInfo& info = *::testing::UnitTest::GetInstance()->current_test_info();
  auto c = goro::make_chan<int>();
  auto started = goro::make_chan<int>(1);
  listener.OnTestStart(info);
  goro::go([=] {
    started.send(1);
    c.recv();
  });
  started.recv();  // listed from its first run on
  ::testing::TestPartResultArray results;
  {
    ::testing::ScopedFakeTestPartResultReporter reporter(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &results);
    listener.OnTestEnd(info);
  }
  ASSERT_EQ(results.size(), 1);
  EXPECT_TRUE(contains(results.GetTestPartResult(0).message(), "1 goroutine leaked")) << results.GetTestPartResult(0).message();
  c.close();
  listener.OnTestStart(info);
  {
    ::testing::TestPartResultArray none;
    ::testing::ScopedFakeTestPartResultReporter reporter(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &none);
    listener.OnTestEnd(info);
    EXPECT_EQ(none.size(), 0);
  }
}

}  // namespace
