// Sleeping, timers, tickers, tick and after_func (goro/time.hpp).
//
// Ports of Go's src/time/sleep_test.go and tick_test.go say which test they
// port. Timing checks are lower bounds (a timer never fires early); upper
// bounds are generous and only catch hangs: CI machines are noisy. Go 1.23
// semantics throughout: once stop() or reset() returns, the channel delivers
// nothing from an earlier arming.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <goro/testing.hpp>

#include "support/test_support.hpp"

using namespace goro_test;
using goro::time_point;
using steady = std::chrono::steady_clock;

namespace {

/// True if ch delivers nothing for `quiet` (used only to check that something
/// must NOT happen).
bool stays_silent(const goro::recv_chan<time_point>& ch, std::chrono::nanoseconds quiet) {
  return goro::select(ch.on_recv(), goro::after(quiet).on_recv()) == 1;
}

std::chrono::nanoseconds since(steady::time_point start) { return steady::now() - start; }

double ms(std::chrono::nanoseconds d) { return std::chrono::duration<double, std::milli>(d).count(); }

/// How long the hang-catching upper bounds allow beyond the expected time.
constexpr std::chrono::seconds slack{2};

}  // namespace

// ---------------------------------------------------------------- sleep

// Ports TestSleep (without Interrupt, which goro does not have).
TEST(Sleep, LastsAtLeastTheDuration) {
  goro::run([] {
    for (auto d : {1ms, 10ms, 50ms}) {
      auto start = steady::now();
      goro::sleep(d);
      auto took = since(start);
      EXPECT_GE(took, d) << "sleep(" << ms(d) << " ms) slept for only " << ms(took) << " ms";
      EXPECT_LT(took, d + slack);
    }
  });
}

TEST(Sleep, ZeroAndNegativeReturnAtOnce) {
  goro::run([] {
    auto start = steady::now();
    for (int i = 0; i < 1000; ++i) {
      goro::sleep(0ns);
      goro::sleep(-1s);
      goro::sleep(std::chrono::nanoseconds::min());
    }
    EXPECT_LT(since(start), 1s);
  });
}

TEST(Sleep, WorksFromAPlainThread) {
  // The test's main thread is a plain thread: sleep blocks it.
  auto start = steady::now();
  goro::sleep(20ms);
  EXPECT_GE(since(start), 20ms);
  EXPECT_EQ(goro::this_goroutine::id(), 0u);

  std::chrono::nanoseconds took{};
  std::thread th([&] {
    auto s = steady::now();
    goro::sleep(20ms);
    took = since(s);
  });
  th.join();
  EXPECT_GE(took, 20ms);
  EXPECT_LT(took, 20ms + slack);
}

TEST(Sleep, SleepingGoroutineHoldsNoThread) {
  goro::run([] {
    scoped_setting one(goro::gomaxprocs, 1);
    constexpr int n = 100;
    auto done = goro::make_chan<int>(n);
    auto start = steady::now();
    for (int i = 0; i < n; ++i) {
      goro::go([done] {
        goro::sleep(50ms);
        done.send(1);
      });
    }
    auto deadline = goro::after(wait_limit);
    int finished = 0;
    while (finished < n && goro::select(done.on_recv(), deadline.on_recv()) == 0) ++finished;
    auto took = since(start);
    EXPECT_EQ(finished, n);
    EXPECT_GE(took, 50ms);
    // Sleeping one after the other would take 5 s.
    EXPECT_LT(took, 2s) << "100 goroutines sleeping 50 ms at gomaxprocs 1 took " << ms(took) << " ms";
  });
}

// Ports TestSleepZeroDeadlock: sleep(0) must leave the goroutine runnable.
TEST(Sleep, ZeroDoesNotLoseTheGoroutine) {
  goro::run([] {
    scoped_setting four(goro::gomaxprocs, 4);
    auto c = goro::make_chan<bool>();
    goro::go([c] {
      for (int i = 0; i < 100; ++i) goro::yield();
      c.send(true);
    });
    for (int i = 0; i < 100; ++i) {
      goro::sleep(0ns);
      auto tmp = goro::make_chan<bool>(1);
      tmp.send(true);
      EXPECT_TRUE(tmp.recv());
    }
    EXPECT_EQ(recv_within<bool>(c), true);
  });
}

// ---------------------------------------------------------------- after

// Ports TestAfter.
TEST(After, DeliversOneValueNotBeforeTheDelay) {
  goro::run([] {
    constexpr auto delay = 50ms;
    auto start = steady::now();
    auto c = goro::after(delay);
    auto v = recv_within(c, delay + slack);
    auto took = since(start);
    ASSERT_TRUE(v.has_value());
    EXPECT_GE(took, delay);
    EXPECT_GE(*v, start + delay) << "the value is the time of firing";
    EXPECT_LE(*v, steady::now());
    EXPECT_TRUE(stays_silent(c, 30ms)) << "after() delivers once";
  });
}

// after(d) is timer(d).c(): the value must be there even when the timer
// fires (on another worker) before after() has returned the channel.
TEST(After, ZeroDelayAlwaysDelivers) {
  goro::run([] {
    const int n = under_sanitizer() ? 2000 : 20000;
    auto deadline = goro::after(wait_limit);
    for (int i = 0; i < n; ++i) {
      ASSERT_EQ(goro::select(goro::after(0ns).on_recv(), deadline.on_recv()), 0u)
          << "iteration " << i << ": after(0ns) never delivered";
    }
  });
}

TEST(After, TimesOutASelect) {
  goro::run([] {
    auto never = goro::make_chan<int>();
    auto start = steady::now();
    std::size_t i = goro::select(never.on_recv(), goro::after(30ms).on_recv());
    EXPECT_EQ(i, 1u);
    EXPECT_GE(since(start), 30ms);
    EXPECT_LT(since(start), 30ms + slack);
  });
}

TEST(After, LosesToAReadyCase) {
  goro::run([] {
    auto ready = goro::make_chan<int>(1);
    ready.send(7);
    std::optional<int> v;
    EXPECT_EQ(goro::select(ready.on_recv(v), goro::after(1h).on_recv()), 0u);
    EXPECT_EQ(v, 7);
  });
}

// Ports TestAfterTick: consecutive after()s add up.
TEST(After, ConsecutiveDelaysAddUp) {
  goro::run([] {
    constexpr int count = 10;
    constexpr auto delta = 10ms;
    auto start = steady::now();
    for (int i = 0; i < count; ++i) ASSERT_TRUE(recv_within(goro::after(delta), delta + slack));
    EXPECT_GE(since(start), count * delta);
  });
}

// Ports TestAfterQueuing: after()s fire in the order of their delays. Like
// Go's, it retries with longer slots before failing (the machine may stall).
TEST(After, FiresInTheOrderOfTheDelays) {
  goro::run([] {
    const std::vector<int> slots{5, 3, 6, 6, 6, 1, 1, 2, 7, 9, 4, 8, 0};
    struct result {
      int slot;
      time_point at;
    };
    std::vector<std::string> errors;
    for (int attempt = 0; attempt < 4; ++attempt) {
      auto delta = std::chrono::milliseconds(20 + attempt * 50);
      auto results = goro::make_chan<result>(slots.size());
      auto t0 = steady::now();
      for (int slot : slots) {
        goro::go([results, slot](goro::recv_chan<time_point> ac) { results.send({slot, *ac.recv()}); },
                 goro::after(slot * delta));
      }
      std::vector<result> got;
      auto deadline = goro::after(10 * delta + wait_limit);
      for (std::size_t i = 0; i < slots.size(); ++i) {
        std::optional<result> r;
        if (goro::select(results.on_recv(r), deadline.on_recv()) == 1) break;
        got.push_back(*r);
      }
      ASSERT_EQ(got.size(), slots.size()) << "not every after() fired";
      std::string err;
      for (std::size_t i = 0; i < got.size(); ++i) {
        if (i > 0 && got[i].slot < got[i - 1].slot) err = "out of order";
        if (got[i].at < t0 + got[i].slot * delta) err = "fired early";
      }
      if (err.empty()) return;
      errors.push_back(err + " with slots of " + std::to_string(delta.count()) + " ms");
    }
    for (const auto& e : errors) ADD_FAILURE() << e;
  });
}

// Ports TestOverflowSleep: a huge delay does not wrap around into a short one.
TEST(After, HugeDelayDoesNotOverflow) {
  goro::run([] {
    constexpr auto big = std::chrono::nanoseconds::max();
    EXPECT_EQ(goro::select(goro::after(big).on_recv(), goro::after(25ms).on_recv()), 1u)
        << "after(nanoseconds::max()) fired";
    goro::timer t(big);
    auto c = t.c();
    EXPECT_TRUE(stays_silent(c, 25ms)) << "timer(nanoseconds::max()) fired";
    EXPECT_TRUE(t.stop());

    constexpr auto neg = std::chrono::nanoseconds::min();
    EXPECT_EQ(goro::select(goro::after(neg).on_recv(), goro::after(slack).on_recv()), 0u)
        << "after(nanoseconds::min()) did not fire";
  });
}

// ---------------------------------------------------------------- timer

TEST(Timer, FiresOnce) {
  goro::run([] {
    auto start = steady::now();
    goro::timer t(20ms);
    auto c = t.c();
    auto v = recv_within(c, 20ms + slack);
    ASSERT_TRUE(v.has_value());
    EXPECT_GE(since(start), 20ms);
    EXPECT_GE(*v, start + 20ms);
    EXPECT_TRUE(stays_silent(c, 50ms)) << "a timer fires once";
    EXPECT_FALSE(t.stop()) << "nothing left to stop";
  });
}

TEST(Timer, CopiesOfTheChannelAreTheSameChannel) {
  goro::run([] {
    goro::timer t(1h);
    EXPECT_TRUE(t.c() == t.c());
    EXPECT_TRUE(static_cast<bool>(t.c()));
    t.stop();
  });
}

// Ports TestZeroTimer (issue 44868): zero-delay timers are never missed.
TEST(Timer, ZeroDelayFiresAtOnce) {
  goro::run([] {
    const int n = under_sanitizer() ? 1000 : 10000;
    auto deadline = goro::after(wait_limit);
    for (int i = 0; i < n; ++i) {
      auto s = steady::now();
      goro::timer t(0ns);
      auto c = t.c();
      ASSERT_EQ(goro::select(c.on_recv(), deadline.on_recv()), 0u) << "iteration " << i << " never fired";
      ASSERT_LT(since(s), slack);
    }
    goro::timer neg(-1s);
    auto c = neg.c();
    EXPECT_TRUE(recv_within(c, slack)) << "a negative delay fires at once";
  });
}

TEST(Timer, StopBeforeFiringPreventsValue) {
  goro::run([] {
    goro::timer t(30ms);
    auto c = t.c();
    EXPECT_TRUE(t.stop());
    EXPECT_TRUE(stays_silent(c, 80ms)) << "a stopped timer fired";
    EXPECT_FALSE(t.stop()) << "stop returned true twice";
    EXPECT_EQ(c.size(), 0u);
  });
}

// Ports TestAfterStop: stopping a timer and an after_func, with other timers
// around them that do fire.
TEST(Timer, StopAmongOtherTimers) {
  goro::run([] {
    auto fired = std::make_shared<std::atomic<int>>(0);
    auto other = goro::after_func(40ms, [] {});
    goro::timer t0(20ms);
    auto c0 = t0.c();
    auto t1 = goro::after_func(60ms, [fired] { fired->fetch_add(1); });
    auto c2 = goro::after(80ms);
    EXPECT_TRUE(t0.stop()) << "failed to stop event 0";
    EXPECT_TRUE(t1.stop()) << "failed to stop event 1";
    EXPECT_TRUE(recv_within(c2, 80ms + slack));
    EXPECT_FALSE(c0.try_recv().has_value()) << "event 0 was not stopped";
    EXPECT_EQ(fired->load(), 0) << "event 1 was not stopped";
    EXPECT_FALSE(t1.stop()) << "stop returned true twice";
  });
}

// Go 1.23 makes "fired but not received" indistinguishable from "not fired":
// the outcome may not depend on whether the firing happened yet, so the
// sleep only makes the interesting path (a value waiting) likely.
TEST(Timer, StopAfterFiringBeforeReceiveDrainsTheValue) {
  goro::run([] {
    goro::timer t(1ms);
    auto c = t.c();
    goro::sleep(20ms);  // past the deadline; the value is not received
    EXPECT_TRUE(t.stop()) << "Go 1.23: the value was not received, so stop prevented it";
    EXPECT_EQ(c.size(), 0u);
    EXPECT_TRUE(stays_silent(c, 30ms)) << "a stale value was received after stop";
  });
}

TEST(Timer, StopAfterTheValueWasReceivedReturnsFalse) {
  goro::run([] {
    goro::timer t(1ms);
    auto c = t.c();
    ASSERT_TRUE(recv_within(c));
    EXPECT_FALSE(t.stop());
    EXPECT_FALSE(t.stop());
  });
}

// The channel is reached through c(), which returns a fresh handle each
// time; a firing that happens while the caller holds no such handle must
// still be received later (Go: <-t.C after the timer fired).
TEST(Timer, ValueWaitsForAReceiverThatTakesTheChannelLater) {
  goro::run([] {
    goro::timer t(1ms);
    goro::sleep(30ms);  // the timer fires meanwhile; no c() handle exists
    EXPECT_TRUE(recv_within(t.c(), slack)) << "the firing was dropped";
  });
}

TEST(Timer, StopAfterFiringReturnsTrueEvenIfNoChannelHandleWasHeld) {
  goro::run([] {
    goro::timer t(1ms);
    goro::sleep(30ms);  // the timer fires meanwhile; its value is not received
    EXPECT_TRUE(t.stop()) << "Go 1.23: stop prevented the (unreceived) value from being received";
    EXPECT_TRUE(stays_silent(t.c(), 20ms));
  });
}

TEST(Timer, ResetRearmsAPendingTimer) {
  goro::run([] {
    goro::timer t(1h);
    auto c = t.c();
    auto start = steady::now();
    EXPECT_TRUE(t.reset(20ms)) << "resetting a pending timer returns true";
    auto v = recv_within(c, 20ms + slack);
    ASSERT_TRUE(v.has_value());
    EXPECT_GE(since(start), 20ms);
    EXPECT_GE(*v, start + 20ms);
    EXPECT_TRUE(stays_silent(c, 30ms));
  });
}

TEST(Timer, ResetAfterFiringDropsTheStaleValue) {
  goro::run([] {
    goro::timer t(1ms);
    auto c = t.c();
    goro::sleep(20ms);  // past the deadline; the value is not received
    auto start = steady::now();
    EXPECT_TRUE(t.reset(40ms)) << "Go 1.23: the value was not received, so the timer was still active";
    auto v = recv_within(c, 40ms + slack);
    ASSERT_TRUE(v.has_value());
    EXPECT_GE(*v, start + 40ms) << "received the stale value of the first arming";
    EXPECT_GE(since(start), 40ms);
    EXPECT_TRUE(stays_silent(c, 30ms));
  });
}

TEST(Timer, ResetOnAFiredAndReceivedTimerFiresAgain) {
  goro::run([] {
    goro::timer t(1ms);
    auto c = t.c();
    ASSERT_TRUE(recv_within(c));
    auto start = steady::now();
    EXPECT_FALSE(t.reset(10ms)) << "the timer had expired";
    auto v = recv_within(c, 10ms + slack);
    ASSERT_TRUE(v.has_value());
    EXPECT_GE(*v, start + 10ms);
    EXPECT_FALSE(t.stop());
    EXPECT_FALSE(t.reset(1ms));
    EXPECT_TRUE(recv_within(c));
  });
}

TEST(Timer, ResetOnAStoppedTimerFiresAgain) {
  goro::run([] {
    goro::timer t(1h);
    auto c = t.c();
    EXPECT_TRUE(t.stop());
    EXPECT_FALSE(t.reset(5ms)) << "a stopped timer is not active";
    EXPECT_TRUE(recv_within(c, 5ms + slack));
  });
}

// Ports TestReset, with lower bounds only: reset of an unfired timer returns
// true and moves its firing; reset of an expired one returns false.
TEST(Timer, ResetMovesTheFiring) {
  goro::run([] {
    constexpr auto d = 25ms;
    goro::timer t(2 * d);
    auto c = t.c();
    goro::sleep(d);
    auto reset_at = steady::now();
    EXPECT_TRUE(t.reset(3 * d)) << "resetting an unfired timer returned false";
    auto v = recv_within(c, 3 * d + slack);
    ASSERT_TRUE(v.has_value());
    EXPECT_GE(*v, reset_at + 3 * d) << "the timer fired early (at its first deadline?)";
    EXPECT_FALSE(t.reset(50ms)) << "resetting an expired timer returned true";
    EXPECT_TRUE(t.stop());
  });
}

// Ports TestTimerModifiedEarlier (issue 47329): a timer moved from far in the
// future to the past fires promptly.
TEST(Timer, ModifiedEarlierFiresPromptly) {
  goro::run([] {
    const int count = under_sanitizer() ? 100 : 1000;
    int slow = 0;
    for (int i = 0; i < count; ++i) {
      goro::timer t(1h);
      auto c = t.c();
      for (int j = 0; j < 10; ++j) {
        t.stop();
        t.reset(-1h);
      }
      auto start = steady::now();
      ASSERT_TRUE(recv_within(c, wait_limit)) << "iteration " << i;
      if (since(start) > 8s) ++slow;
    }
    EXPECT_EQ(slow, 0);
  });
}

// Ports TestZeroTimerStopPanics / TestZeroTimerResetPanics: a moved-from
// handle is goro's uninitialised timer.
TEST(Timer, StopOrResetOfAMovedFromTimerThrows) {
  goro::run([] {
    goro::timer a(1h);
    goro::timer b(std::move(a));
    EXPECT_THROW(a.stop(), goro::panic_error);       // NOLINT(bugprone-use-after-move)
    EXPECT_THROW(a.reset(1ms), goro::panic_error);   // NOLINT(bugprone-use-after-move)
    EXPECT_FALSE(static_cast<bool>(a.c()));          // NOLINT(bugprone-use-after-move)
    EXPECT_TRUE(b.stop());
  });
}

TEST(Timer, DestroyingTheHandleDoesNotStopIt) {
  goro::run([] {
    goro::recv_chan<time_point> c;
    {
      goro::timer t(10ms);
      c = t.c();
    }
    EXPECT_TRUE(recv_within(c, 10ms + slack));
  });
}

TEST(Timer, MoveAssignmentKeepsBothTimersWorking) {
  goro::run([] {
    goro::timer a(5ms);
    goro::timer b(1h);
    auto ca = a.c();
    b = std::move(a);
    EXPECT_TRUE(recv_within(ca, 5ms + slack));
    EXPECT_FALSE(b.stop()) << "b now names the first timer, already received";
  });
}

// 100,000 timers armed at once cost little: every one fires, promptly.
TEST(Timer, HundredThousandTimersAreCheap) {
  goro::run([] {
    const int n = under_sanitizer() ? 10000 : 100000;
    struct state {
      std::atomic<int> left;
      event all_fired;
    };
    auto st = std::make_shared<state>();
    st->left.store(n);
    std::mt19937 rng(42);
    std::uniform_int_distribution<int> delay_us(0, 50000);
    auto start = steady::now();
    for (int i = 0; i < n; ++i) {
      goro::after_func(std::chrono::microseconds(delay_us(rng)), [st] {
        if (st->left.fetch_sub(1) == 1) st->all_fired.notify();
      });
    }
    auto armed = since(start);
    ASSERT_TRUE(st->all_fired.wait(20s)) << st->left.load() << " of " << n << " timers never fired";
    auto took = since(start);
    std::cout << "[          ] " << n << " after_func timers: armed in " << ms(armed) << " ms, all fired after "
              << ms(took) << " ms\n";
  });
}

TEST(Timer, HundredThousandChannelTimersAllDeliver) {
  goro::run([] {
    const int n = under_sanitizer() ? 10000 : 100000;
    std::mt19937 rng(7);
    std::uniform_int_distribution<int> delay_us(0, 50000);
    std::vector<goro::timer> timers;
    std::vector<goro::recv_chan<time_point>> chans;
    timers.reserve(n);
    chans.reserve(n);
    for (int i = 0; i < n; ++i) {
      timers.emplace_back(std::chrono::microseconds(delay_us(rng)));
      chans.push_back(timers.back().c());
    }
    auto deadline = goro::after(20s);
    int received = 0;
    for (auto& c : chans) {
      if (goro::select(c.on_recv(), deadline.on_recv()) == 1) break;
      ++received;
    }
    EXPECT_EQ(received, n);
  });
}

// ---------------------------------------------------------------- timers and plain threads

TEST(Timer, WorksOnAPlainThread) {
  std::thread th([] {
    EXPECT_EQ(goro::this_goroutine::id(), 0u);
    auto start = steady::now();
    goro::timer t(10ms);
    auto c = t.c();
    auto v = recv_within(c, 10ms + slack);
    ASSERT_TRUE(v.has_value());
    EXPECT_GE(*v, start + 10ms);
    EXPECT_FALSE(t.stop());

    goro::timer stopped(10ms);
    auto sc = stopped.c();
    EXPECT_TRUE(stopped.stop());
    EXPECT_TRUE(stays_silent(sc, 30ms));

    EXPECT_EQ(goro::select(goro::make_chan<int>().on_recv(), goro::after(5ms).on_recv()), 1u);

    goro::ticker tk(5ms);
    auto tc = tk.c();
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(recv_within(tc, slack));
    tk.stop();
  });
  th.join();
}

TEST(Timer, CrossesBetweenGoroutinesAndPlainThreads) {
  goro::run([] {
    // Made in a goroutine, received on a thread.
    goro::timer t(10ms);
    auto c = t.c();
    event got;
    std::atomic<bool> ok{false};
    std::thread th([&] {
      ok = recv_within(c, 10ms + slack).has_value();
      got.notify();
    });
    EXPECT_TRUE(got.wait());
    th.join();
    EXPECT_TRUE(ok.load());

    // Made on a thread, received in this goroutine.
    goro::recv_chan<time_point> from_thread;
    std::thread maker([&] {
      goro::timer t2(10ms);
      from_thread = t2.c();
    });
    maker.join();
    EXPECT_TRUE(recv_within(from_thread, 10ms + slack));
  });
}

TEST(AfterFunc, FromAPlainThreadRunsInAGoroutine) {
  std::thread th([] {
    auto id = std::make_shared<std::atomic<std::uint64_t>>(0);
    event ran;
    goro::after_func(5ms, [id, ran]() mutable {
      id->store(goro::this_goroutine::id());
      ran.notify();
    });
    ASSERT_TRUE(ran.wait());
    EXPECT_NE(id->load(), 0u);
  });
  th.join();
}

// ---------------------------------------------------------------- many goroutines on one timer

// Ports TestConcurrentTimerReset and TestConcurrentTimerResetStop (issue
// 37400), with a receiver draining the channel meanwhile; afterwards stop and
// reset still keep the Go 1.23 promise.
TEST(Timer, ConcurrentStopAndResetOfOneTimer) {
  goro::run([] {
    const int workers = 8;
    const int iters = under_sanitizer() ? 500 : 5000;
    // Shared with the workers, which may outlive an ASSERT's early return.
    auto t = std::make_shared<goro::timer>(1h);
    auto c = t->c();
    auto quit = goro::make_chan<int>();
    auto done = goro::make_chan<int>(workers + 1);
    goro::go([c, quit, done] {
      while (goro::select(c.on_recv(), quit.on_recv()) == 0) {
      }
      done.send(0);
    });
    for (int w = 0; w < workers; ++w) {
      goro::go([t, done, w, iters] {
        std::mt19937 rng(w);
        for (int i = 0; i < iters; ++i) {
          switch (rng() % 3) {
            case 0: t->stop(); break;
            case 1: t->reset(std::chrono::microseconds(rng() % 100)); break;
            default: t->reset(1h + std::chrono::seconds(i)); break;
          }
          if (i % 64 == 0) goro::yield();
        }
        done.send(1);
      });
    }
    auto deadline = goro::after(wait_limit + 20s);
    int finished = 0;
    while (finished < workers && goro::select(done.on_recv(), deadline.on_recv()) == 0) ++finished;
    quit.close();  // before any ASSERT, so that the receiver ends either way
    ASSERT_EQ(finished, workers);
    ASSERT_TRUE(recv_within<int>(done));

    t->stop();
    EXPECT_TRUE(stays_silent(c, 30ms)) << "a value arrived after the final stop";
    auto start = steady::now();
    t->reset(20ms);
    auto v = recv_within(c, 20ms + slack);
    ASSERT_TRUE(v.has_value());
    EXPECT_GE(*v, start + 20ms) << "a stale value arrived after the final reset";
  });
}

// Stop and reset racing a firing that happens on another worker: whatever
// the race, a value seen after stop()/reset() returns belongs to a later
// arming.
TEST(Timer, StopAndResetRacingTheFiringLeaveNoStaleValue) {
  goro::run([] {
    const int iters = under_sanitizer() ? 500 : 5000;
    std::mt19937 rng(1);
    goro::timer t(1h);
    auto c = t.c();
    int stale = 0;
    for (int i = 0; i < iters; ++i) {
      t.reset(std::chrono::microseconds(rng() % 50));
      auto spin_until = steady::now() + std::chrono::microseconds(rng() % 60);
      while (steady::now() < spin_until) {
      }
      if (i % 2 == 0) {
        t.stop();
        if (c.try_recv().has_value()) ++stale;
      } else {
        auto mark = steady::now();
        t.reset(0ns);
        auto v = recv_within(c, slack);
        ASSERT_TRUE(v.has_value()) << "iteration " << i;
        if (*v < mark) ++stale;
      }
    }
    EXPECT_EQ(stale, 0) << "values from an earlier arming were received after stop/reset";
  });
}

// Ports TestTimerStopStress: 100 goroutines each stop their own after_func
// before it fires.
TEST(AfterFunc, StopStress) {
  goro::run([] {
    auto fired = std::make_shared<std::atomic<int>>(0);
    auto done = goro::make_chan<int>(100);
    for (int i = 0; i < 100; ++i) {
      goro::go([fired, done] {
        auto t = goro::after_func(200ms, [fired] { fired->fetch_add(1); });
        goro::sleep(20ms);
        EXPECT_TRUE(t.stop());
        done.send(1);
      });
    }
    auto deadline = goro::after(wait_limit);
    int finished = 0;
    while (finished < 100 && goro::select(done.on_recv(), deadline.on_recv()) == 0) ++finished;
    EXPECT_EQ(finished, 100);
    goro::sleep(250ms);  // give a stopped one the chance to run (it must not)
    EXPECT_EQ(fired->load(), 0) << "a stopped after_func ran";
  });
}

// ---------------------------------------------------------------- ticker

// Ports TestTicker (lower bounds only): count/2 ticks of delta, reset to
// 2*delta, count/2 more, then stop.
TEST(Ticker, TicksRepeatedlyAndResetChangesThePeriod) {
  goro::run([] {
    constexpr int count = 10;
    constexpr auto delta = 20ms;
    auto t0 = steady::now();  // before the ticker is armed: ticks count from its arming
    goro::ticker tk(delta);
    auto c = tk.c();
    for (int i = 0; i < count / 2; ++i) ASSERT_TRUE(recv_within(c, delta + slack)) << "tick " << i;
    auto half = since(t0);
    tk.reset(2 * delta);
    for (int i = count / 2; i < count; ++i) ASSERT_TRUE(recv_within(c, 2 * delta + slack)) << "tick " << i;
    tk.stop();
    auto dt = since(t0);
    EXPECT_GE(half, (count / 2) * delta);
    EXPECT_GE(dt, 3 * delta * (count / 2));
    EXPECT_TRUE(stays_silent(c, 2 * delta)) << "the ticker did not shut down";
  });
}

TEST(Ticker, TicksArePeriodApart) {
  goro::run([] {
    constexpr auto period = 20ms;
    auto start = steady::now();
    goro::ticker tk(period);
    auto c = tk.c();
    std::vector<time_point> ticks;
    for (int i = 0; i < 5; ++i) {
      auto v = recv_within(c, period + slack);
      ASSERT_TRUE(v.has_value()) << "tick " << i;
      ticks.push_back(*v);
    }
    tk.stop();
    EXPECT_GE(since(start), 5 * period);
    EXPECT_GE(ticks[0], start + period);
    for (std::size_t i = 1; i < ticks.size(); ++i) EXPECT_GT(ticks[i], ticks[i - 1]);
  });
}

TEST(Ticker, StopEndsTheTicks) {
  goro::run([] {
    goro::ticker tk(5ms);
    auto c = tk.c();
    ASSERT_TRUE(recv_within(c));
    tk.stop();
    EXPECT_TRUE(stays_silent(c, 30ms)) << "a tick after stop";
    tk.stop();  // stopping twice is fine
  });
}

TEST(Ticker, StopDrainsABufferedTick) {
  goro::run([] {
    goro::ticker tk(2ms);
    auto c = tk.c();
    goro::sleep(20ms);  // several periods; nothing is received
    tk.stop();
    EXPECT_TRUE(stays_silent(c, 20ms)) << "Go 1.23: a stale tick was received after stop";
  });
}

TEST(Ticker, ResetToALongerPeriodDelaysTheNextTick) {
  goro::run([] {
    goro::ticker tk(5ms);
    auto c = tk.c();
    ASSERT_TRUE(recv_within(c));
    auto start = steady::now();
    tk.reset(200ms);
    EXPECT_TRUE(stays_silent(c, 100ms)) << "ticked before the new period";
    auto v = recv_within(c, 200ms + slack);
    ASSERT_TRUE(v.has_value());
    EXPECT_GE(*v, start + 200ms);
    tk.stop();
  });
}

TEST(Ticker, ResetRestartsAStoppedTicker) {
  goro::run([] {
    goro::ticker tk(1h);
    auto c = tk.c();
    tk.stop();
    tk.reset(5ms);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(recv_within(c, slack));
    tk.stop();
  });
}

// Ports TestNewTickerLtZeroDuration and TestTickerResetLtZeroDuration.
TEST(Ticker, NonPositiveIntervalThrows) {
  EXPECT_THROW(goro::ticker(0ns), goro::panic_error);
  EXPECT_THROW(goro::ticker(-1ns), goro::panic_error);
  EXPECT_THROW(goro::ticker(-1s), goro::panic_error);
  EXPECT_THROW(goro::tick(0ns), goro::panic_error);
  EXPECT_THROW(goro::tick(-5ms), goro::panic_error);
  goro::run([] {
    goro::ticker tk(1s);
    EXPECT_THROW(tk.reset(0ns), goro::panic_error);
    EXPECT_THROW(tk.reset(-1ms), goro::panic_error);
    tk.stop();
  });
}

TEST(Ticker, SlowReceiverMissesTicksRatherThanQueueing) {
  goro::run([] {
    constexpr auto period = 5ms;
    goro::ticker tk(period);
    auto c = tk.c();
    goro::sleep(10 * period);  // receive nothing for 10 periods
    int buffered = 0;
    while (c.try_recv().has_value()) ++buffered;
    EXPECT_LE(buffered, 1) << "ticks queued up for a slow receiver";
    EXPECT_LE(c.size(), 1u);
    // It still ticks afterwards.
    ASSERT_TRUE(recv_within(c, period + slack));
    tk.stop();
  });
}

// The documented idiom `tk.c().recv()` takes a fresh channel handle for each
// receive; a tick that comes while the receiver is busy elsewhere (holding
// no handle) must not stop the ticker.
TEST(Ticker, KeepsTickingWhenEachReceiveTakesTheChannelAnew) {
  goro::run([] {
    goro::ticker tk(5ms);
    for (int i = 0; i < 3; ++i) {
      goro::sleep(20ms);  // work longer than a period
      ASSERT_TRUE(recv_within(tk.c(), slack)) << "tick " << i << ": the ticker stopped itself";
    }
    tk.stop();
  });
}

// Ports TestTeardown: creating, using and stopping tickers in a row.
TEST(Ticker, Teardown) {
  goro::run([] {
    for (int i = 0; i < 3; ++i) {
      goro::ticker tk(20ms);
      auto c = tk.c();
      ASSERT_TRUE(recv_within(c));
      tk.stop();
    }
  });
}

// Ports TestAfterStress: a 1 ns ticker while another goroutine keeps the
// scheduler busy.
TEST(Ticker, NanosecondTickerUnderLoad) {
  goro::run([] {
    auto stop = std::make_shared<std::atomic<bool>>(false);  // shared: outlives an early return
    auto done = goro::make_chan<int>(1);
    goro::go([stop, done] {
      while (!stop->load()) goro::sleep(1ns);
      done.send(1);
    });
    goro::ticker tk(1ns);
    auto c = tk.c();
    int ticks = 0;
    while (ticks < 100 && recv_within(c, slack)) ++ticks;
    tk.stop();
    stop->store(true);  // before any ASSERT, so that the busy goroutine ends either way
    EXPECT_TRUE(recv_within<int>(done));
    EXPECT_EQ(ticks, 100) << "tick " << ticks << " did not arrive";
  });
}

// ---------------------------------------------------------------- tick

TEST(Tick, ChannelWorksInRangeAndSelect) {
  goro::run([] {
    auto c = goro::tick(5ms);
    // Range-for, in a goroutine so that the wait stays bounded.
    auto done = goro::make_chan<int>(1);
    goro::go([c, done] {
      int n = 0;
      for (time_point t : c) {
        (void)t;
        if (++n == 3) break;
      }
      done.send(n);
    });
    EXPECT_EQ(recv_within<int>(done), 3);

    std::optional<time_point> v;
    EXPECT_EQ(goro::select(c.on_recv(v), goro::after(slack).on_recv()), 0u);
    EXPECT_TRUE(v.has_value());
  });
}

TEST(Tick, StopsItselfOnceEveryHandleIsDropped) {
  goro::run([] {
    auto before = goro::num_goroutine();
    for (int i = 0; i < 100; ++i) {
      auto c = goro::tick(1ms);
      if (i % 10 == 0) ASSERT_TRUE(recv_within(c));
    }  // every handle dropped: each ticker stops itself at its next firing
    goro::sleep(20ms);  // let them fire with nobody listening
    EXPECT_EQ(goro::num_goroutine(), before) << "a ticker costs no goroutine";
    // Timers still work afterwards.
    EXPECT_TRUE(recv_within(goro::after(1ms)));
  });
}

// ---------------------------------------------------------------- after_func

// Ports TestAfterFunc (without its 1 s sleeps): a chain of after_funcs, each
// arming the next.
TEST(AfterFunc, Chain) {
  goro::run([] {
    struct state {
      std::atomic<int> i{10};
      goro::chan<bool> c = goro::make_chan<bool>(1);
      std::function<void()> f;
    };
    auto st = std::make_shared<state>();
    std::weak_ptr<state> weak = st;
    st->f = [weak] {
      auto s = weak.lock();
      if (!s) return;
      if (s->i.fetch_sub(1) - 1 >= 0) {
        goro::after_func(0ns, s->f);
      } else {
        s->c.send(true);
      }
    };
    goro::after_func(0ns, st->f);
    EXPECT_EQ(recv_within<bool>(st->c), true);
  });
}

// A due timer is left to its own worker for a moment (it runs its due
// timers at its next switch), but not for good: when that worker is kept
// busy by a goroutine that never switches, another worker runs the timer.
TEST(AfterFunc, FiresWhileItsWorkerIsBusy) {
  goro::run([] {
    scoped_setting two(goro::gomaxprocs, 2);
    auto fired = std::make_shared<std::atomic<bool>>(false);
    auto done = goro::make_chan<bool>(1);
    goro::go([fired, done] {
      goro::after_func(0ns, [fired] { fired->store(true); });
      // Never switches: this worker cannot run its own timer until the loop ends.
      auto limit = std::chrono::steady_clock::now() + wait_limit;
      while (!fired->load() && std::chrono::steady_clock::now() < limit) {
      }
      done.send(fired->load());
    });
    EXPECT_EQ(recv_within<bool>(done, wait_limit + slack), true)
        << "the timer waited for its busy worker instead of running on the idle one";
  });
}

TEST(AfterFunc, RunsOnceInItsOwnGoroutine) {
  goro::run([] {
    struct state {
      std::atomic<std::uint64_t> id{0};
      std::atomic<int> runs{0};
      event ran;
    };
    auto st = std::make_shared<state>();
    auto start = steady::now();
    auto t = goro::after_func(10ms, [st, start] {
      EXPECT_GE(since(start), 10ms);
      st->id = goro::this_goroutine::id();
      st->runs.fetch_add(1);
      st->ran.notify();
    });
    EXPECT_FALSE(static_cast<bool>(t.c())) << "an after_func timer has the nil channel";
    ASSERT_TRUE(st->ran.wait());
    EXPECT_NE(st->id.load(), 0u);
    EXPECT_NE(st->id.load(), goro::this_goroutine::id());
    goro::sleep(30ms);  // give it the chance to run twice (it must not)
    EXPECT_EQ(st->runs.load(), 1);
  });
}

TEST(AfterFunc, StopBeforeFiringMeansItNeverRuns) {
  goro::run([] {
    auto runs = std::make_shared<std::atomic<int>>(0);
    auto t = goro::after_func(30ms, [runs] { runs->fetch_add(1); });
    EXPECT_TRUE(t.stop());
    EXPECT_FALSE(t.stop());
    goro::sleep(60ms);  // past its deadline: it must not run
    EXPECT_EQ(runs->load(), 0);
  });
}

TEST(AfterFunc, StopAfterItRanReturnsFalse) {
  goro::run([] {
    event ran;
    auto t = goro::after_func(1ms, [ran]() mutable { ran.notify(); });
    ASSERT_TRUE(ran.wait());
    EXPECT_FALSE(t.stop());
  });
}

TEST(AfterFunc, ResetRunsItAgain) {
  goro::run([] {
    auto runs = goro::make_chan<int>(8);
    auto t = goro::after_func(1ms, [runs] { runs.send(1); });
    ASSERT_TRUE(recv_within<int>(runs));
    auto start = steady::now();
    EXPECT_FALSE(t.reset(10ms)) << "it had run already";
    ASSERT_TRUE(recv_within<int>(runs, 10ms + slack));
    EXPECT_GE(since(start), 10ms);

    // Reset before it runs: it runs once, for the new deadline.
    EXPECT_FALSE(t.reset(1h));
    EXPECT_TRUE(t.reset(5ms));
    ASSERT_TRUE(recv_within<int>(runs, 5ms + slack));
    goro::sleep(20ms);
    EXPECT_EQ(runs.size(), 0u) << "ran for the replaced deadline too";
  });
}

// stop()'s result is the whole contract of an after_func timer: true means f
// will never run, false means f has been started. Many timers coming due
// while they are being stopped probe the race with a firing.
TEST(AfterFunc, StopResultTellsWhetherTheFuncRuns) {
  goro::run([] {
    const int n = under_sanitizer() ? 500 : 5000;
    const int rounds = 5;
    int mismatches = 0;
    int stopped_total = 0;
    for (int round = 0; round < rounds; ++round) {
      struct state {
        explicit state(int n) : ran(n) {}
        std::vector<std::atomic<int>> ran;
        std::atomic<int> runs{0};
      };
      auto st = std::make_shared<state>(n);
      std::vector<goro::timer> timers;
      timers.reserve(n);
      for (int i = 0; i < n; ++i) {
        timers.push_back(goro::after_func(std::chrono::nanoseconds(i * 200), [st, i] {
          st->ran[i].fetch_add(1);
          st->runs.fetch_add(1);
        }));
      }
      std::vector<bool> stopped(n);
      int nstopped = 0;
      for (int i = 0; i < n; ++i) {
        stopped[i] = timers[i].stop();
        nstopped += stopped[i] ? 1 : 0;
      }
      stopped_total += nstopped;
      EXPECT_TRUE(eventually([&] { return st->runs.load() >= n - nstopped; }))
          << st->runs.load() << " ran, " << n - nstopped << " expected";
      goro::sleep(10ms);  // give a stopped one the chance to run (it must not)
      for (int i = 0; i < n; ++i) {
        int r = st->ran[i].load();
        if (r != (stopped[i] ? 0 : 1)) {
          if (++mismatches <= 5) {
            ADD_FAILURE() << "timer " << i << ": stop() returned " << stopped[i] << " but f ran " << r << " time(s)";
          }
        }
      }
    }
    EXPECT_EQ(mismatches, 0);
    std::cout << "[          ] stop() won " << stopped_total << " of " << rounds * n << " races\n";
  });
}

// ---------------------------------------------------------------- on a virtual clock
// The same semantics, checked exactly: in a goro::testing::bubble the clock
// moves only when every goroutine waits, straight to the next timer, so a
// firing time is known to the nanosecond and hours pass in microseconds.

TEST(VirtualClock, TickerResetRestartsTheCountFromTheReset) {
  goro::testing::bubble([] {
    auto start = goro::clock::now();
    goro::ticker tk(1s);
    for (int i = 1; i <= 3; ++i) EXPECT_EQ(*tk.c().recv() - start, std::chrono::seconds(i));
    goro::sleep(500ms);
    tk.reset(5s);  // at 3.5 s
    EXPECT_EQ(*tk.c().recv() - start, 8500ms);
    EXPECT_EQ(*tk.c().recv() - start, 13500ms);
    tk.stop();
    EXPECT_TRUE(stays_silent(tk.c(), 1h));
    EXPECT_EQ(goro::clock::now() - start, 13500ms + 1h);
  });
}

TEST(VirtualClock, ASlowReceiverMissesTicksInsteadOfQueueingThem) {
  goro::testing::bubble([] {
    auto start = goro::clock::now();
    goro::ticker tk(1s);
    goro::sleep(5500ms);  // ticks at 1..5 s: the first waits in the buffer, the rest are dropped
    EXPECT_EQ(*tk.c().recv() - start, 1s);
    EXPECT_EQ(*tk.c().recv() - start, 6s);
    tk.stop();
  });
}

TEST(VirtualClock, StopAndResetOfATimerAreExact) {
  goro::testing::bubble([] {
    auto start = goro::clock::now();
    goro::timer t(10s);
    goro::sleep(4s);
    EXPECT_TRUE(t.stop());
    EXPECT_TRUE(stays_silent(t.c(), 1h));  // the stopped timer never fires
    EXPECT_FALSE(t.reset(2s));             // it was stopped: nothing pending
    EXPECT_EQ(*t.c().recv() - start, 4s + 1h + 2s);
    EXPECT_FALSE(t.stop());  // fired and received
  });
}

TEST(VirtualClock, AfterFuncResetMovesItsRun) {
  goro::testing::bubble([] {
    auto start = goro::clock::now();
    auto ran = goro::make_chan<goro::clock::duration>(2);
    auto t = goro::after_func(1min, [ran, start] { ran.send(goro::clock::now() - start); });
    goro::sleep(30s);
    EXPECT_TRUE(t.reset(1min));
    EXPECT_EQ(*ran.recv(), 90s);
  });
}
