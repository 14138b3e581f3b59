// tests/select/select_test.cpp: goro::select (Go's select statement) and the
// dynamic select over std::vector<goro::select_case<T>> (Go's reflect.Select).
//
// Every test runs inside goro::run unless it is about plain threads; every
// wait is bounded (a broken library fails a test, it does not hang it); every
// goroutine a test starts returns before the test ends (the leak check in
// test_main.cpp). Sleeps only give something that must NOT happen a chance to
// happen. A test that needs a goroutine or thread to have blocked in a select
// waits (bounded) until its waiters are in the channels' queues
// (goro_test::until_receivers / until_senders; a select enqueues one waiter
// per case), never sleeps for it.
//
// Tests that port a test of Go's runtime/chan_test.go or reflect's
// all_test.go say which.
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/test_support.hpp"

namespace {

using namespace std::chrono_literals;
using goro_test::bounded_thread;
using goro_test::give_a_chance;
using goro_test::in_goroutine;
using goro_test::ready_now;
using goro_test::scaled;
using goro_test::wait_for;
using goro_test::wait_limit;

// ---- helpers ---------------------------------------------------------------

template <class T>
std::optional<T> recv_for(const goro::chan<T>& ch, std::chrono::nanoseconds limit = wait_limit) {
  return goro_test::recv_within<T>(ch, limit);
}

template <class T>
bool send_within(const goro::chan<T>& ch, T v, std::chrono::nanoseconds limit = wait_limit) {
  if (goro::select(ch.on_send(std::move(v)), goro::after(limit).on_recv()) == 0) return true;
  ADD_FAILURE() << "send not taken within " << std::chrono::duration<double>(limit).count() << " s";
  return false;
}

/// A channel of T that is closed when `limit` passes, for bounding dynamic
/// selects (whose cases all carry the same T, so goro::after cannot join
/// them). The watchdog's goroutine ends when the watchdog is destroyed.
template <class T>
class watchdog {
 public:
  explicit watchdog(std::chrono::nanoseconds limit) {
    goro::go([fired = fired_, stop = stop_, finished = finished_, limit] {
      if (goro::select(stop.on_recv(), goro::after(limit).on_recv()) == 1) fired.close();
      finished.close();
    });
  }
  watchdog(const watchdog&) = delete;
  watchdog& operator=(const watchdog&) = delete;
  ~watchdog() {
    stop_.close();
    EXPECT_EQ(goro::select(finished_.on_recv(), goro::after(wait_limit).on_recv()), 0u);
  }
  goro::recv_chan<T> fired() const { return fired_; }

 private:
  goro::chan<T> fired_ = goro::make_chan<T>();
  goro::chan<int> stop_ = goro::make_chan<int>();
  goro::chan<int> finished_ = goro::make_chan<int>();
};

// ---- choosing a case -------------------------------------------------------

TEST(Select, PicksTheReadyCase) {
  goro::run([] {
    auto a = goro::make_chan<int>(1);
    auto b = goro::make_chan<int>(1);
    auto c = goro::make_chan<int>();
    auto deadline = goro::after(wait_limit);  // bounds every select below
    for (int i = 0; i < 100; ++i) {
      b.send(i);
      std::optional<int> va;
      std::optional<int> vb;
      std::optional<int> vc;
      EXPECT_EQ(goro::select(a.on_recv(va), b.on_recv(vb), c.on_recv(vc), deadline.on_recv()), 1u);
      EXPECT_EQ(va, std::nullopt);
      EXPECT_EQ(vb, i);
      EXPECT_EQ(vc, std::nullopt);
      // A send case is ready when there is room.
      EXPECT_EQ(goro::select(c.on_recv(), a.on_send(i), c.on_send(i), deadline.on_recv()), 1u);
      EXPECT_EQ(a.try_recv(), i);
    }
  });
}

TEST(Select, DefaultIsTakenOnlyWhenNothingIsReady) {
  goro::run([] {
    auto a = goro::make_chan<int>(1);
    auto b = goro::make_chan<int>();
    for (int i = 0; i < 200; ++i) {
      EXPECT_EQ(goro::select(a.on_recv(), b.on_recv(), b.on_send(1), goro::on_default()), 3u);
      a.send(i);
      std::optional<int> v;
      EXPECT_EQ(goro::select(goro::on_default(), a.on_recv(v), b.on_recv()), 1u)
          << "default taken although a case was ready";
      EXPECT_EQ(v, i);
      // Both a send and a receive case ready: never the default.
      a.send(i);
      auto full = goro::make_chan<int>(1);
      EXPECT_NE(goro::select(a.on_recv(), full.on_send(1), goro::on_default()), 2u);
      a.try_recv();
    }
  });
}

TEST(Select, DefaultHandlerRunsOnlyWhenDefaultIsTaken) {
  goro::run([] {
    auto ch = goro::make_chan<int>(1);
    int ran = 0;
    EXPECT_EQ(goro::select(ch.on_recv(), goro::on_default([&] { ++ran; })), 1u);
    EXPECT_EQ(ran, 1);
    ch.send(1);
    EXPECT_EQ(goro::select(ch.on_recv(), goro::on_default([&] { ++ran; })), 0u);
    EXPECT_EQ(ran, 1) << "the default handler ran although a channel case was taken";
  });
}

TEST(Select, RecvIntoOptional) {
  goro::run([] {
    auto ch = goro::make_chan<std::string>(2);
    ch.send("hello");
    std::optional<std::string> v;
    EXPECT_EQ(goro::select(ch.on_recv(v), goro::after(wait_limit).on_recv()), 0u);
    EXPECT_EQ(v, std::string("hello"));
    ch.close();
    // Closed: the optional is emptied, even if it held a value before.
    EXPECT_EQ(goro::select(ch.on_recv(v), goro::after(wait_limit).on_recv()), 0u);
    EXPECT_EQ(v, std::nullopt);
  });
}

TEST(Select, RecvHandlerTakingValue) {
  goro::run([] {
    auto ch = goro::make_chan<int>(1);
    ch.send(42);
    int got = -1;
    int calls = 0;
    auto handler = [&](int v) {
      got = v;
      ++calls;
    };
    EXPECT_EQ(goro::select(ch.on_recv(handler), goro::after(wait_limit).on_recv()), 0u);
    EXPECT_EQ(got, 42);
    ch.close();
    // Closed: the handler gets T{} (Go's zero value).
    EXPECT_EQ(goro::select(ch.on_recv(handler), goro::after(wait_limit).on_recv()), 0u);
    EXPECT_EQ(got, 0);
    EXPECT_EQ(calls, 2);
  });
}

TEST(Select, RecvHandlerTakingOptional) {
  goro::run([] {
    auto ch = goro::make_chan<int>(1);
    ch.send(7);
    std::optional<int> got = -1;
    EXPECT_EQ(goro::select(ch.on_recv([&](std::optional<int> v) { got = v; }), goro::after(wait_limit).on_recv()), 0u);
    EXPECT_EQ(got, 7);
    ch.close();
    EXPECT_EQ(goro::select(ch.on_recv([&](std::optional<int> v) { got = v; }), goro::after(wait_limit).on_recv()), 0u);
    EXPECT_EQ(got, std::nullopt);
  });
}

TEST(Select, RecvHandlerTakingNothing) {
  goro::run([] {
    auto ch = goro::make_chan<int>(1);
    ch.send(7);
    int calls = 0;
    EXPECT_EQ(goro::select(ch.on_recv([&] { ++calls; }), goro::after(wait_limit).on_recv()), 0u);
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(ch.size(), 0u) << "the value was not consumed";
    ch.close();
    EXPECT_EQ(goro::select(ch.on_recv([&] { ++calls; }), goro::after(wait_limit).on_recv()), 0u);
    EXPECT_EQ(calls, 2);
  });
}

TEST(Select, SendWithHandler) {
  goro::run([] {
    auto ch = goro::make_chan<int>(1);
    int calls = 0;
    int x = 5;
    EXPECT_EQ(goro::select(ch.on_send(x, [&] { ++calls; }), goro::after(wait_limit).on_recv()),
              0u);  // an lvalue: copied
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(x, 5);
    EXPECT_EQ(ch.try_recv(), 5);
    EXPECT_EQ(goro::select(ch.on_send(6, [&] { ++calls; }), goro::after(wait_limit).on_recv()), 0u);  // an rvalue
    EXPECT_EQ(calls, 2);
    EXPECT_EQ(ch.try_recv(), 6);
  });
}

TEST(Select, HandlersOfCasesNotTakenDoNotRun) {
  goro::run([] {
    auto ready = goro::make_chan<int>(1);
    auto never = goro::make_chan<int>();
    int wrong = 0;
    int right = 0;
    for (int i = 0; i < 50; ++i) {
      ready.send(i);
      EXPECT_EQ(goro::select(never.on_recv([&](int) { ++wrong; }), never.on_send(1, [&] { ++wrong; }),
                             ready.on_recv([&](int v) { right += v == i; }), goro::on_default([&] { ++wrong; })),
                2u);
    }
    EXPECT_EQ(wrong, 0);
    EXPECT_EQ(right, 50);
  });
}

// ---- atomicity -------------------------------------------------------------

TEST(Select, CaseNotChosenConsumesNothing) {
  goro::run([] {
    auto a = goro::make_chan<int>(1);
    auto b = goro::make_chan<int>(1);
    int took_a = 0;
    int took_b = 0;
    auto deadline = goro::after(wait_limit);
    for (int i = 0; i < 200; ++i) {
      if (a.size() == 0) a.send(1);
      if (b.size() == 0) b.send(2);
      std::optional<int> va;
      std::optional<int> vb;
      std::size_t k = goro::select(a.on_recv(va), b.on_recv(vb), deadline.on_recv());
      ASSERT_LT(k, 2u);
      EXPECT_EQ(a.size() + b.size(), 1u) << "exactly one value must be consumed";
      if (k == 0) {
        EXPECT_EQ(va, 1);
        EXPECT_EQ(vb, std::nullopt);
        EXPECT_EQ(b.size(), 1u);
        ++took_a;
      } else {
        EXPECT_EQ(vb, 2);
        EXPECT_EQ(va, std::nullopt);
        EXPECT_EQ(a.size(), 1u);
        ++took_b;
      }
    }
    EXPECT_GT(took_a, 0);
    EXPECT_GT(took_b, 0);
  });
}

TEST(Select, SendCaseNotChosenSendsNothing) {
  goro::run([] {
    auto in = goro::make_chan<int>(1);
    auto out = goro::make_chan<int>(1000);
    int sent = 0;
    int received = 0;
    auto deadline = goro::after(wait_limit);
    for (int i = 0; i < 200; ++i) {
      if (in.size() == 0) in.send(i);
      std::size_t before = out.size();
      std::size_t k = goro::select(in.on_recv(), out.on_send(i), deadline.on_recv());
      ASSERT_LT(k, 2u);
      if (k == 0) {
        EXPECT_EQ(out.size(), before) << "a send case not chosen sent its value";
        ++received;
      } else {
        EXPECT_EQ(out.size(), before + 1);
        EXPECT_EQ(in.size(), 1u) << "a receive case not chosen consumed a value";
        ++sent;
      }
    }
    EXPECT_EQ(out.size(), static_cast<std::size_t>(sent));
    EXPECT_GT(sent, 0);
    EXPECT_GT(received, 0);
  });
}

TEST(Select, MoveOnlyValueOfSendCaseNotChosenStaysIntact) {
  goro::run([] {
    auto out = goro::make_chan<std::unique_ptr<int>>(1000);
    auto in = goro::make_chan<int>(1);
    int kept = 0;
    int moved = 0;
    auto deadline = goro::after(wait_limit);
    for (int i = 0; i < 200; ++i) {
      if (in.size() == 0) in.send(i);
      auto p = std::make_unique<int>(i);
      std::size_t k = goro::select(in.on_recv(), out.on_send(std::move(p)), deadline.on_recv());
      ASSERT_LT(k, 2u);
      if (k == 0) {
        ASSERT_TRUE(p) << "an rvalue given to a send case not chosen was moved from";
        EXPECT_EQ(*p, i);
        ++kept;
      } else {
        EXPECT_FALSE(p);
        ++moved;
      }
    }
    EXPECT_GT(kept, 0);
    EXPECT_GT(moved, 0);
    std::optional<std::unique_ptr<int>> v;
    EXPECT_EQ(goro::select(out.on_recv(v), goro::after(wait_limit).on_recv()), 0u);
    ASSERT_TRUE(v && *v);
  });
}

TEST(Select, MoveOnlyValueThroughRecvHandler) {
  goro::run([] {
    auto ch = goro::make_chan<std::unique_ptr<int>>(1);
    ch.send(std::make_unique<int>(3));
    int got = 0;
    EXPECT_EQ(goro::select(ch.on_recv([&](std::unique_ptr<int> p) { got = *p; }), goro::after(wait_limit).on_recv()),
              0u);
    EXPECT_EQ(got, 3);
    ch.send(std::make_unique<int>(4));
    EXPECT_EQ(goro::select(ch.on_recv([&](std::optional<std::unique_ptr<int>> p) { got = **p; }),
                           goro::after(wait_limit).on_recv()),
              0u);
    EXPECT_EQ(got, 4);
  });
}

// ---- fairness --------------------------------------------------------------

// Go's TestSelectFairness: two always-ready receive cases and two never-ready
// ones, 10,000 selects in a goroutine; each ready case must be chosen within
// 10 sigma of half the time.
TEST(Select, FairnessGoPort) {
  goro::run([] {
    constexpr int trials = 10000;
    auto c1 = goro::make_chan<std::uint8_t>(trials + 1);
    auto c2 = goro::make_chan<std::uint8_t>(trials + 1);
    for (int i = 0; i < trials + 1; ++i) {
      c1.send(1);
      c2.send(2);
    }
    auto c3 = goro::make_chan<std::uint8_t>();
    auto c4 = goro::make_chan<std::uint8_t>();
    auto out = goro::make_chan<std::uint8_t>();
    auto done = goro::make_chan<std::uint8_t>();
    auto finished = goro::make_chan<int>(1);
    goro::go([=] {
      for (;;) {
        std::optional<std::uint8_t> b;
        goro::select(c3.on_recv(b), c4.on_recv(b), c1.on_recv(b), c2.on_recv(b));
        if (goro::select(out.on_send(b.value_or(0)), done.on_recv()) == 1) break;
      }
      finished.send(1);
    });
    auto deadline = goro::after(60s);
    int cnt1 = 0;
    int cnt2 = 0;
    for (int i = 0; i < trials; ++i) {
      std::optional<std::uint8_t> b;
      if (goro::select(out.on_recv(b), deadline.on_recv()) != 0) {
        ADD_FAILURE() << "timed out";
        break;
      }
      if (b == 1) {
        ++cnt1;
      } else if (b == 2) {
        ++cnt2;
      } else {
        ADD_FAILURE() << "unexpected value " << int(b.value_or(0));
      }
    }
    done.close();
    EXPECT_TRUE(wait_for(finished, 1));
    const double mean = trials * 0.5;
    const double stddev = std::sqrt(trials * 0.5 * (1 - 0.5));
    EXPECT_LE(std::abs(cnt1 - mean), 10 * stddev) << "cnt1=" << cnt1 << " cnt2=" << cnt2;
    EXPECT_EQ(cnt1 + cnt2, trials);
  });
}

TEST(Select, FairBetweenTwoReadyCases) {
  goro::run([] {
    constexpr int trials = 20000;
    auto a = goro::make_chan<int>();
    auto b = goro::make_chan<int>();
    a.close();  // always ready
    b.close();
    std::array<int, 3> count{};
    for (int i = 0; i < trials; ++i) ++count.at(goro::select(a.on_recv(), b.on_recv(), goro::on_default()));
    EXPECT_EQ(count[2], 0) << "default taken with two cases ready";
    EXPECT_GE(count[0], trials * 4 / 10) << count[0] << " vs " << count[1];
    EXPECT_GE(count[1], trials * 4 / 10) << count[0] << " vs " << count[1];
    // The same channel twice.
    count = {};
    auto deadline = goro::after(wait_limit);
    for (int i = 0; i < trials; ++i) ++count.at(goro::select(a.on_recv(), a.on_recv(), deadline.on_recv()));
    EXPECT_EQ(count[2], 0);
    EXPECT_GE(count[0], trials * 4 / 10) << count[0] << " vs " << count[1];
    EXPECT_GE(count[1], trials * 4 / 10) << count[0] << " vs " << count[1];
  });
}

TEST(Select, FairAmongThreeReadyCasesOfBothDirections) {
  goro::run([] {
    constexpr int trials = 30000;
    auto full = goro::make_chan<int>(trials);  // a receive case always ready
    for (int i = 0; i < trials; ++i) full.send(i);
    auto room = goro::make_chan<int>(trials);  // a send case always ready
    auto closed = goro::make_chan<int>();      // a receive case always ready
    closed.close();
    auto never = goro::make_chan<int>();
    std::array<int, 5> count{};
    auto deadline = goro::after(wait_limit);
    for (int i = 0; i < trials; ++i) {
      ++count.at(goro::select(full.on_recv(), never.on_recv(), room.on_send(i), closed.on_recv(), deadline.on_recv()));
    }
    EXPECT_EQ(count[1], 0);
    EXPECT_EQ(count[4], 0);
    // Expected 10,000 each (sigma about 82); allow +-15%.
    for (std::size_t k : {0u, 2u, 3u}) {
      EXPECT_GE(count[k], trials / 3 * 85 / 100)
          << "case " << k << ": " << count[0] << "/" << count[2] << "/" << count[3];
      EXPECT_LE(count[k], trials / 3 * 115 / 100)
          << "case " << k << ": " << count[0] << "/" << count[2] << "/" << count[3];
    }
    EXPECT_EQ(room.size(), static_cast<std::size_t>(count[2]));
    EXPECT_EQ(full.size(), static_cast<std::size_t>(trials - count[0]));
  });
}

// ---- nil channels ----------------------------------------------------------

TEST(Select, NilChannelCasesAreNeverChosen) {
  goro::run([] {
    goro::chan<int> nil;
    auto ready = goro::make_chan<int>();
    ready.close();
    auto deadline = goro::after(wait_limit);
    for (int i = 0; i < 1000; ++i) {
      EXPECT_EQ(goro::select(nil.on_recv(), nil.on_send(i), ready.on_recv(), nil.on_recv(), deadline.on_recv()), 2u);
    }
  });
}

TEST(Select, OnlyNilCasesWithDefaultTakesDefault) {
  goro::run([] {
    goro::chan<int> nil;
    goro::chan<std::string> nil2;
    int ran = 0;
    EXPECT_EQ(goro::select(nil.on_recv(), nil2.on_send("x"), goro::on_default([&] { ++ran; })), 2u);
    EXPECT_EQ(ran, 1);
    EXPECT_EQ(goro::select(goro::on_default()), 0u);
  });
}

// A nil case alongside a blocking wait: only the live case wakes the select.
TEST(Select, BlockingSelectWithNilCasesWakesOnTheLiveOne) {
  goro::run([] {
    goro::chan<int> nil;
    auto live = goro::make_chan<int>();
    auto done = goro::make_chan<int>(1);
    goro::go([live, done] {
      send_within(live, 3);
      done.send(1);
    });
    std::optional<int> v;
    EXPECT_EQ(goro::select(nil.on_recv(), nil.on_send(1), live.on_recv(v), goro::after(wait_limit).on_recv()), 2u);
    EXPECT_EQ(v, 3);
    EXPECT_TRUE(wait_for(done, 1));
  });
}

// ---- blocking --------------------------------------------------------------

TEST(Select, BlockingSelectIsWokenBySend) {
  goro::run([] {
    for (std::size_t cap : {0, 1}) {
      auto a = goro::make_chan<int>(cap);
      auto b = goro::make_chan<int>(cap);
      auto done = goro::make_chan<int>(1);
      goro::go([b, done] {
        EXPECT_TRUE(goro_test::until_receivers(b, 1));  // the select has parked
        send_within(b, 17);
        done.send(1);
      });
      std::optional<int> va;
      std::optional<int> vb;
      EXPECT_EQ(goro::select(a.on_recv(va), b.on_recv(vb), goro::after(wait_limit).on_recv()), 1u);
      EXPECT_EQ(vb, 17);
      EXPECT_EQ(va, std::nullopt);
      EXPECT_TRUE(wait_for(done, 1));
      EXPECT_EQ(a.size() + b.size(), 0u);
    }
  });
}

TEST(Select, BlockingSelectIsWokenByClose) {
  goro::run([] {
    auto a = goro::make_chan<int>();
    auto b = goro::make_chan<int>();
    auto about = goro::make_chan<int>(1);
    auto result = goro::make_chan<int>(1);  // index taken * 10 + (value present)
    goro::go([a, b, about, result] {
      about.send(1);
      std::optional<int> va = 5;
      std::optional<int> vb = 5;
      std::size_t k = goro::select(a.on_recv(va), b.on_recv(vb), goro::after(wait_limit).on_recv());
      result.send(static_cast<int>(k) * 10 + (vb.has_value() ? 1 : 0) + (va == 5 ? 0 : 100));
    });
    ASSERT_TRUE(recv_for(about));
    ASSERT_TRUE(goro_test::until_receivers(b, 1));  // the select has parked
    b.close();
    EXPECT_EQ(recv_for(result), 10) << "expected case 1 taken with an empty optional, case 0 untouched";
  });
}

TEST(Select, BlockingSendCaseIsWokenByReceiver) {
  goro::run([] {
    auto out = goro::make_chan<int>();
    auto never = goro::make_chan<int>();
    auto result = goro::make_chan<int>(1);
    goro::go([out, never, result] {
      int handled = 0;
      std::size_t k =
          goro::select(never.on_recv(), out.on_send(23, [&] { ++handled; }), goro::after(wait_limit).on_recv());
      result.send(static_cast<int>(k) * 10 + handled);
    });
    ASSERT_TRUE(goro_test::until_senders(out, 1));  // the select has parked in its send case
    EXPECT_EQ(recv_for(out), 23);
    EXPECT_EQ(recv_for(result), 11);
  });
}

// Goroutines blocked in selects are served in the order they blocked (the
// FIFO guarantee for waiters holds for select waiters too).
TEST(Select, BlockedSelectsAreServedInArrivalOrder) {
  goro::run([] {
    constexpr int waiters = 5;
    auto ch = goro::make_chan<int>();
    auto never = goro::make_chan<int>();  // nobody sends on it
    auto full = goro::make_chan<int>(1);  // nobody receives from it
    full.send(0);
    auto about = goro::make_chan<int>(waiters);
    auto got = goro::make_chan<std::pair<int, int>>(waiters);
    for (int i = 0; i < waiters; ++i) {
      goro::go([ch, never, full, about, got, i] {
        about.send(i);
        std::optional<int> v;
        goro::select(never.on_recv(), ch.on_recv(v), full.on_send(0));
        got.send({i, v.value_or(-1)});
      });
      // Waiter i must be queued before waiter i+1 starts.
      ASSERT_EQ(recv_for(about), i);
      ASSERT_TRUE(goro_test::until_receivers(ch, static_cast<std::size_t>(i) + 1));
    }
    for (int v = 0; v < waiters; ++v) ASSERT_TRUE(send_within(ch, v));
    std::vector<int> value_of(waiters, -2);
    for (int k = 0; k < waiters; ++k) {
      auto r = recv_for(got);
      ASSERT_TRUE(r);
      value_of[r->first] = r->second;
    }
    for (int i = 0; i < waiters; ++i) EXPECT_EQ(value_of[i], i) << "waiter " << i;
  });
}

TEST(Select, SendCaseOnClosedChannelThrows) {
  goro::run([] {
    auto closed = goro::make_chan<int>(4);
    closed.close();
    auto never = goro::make_chan<int>();
    EXPECT_THROW(goro::select(closed.on_send(1), goro::after(wait_limit).on_recv()), goro::closed_channel_error);
    EXPECT_THROW(goro::select(closed.on_send(1), never.on_recv(), goro::on_default()), goro::closed_channel_error);
    EXPECT_EQ(closed.size(), 0u);

    // Blocked in a send case when the channel is closed.
    for (std::size_t cap : {0, 1}) {
      auto ch = goro::make_chan<int>(cap);
      if (cap == 1) ch.send(0);  // full
      auto about = goro::make_chan<int>(1);
      auto result = goro::make_chan<std::string>(1);
      goro::go([ch, never, about, result] {
        about.send(1);
        try {
          std::size_t k = goro::select(never.on_recv(), ch.on_send(1), goro::after(wait_limit).on_recv());
          result.send("returned " + std::to_string(k));
        } catch (const goro::closed_channel_error&) {
          result.send("closed_channel_error");
        }
      });
      ASSERT_TRUE(recv_for(about));
      ASSERT_TRUE(goro_test::until_senders(ch, 1));  // blocked in the send case
      ch.close();
      EXPECT_EQ(recv_for(result), std::string("closed_channel_error")) << "cap " << cap;
      if (cap == 1) EXPECT_EQ(recv_for(ch), 0);
      EXPECT_EQ(recv_for(ch), std::nullopt);
    }
  });
}

// Go's TestNonblockSelectRace and TestNonblockSelectRace2: a select with a
// default over a channel holding a value and a channel that gets a value or
// gets closed must never take the default.
TEST(Select, NonblockSelectRace) {
  goro::run([] {
    const int n = static_cast<int>(scaled(10'000));
    for (int variant = 0; variant < 2; ++variant) {
      auto result = goro::make_chan<int>(n);
      for (int i = 0; i < n; ++i) {
        auto c1 = goro::make_chan<int>(1);
        auto c2 = goro::make_chan<int>(variant == 0 ? 1 : 0);
        c1.send(1);
        goro::go([c1, c2, result] {
          result.send(goro::select(c1.on_recv(), c2.on_recv(), goro::on_default()) == 2 ? 0 : 1);
        });
        if (variant == 0) {
          c2.send(1);
        } else {
          c2.close();
        }
        goro::select(c1.on_recv(), goro::on_default());
      }
      auto deadline = goro::after(60s);
      int defaults = 0;
      for (int i = 0; i < n; ++i) {
        std::optional<int> v;
        if (goro::select(result.on_recv(v), deadline.on_recv()) != 0) {
          ADD_FAILURE() << "timed out";
          break;
        }
        defaults += *v == 0;
      }
      EXPECT_EQ(defaults, 0) << "variant " << variant << ": no chan is ready";
    }
  });
}

// ---- timeouts --------------------------------------------------------------

TEST(Select, TimeoutCaseTakenWhenNothingElseIsReady) {
  goro::run([] {
    auto ch = goro::make_chan<int>();
    auto start = std::chrono::steady_clock::now();
    std::optional<goro::time_point> fired;
    EXPECT_EQ(goro::select(ch.on_recv(), goro::after(20ms).on_recv(fired)), 1u);
    auto elapsed = std::chrono::steady_clock::now() - start;
    EXPECT_GE(elapsed, 20ms);
    EXPECT_LT(elapsed, wait_limit);
    ASSERT_TRUE(fired);
    EXPECT_GE(*fired, start + 20ms);

    // With a ready case, the timeout is not taken.
    auto ready = goro::make_chan<int>(1);
    ready.send(1);
    EXPECT_EQ(goro::select(goro::after(1ms).on_recv(), ready.on_recv()), 1u);
    // A zero timeout is taken (eventually) when nothing else is ready.
    EXPECT_EQ(goro::select(ch.on_recv(), goro::after(0ms).on_recv()), 1u);
  });
}

// ---- the same channel in several cases -------------------------------------

TEST(Select, SameChannelInSeveralCases) {
  goro::run([] {
    auto ch = goro::make_chan<int>(1);
    std::array<int, 3> count{};
    auto deadline = goro::after(wait_limit);
    for (int i = 0; i < 300; ++i) {
      ch.send(i);
      std::optional<int> v0;
      std::optional<int> v1;
      std::size_t k = goro::select(ch.on_recv(v0), ch.on_recv(v1), ch.on_send(-1), deadline.on_recv());
      // With one value buffered and the buffer full, only the receive cases are ready.
      ASSERT_LT(k, 2u);
      ++count[k];
      EXPECT_EQ(k == 0 ? v0 : v1, i);
      EXPECT_EQ(k == 0 ? v1 : v0, std::nullopt);
      EXPECT_EQ(ch.size(), 0u) << "more than one case took effect";
    }
    EXPECT_GT(count[0], 0);
    EXPECT_GT(count[1], 0);
    // Empty buffer: only the send case is ready.
    EXPECT_EQ(goro::select(ch.on_recv(), ch.on_send(5), ch.on_recv(), deadline.on_recv()), 1u);
    EXPECT_EQ(ch.try_recv(), 5);
  });
}

// Go's TestSelectDuplicateChannel: a goroutine queued twice on the same
// channel (by one select) is taken off it cleanly when another case fires.
TEST(Select, DuplicateChannelGoPort) {
  goro::run([] {
    auto c = goro::make_chan<int>();
    auto d = goro::make_chan<int>();
    auto e = goro::make_chan<int>();
    auto b_done = goro::make_chan<int>(1);
    goro::go([c, d, e] {  // goroutine A
      goro::select(c.on_recv(), c.on_recv(), d.on_recv(), goro::after(wait_limit).on_recv());
      send_within(e, 9);
    });
    // Make sure goroutine A gets queued first on c (twice) and on d.
    ASSERT_TRUE(goro_test::until_receivers(c, 2));
    ASSERT_TRUE(goro_test::until_receivers(d, 1));
    goro::go([c, b_done] {  // goroutine B
      b_done.send(recv_for(c).value_or(-1));
    });
    // Make sure goroutine B gets queued on c (behind A) before continuing.
    ASSERT_TRUE(goro_test::until_receivers(c, 3));
    EXPECT_TRUE(send_within(d, 7));  // wake up A, it dequeues itself from c
    EXPECT_EQ(recv_for(e), 9);       // A tells us it's done
    EXPECT_TRUE(send_within(c, 8));  // wake up B
    EXPECT_EQ(recv_for(b_done), 8);
  });
}

// Go's TestPseudoRandomSend: select over two sends of different values on the
// same channel picks both.
TEST(Select, PseudoRandomSendGoPort) {
  goro::run([] {
    constexpr int n = 100;
    for (std::size_t cap : {std::size_t{0}, std::size_t{n}}) {
      auto c = goro::make_chan<int>(cap);
      auto l = goro::make_chan<std::vector<int>>(1);
      goro::go([c, l] {
        std::vector<int> got;
        auto deadline = goro::after(wait_limit);
        for (int i = 0; i < n; ++i) {
          goro::yield();
          std::optional<int> v;
          if (goro::select(c.on_recv(v), deadline.on_recv()) != 0) break;
          got.push_back(v.value_or(-1));
        }
        l.send(std::move(got));
      });
      auto deadline = goro::after(wait_limit);
      for (int i = 0; i < n; ++i) {
        if (goro::select(c.on_send(1), c.on_send(0), deadline.on_recv()) == 2) {
          ADD_FAILURE() << "timed out";
          break;
        }
      }
      auto got = recv_for(l);
      ASSERT_TRUE(got);
      ASSERT_EQ(got->size(), static_cast<std::size_t>(n));
      int n0 = 0;
      int n1 = 0;
      for (int v : *got) {
        n0 += v == 0;
        n1 += v == 1;
      }
      EXPECT_EQ(n0 + n1, n);
      EXPECT_GT(n0, n / 10) << "cap " << cap << ": want pseudorandom, got " << n0 << " zeros and " << n1 << " ones";
      EXPECT_GT(n1, n / 10) << "cap " << cap << ": want pseudorandom, got " << n0 << " zeros and " << n1 << " ones";
    }
  });
}

// Go's TestSelfSelect: send and receive on the same channel in one select,
// from two goroutines, neither crashes nor deadlocks, and on an unbuffered
// channel a select never receives its own value.
TEST(Select, SelfSelectGoPort) {
  goro::run([] {
    for (std::size_t cap : {0, 10}) {
      auto c = goro::make_chan<int>(cap);
      auto self_receives = std::make_shared<std::atomic<int>>(0);
      auto done = goro::make_chan<int>(2);
      for (int p = 0; p < 2; ++p) {
        goro::go([c, cap, p, self_receives, done] {
          for (int i = 0; i < 1000; ++i) {
            std::optional<int> v;
            if (p == 0 || i % 2 == 0) {
              goro::select(c.on_send(p), c.on_recv(v));
            } else {
              goro::select(c.on_recv(v), c.on_send(p));
            }
            if (cap == 0 && v == p) self_receives->fetch_add(1);
          }
          done.send(1);
        });
      }
      EXPECT_TRUE(wait_for(done, 2, 60s)) << "cap " << cap;
      EXPECT_EQ(self_receives->load(), 0) << "self receive";
      // With a buffer, what is left in it is whatever was sent and not received.
      while (c.try_recv()) {
      }
    }
  });
}

// Go's TestSelectStress: on two unbuffered and two buffered channels, a
// plain sender and a plain receiver per channel, plus one goroutine sending
// n values on every channel in a single select and one receiving n from
// every channel in a single select (each drops a channel from its select,
// by making it nil, once done with it). Must not deadlock.
TEST(Select, SelectStressGoPort) {
  goro::run([] {
    const int n = static_cast<int>(scaled(20'000));
    std::array<goro::chan<int>, 4> c{goro::make_chan<int>(), goro::make_chan<int>(), goro::make_chan<int>(2),
                                     goro::make_chan<int>(3)};
    auto done = goro::make_chan<int>(10);
    for (int k = 0; k < 4; ++k) {
      goro::go([ch = c[k], done, n] {
        for (int i = 0; i < n; ++i) ch.send(0);
        done.send(1);
      });
      goro::go([ch = c[k], done, n] {
        for (int i = 0; i < n; ++i) (void)ch.recv();
        done.send(1);
      });
    }
    goro::go([c, done, n] {
      std::array<int, 4> count{};
      auto c1 = c;
      for (int i = 0; i < 4 * n; ++i) {
        std::size_t k = goro::select(c1[3].on_send(0), c1[2].on_send(0), c1[0].on_send(0), c1[1].on_send(0));
        std::size_t ch = std::array<std::size_t, 4>{3, 2, 0, 1}[k];
        if (++count[ch] == n) c1[ch] = goro::chan<int>();
      }
      done.send(1);
    });
    goro::go([c, done, n] {
      std::array<int, 4> count{};
      auto c1 = c;
      for (int i = 0; i < 4 * n; ++i) {
        std::size_t k = goro::select(c1[0].on_recv(), c1[1].on_recv(), c1[2].on_recv(), c1[3].on_recv());
        if (++count[k] == n) c1[k] = goro::chan<int>();
      }
      done.send(1);
    });
    EXPECT_TRUE(wait_for(done, 10, 120s));
    for (auto& ch : c) EXPECT_EQ(ch.size(), 0u);
  });
}

// ---- plain threads ---------------------------------------------------------

TEST(Select, PlainThreadBlocksInSelectUntilAGoroutineSends) {
  goro::run([] {
    auto a = goro::make_chan<int>();
    auto b = goro::make_chan<int>();
    auto about = goro::make_chan<int>(1);
    auto result = goro::make_chan<int>(1);
    bounded_thread t([a, b, about, result] {
      about.send(1);
      std::optional<int> vb;
      std::size_t k = goro::select(a.on_recv(), b.on_recv(vb), goro::after(wait_limit).on_recv());
      result.send(k == 1 ? vb.value_or(-1) : -100 - static_cast<int>(k));
    });
    ASSERT_TRUE(recv_for(about));
    // The thread has blocked in the select (if not, the send below still releases it).
    EXPECT_TRUE(goro_test::until_receivers(b, 1));
    auto done = goro::make_chan<int>(1);
    goro::go([b, done] {
      send_within(b, 31);
      done.send(1);
    });
    EXPECT_EQ(recv_for(result), 31);
    EXPECT_TRUE(wait_for(done, 1));
    t.join();
  });
}

TEST(Select, PlainThreadSendCaseTakenByAGoroutine) {
  goro::run([] {
    auto out = goro::make_chan<int>();
    auto never = goro::make_chan<int>();
    auto result = goro::make_chan<int>(1);
    bounded_thread t([out, never, result] {
      std::size_t k = goro::select(never.on_recv(), out.on_send(8), goro::after(wait_limit).on_recv());
      result.send(static_cast<int>(k));
    });
    auto got = goro::make_chan<int>(1);
    goro::go([out, got] { got.send(recv_for(out).value_or(-1)); });
    EXPECT_EQ(recv_for(got), 8);
    EXPECT_EQ(recv_for(result), 1);
    t.join();
  });
}

TEST(Select, PlainThreadsSelectAgainstGoroutineSelects) {
  goro::run([] {
    constexpr int per = 2000;
    auto a = goro::make_chan<int>();
    auto b = goro::make_chan<int>(2);
    auto sum = goro::make_chan<std::int64_t>(2);
    // A thread sends 0..per-1 through a or b by select; a goroutine receives
    // from either by select. Then the other way round.
    auto sender = [a, b] {
      auto deadline = goro::after(60s);
      for (int i = 0; i < per; ++i) {
        if (goro::select(a.on_send(i), b.on_send(i), deadline.on_recv()) == 2) return;
      }
    };
    auto receiver = [a, b, sum] {
      auto deadline = goro::after(60s);
      std::int64_t s = 0;
      for (int i = 0; i < per; ++i) {
        std::optional<int> v;
        if (goro::select(a.on_recv(v), b.on_recv(v), deadline.on_recv()) == 2) break;
        s += v.value_or(0);
      }
      sum.send(s);
    };
    const std::int64_t expected = static_cast<std::int64_t>(per) * (per - 1) / 2;
    {
      bounded_thread t(sender);
      auto done = goro::make_chan<int>(1);
      goro::go([receiver, done] {
        receiver();
        done.send(1);
      });
      EXPECT_EQ(recv_for(sum, 60s), expected);
      EXPECT_TRUE(wait_for(done, 1));
      t.join(60s);
    }
    {
      bounded_thread t(receiver);
      auto done = goro::make_chan<int>(1);
      goro::go([sender, done] {
        sender();
        done.send(1);
      });
      EXPECT_EQ(recv_for(sum, 60s), expected);
      EXPECT_TRUE(wait_for(done, 1));
      t.join(60s);
    }
  });
}

// No goroutine anywhere: two plain threads select against each other.
TEST(Select, TwoPlainThreadsWithoutGoroutines) {
  constexpr int per = 2000;
  auto a = goro::make_chan<int>();
  auto b = goro::make_chan<int>();
  auto sum = goro::make_chan<std::int64_t>(1);
  bounded_thread sender([a, b] {
    auto deadline = goro::after(60s);
    for (int i = 0; i < per; ++i) {
      if (goro::select(a.on_send(i), b.on_send(i), deadline.on_recv()) == 2) return;
    }
  });
  bounded_thread receiver([a, b, sum] {
    auto deadline = goro::after(60s);
    std::int64_t s = 0;
    for (int i = 0; i < per; ++i) {
      std::optional<int> v;
      if (goro::select(a.on_recv(v), b.on_recv(v), deadline.on_recv()) == 2) break;
      s += v.value_or(0);
    }
    sum.send(s);
  });
  EXPECT_EQ(goro_test::recv_within<std::int64_t>(sum, 60s), static_cast<std::int64_t>(per) * (per - 1) / 2);
  sender.join(60s);
  receiver.join(60s);
}

// ---- dynamic select --------------------------------------------------------

TEST(SelectDynamic, TrySelectWithNothingReadyReturnsEmptyAndKeepsValues) {
  goro::run([] {
    auto in = goro::make_chan<int>();
    auto out = goro::make_chan<int>();
    std::vector<goro::select_case<int>> cases;
    cases.push_back(goro::select_case<int>::recv(in));
    cases.push_back(goro::select_case<int>::send(out, 5));
    EXPECT_FALSE(cases[0].is_send());
    EXPECT_TRUE(cases[1].is_send());
    EXPECT_EQ(cases[1].value(), 5);
    EXPECT_EQ(goro::try_select(cases), std::nullopt);
    EXPECT_EQ(cases[0].value(), std::nullopt);
    EXPECT_EQ(cases[1].value(), 5) << "a send case not chosen keeps its value";
    // Empty vector: nothing can be ready.
    std::vector<goro::select_case<int>> none;
    EXPECT_EQ(goro::try_select(none), std::nullopt);
  });
}

TEST(SelectDynamic, RecvAndSendCasesAndValueSemantics) {
  goro::run([] {
    auto in = goro::make_chan<int>(1);
    auto out = goro::make_chan<int>(1);
    watchdog<int> wd(wait_limit);
    std::vector<goro::select_case<int>> cases;
    cases.push_back(goro::select_case<int>::recv(in));
    cases.push_back(goro::select_case<int>::send(out, 5));
    cases.push_back(goro::select_case<int>::recv(wd.fired()));  // bounds the selects

    // Only the send is ready.
    EXPECT_EQ(goro::try_select(cases), 1u);
    EXPECT_EQ(cases[1].value(), std::nullopt) << "a send case chosen has sent its value";
    EXPECT_EQ(out.try_recv(), 5);

    // Only the receive is ready (out full, no send value needed since it is refilled).
    out.send(0);
    cases[1].value() = 6;
    in.send(11);
    EXPECT_EQ(goro::select(cases), 0u);
    EXPECT_EQ(cases[0].value(), 11);
    EXPECT_EQ(cases[1].value(), 6) << "a send case not chosen keeps its value";
    EXPECT_EQ(out.size(), 1u);

    // Closed: the receive case's value is emptied.
    in.close();
    EXPECT_EQ(goro::select(cases), 0u);
    EXPECT_EQ(cases[0].value(), std::nullopt);

    // A select over a std::span.
    std::span<goro::select_case<int>> view(cases);
    EXPECT_EQ(goro::try_select(view), 0u);
  });
}

TEST(SelectDynamic, BlockingSelectWokenByAnotherGoroutine) {
  goro::run([] {
    auto a = goro::make_chan<int>();
    auto b = goro::make_chan<int>();
    auto sink = goro::make_chan<int>();
    watchdog<int> wd(wait_limit);
    std::vector<goro::select_case<int>> cases;
    cases.push_back(goro::select_case<int>::recv(a));
    cases.push_back(goro::select_case<int>::recv(b));
    cases.push_back(goro::select_case<int>::send(sink, 99));
    cases.push_back(goro::select_case<int>::recv(wd.fired()));
    auto done = goro::make_chan<int>(2);
    goro::go([b, done] {
      EXPECT_TRUE(goro_test::until_receivers(b, 1));  // the select has parked
      send_within(b, 4);
      done.send(1);
    });
    EXPECT_EQ(goro::select(cases), 1u);
    EXPECT_EQ(cases[1].value(), 4);
    EXPECT_EQ(cases[2].value(), 99);
    // Now a receiver takes the send case.
    goro::go([sink, done] {
      EXPECT_TRUE(goro_test::until_senders(sink, 1));  // the select has parked in its send case
      EXPECT_EQ(recv_for(sink), 99);
      done.send(1);
    });
    EXPECT_EQ(goro::select(cases), 2u);
    EXPECT_EQ(cases[2].value(), std::nullopt);
    EXPECT_TRUE(wait_for(done, 2));
  });
}

TEST(SelectDynamic, NilChannelCasesAreNeverChosen) {
  goro::run([] {
    auto ready = goro::make_chan<int>();
    ready.close();
    std::vector<goro::select_case<int>> cases;
    cases.push_back(goro::select_case<int>::recv(goro::recv_chan<int>()));
    cases.push_back(goro::select_case<int>::send(goro::send_chan<int>(), 1));
    EXPECT_EQ(goro::try_select(cases), std::nullopt);
    cases.push_back(goro::select_case<int>::recv(ready));
    watchdog<int> wd(wait_limit);
    cases.push_back(goro::select_case<int>::recv(wd.fired()));  // bounds the selects
    for (int i = 0; i < 200; ++i) EXPECT_EQ(goro::select(cases), 2u);
    EXPECT_EQ(cases[1].value(), 1);
  });
}

TEST(SelectDynamic, SendCaseToClosedChannelThrows) {
  goro::run([] {
    auto closed = goro::make_chan<int>(1);
    closed.close();
    watchdog<int> wd(wait_limit);
    std::vector<goro::select_case<int>> cases;
    cases.push_back(goro::select_case<int>::send(closed, 1));
    cases.push_back(goro::select_case<int>::recv(wd.fired()));  // bounds the selects
    EXPECT_THROW(goro::try_select(cases), goro::closed_channel_error);
    EXPECT_THROW(goro::select(cases), goro::closed_channel_error);
    EXPECT_EQ(cases[0].value(), 1);
  });
}

TEST(SelectDynamic, SendCaseWithoutValueThrows) {
  goro::run([] {
    auto out = goro::make_chan<int>(2);
    watchdog<int> wd(wait_limit);
    std::vector<goro::select_case<int>> cases;
    cases.push_back(goro::select_case<int>::send(out, 1));
    cases.push_back(goro::select_case<int>::recv(wd.fired()));  // bounds the selects
    EXPECT_EQ(goro::select(cases), 0u);
    ASSERT_EQ(cases[0].value(), std::nullopt);
    EXPECT_THROW(goro::select(cases), goro::panic_error) << "a send case with no value left must not send";
    EXPECT_EQ(out.size(), 1u);
  });
}

TEST(SelectDynamic, MoveOnlyValues) {
  goro::run([] {
    auto full = goro::make_chan<std::unique_ptr<int>>(1);
    full.send(std::make_unique<int>(0));
    auto in = goro::make_chan<std::unique_ptr<int>>(1);
    in.send(std::make_unique<int>(5));
    std::vector<goro::select_case<std::unique_ptr<int>>> cases;
    cases.push_back(goro::select_case<std::unique_ptr<int>>::send(full, std::make_unique<int>(7)));
    cases.push_back(goro::select_case<std::unique_ptr<int>>::recv(in));
    watchdog<std::unique_ptr<int>> wd(wait_limit);
    cases.push_back(goro::select_case<std::unique_ptr<int>>::recv(wd.fired()));  // bounds the select
    EXPECT_EQ(goro::select(cases), 1u);
    ASSERT_TRUE(cases[1].value() && *cases[1].value());
    EXPECT_EQ(**cases[1].value(), 5);
    ASSERT_TRUE(cases[0].value() && *cases[0].value()) << "the value of a send case not chosen was moved from";
    EXPECT_EQ(**cases[0].value(), 7);
    EXPECT_TRUE(full.try_recv());
    EXPECT_EQ(goro::try_select(cases), 0u);
    EXPECT_EQ(cases[0].value(), std::nullopt);
    auto sent = full.try_recv();
    ASSERT_TRUE(sent && *sent);
    EXPECT_EQ(**sent, 7);
  });
}

TEST(SelectDynamic, FairBetweenTwoReadyCases) {
  goro::run([] {
    constexpr int trials = 20000;
    auto a = goro::make_chan<int>();
    a.close();
    auto b = goro::make_chan<int>(trials);
    std::vector<goro::select_case<int>> cases;
    cases.push_back(goro::select_case<int>::recv(a));
    cases.push_back(goro::select_case<int>::send(b, 0));
    std::array<int, 2> count{};
    for (int i = 0; i < trials; ++i) {
      cases[1].value() = i;
      auto k = goro::try_select(cases);
      ASSERT_TRUE(k);
      ++count.at(*k);
    }
    EXPECT_GE(count[0], trials * 4 / 10) << count[0] << " vs " << count[1];
    EXPECT_GE(count[1], trials * 4 / 10) << count[0] << " vs " << count[1];
  });
}

// reflect.Select over 100 channels (the pattern of Go's reflect tests and of
// "select over a dynamic set of channels"): 100 goroutines each send their
// values on their own channel and close it; the selecting goroutine drops each
// closed channel's case (replaces it with a nil-channel case) until none is
// left; every value arrives exactly once.
TEST(SelectDynamic, HundredChannelsEveryValueReceivedOnce) {
  goro::run([] {
    constexpr int channels = 100;
    const int per = static_cast<int>(scaled(200));
    std::vector<goro::chan<int>> chs;
    auto done = goro::make_chan<int>(channels);
    for (int i = 0; i < channels; ++i) {
      chs.push_back(goro::make_chan<int>(i % 3 == 0 ? 0 : i % 5));
      goro::go([ch = chs.back(), done, i, per] {
        for (int k = 0; k < per; ++k) ch.send(i * per + k);
        ch.close();
        done.send(1);
      });
    }
    watchdog<int> wd(60s);
    std::vector<goro::select_case<int>> cases;
    for (auto& ch : chs) cases.push_back(goro::select_case<int>::recv(ch));
    cases.push_back(goro::select_case<int>::recv(wd.fired()));
    std::vector<int> count(static_cast<std::size_t>(channels * per), 0);
    std::vector<int> last(channels, -1);  // per channel, values must come in order
    int open = channels;
    int out_of_order = 0;
    while (open > 0) {
      std::size_t k = goro::select(cases);
      if (k == channels) {
        ADD_FAILURE() << "timed out with " << open << " channels open";
        break;
      }
      ASSERT_LT(k, static_cast<std::size_t>(channels));
      auto& v = cases[k].value();
      if (!v) {
        cases[k] = goro::select_case<int>::recv(goro::recv_chan<int>());  // closed: never again
        --open;
        continue;
      }
      ASSERT_GE(*v, 0);
      ASSERT_LT(*v, channels * per);
      ASSERT_EQ(*v / per, static_cast<int>(k)) << "a value arrived on the wrong case";
      ++count[static_cast<std::size_t>(*v)];
      if (*v <= last[k]) ++out_of_order;
      last[k] = *v;
    }
    EXPECT_EQ(out_of_order, 0);
    EXPECT_TRUE(wait_for(done, channels));
    int bad = 0;
    for (int c : count) bad += c != 1;
    EXPECT_EQ(bad, 0) << "values not received exactly once";
  });
}

// ---- stress ----------------------------------------------------------------

// Many goroutines select over shared channels in both directions at once:
// each has its own values to send, and in the same select offers to send the
// next one on either channel and to receive from either. A quit channel,
// closed when the last value has been received, ends them. Every value must
// be received exactly once.
TEST(Select, StressSendAndRecvCasesInTheSameSelect) {
  goro::run([] {
    constexpr int workers = 16;
    const int per = static_cast<int>(scaled(10'000));
    const int total = workers * per;
    auto a = goro::make_chan<int>();   // unbuffered
    auto b = goro::make_chan<int>(4);  // buffered
    auto quit = goro::make_chan<int>();
    auto counts = std::make_shared<std::vector<std::atomic<int>>>(static_cast<std::size_t>(total));
    auto received = std::make_shared<std::atomic<int>>(0);
    auto done = goro::make_chan<int>(workers);
    for (int w = 0; w < workers; ++w) {
      goro::go([=] {
        int next = w * per;
        const int end = next + per;
        auto record = [&](std::optional<int> v) {
          if (!v) return;  // a and b are never closed
          (*counts)[static_cast<std::size_t>(*v)].fetch_add(1, std::memory_order_relaxed);
          if (received->fetch_add(1) + 1 == total) quit.close();
        };
        for (bool running = true; running;) {
          std::optional<int> v;
          if (next < end) {
            switch (goro::select(a.on_send(next), b.on_send(next), a.on_recv(v), b.on_recv(v), quit.on_recv())) {
              case 0:
              case 1:
                ++next;
                break;
              case 2:
              case 3:
                record(std::move(v));
                break;
              default:
                running = false;
                break;
            }
          } else {
            switch (goro::select(b.on_recv(v), quit.on_recv(), a.on_recv(v))) {
              case 0:
              case 2:
                record(std::move(v));
                break;
              default:
                running = false;
                break;
            }
          }
        }
        done.send(next == end ? 1 : 0);
      });
    }
    auto deadline = goro::after(120s);
    int finished = 0;
    int unsent = 0;
    for (; finished < workers; ++finished) {
      std::optional<int> r;
      if (goro::select(done.on_recv(r), deadline.on_recv()) != 0) {
        ADD_FAILURE() << "timed out: " << received->load() << " of " << total << " values received";
        break;
      }
      unsent += *r == 0;
    }
    EXPECT_EQ(unsent, 0) << "a worker quit with values unsent";
    EXPECT_EQ(received->load(), total);
    int bad = 0;
    for (auto& c : *counts) bad += c.load() != 1;
    EXPECT_EQ(bad, 0) << "values not received exactly once";
  });
}

// Mixed: plain senders and receivers, select senders and receivers, and
// dynamic selects, all on the same two channels.
TEST(Select, StressPlainOpsSelectsAndDynamicSelectsTogether) {
  goro::run([] {
    const int per = static_cast<int>(scaled(20'000));
    constexpr int senders = 3;    // plain, select, dynamic
    constexpr int receivers = 3;  // plain, select, dynamic
    const int total = senders * per;
    auto a = goro::make_chan<int>();
    auto b = goro::make_chan<int>(8);
    auto counts = std::make_shared<std::vector<std::atomic<int>>>(static_cast<std::size_t>(total));
    auto senders_done = goro::make_chan<int>(senders);
    auto receivers_done = goro::make_chan<int>(receivers);
    goro::go([=] {  // plain sends, alternating channels
      for (int i = 0; i < per; ++i) (i % 2 == 0 ? a : b).send(i);
      senders_done.send(1);
    });
    goro::go([=] {  // select sends
      for (int i = per; i < 2 * per; ++i) goro::select(a.on_send(i), b.on_send(i));
      senders_done.send(1);
    });
    goro::go([=] {  // dynamic select sends
      std::vector<goro::select_case<int>> cases;
      cases.push_back(goro::select_case<int>::send(a, 0));
      cases.push_back(goro::select_case<int>::send(b, 0));
      for (int i = 2 * per; i < 3 * per; ++i) {
        cases[0].value() = i;
        cases[1].value() = i;
        goro::select(cases);
      }
      senders_done.send(1);
    });
    auto count = [counts](int v) { (*counts)[static_cast<std::size_t>(v)].fetch_add(1, std::memory_order_relaxed); };
    // The receivers end once both channels are closed (and b drained).
    goro::go([=] {  // plain receives, from b only
      for (int v : b) count(v);
      receivers_done.send(1);
    });
    goro::go([=] {  // select receives
      goro::chan<int> ca = a;
      goro::chan<int> cb = b;
      while (ca || cb) {
        std::optional<int> v;
        std::size_t k = goro::select(ca.on_recv(v), cb.on_recv(v));
        if (v) {
          count(*v);
        } else {
          (k == 0 ? ca : cb) = goro::chan<int>();  // closed: wait on it no more
        }
      }
      receivers_done.send(1);
    });
    goro::go([=] {  // dynamic select receives
      std::vector<goro::select_case<int>> cases;
      cases.push_back(goro::select_case<int>::recv(a));
      cases.push_back(goro::select_case<int>::recv(b));
      for (int open = 2; open > 0;) {
        std::size_t k = goro::select(cases);
        if (cases[k].value()) {
          count(*cases[k].value());
        } else {
          cases[k] = goro::select_case<int>::recv(goro::recv_chan<int>());
          --open;
        }
      }
      receivers_done.send(1);
    });
    // On a timeout, closing would make the blocked senders throw and end the
    // program: give up instead (the leak check reports the stuck goroutines).
    ASSERT_TRUE(wait_for(senders_done, senders, 120s));
    // Every send has returned: a holds nothing, b only buffered values.
    a.close();
    b.close();
    EXPECT_TRUE(wait_for(receivers_done, receivers, 60s));
    int bad = 0;
    for (auto& c : *counts) bad += c.load() != 1;
    EXPECT_EQ(bad, 0) << "values not received exactly once";
  });
}

// A select with a default over ring channels (capacity 256 and up, see
// chan_impl.hpp) takes the default only if its cases were all not ready at
// one moment, though it reads each ring at its own moment. A mover keeps two
// rings such that at every moment at least one has room: it takes from a,
// fills b, takes from b, fills a. A watcher selects a send on either with a
// default, and puts back what it sent. Reading a as full just before the
// mover takes from it, and b as full just after the mover fills it, would
// take the default although one always had room.
TEST(Select, DefaultOverRingsOnlyWhenAllWereNotReadyAtOnce) {
  goro::run([] {
    constexpr int cap = 256;
    auto a = goro::make_chan<int>(cap), b = goro::make_chan<int>(cap);
    for (int i = 0; i < cap; ++i) a.send(i);      // full
    for (int i = 0; i < cap - 1; ++i) b.send(i);  // room for one
    auto stop = std::make_shared<std::atomic<bool>>(false);
    auto mover_done = goro::make_chan<long>(1);
    goro::go([=] {
      long cycles = 0;
      while (!stop->load(std::memory_order_relaxed)) {
        int v = *a.recv();
        b.send(v);
        v = *b.recv();
        a.send(v);
        ++cycles;
      }
      mover_done.send(cycles);
    });
    const int looks = static_cast<int>(scaled(200'000));
    int defaults = 0;
    for (int i = 0; i < looks; ++i) {
      switch (goro::select(a.on_send(-1), b.on_send(-1), goro::on_default())) {
        case 0:
          // Put back: take one value out of a again (a holds ours, so the
          // mover can only be waiting for room, never starved).
          ASSERT_TRUE(recv_for(a).has_value());
          break;
        case 1:
          ASSERT_TRUE(recv_for(b).has_value());
          break;
        default:
          ++defaults;
      }
    }
    stop->store(true);
    auto cycles = recv_for(mover_done);
    ASSERT_TRUE(cycles.has_value());
    EXPECT_EQ(defaults, 0) << "the default was taken while a ring had room (" << *cycles << " mover cycles)";
  });
}

}  // namespace
