// goro::testing::bubble: the virtual clock (goro/testing.hpp).
//
// Inside a bubble, time moves only when every goroutine of the bubble is
// durably blocked, and then straight to the next timer: the tests check
// exact virtual times, and that hours of virtual time take almost no real
// time. A test that breaks the clock can hang in a wait nothing ends, so
// every test here is bounded by an alarm (SIGALRM ends the process with a
// message), besides ctest's timeout.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <goro/testing.hpp>

#include "support/test_support.hpp"

using namespace goro_test;
using goro::testing::bubble;
using goro::testing::bubble_wait;
using goro::testing::in_bubble;

namespace {

class Bubble : public ::testing::Test {
 protected:
  alarm_bound bound_{"bubble_test: a test did not finish within the alarm\n", std::chrono::seconds(120)};

  // What bubble(f) throws as deadlock_error, or "(no deadlock)".
  static std::string deadlock_report(std::function<void()> f) {
    try {
      bubble(std::move(f));
    } catch (const goro::deadlock_error& e) {
      return e.what();
    }
    return "(no deadlock)";
  }
};

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

}  // namespace

TEST_F(Bubble, SleepTakesExactlyItsVirtualDuration) {
  auto real_start = std::chrono::steady_clock::now();
  goro::clock::duration slept{};
  bubble([&] {
    EXPECT_TRUE(in_bubble());
    auto start = goro::clock::now();
    goro::sleep(hours(1000));
    slept = goro::clock::now() - start;
  });
  EXPECT_EQ(slept, hours(1000));
  // 1000 virtual hours took less than a real minute: the clock jumped.
  EXPECT_LT(std::chrono::steady_clock::now() - real_start, minutes(1));
}

TEST_F(Bubble, SleepersWakeInDeadlineOrderAtTheirDeadlines) {
  struct wake {
    int who;
    goro::clock::duration at;
  };
  std::vector<wake> wakes;
  bubble([&] {
    auto start = goro::clock::now();
    std::mutex mu;  // held for a push_back: never across a goro wait
    goro::wait_group wg;
    for (int i : {5, 1, 4, 2, 3}) {
      wg.add(1);
      goro::go([&, i] {
        goro::sleep(seconds(i));
        {
          std::lock_guard lock(mu);
          wakes.push_back({i, goro::clock::now() - start});
        }
        wg.done();
      });
    }
    wg.wait();
  });
  ASSERT_EQ(wakes.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(wakes[i].who, i + 1);
    EXPECT_EQ(wakes[i].at, seconds(i + 1));
  }
}

TEST_F(Bubble, TimeStandsStillWhileAGoroutineRuns) {
  // The clock moves only once every goroutine is blocked: the sleeper
  // cannot wake before the busy goroutine, which blocks nowhere durable
  // until it has counted, has finished.
  std::atomic<bool> counted{false};
  goro::clock::duration waited{};
  bubble([&] {
    auto start = goro::clock::now();
    goro::go([&] {
      volatile std::uint64_t x = 0;
      for (int i = 0; i < 20'000'000; ++i) x = x + 1;
      counted = true;
    });
    goro::sleep(std::chrono::nanoseconds(1));
    EXPECT_TRUE(counted.load());
    waited = goro::clock::now() - start;
  });
  EXPECT_EQ(waited, std::chrono::nanoseconds(1));
}

TEST_F(Bubble, BlockingCallHoldsTheClock) {
  // goro::blocking is not a durable wait: something outside may end it.
  std::atomic<bool> done{false};
  bubble([&] {
    goro::go([&] {
      goro::blocking([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the work, not a synchronisation
        done = true;
      });
    });
    goro::sleep(std::chrono::milliseconds(1));
    EXPECT_TRUE(done.load());
  });
}

// A channel made outside the bubble may be sent on from outside: a wait on
// it is not durable, and the clock holds until it ends (as in Go). The
// sender's sleep only makes a clock that moved too soon observable.
TEST_F(Bubble, AWaitOnAChannelFromOutsideHoldsTheClock) {
  auto outside = goro::make_chan<int>(1);  // made on the test's thread: in no bubble
  std::thread sender([outside] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    outside.send(7);
  });
  std::atomic<bool> received{false};
  bool received_before_the_hour = false;
  EXPECT_NO_THROW(bubble([&] {  // no throw: the thread must be joined
    goro::go([&] {
      goro::sleep(hours(1));
      received_before_the_hour = received.load();
    });
    EXPECT_EQ(outside.recv(), 7);
    received = true;
  }));
  sender.join();
  EXPECT_TRUE(received_before_the_hour);
}

TEST_F(Bubble, ASelectWithAChannelFromOutsideHoldsTheClock) {
  auto outside = goro::make_chan<int>(1);
  std::thread sender([outside] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    outside.send(7);
  });
  std::atomic<bool> received{false};
  bool received_before_the_hour = false;
  EXPECT_NO_THROW(bubble([&] {
    auto inside = goro::make_chan<int>();
    goro::go([&] {
      goro::sleep(hours(1));
      received_before_the_hour = received.load();
    });
    EXPECT_EQ(goro::select(inside.on_recv(), outside.on_recv()), 1u);
    received = true;
  }));
  sender.join();
  EXPECT_TRUE(received_before_the_hour);
}

TEST_F(Bubble, SelectWithATimeoutTakesTheTimeoutExactly) {
  bubble([] {
    auto c = goro::make_chan<int>();
    auto start = goro::clock::now();
    EXPECT_EQ(goro::select(c.on_recv(), goro::after(seconds(30)).on_recv()), 1u);
    EXPECT_EQ(goro::clock::now() - start, seconds(30));
  });
}

TEST_F(Bubble, TimerChannelCarriesTheVirtualTime) {
  bubble([] {
    auto start = goro::clock::now();
    goro::timer t(minutes(3));
    auto v = t.c().recv();
    ASSERT_TRUE(v.has_value());
    EXPECT_EQ(*v - start, minutes(3));
  });
}

TEST_F(Bubble, AfterFuncRunsInTheBubbleAtItsTime) {
  bubble([] {
    auto start = goro::clock::now();
    auto ran = goro::make_chan<goro::clock::duration>(1);
    auto t = goro::after_func(hours(2), [ran, start] {
      EXPECT_TRUE(in_bubble());
      ran.send(goro::clock::now() - start);
    });
    auto v = ran.recv();
    ASSERT_TRUE(v.has_value());
    EXPECT_EQ(*v, hours(2));
  });
}

TEST_F(Bubble, BubbleWaitReturnsOnceTheOthersAreBlocked) {
  bubble([] {
    auto in = goro::make_chan<int>();
    std::atomic<int> stage{0};
    goro::go([&, in] {
      stage = 1;
      in.recv();  // durably blocked
      stage = 2;
      in.recv();
      stage = 3;
    });
    bubble_wait();
    EXPECT_EQ(stage.load(), 1);
    in.send(1);
    bubble_wait();
    EXPECT_EQ(stage.load(), 2);
    in.send(2);
    bubble_wait();  // it returned: nobody else is left
    EXPECT_EQ(stage.load(), 3);
  });
}

TEST_F(Bubble, BubbleWaitDoesNotMoveTheClock) {
  bubble([] {
    auto start = goro::clock::now();
    goro::go([] { goro::sleep(seconds(10)); });
    bubble_wait();  // the sleeper is durably blocked: time has not moved for it
    EXPECT_EQ(goro::clock::now() - start, seconds(0));
  });
}

TEST_F(Bubble, ATickerTicksOnTheVirtualClock) {
  bubble([] {
    auto start = goro::clock::now();
    goro::ticker tk(minutes(1));
    for (int i = 1; i <= 100; ++i) {
      auto v = tk.c().recv();
      ASSERT_TRUE(v.has_value());
      EXPECT_EQ(*v - start, minutes(i));
    }
    tk.stop();
  });
}

TEST_F(Bubble, ManyGoroutinesSleepingInLoopsEndAtTheExactSum) {
  const int n = static_cast<int>(scaled(100, 20));
  std::atomic<int> wrong{0};
  bubble([&] {
    auto start = goro::clock::now();
    goro::wait_group wg;
    for (int g = 0; g < n; ++g) {
      wg.add(1);
      goro::go([&, g] {
        for (int k = 0; k < 20; ++k) goro::sleep(std::chrono::milliseconds(g + 1));
        if (goro::clock::now() - start != std::chrono::milliseconds(20 * (g + 1))) ++wrong;
        wg.done();
      });
    }
    wg.wait();
    EXPECT_EQ(goro::clock::now() - start, std::chrono::milliseconds(20 * n));
  });
  EXPECT_EQ(wrong.load(), 0);
}

TEST_F(Bubble, WorksFromAGoroutineToo) {
  goro::run([] {
    EXPECT_FALSE(in_bubble());
    goro::clock::duration d{};
    bubble([&] {
      auto start = goro::clock::now();
      goro::sleep(seconds(5));
      d = goro::clock::now() - start;
    });
    EXPECT_EQ(d, seconds(5));
    EXPECT_FALSE(in_bubble());
  });
}

TEST_F(Bubble, WaitsForEveryGoroutineOfTheBubble) {
  std::atomic<int> finished{0};
  bubble([&] {
    for (int i = 0; i < 10; ++i) {
      goro::go([&, i] {
        goro::sleep(seconds(i));
        goro::go([&] {
          goro::sleep(seconds(1));
          ++finished;
        });
        ++finished;
      });
    }
  });  // the first goroutine returned at once; bubble() waits for the 20 others
  EXPECT_EQ(finished.load(), 20);
}

TEST_F(Bubble, RethrowsWhatTheFirstGoroutineThrew) {
  EXPECT_THROW(bubble([] {
                 goro::sleep(seconds(1));
                 throw std::runtime_error("from the bubble");
               }),
               std::runtime_error);
}

TEST_F(Bubble, ReportsADeadlockWithTheBubblesGoroutines) {
  std::string report = deadlock_report([] {
    goro::this_goroutine::set_name("stuck-receiver");
    auto c = goro::make_chan<int>();
    c.recv();
  });
  EXPECT_NE(report.find("all goroutines in the bubble are durably blocked - deadlock!"), std::string::npos)
      << report;
  EXPECT_NE(report.find("stuck-receiver"), std::string::npos) << report;
  EXPECT_NE(report.find("chan receive"), std::string::npos) << report;
  EXPECT_NE(report.find("(deadlocked)"), std::string::npos) << report;
}

TEST_F(Bubble, ReportsGoroutinesLeftBlockedAfterTheFirstReturns) {
  std::string report = deadlock_report([] {
    goro::go([] {
      goro::this_goroutine::set_name("left-behind");
      auto c = goro::make_chan<int>();
      c.send(1);
    });
  });
  EXPECT_NE(report.find("first goroutine has returned"), std::string::npos) << report;
  EXPECT_NE(report.find("left-behind"), std::string::npos) << report;
  EXPECT_NE(report.find("chan send"), std::string::npos) << report;
}

TEST_F(Bubble, ReportsADeadlockWhenOnlyUnheardTickersAreLeft) {
  std::string report = deadlock_report([] {
    goro::ticker tk(seconds(1));  // nobody receives from it
    auto c = goro::make_chan<int>();
    c.recv();
  });
  EXPECT_NE(report.find("only tickers nobody receives from"), std::string::npos) << report;
}

TEST_F(Bubble, ABubbleInsideABubbleIsAnError) {
  bubble([] { EXPECT_THROW(bubble([] {}), goro::panic_error); });
}

TEST_F(Bubble, BubbleWaitOutsideABubbleIsAnError) {
  EXPECT_THROW(bubble_wait(), goro::panic_error);
  goro::run([] { EXPECT_THROW(bubble_wait(), goro::panic_error); });
}

TEST_F(Bubble, TimersLeftArmedGoOnInRealTime) {
  goro::timer left;
  std::atomic<bool> fired{false};
  bubble([&] {
    goro::sleep(hours(5));  // the bubble's clock runs ahead of the real one
    left = goro::after_func(hours(1), [&] { fired = true; });
  });
  // One real hour from now, not one virtual hour after the bubble's clock
  // (which could be long past in real time): still pending, and stoppable.
  EXPECT_FALSE(fired.load());
  EXPECT_TRUE(left.stop());
}

TEST_F(Bubble, TheClockOutsideIsTheRealOne) {
  auto before = std::chrono::steady_clock::now();
  auto outside = goro::clock::now();
  EXPECT_GE(outside, before);
  EXPECT_LE(outside, std::chrono::steady_clock::now());
}
