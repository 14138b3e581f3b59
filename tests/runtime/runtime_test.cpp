// Goroutines and the scheduler: go, run, yield, gomaxprocs, num_goroutine.
#include <atomic>
#include <functional>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <goro/debug.hpp>

#include "support/test_support.hpp"

using namespace goro_test;

TEST(Go, StartsAGoroutine) {
  goro::run([] {
    auto done = goro::make_chan<int>();
    goro::go([done] { done.send(42); });
    EXPECT_EQ(recv_within<int>(done), 42);
  });
}

TEST(Go, CopiesItsArgumentsLikeStdThread) {
  goro::run([] {
    auto done = goro::make_chan<std::string>();
    std::string s = "hello";
    int n = 0;
    goro::go(
        [done](std::string str, int& counter) {
          counter += 1;
          done.send(str + "!");
        },
        s, std::ref(n));
    s = "changed";
    EXPECT_EQ(recv_within<std::string>(done), "hello!");
    EXPECT_EQ(n, 1);
  });
}

TEST(Go, AcceptsMoveOnlyCallablesAndArguments) {
  goro::run([] {
    auto done = goro::make_chan<int>();
    auto p = std::make_unique<int>(5);
    goro::go([done, q = std::make_unique<int>(6)](std::unique_ptr<int> a) { done.send(*a + *q); }, std::move(p));
    EXPECT_EQ(recv_within<int>(done), 11);
  });
}

TEST(Go, AcceptsLargeClosures) {
  goro::run([] {
    auto done = goro::make_chan<long>();
    std::array<long, 64> big{};  // 512 bytes: stored on the heap, not inline
    for (int i = 0; i < 64; ++i) big[static_cast<std::size_t>(i)] = i;
    goro::go([done, big] {
      long sum = 0;
      for (long v : big) sum += v;
      done.send(sum);
    });
    EXPECT_EQ(recv_within<long>(done), 64 * 63 / 2);
  });
}

TEST(Go, WorksFromAPlainThread) {
  auto done = goro::make_chan<int>();
  std::thread t([done] { goro::go([done] { done.send(7); }); });
  t.join();
  EXPECT_EQ(done.recv(), 7);
}

// Goroutines started off the workers go through the global run queue, in
// batches that the workers take whole: from several threads at once, at one
// and two processors, every one of them runs.
TEST(Go, ManyFromPlainThreadsAllRun) {
  for (int procs : {1, 2}) {
    scoped_setting at(goro::gomaxprocs, procs);
    constexpr int threads = 4, each = 3000;
    auto done = goro::make_chan<int>(threads * each);
    std::vector<std::unique_ptr<bounded_thread>> spawners;
    for (int t = 0; t < threads; ++t) {
      spawners.push_back(std::make_unique<bounded_thread>([done] {
        for (int i = 0; i < each; ++i) goro::go([done] { done.send(1); });
      }));
    }
    for (auto& t : spawners) ASSERT_TRUE(t->join());
    EXPECT_TRUE(wait_for(done, threads * each)) << "procs " << procs;
  }
}

// Go's fairness rule: a processor whose local queue never runs dry (two
// goroutines handing a value back and forth) still takes a goroutine from
// the global queue now and then, so goroutines queued there (here, started
// by a plain thread) do not starve. Starving, the test's own waits (woken
// by the plain thread into the same queue) would never return: the alarm
// bounds it.
TEST(Go, GlobalQueueIsServedWhileLocalWorkNeverRunsOut) {
  alarm_bound bound("the global run queue starved behind a ping-pong", std::chrono::seconds(60));
  goro::run([] {
    scoped_setting one(goro::gomaxprocs, 1);
    auto ping = goro::make_chan<int>(), pong = goro::make_chan<int>();
    auto stopped = goro::make_chan<int>(2);
    auto stop = std::make_shared<std::atomic<bool>>(false);  // by value: they may outlive a failed test
    goro::go([=] {
      while (!stop->load()) {
        ping.send(1);
        pong.recv();
      }
      ping.close();
      stopped.send(1);
    });
    goro::go([=] {
      for (int v : ping) pong.send(v);
      stopped.send(1);
    });
    constexpr int n = 1000;
    auto done = goro::make_chan<int>(n);
    bounded_thread spawner([done] {
      for (int i = 0; i < n; ++i) goro::go([done] { done.send(1); });
    });
    EXPECT_TRUE(spawner.join());
    EXPECT_TRUE(wait_for(done, n));
    stop->store(true);
    EXPECT_TRUE(wait_for(stopped, 2));
  });
}

TEST(Run, ReturnsTheResult) {
  EXPECT_EQ(goro::run([] { return 3; }), 3);
  std::string s = goro::run([] { return std::string("abc"); });
  EXPECT_EQ(s, "abc");
}

TEST(Run, RethrowsTheException) {
  EXPECT_THROW(goro::run([]() -> int { throw std::runtime_error("bad"); }), std::runtime_error);
  try {
    goro::run([] { throw std::invalid_argument("why"); });
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "why");
  }
}

TEST(Run, RunsOnAGoroutineAndNestsDirectly) {
  EXPECT_EQ(goro::this_goroutine::id(), 0u);
  goro::run([] {
    std::uint64_t outer = goro::this_goroutine::id();
    EXPECT_NE(outer, 0u);
    goro::run([&] { EXPECT_EQ(goro::this_goroutine::id(), outer); });
  });
}

TEST(Run, ReturnsReferences) {
  int x = 1;
  int& r = goro::run([&]() -> int& { return x; });
  EXPECT_EQ(&r, &x);
}

TEST(Goroutine, IdsAreUniqueAndStable) {
  goro::run([] {
    constexpr int n = 1000;
    auto ids = goro::make_chan<std::uint64_t>(n);
    for (int i = 0; i < n; ++i) {
      goro::go([ids] {
        std::uint64_t id = goro::this_goroutine::id();
        goro::yield();
        goro::sleep(std::chrono::microseconds(10));
        EXPECT_EQ(goro::this_goroutine::id(), id);  // after switches, maybe on another worker
        ids.send(id);
      });
    }
    std::set<std::uint64_t> seen;
    for (int i = 0; i < n; ++i) {
      auto id = recv_within<std::uint64_t>(ids);
      ASSERT_TRUE(id);
      EXPECT_NE(*id, 0u);
      seen.insert(*id);
    }
    EXPECT_EQ(seen.size(), static_cast<std::size_t>(n));
  });
}

TEST(NumGoroutine, CountsLiveGoroutines) {
  goro::run([] {
    std::int64_t base = goro::num_goroutine();
    auto release = goro::make_chan<int>();
    auto started = goro::make_chan<int>(10);
    for (int i = 0; i < 10; ++i) {
      goro::go([=] {
        started.send(1);
        release.recv();
      });
    }
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(recv_within<int>(started));
    EXPECT_EQ(goro::num_goroutine(), base + 10);
    release.close();
    EXPECT_TRUE(eventually([&] { return goro::num_goroutine() == base; }));
  });
}

TEST(Yield, LetsOtherGoroutinesRunOnOneProcessor) {
  goro::run([] {
    int old = goro::gomaxprocs(1);
    std::atomic<int> turn{0};
    std::vector<int> order;
    auto done = goro::make_chan<int>(2);
    for (int who = 0; who < 2; ++who) {
      goro::go([&, who] {
        for (int i = 0; i < 5; ++i) {
          order.push_back(who);
          goro::yield();
        }
        done.send(who);
      });
    }
    ASSERT_TRUE(recv_within<int>(done));
    ASSERT_TRUE(recv_within<int>(done));
    goro::gomaxprocs(old);
    ASSERT_EQ(order.size(), 10u);
    // With one processor and a yield after each step, the two interleave.
    int switches = 0;
    for (std::size_t i = 1; i < order.size(); ++i) switches += order[i] != order[i - 1];
    EXPECT_GE(switches, 8);
    (void)turn;
  });
}

TEST(Yield, FromAPlainThreadReturns) { goro::yield(); }

TEST(Gomaxprocs, ReadsAndSets) {
  int current = goro::gomaxprocs();
  EXPECT_GE(current, 1);
  EXPECT_EQ(goro::gomaxprocs(0), current);
  EXPECT_EQ(goro::gomaxprocs(-1), current);
  EXPECT_EQ(goro::gomaxprocs(3), current);
  EXPECT_EQ(goro::gomaxprocs(), 3);
  EXPECT_EQ(goro::gomaxprocs(current), 3);
  EXPECT_EQ(goro::gomaxprocs(), current);
}

// At most gomaxprocs goroutines run at once: goroutines that never yield
// while they hold "running" can only overlap across processors.
TEST(Gomaxprocs, BoundsHowManyRunAtOnce) {
  for (int procs : {1, 2}) {
    goro::run([procs] {
      int old = goro::gomaxprocs(procs);
      std::atomic<int> running{0}, max_seen{0};
      auto done = goro::make_chan<int>(16);
      for (int i = 0; i < 16; ++i) {
        goro::go([&, done] {
          int now = running.fetch_add(1) + 1;
          int prev = max_seen.load();
          while (now > prev && !max_seen.compare_exchange_weak(prev, now)) {
          }
          auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(2);
          while (std::chrono::steady_clock::now() < until) {
          }
          running.fetch_sub(1);
          done.send(1);
        });
      }
      for (int i = 0; i < 16; ++i) ASSERT_TRUE(recv_within<int>(done));
      EXPECT_LE(max_seen.load(), procs);
      EXPECT_GE(max_seen.load(), 1);
      goro::gomaxprocs(old);
    });
  }
}

TEST(Gomaxprocs, ChangesWhileGoroutinesRun) {
  goro::run([] {
    int old = goro::gomaxprocs();
    auto in = goro::make_chan<int>();
    auto out = goro::make_chan<long>();
    for (int w = 0; w < 4; ++w) {
      goro::go([in, out] {
        long sum = 0;
        for (int v : in) sum += v;
        out.send(sum);
      });
    }
    long expect = 0;
    for (int i = 0; i < 20000; ++i) {
      if (i % 2000 == 0) goro::gomaxprocs(1 + (i / 2000) % 4);
      in.send(i);
      expect += i;
    }
    in.close();
    long got = 0;
    for (int w = 0; w < 4; ++w) got += recv_within<long>(out).value_or(0);
    EXPECT_EQ(got, expect);
    goro::gomaxprocs(old);
  });
}

// A processor publishes to its run queue with plain stores (scheduler.cpp,
// "plain puts"), and at gomaxprocs 1 its worker sleeps without the barrier
// (no other processor could be putting); raising gomaxprocs must still let
// the new processor find and run what was queued there. The goroutine that
// queued them never switches away, so only another processor can run them.
// Driven from this plain thread: the one processor is taken.
TEST(Gomaxprocs, RaisedFromOneRunsWhatTheBusyProcessorQueued) {
  int old = goro::gomaxprocs(1);
  struct flags {
    std::atomic<bool> queued{false}, release{false};
  };
  auto f = std::make_shared<flags>();  // outlives a failed test
  auto ran = goro::make_chan<int>(2);
  goro::go([f, ran] {
    goro::go([ran] { ran.send(1); });  // into runnext
    goro::go([ran] { ran.send(2); });  // into runnext; the first moves to the queue
    f->queued = true;
    spin_until([&] { return f->release.load(); });  // never switches away
  });
  ASSERT_TRUE(spin_until([&] { return f->queued.load(); }));
  goro::gomaxprocs(2);
  auto a = recv_within<int>(ran);
  auto b = recv_within<int>(ran);
  f->release = true;
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a + *b, 3);
  goro::gomaxprocs(old);
}

namespace {
bool waiting(std::uint64_t id) {
  for (const goro::goroutine_info& g : goro::goroutines()) {
    if (g.id == id) return g.state == goro::goroutine_info::status::waiting;
  }
  return false;
}
}  // namespace

// A goroutine readied by one that then runs on without switching waits in
// that processor's runnext, put there with a plain store (scheduler.cpp,
// "plain puts"); the other processor, idle (polling, settling behind the
// barrier or asleep, depending on the round), must take it: runq_steal takes
// a runnext whose processor has stopped scheduling.
TEST(Gomaxprocs, AnIdleProcessorRunsWhatABusyOneReadied) {
  int old = goro::gomaxprocs(2);
  for (int round = 0; round < 100; ++round) {
    struct flags {
      std::atomic<std::uint64_t> id{0};
      std::atomic<bool> ran{false};
    };
    auto f = std::make_shared<flags>();  // outlives a failed test
    auto ch = goro::make_chan<int>();
    goro::go([f, ch] {
      f->id = goro::this_goroutine::id();
      ch.recv();
      f->ran = true;
    });
    ASSERT_TRUE(spin_until([&] { return f->id != 0 && waiting(f->id); }));
    auto done = goro::make_chan<bool>(1);
    goro::go([f, ch, done] {
      ch.send(1);  // readies the receiver into this processor's runnext
      done.send(spin_until([&] { return f->ran.load(); }));  // never switches away meanwhile
    });
    auto ok = recv_within<bool>(done);
    ASSERT_TRUE(ok.has_value() && *ok) << "round " << round;
  }
  goro::gomaxprocs(old);
}

TEST(Exit, ProcessExitsCleanlyWithGoroutinesParkedAndRunning) {
  EXPECT_EXIT(
      {
        auto forever = goro::make_chan<int>();
        for (int i = 0; i < 100; ++i) goro::go([forever] { forever.recv(); });
        for (int i = 0; i < 4; ++i) {
          goro::go([] {
            for (;;) goro::yield();
          });
        }
        goro::sleep(std::chrono::milliseconds(20));
        std::exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

// Timers armed on a processor that gomaxprocs then stops must still fire,
// even while the remaining processor never goes idle (it yields in a loop,
// so only its own timer heap is looked at).
TEST(Gomaxprocs, TimersOfAStoppedProcessorStillFire) {
  goro::run([] {
    int old = goro::gomaxprocs(2);
    constexpr int n = 64;
    std::atomic<int> fired{0};
    auto armed = goro::make_chan<int>(n);
    std::vector<goro::timer> timers(n);
    for (int i = 0; i < n; ++i) {
      goro::go([&, i, armed] {
        timers[static_cast<std::size_t>(i)] = goro::after_func(std::chrono::milliseconds(20), [&] { fired.fetch_add(1); });
        armed.send(i);
      });
    }
    for (int i = 0; i < n; ++i) ASSERT_TRUE(recv_within<int>(armed));
    goro::gomaxprocs(1);
    auto deadline = std::chrono::steady_clock::now() + wait_limit;
    while (fired.load() < n && std::chrono::steady_clock::now() < deadline) goro::yield();
    EXPECT_EQ(fired.load(), n);
    for (auto& t : timers) t.stop();
    goro::gomaxprocs(old);
  });
}
