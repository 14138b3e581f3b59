// tests/context/errgroup_test.cpp: goro::errgroup (golang.org/x/sync/errgroup),
// goro::singleflight (x/sync/singleflight) and semaphore::acquire(ctx, n)
// (x/sync/semaphore).
//
// Conventions as in context_test.cpp. Tests that port a test of x/sync's
// errgroup_test.go, singleflight_test.go or semaphore_test.go say which.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "context/context_helpers.hpp"

namespace {

using namespace std::chrono_literals;
using namespace ctx_test;
using goro_test::wait_limit;

/// g.wait() in a goroutine, bounded; what it returned or threw.
struct wait_result {
  bool finished = false;
  std::error_code code;
  std::exception_ptr error;
};
wait_result bounded_wait(goro::errgroup g, std::chrono::nanoseconds limit = wait_limit) {
  auto out = std::make_shared<wait_result>();
  out->finished = in_goroutine(
      [g, out]() mutable {
        try {
          out->code = g.wait();
        } catch (...) {
          out->error = std::current_exception();
        }
      },
      limit);
  return *out;
}

// ---- errgroup ------------------------------------------------------------------

// x/sync's TestZeroGroup: a group with no context; wait() returns the first
// error, after each go.
TEST(Errgroup, ZeroGroupReturnsTheFirstError) {
  goro::run([] {
    const std::error_code err1 = io_error();
    const std::error_code err2 = doom();
    const std::vector<std::vector<std::error_code>> cases = {
        {}, {std::error_code()}, {err1}, {err1, std::error_code()}, {err1, std::error_code(), err2}};
    for (std::size_t c = 0; c < cases.size(); ++c) {
      goro::errgroup g;
      std::error_code first;
      for (const std::error_code& e : cases[c]) {
        g.go([e] { return e; });
        if (!first && e) first = e;
        wait_result r = bounded_wait(g);
        ASSERT_TRUE(r.finished);
        EXPECT_FALSE(r.error);
        EXPECT_EQ(r.code, first) << "case " << c;
      }
      wait_result r = bounded_wait(g);
      EXPECT_EQ(r.code, first) << "case " << c;
    }
  });
}

// x/sync's TestWithContext: the first error is wait()'s, and the context is
// done after wait() whether or not a task failed.
TEST(Errgroup, WithContext) {
  goro::run([] {
    const std::vector<std::pair<std::vector<std::error_code>, std::error_code>> cases = {
        {{}, {}}, {{std::error_code()}, {}}, {{doom()}, doom()}, {{doom(), std::error_code()}, doom()}};
    for (std::size_t c = 0; c < cases.size(); ++c) {
      auto [g, ctx] = goro::errgroup::with_context(goro::background());
      for (const std::error_code& e : cases[c].first) g.go([e] { return e; });
      wait_result r = bounded_wait(g);
      ASSERT_TRUE(r.finished);
      EXPECT_EQ(r.code, cases[c].second) << "case " << c;
      EXPECT_TRUE(is_done(ctx)) << "case " << c << ": ctx not done after wait()";
      EXPECT_EQ(ctx.err(), goro::errc::canceled);
      // x/sync's TestCancelCause: the cause is the error (canceled if none).
      EXPECT_EQ(goro::cause(ctx), cases[c].second ? cases[c].second : goro::errc::canceled) << "case " << c;
    }
  });
}

// The first error cancels the context while the other tasks still run;
// they see it, and its cause is that error.
TEST(Errgroup, FirstErrorCancelsTheOthers) {
  goro::run([] {
    auto [parent, pcancel] = goro::with_cancel(goro::background());
    auto [g, ctx] = goro::errgroup::with_context(parent);
    auto saw = goro::make_chan<std::error_code>(4);
    for (int i = 0; i < 4; ++i) {
      g.go([ctx = ctx, saw]() -> std::error_code {
        bool done = done_within(ctx);
        saw.send(done ? goro::cause(ctx) : std::error_code());
        return ctx.err();
      });
    }
    g.go([] { return doom(); });
    for (int i = 0; i < 4; ++i) EXPECT_EQ(goro_test::recv_within<std::error_code>(saw), doom());
    wait_result r = bounded_wait(g);
    ASSERT_TRUE(r.finished);
    EXPECT_EQ(r.code, doom()) << "a later ctx.err() replaced the first error";
    EXPECT_FALSE(is_done(parent)) << "the group cancelled its parent";
    pcancel();
  });
}

// A parent's cancel reaches the group's context.
TEST(Errgroup, ParentCancelReachesTheGroup) {
  goro::run([] {
    auto [parent, pcancel] = goro::with_cancel(goro::background());
    auto [g, ctx] = goro::errgroup::with_context(parent);
    g.go([ctx = ctx]() -> std::error_code { return done_within(ctx) ? ctx.err() : doom(); });
    pcancel();
    wait_result r = bounded_wait(g);
    ASSERT_TRUE(r.finished);
    EXPECT_EQ(r.code, goro::errc::canceled);
  });
}

// A task that throws fails the group: wait() rethrows it if it was first;
// the context is cancelled (cause canceled).
TEST(Errgroup, ExceptionIsRethrownByWait) {
  goro::run([] {
    {
      auto [g, ctx] = goro::errgroup::with_context(goro::background());
      g.go([] { throw std::runtime_error("boom"); });
      g.go([] { return std::error_code(); });
      EXPECT_TRUE(done_within(ctx));
      EXPECT_EQ(goro::cause(ctx), goro::errc::canceled);
      wait_result r = bounded_wait(g);
      ASSERT_TRUE(r.finished);
      ASSERT_TRUE(r.error);
      try {
        std::rethrow_exception(r.error);
      } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "boom");
      } catch (...) {
        ADD_FAILURE() << "the wrong exception";
      }
    }
    {
      // An error code first: wait() returns it and throws nothing.
      auto [g, ctx] = goro::errgroup::with_context(goro::background());
      g.go([] { return doom(); });
      ASSERT_TRUE(done_within(ctx));
      g.go([]() -> std::error_code { throw std::logic_error("late"); });
      wait_result r = bounded_wait(g);
      ASSERT_TRUE(r.finished);
      EXPECT_FALSE(r.error);
      EXPECT_EQ(r.code, doom());
    }
    {
      // From the caller's goroutine: wait() itself throws.
      goro::errgroup g;
      g.go([] { throw std::out_of_range("x"); });
      EXPECT_THROW(g.wait(), std::out_of_range);
    }
  });
}

// Copies of a group are the same group.
TEST(Errgroup, CopiesNameTheSameGroup) {
  goro::run([] {
    goro::errgroup g;
    goro::errgroup h = g;
    auto release = goro::make_chan<int>();
    h.go([release] { goro::select(release.on_recv(), goro::after(wait_limit).on_recv()); });
    g.go([] { return doom(); });
    release.close();
    wait_result r = bounded_wait(h);
    ASSERT_TRUE(r.finished);
    EXPECT_EQ(r.code, doom());
  });
}

// x/sync's TestGoLimit: never more than the limit active at once.
TEST(Errgroup, SetLimitBoundsActiveTasks) {
  goro::run([] {
    constexpr int limit = 3;
    constexpr int tasks = 60;
    struct state {
      std::atomic<int> active{0};
      std::atomic<int> max{0};
      std::atomic<int> over{0};
    };
    auto s = std::make_shared<state>();
    EXPECT_TRUE(in_goroutine([s] {
      goro::errgroup g;
      g.set_limit(limit);
      for (int i = 0; i < tasks; ++i) {
        g.go([s]() -> std::error_code {
          int now = s->active.fetch_add(1) + 1;
          if (now > limit) s->over.fetch_add(1);
          int m = s->max.load();
          while (now > m && !s->max.compare_exchange_weak(m, now)) {
          }
          goro::yield();
          goro::sleep(100us);  // a chance for a task beyond the limit to start
          s->active.fetch_sub(1);
          return {};
        });
      }
      EXPECT_FALSE(g.wait());
    }));
    EXPECT_EQ(s->over.load(), 0) << "more than " << limit << " tasks ran at once (max " << s->max.load() << ")";
    EXPECT_LE(s->max.load(), limit);
    EXPECT_GE(s->max.load(), 1);
  });
}

// x/sync's TestTryGo: try_go fails when the limit is reached, succeeds again
// once tasks end; limits can be switched between waits; limit 0 refuses all.
TEST(Errgroup, TryGo) {
  goro::run([] {
    goro::errgroup g;
    constexpr int n = 42;
    g.set_limit(n);
    auto ch = goro::make_chan<int>();
    auto fn = [ch] {
      goro::select(ch.on_send(1), goro::after(wait_limit).on_recv());
      return std::error_code();
    };
    for (int i = 0; i < n; ++i) ASSERT_TRUE(g.try_go(fn)) << "try_go " << i << " under the limit";
    EXPECT_FALSE(g.try_go(fn)) << "try_go at the limit";
    EXPECT_THROW(g.set_limit(n + 1), goro::panic_error) << "set_limit while tasks are active";
    for (int i = 0; i < n; ++i) ASSERT_TRUE(goro_test::recv_within<int>(ch).has_value());
    ASSERT_TRUE(bounded_wait(g).finished);
    EXPECT_TRUE(g.try_go(fn)) << "try_go after every task ended";
    ASSERT_TRUE(goro_test::recv_within<int>(ch).has_value());
    ASSERT_TRUE(bounded_wait(g).finished);

    g.set_limit(1);  // switch the limit between waits
    EXPECT_TRUE(g.try_go(fn));
    EXPECT_FALSE(g.try_go(fn));
    ASSERT_TRUE(goro_test::recv_within<int>(ch).has_value());
    ASSERT_TRUE(bounded_wait(g).finished);

    g.set_limit(0);  // refuse everything
    for (int i = 0; i < 1024; ++i) ASSERT_FALSE(g.try_go(fn));
    ASSERT_TRUE(bounded_wait(g).finished);

    g.set_limit(-1);  // no limit
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(g.try_go(fn));
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(goro_test::recv_within<int>(ch).has_value());
    ASSERT_TRUE(bounded_wait(g).finished);
  });
}

// go() at the limit waits for a slot instead of failing.
TEST(Errgroup, GoWaitsForASlot) {
  goro::run([] {
    goro::errgroup g;
    g.set_limit(1);
    auto release = goro::make_chan<int>();
    g.go([release] { goro::select(release.on_recv(), goro::after(wait_limit).on_recv()); });
    auto second_started = goro::make_chan<int>(1);
    auto go_returned = goro::make_chan<int>(1);
    goro::go([g, second_started, go_returned]() mutable {
      g.go([second_started] { second_started.send(1); });
      go_returned.send(1);
    });
    give_a_chance();
    EXPECT_FALSE(ready_now(go_returned)) << "go() at the limit did not wait";
    release.close();
    EXPECT_TRUE(wait_for(go_returned, 1));
    EXPECT_TRUE(wait_for(second_started, 1));
    EXPECT_TRUE(bounded_wait(g).finished);
  });
}

// Not an x/sync test: a task's function, and what it holds by value, is
// destroyed before the task counts as done, so before wait() returns (in Go
// the GC makes the order moot). Each capture counts its destruction,
// yielding first, so that a wait() let go before the destructors ran gets to
// see the count short. Tasks fail too (the first with an error code, the
// second with an exception: the same path), and a limit is set on odd rounds.
TEST(Errgroup, TaskFunctionIsDestroyedBeforeWaitReturns) {
  goro::run([] {
    constexpr int tasks = 4;
    auto short_counts = std::make_shared<std::atomic<int>>(0);
    for (int round = 0; round < scaled(200); ++round) {
      auto destroyed = std::make_shared<std::atomic<int>>(0);
      goro::errgroup g;
      if (round % 2 == 1) g.set_limit(2);
      for (int i = 0; i < tasks; ++i) {
        g.go([c = goro_test::counts_destruction(destroyed), i]() -> std::error_code {
          (void)c;
          goro::yield();
          if (i == 1) throw std::runtime_error("task 1");
          return i == 0 ? doom() : std::error_code();
        });
      }
      ASSERT_TRUE(in_goroutine([g, destroyed, short_counts]() mutable {
        try {
          (void)g.wait();
        } catch (const std::runtime_error&) {  // task 1 failed first
        }
        if (destroyed->load() != tasks) short_counts->fetch_add(1);
      }));
    }
    EXPECT_EQ(short_counts->load(), 0) << "wait() returned before every task's function was destroyed";
  });
}

// ---- singleflight --------------------------------------------------------------

using sf_group = goro::singleflight::group<std::string, std::string>;

// x/sync's TestDo.
TEST(Singleflight, Do) {
  goro::run([] {
    sf_group g;
    auto r = g.call("key", [] { return std::string("bar"); });
    EXPECT_EQ(r.val, "bar");
    EXPECT_FALSE(r.shared);
    // Done: the next call runs f again.
    int calls = 0;
    for (int i = 0; i < 3; ++i) {
      auto again = g.call("key", [&] {
        ++calls;
        return std::string("baz");
      });
      EXPECT_EQ(again.val, "baz");
      EXPECT_FALSE(again.shared);
    }
    EXPECT_EQ(calls, 3);
  });
}

// x/sync's TestDoErr (and TestPanicDo: Go re-panics in the caller): the
// exception f throws comes out of call(); the key is free again after.
TEST(Singleflight, DoErr) {
  goro::run([] {
    sf_group g;
    EXPECT_THROW(g.call("key", []() -> std::string { throw std::runtime_error("some error"); }), std::runtime_error);
    EXPECT_EQ(g.call("key", [] { return std::string("ok"); }).val, "ok");
  });
}

// x/sync's TestDoDupSuppress: many concurrent callers while one call is in
// flight: f runs fewer times than there are callers, every caller gets the
// value.
TEST(Singleflight, DoDupSuppress) {
  goro::run([] {
    auto g = std::make_shared<sf_group>();
    constexpr int n = 10;
    auto calls = std::make_shared<std::atomic<int>>(0);
    auto entered = std::make_shared<std::atomic<int>>(0);
    auto first_in_f = goro::make_chan<int>();
    auto c = goro::make_chan<std::string>(1);
    auto results = goro::make_chan<goro::singleflight::result<std::string>>(n);
    auto fn = [calls, first_in_f, c] {
      if (calls->fetch_add(1) == 0) first_in_f.close();
      std::optional<std::string> v;
      goro::select(c.on_recv(v), goro::after(wait_limit).on_recv());
      c.send(v.value_or("lost"));  // pump: available to any later call
      return v.value_or("lost");
    };
    for (int i = 0; i < n; ++i) {
      goro::go([g, fn, entered, results] {
        entered->fetch_add(1);
        results.send(g->call("key", fn));
      });
    }
    ASSERT_TRUE(closed_within<int>(first_in_f));
    ASSERT_TRUE(goro_test::eventually([&] { return entered->load() == n; }));
    give_a_chance();  // for the callers that entered to reach call()
    c.send("bar");
    int shared = 0;
    for (int i = 0; i < n; ++i) {
      auto r = goro_test::recv_within(goro::recv_chan<goro::singleflight::result<std::string>>(results));
      ASSERT_TRUE(r.has_value());
      EXPECT_EQ(r->val, "bar");
      if (r->shared) ++shared;
    }
    EXPECT_GT(calls->load(), 0);
    EXPECT_LT(calls->load(), n) << "no call was suppressed";
    EXPECT_GE(shared, 2);
  });
}

// x/sync's TestDoChan: call_chan delivers the result once.
TEST(Singleflight, DoChan) {
  goro::run([] {
    sf_group g;
    auto ch = g.call_chan("key", [] { return std::string("bar"); });
    auto r = goro_test::recv_within(ch);
    ASSERT_TRUE(r.has_value());
    ASSERT_TRUE(r->val.has_value());
    EXPECT_EQ(*r->val, "bar");
    EXPECT_FALSE(r->error);
    EXPECT_FALSE(r->shared);
    EXPECT_EQ(ch.capacity(), 1u);
  });
}

// Not an x/sync test: the function call_chan runs (and what it holds by
// value) is destroyed before the result is delivered, so that a receiver
// may destroy what its captures refer to.
TEST(Singleflight, CallChanDestroysTheFunctionBeforeDelivering) {
  goro::run([] {
    int early = 0;
    for (int round = 0; round < scaled(200); ++round) {
      sf_group g;
      auto destroyed = std::make_shared<std::atomic<int>>(0);
      auto ch = g.call_chan("key", [c = goro_test::counts_destruction(destroyed)] {
        (void)c;
        goro::yield();
        return std::string("v");
      });
      // The function is moved, never copied, on its way to the goroutine:
      // its one live instance must be gone when the result arrives.
      auto r = goro_test::recv_within(ch);
      ASSERT_TRUE(r.has_value());
      if (destroyed->load() != 1) ++early;
    }
    EXPECT_EQ(early, 0) << "the result arrived before call_chan's function was destroyed";
  });
}

// call_chan's registration is synchronous, so duplicate suppression is exact:
// callers joining a call in flight share its single run of f; an exception
// reaches each of them.
TEST(Singleflight, CallChanJoinsTheCallInFlight) {
  goro::run([] {
    for (bool fail : {false, true}) {
      sf_group g;
      constexpr int n = 10;
      auto calls = std::make_shared<std::atomic<int>>(0);
      auto release = goro::make_chan<int>();
      auto fn = [calls, release, fail]() -> std::string {
        calls->fetch_add(1);
        goro::select(release.on_recv(), goro::after(wait_limit).on_recv());
        if (fail) throw std::runtime_error("failed");
        return "bar";
      };
      std::vector<goro::recv_chan<goro::singleflight::chan_result<std::string>>> chans;
      for (int i = 0; i < n; ++i) chans.push_back(g.call_chan("key", fn));
      release.close();
      for (auto& ch : chans) {
        auto r = goro_test::recv_within(ch);
        ASSERT_TRUE(r.has_value());
        EXPECT_TRUE(r->shared);
        if (fail) {
          EXPECT_FALSE(r->val.has_value());
          EXPECT_TRUE(r->error);
        } else {
          EXPECT_EQ(r->val, "bar");
          EXPECT_FALSE(r->error);
        }
      }
      EXPECT_EQ(calls->load(), 1);
      if (fail) {
        // call() joining a failing call rethrows in the waiter too.
        auto release2 = goro::make_chan<int>();
        auto ch = g.call_chan("k2", [release2]() -> std::string {
          goro::select(release2.on_recv(), goro::after(wait_limit).on_recv());
          throw std::runtime_error("again");
        });
        auto threw = goro::make_chan<int>(1);
        goro::go([&g, threw] {
          try {
            g.call("k2", [] { return std::string("ran"); });
            threw.send(0);
          } catch (const std::runtime_error&) {
            threw.send(1);
          }
        });
        give_a_chance();
        release2.close();
        auto got = goro_test::recv_within<int>(threw);
        EXPECT_TRUE(got.has_value());
        // If the caller came too late it ran its own f (0); it must not hang.
        auto r = goro_test::recv_within(ch);
        ASSERT_TRUE(r.has_value());
        EXPECT_TRUE(r->error);
      }
    }
  });
}

// A call() joining a call_chan in flight gets its value, shared.
TEST(Singleflight, CallJoinsCallChan) {
  goro::run([] {
    sf_group g;
    auto release = goro::make_chan<int>();
    auto ch = g.call_chan("key", [release] {
      goro::select(release.on_recv(), goro::after(wait_limit).on_recv());
      return std::string("first");
    });
    auto got = goro::make_chan<goro::singleflight::result<std::string>>(1);
    goro::go([&g, got] { got.send(g.call("key", [] { return std::string("second"); })); });
    give_a_chance();
    release.close();
    auto r = goro_test::recv_within(goro::recv_chan<goro::singleflight::result<std::string>>(got));
    ASSERT_TRUE(r.has_value());
    auto cr = goro_test::recv_within(ch);
    ASSERT_TRUE(cr.has_value());
    EXPECT_EQ(cr->val, "first");
    if (r->val == "first") {
      EXPECT_TRUE(r->shared);
      EXPECT_TRUE(cr->shared);
    }
  });
}

// x/sync's TestForget: after forget, a new call runs f although the first is
// still in flight; the first finishing does not forget the second, so a
// third call joins the second.
TEST(Singleflight, Forget) {
  goro::run([] {
    sf_group g;
    auto first_started = goro::make_chan<int>();
    auto unblock_first = goro::make_chan<int>();
    auto first_finished = goro::make_chan<int>();
    auto first_returned = goro::make_chan<std::string>(1);
    goro::go([&g, first_started, unblock_first, first_finished, first_returned] {
      auto r = g.call("key", [&] {
        first_started.close();
        goro::select(unblock_first.on_recv(), goro::after(wait_limit).on_recv());
        first_finished.close();
        return std::string("1");
      });
      first_returned.send(r.val);
    });
    ASSERT_TRUE(closed_within<int>(first_started));
    g.forget("key");
    auto unblock_second = goro::make_chan<int>();
    auto second = g.call_chan("key", [unblock_second] {
      goro::select(unblock_second.on_recv(), goro::after(wait_limit).on_recv());
      return std::string("2");
    });
    unblock_first.close();
    ASSERT_TRUE(closed_within<int>(first_finished));
    EXPECT_EQ(goro_test::recv_within<std::string>(first_returned), "1");
    auto third = g.call_chan("key", [] { return std::string("3"); });
    unblock_second.close();
    auto r2 = goro_test::recv_within(second);
    auto r3 = goro_test::recv_within(third);
    ASSERT_TRUE(r2.has_value() && r3.has_value());
    EXPECT_EQ(r2->val, "2");
    EXPECT_EQ(r3->val, "2") << "the third call should have joined the second";
    EXPECT_TRUE(r3->shared);
  });
}

// Different keys do not wait for each other.
TEST(Singleflight, KeysAreIndependent) {
  goro::run([] {
    goro::singleflight::group<int, int> g;
    auto release = goro::make_chan<int>();
    auto a = g.call_chan(1, [release] {
      goro::select(release.on_recv(), goro::after(wait_limit).on_recv());
      return 10;
    });
    auto r = g.call(2, [] { return 20; });  // does not wait for key 1
    EXPECT_EQ(r.val, 20);
    EXPECT_FALSE(r.shared);
    release.close();
    auto ra = goro_test::recv_within(a);
    ASSERT_TRUE(ra.has_value());
    EXPECT_EQ(ra->val, 10);
  });
}

// Not an x/sync test: in Go the GC keeps a group alive while the goroutine
// that ran a call finishes. Here a caller that call() lets go may destroy
// the group at once, although that goroutine (call_chan's, which nobody
// waits for) has not returned: it must be done with the group before it
// lets the waiters go. Hash and Eq, which the group runs under its lock,
// count their calls after the delete and yield first, so that the caller
// gets to run (and delete) in any window the runner leaves open; ASan
// would report the use after free too.
TEST(Singleflight, GroupMayBeDestroyedAsSoonAsCallReturns) {
  static std::atomic<bool> deleted{false};
  static std::atomic<int> late{0};
  struct probe {
    static void check() {
      for (int i = 0; i < 3; ++i) goro::yield();
      if (deleted.load()) late.fetch_add(1);
    }
  };
  struct hash {
    std::size_t operator()(const std::string& k) const {
      probe::check();
      return std::hash<std::string>{}(k);
    }
  };
  struct eq {
    bool operator()(const std::string& a, const std::string& b) const {
      probe::check();
      return a == b;
    }
  };
  using group = goro::singleflight::group<std::string, std::string, hash, eq>;
  late.store(0);
  goro::run([] {
    int joined = 0;
    for (int round = 0; round < scaled(40); ++round) {
      deleted.store(false);
      auto* g = new group;
      auto release = goro::make_chan<int>();
      auto ch = g->call_chan("key", [release] {
        goro::select(release.on_recv(), goro::after(wait_limit).on_recv());
        return std::string("first");
      });
      auto got = goro::make_chan<int>(1);
      goro::go([g, got] {
        // Joined the flight in flight: delete the group right away. Else
        // (too late to join) the test deletes it once the flight is over.
        bool dup = g->call("key", [] { return std::string("second"); }).val == "first";
        if (dup) {
          deleted.store(true);
          delete g;
        }
        got.send(dup ? 1 : 0);
      });
      give_a_chance();  // for the call to join the flight
      release.close();
      auto dup = goro_test::recv_within<int>(got);
      auto r = goro_test::recv_within(ch);
      ASSERT_TRUE(dup.has_value() && r.has_value());
      EXPECT_EQ(r->val, "first");
      if (*dup == 1) {
        ++joined;
      } else {
        delete g;
      }
    }
    EXPECT_EQ(late.load(), 0) << "the goroutine that ran the call used the group after a caller had returned";
    EXPECT_GT(joined, 0) << "no call joined the flight in flight: nothing was tested";
  });
}

// ---- semaphore::acquire(ctx, n) ------------------------------------------------

// Uncontended: takes the units at once.
TEST(SemaphoreCtx, AcquireTakesFreeUnits) {
  goro::run([] {
    goro::semaphore sem(5);
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    EXPECT_FALSE(sem.acquire(ctx, 3));
    EXPECT_FALSE(sem.acquire(goro::background(), 2));
    EXPECT_FALSE(sem.try_acquire(1));
    sem.release(5);
    EXPECT_TRUE(sem.try_acquire(5));
    sem.release(5);
    cancel();
  });
}

// A context that is done already fails even if the units are free (x/sync's
// Acquire, which checks ctx.Done() before the fast path).
TEST(SemaphoreCtx, DoneContextFailsEvenIfUnitsAreFree) {
  goro::run([] {
    goro::semaphore sem(5);
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    cancel();
    EXPECT_EQ(sem.acquire(ctx, 1), goro::errc::canceled);
    EXPECT_EQ(sem.acquire(ctx, 0), goro::errc::canceled);
    auto [t, tcancel] = goro::with_timeout(goro::background(), -1s);
    EXPECT_EQ(sem.acquire(t, 2), goro::errc::deadline_exceeded);
    EXPECT_TRUE(sem.try_acquire(5)) << "a failed acquire took units";
    sem.release(5);
    tcancel();
  });
}

// A waiter whose context is cancelled returns ctx.err() and takes nothing;
// the semaphore is fully usable afterwards.
TEST(SemaphoreCtx, CancelledWaiterTakesNothing) {
  goro::run([] {
    auto sem = std::make_shared<goro::semaphore>(4);
    sem->acquire(4);
    auto [ctx, cancel] = goro::with_cancel_cause(goro::background());
    auto result = goro::make_chan<std::error_code>(1);
    goro::go([sem, ctx = ctx, result] { result.send(sem->acquire(ctx, 2)); });
    ASSERT_TRUE(goro_test::until_receivers(ctx.done(), 1)) << "the waiter never waited on ctx.done()";
    cancel(io_error());
    EXPECT_EQ(goro_test::recv_within<std::error_code>(result), std::error_code(goro::errc::canceled));
    sem->release(4);
    EXPECT_TRUE(sem->try_acquire(4)) << "the cancelled waiter kept units or stayed queued";
    sem->release(4);
    // And again with a deadline.
    sem->acquire(3);
    auto [t, tcancel] = goro::with_timeout(goro::background(), 10ms);
    EXPECT_EQ(sem->acquire(t, 2), goro::errc::deadline_exceeded);
    sem->release(3);
    EXPECT_TRUE(sem->try_acquire(4));
    sem->release(4);
    tcancel();
  });
}

// x/sync's TestAllocCancelDoesntStarve: a large waiter at the front holds
// back a small one; cancelling the large one lets the small one through.
TEST(SemaphoreCtx, CancelledFrontWaiterUnblocksTheOnesBehind) {
  goro::run([] {
    auto sem = std::make_shared<goro::semaphore>(10);
    sem->acquire(1);
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    auto big = goro::make_chan<std::error_code>(1);
    goro::go([sem, ctx = ctx, big] { big.send(sem->acquire(ctx, 10)); });
    // Until the big acquire waits, try_acquire succeeds.
    ASSERT_TRUE(goro_test::eventually([&] {
      if (!sem->try_acquire(1)) return true;
      sem->release(1);
      return false;
    }));
    auto small = goro::make_chan<std::error_code>(1);
    auto [bound, bcancel] = goro::with_timeout(goro::background(), wait_limit);
    goro::go([sem, bound = bound, small] { small.send(sem->acquire(bound, 1)); });
    give_a_chance();
    EXPECT_FALSE(ready_now(small)) << "a small waiter overtook the large one at the front";
    goro::go([cancel = cancel] { cancel(); });
    EXPECT_EQ(goro_test::recv_within<std::error_code>(small), std::error_code());
    EXPECT_EQ(goro_test::recv_within<std::error_code>(big), std::error_code(goro::errc::canceled));
    sem->release(2);
    EXPECT_TRUE(sem->try_acquire(10));
    sem->release(10);
    bcancel();
  });
}

// A grant racing the cancel: whichever wins, the waiter ends up holding the
// units (no error) or nothing (the error), never units it does not report.
TEST(SemaphoreCtx, GrantRacingCancelLosesNoUnits) {
  goro::run([] {
    const int rounds = static_cast<int>(scaled(2000, 300));
    auto sem = std::make_shared<goro::semaphore>(1);
    int granted = 0;
    for (int i = 0; i < rounds; ++i) {
      sem->acquire(1);
      auto [ctx, cancel] = goro::with_cancel(goro::background());
      auto result = goro::make_chan<std::error_code>(1);
      goro::go([sem, ctx = ctx, result] { result.send(sem->acquire(ctx, 1)); });
      if (i % 3 != 0) goro_test::until_receivers(ctx.done(), 1, 1s);
      auto released = goro::make_chan<int>(1);
      goro::go([sem, released] {
        sem->release(1);
        released.send(1);
      });
      if (i % 2 == 0) goro::yield();
      cancel();
      auto r = goro_test::recv_within<std::error_code>(result);
      ASSERT_TRUE(r.has_value());
      ASSERT_TRUE(wait_for(released, 1));
      if (!*r) {
        ++granted;
        sem->release(1);
      } else {
        EXPECT_EQ(*r, goro::errc::canceled);
      }
      ASSERT_TRUE(sem->try_acquire(1)) << "round " << i << ": units lost (acquire returned " << r->message() << ")";
      sem->release(1);
    }
    std::printf("[ info ] %d of %d racing waiters were granted\n", granted, rounds);
  });
}

// n greater than the size can never succeed: with a context that can end,
// acquire waits for it and returns its err; with one that cannot, throws.
TEST(SemaphoreCtx, MoreThanTheSizeWaitsForTheContext) {
  goro::run([] {
    auto sem = std::make_shared<goro::semaphore>(2);
    auto [t, tcancel] = goro::with_timeout(goro::background(), 10ms);
    EXPECT_EQ(sem->acquire(t, 3), goro::errc::deadline_exceeded);
    tcancel();

    auto [ctx, cancel] = goro::with_cancel(goro::background());
    auto result = goro::make_chan<std::error_code>(1);
    goro::go([sem, ctx = ctx, result] { result.send(sem->acquire(ctx, 3)); });
    give_a_chance();
    EXPECT_FALSE(ready_now(result));
    cancel();
    EXPECT_EQ(goro_test::recv_within<std::error_code>(result), std::error_code(goro::errc::canceled));
    EXPECT_TRUE(sem->try_acquire(2));
    sem->release(2);

    EXPECT_THROW((void)sem->acquire(goro::background(), 3), std::invalid_argument);
    EXPECT_THROW((void)sem->acquire(goro::background(), -1), std::invalid_argument);
  });
}

// A context that can never be cancelled: acquire waits like the plain one.
TEST(SemaphoreCtx, BackgroundContextWaitsForARelease) {
  goro::run([] {
    auto sem = std::make_shared<goro::semaphore>(1);
    sem->acquire(1);
    auto result = goro::make_chan<std::error_code>(1);
    goro::go([sem, result] { result.send(sem->acquire(goro::background(), 1)); });
    ASSERT_TRUE(goro_test::eventually([&] { return !sem->try_acquire(0); })) << "the waiter never queued";
    give_a_chance();
    EXPECT_FALSE(ready_now(result));
    sem->release(1);
    EXPECT_EQ(goro_test::recv_within<std::error_code>(result), std::error_code());
    sem->release(1);
    EXPECT_TRUE(sem->try_acquire(1));
    sem->release(1);
  });
}

}  // namespace
