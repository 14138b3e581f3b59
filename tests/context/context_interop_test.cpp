// tests/context/context_interop_test.cpp: goro's contexts with std::stop_token,
// goro::sleep(ctx, d), plain threads, and a cancel storm.
//
// Conventions as in context_test.cpp.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "context/context_helpers.hpp"

namespace {

using namespace std::chrono_literals;
using namespace ctx_test;
using goro_test::wait_limit;
using steady = std::chrono::steady_clock;

const goro::context_key<std::string> name_key;

// ---- with_stop_token ------------------------------------------------------------

// A std::jthread's stop request cancels the context (canceled, values kept).
TEST(ContextStopToken, WithStopTokenFromJthread) {
  goro::run([] {
    std::jthread t([](std::stop_token st) {
      auto deadline = steady::now() + wait_limit;
      while (!st.stop_requested() && steady::now() < deadline) std::this_thread::sleep_for(1ms);
    });
    auto [ctx, cancel] = goro::with_stop_token(goro::with_value(goro::background(), name_key, "v"), t.get_stop_token());
    EXPECT_TRUE(ctx.done());
    EXPECT_FALSE(is_done(ctx));
    t.request_stop();
    EXPECT_TRUE(done_within(ctx));
    EXPECT_EQ(ctx.err(), goro::errc::canceled);
    EXPECT_EQ(goro::cause(ctx), goro::errc::canceled);
    EXPECT_EQ(*ctx.value(name_key), "v");
    cancel();
    t.join();
  });
}

// A stop requested from a plain thread while a goroutine waits on done().
TEST(ContextStopToken, StopFromAThreadWakesAGoroutine) {
  goro::run([] {
    std::stop_source src;
    auto [ctx, cancel] = goro::with_stop_token(goro::background(), src.get_token());
    auto woke = goro::make_chan<int>(1);
    goro::go([ctx = ctx, woke] { woke.send(done_within(ctx) ? 1 : 0); });
    ASSERT_TRUE(goro_test::until_receivers(ctx.done(), 1));
    bounded_thread t([src]() mutable { src.request_stop(); });
    EXPECT_EQ(goro_test::recv_within<int>(woke), 1);
    EXPECT_TRUE(t.join());
    cancel();
  });
}

// A token stopped already: the context is born cancelled.
TEST(ContextStopToken, StoppedTokenGivesCancelledContext) {
  goro::run([] {
    std::stop_source src;
    src.request_stop();
    auto [ctx, cancel] = goro::with_stop_token(goro::background(), src.get_token());
    EXPECT_TRUE(is_done(ctx));
    EXPECT_EQ(ctx.err(), goro::errc::canceled);
    cancel();
  });
}

// The parent's cancel and the cancel function work as for with_cancel; a
// token that can never stop leaves only those.
TEST(ContextStopToken, ParentAndCancelFuncStillCancel) {
  goro::run([] {
    std::stop_source src;
    auto [parent, pcancel] = goro::with_cancel_cause(goro::background());
    auto [ctx, cancel] = goro::with_stop_token(parent, src.get_token());
    pcancel(io_error());
    EXPECT_TRUE(done_within(ctx));
    EXPECT_EQ(goro::cause(ctx), io_error());
    src.request_stop();  // after the cancel: changes nothing
    EXPECT_EQ(goro::cause(ctx), io_error());
    cancel();

    auto [never, ncancel] = goro::with_stop_token(goro::background(), std::stop_token());
    EXPECT_FALSE(is_done(never));
    ncancel();
    EXPECT_TRUE(is_done(never));
    EXPECT_EQ(never.err(), goro::errc::canceled);
  });
}

// A context gone before its token stops: the stop request must not touch it
// (its stop callback was deregistered).
TEST(ContextStopToken, StopAfterTheContextIsGone) {
  goro::run([] {
    std::stop_source src;
    for (int i = 0; i < 100; ++i) {
      auto [ctx, cancel] = goro::with_stop_token(goro::background(), src.get_token());
      if (i % 2 == 0) cancel();
    }
    auto [parent, pcancel] = goro::with_cancel(goro::background());
    {
      auto [ctx, cancel] = goro::with_stop_token(parent, src.get_token());
      cancel();
    }
    pcancel();
    src.request_stop();
    EXPECT_TRUE(src.stop_requested());
  });
}

// ---- to_stop_token -----------------------------------------------------------------

// A context that can never be cancelled gives a token that can never stop.
TEST(ContextStopToken, ToStopTokenOfBackgroundNeverStops) {
  goro::run([] {
    EXPECT_FALSE(goro::to_stop_token(goro::background()).stop_possible());
    EXPECT_FALSE(goro::to_stop_token(goro::todo()).stop_possible());
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    EXPECT_FALSE(goro::to_stop_token(goro::without_cancel(ctx)).stop_possible());
    EXPECT_FALSE(goro::to_stop_token(goro::with_value(goro::background(), name_key, "x")).stop_possible());
    cancel();
  });
}

// The token's stop is requested (from a goroutine) once the context is
// done: waited for with a stop_callback that closes a channel.
TEST(ContextStopToken, ToStopTokenStopsOnCancel) {
  goro::run([] {
    for (int kind = 0; kind < 3; ++kind) {
      std::pair<goro::context, goro::cancel_func> p =
          kind == 2 ? goro::with_timeout(goro::background(), 10ms) : goro::with_cancel(goro::background());
      auto& [ctx, cancel] = p;
      if (kind == 1) cancel();  // done before the token is made
      std::stop_token tok = goro::to_stop_token(ctx);
      EXPECT_TRUE(tok.stop_possible());
      if (kind == 0) {
        give_a_chance();
        EXPECT_FALSE(tok.stop_requested()) << "stop requested before the context is done";
      }
      auto stopped = goro::make_chan<int>();
      std::stop_callback cb(tok, [stopped] { stopped.close(); });
      if (kind == 0) cancel();
      EXPECT_TRUE(closed_within<int>(stopped)) << "kind " << kind;
      EXPECT_TRUE(tok.stop_requested()) << "kind " << kind;
      cancel();
    }
  });
}

// Round trip: a context's token drives another context.
TEST(ContextStopToken, RoundTrip) {
  goro::run([] {
    auto [a, acancel] = goro::with_cancel(goro::background());
    auto [b, bcancel] = goro::with_stop_token(goro::background(), goro::to_stop_token(a));
    EXPECT_FALSE(is_done(b));
    acancel();
    EXPECT_TRUE(done_within(b));
    bcancel();
  });
}

// ---- sleep(ctx, d) -------------------------------------------------------------------

// Not cancelled: sleeps d and returns empty (also with no done channel).
TEST(ContextSleep, SleepsTheFullDurationWhenNotCancelled) {
  goro::run([] {
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    for (const goro::context& c : {goro::background(), ctx}) {
      auto start = steady::now();
      EXPECT_FALSE(goro::sleep(c, 20ms));
      EXPECT_GE(steady::now() - start, 20ms);
    }
    EXPECT_FALSE(goro::sleep(ctx, 0ns));
    EXPECT_FALSE(goro::sleep(ctx, -1s));
    cancel();
  });
}

// Cancelled already: returns err at once, even for d <= 0.
TEST(ContextSleep, ReturnsAtOnceOnADoneContext) {
  goro::run([] {
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    cancel();
    auto start = steady::now();
    EXPECT_EQ(goro::sleep(ctx, 1h), goro::errc::canceled);
    EXPECT_EQ(goro::sleep(ctx, 0ns), goro::errc::canceled);
    EXPECT_LT(steady::now() - start, wait_limit);
  });
}

// Cancelled early (from another goroutine, or by a deadline): returns that
// err long before d.
TEST(ContextSleep, ReturnsErrWhenCancelledEarly) {
  goro::run([] {
    {
      // The outer timeout only bounds the test if the cancel were lost.
      auto [outer, ocancel] = goro::with_timeout(goro::background(), wait_limit);
      auto [ctx, cancel] = goro::with_cancel(outer);
      auto result = goro::make_chan<std::error_code>(1);
      goro::go([ctx = ctx, result] { result.send(goro::sleep(ctx, 1h)); });
      ASSERT_TRUE(goro_test::until_receivers(ctx.done(), 1));
      cancel();
      EXPECT_EQ(goro_test::recv_within<std::error_code>(result), std::error_code(goro::errc::canceled));
      ocancel();
    }
    {
      auto [ctx, cancel] = goro::with_timeout(goro::background(), 20ms);
      auto result = goro::make_chan<std::error_code>(1);
      goro::go([ctx = ctx, result] { result.send(goro::sleep(ctx, 1h)); });
      EXPECT_EQ(goro_test::recv_within<std::error_code>(result), std::error_code(goro::errc::deadline_exceeded));
      cancel();
    }
  });
}

// ---- plain threads -------------------------------------------------------------------

// Contexts made, waited on and cancelled from plain threads, no goroutine
// of the test's own: children waiting in threads see the root's cancel;
// a timeout fires for a thread; sleep(ctx, d) and after_func work there.
TEST(ContextThreads, ContextsFromPlainThreads) {
  auto [root, cancel] = goro::with_cancel_cause(goro::background());
  constexpr int threads = 4;
  auto results = goro::make_chan<int>(threads);
  auto ready = goro::make_chan<int>(threads);
  std::vector<std::unique_ptr<bounded_thread>> ts;
  for (int i = 0; i < threads; ++i) {
    ts.push_back(std::make_unique<bounded_thread>([root = root, results, ready] {
      auto [child, ccancel] = goro::with_cancel(root);
      ready.send(1);
      bool woke = done_within(child);
      results.send(woke && child.err() == goro::errc::canceled && goro::cause(child) == io_error() ? 1 : 0);
      ccancel();
    }));
  }
  EXPECT_TRUE(wait_for(ready, threads));
  bounded_thread canceller([cancel = cancel] { cancel(io_error()); });
  for (int i = 0; i < threads; ++i) EXPECT_EQ(goro_test::recv_within<int>(results), 1);
  for (auto& t : ts) EXPECT_TRUE(t->join());
  EXPECT_TRUE(canceller.join());

  bounded_thread timed([results] {
    auto [ctx, tcancel] = goro::with_timeout(goro::background(), 10ms);
    bool ok = done_within(ctx) && ctx.err() == goro::errc::deadline_exceeded;
    auto [ctx2, c2] = goro::with_timeout(goro::background(), 10ms);
    ok = ok && goro::sleep(ctx2, 1h) == goro::errc::deadline_exceeded;
    ok = ok && !goro::sleep(goro::background(), 1ms);
    results.send(ok ? 1 : 0);
    tcancel();
    c2();
  });
  EXPECT_EQ(goro_test::recv_within<int>(results), 1);
  EXPECT_TRUE(timed.join());

  auto [actx, acancel] = goro::with_cancel(goro::background());
  auto ids = goro::make_chan<std::uint64_t>(1);
  auto stop = goro::after_func(actx, [ids] { ids.send(goro::this_goroutine::id()); });
  bounded_thread t([acancel = acancel] { acancel(); });
  auto id = goro_test::recv_within<std::uint64_t>(ids);
  ASSERT_TRUE(id.has_value());
  EXPECT_NE(*id, 0u) << "after_func's f runs in a goroutine";
  EXPECT_FALSE(stop());
  EXPECT_TRUE(t.join());
}

// Goroutines and threads mixed, cancelling each other's contexts at once
// (for the race detector).
TEST(ContextThreads, ThreadsAndGoroutinesShareATree) {
  goro::run([] {
    auto [root, rcancel] = goro::with_cancel(goro::background());
    constexpr int each = 8;
    auto finished = goro::make_chan<int>(2 * each);
    std::vector<std::unique_ptr<bounded_thread>> ts;
    for (int i = 0; i < each; ++i) {
      auto body = [root = root, finished] {
        for (int r = 0; r < 200; ++r) {
          auto [c, cancel] = goro::with_cancel(root);
          auto [t, tcancel] = goro::with_timeout(c, (r % 7 == 0) ? 0ms : 1h);
          auto stop = goro::after_func(t, [] {});
          if (r % 2 == 0) {
            cancel();
          } else {
            tcancel();
          }
          (void)t.err();
          (void)goro::cause(t);
          (void)stop();  // if f started, it returns on its own
          cancel();
          tcancel();
        }
        finished.send(1);
      };
      goro::go(body);
      ts.push_back(std::make_unique<bounded_thread>(body));
    }
    EXPECT_TRUE(wait_for(finished, 2 * each, 60s));
    for (auto& t : ts) EXPECT_TRUE(t->join());
    rcancel();
  });
}

// ---- cancel storm -------------------------------------------------------------------

// 100,000 goroutines (fewer under a sanitizer), each waiting on the done
// channel of its own with_cancel child of one root; cancelling the root
// wakes every one, each sees canceled, and none is left behind.
TEST(ContextStress, CancelStorm) {
  const std::int64_t n = scaled(100000, 5000);
  constexpr auto limit = std::chrono::seconds(120);
  goro::run([n, limit] {
    const std::int64_t baseline = goro::num_goroutine();
    auto [root, rcancel] = goro::with_cancel(goro::background());
    auto abort = goro::make_chan<int>();  // closed only if the test fails
    auto wg = std::make_shared<goro::wait_group>();
    auto started = std::make_shared<std::atomic<std::int64_t>>(0);
    auto good = std::make_shared<std::atomic<std::int64_t>>(0);
    wg->add(n);
    for (std::int64_t i = 0; i < n; ++i) {
      goro::go([root = root, abort, wg, started, good] {
        auto [child, cancel] = goro::with_cancel(root);
        auto done = child.done();
        started->fetch_add(1, std::memory_order_relaxed);
        if (goro::select(done.on_recv(), abort.on_recv()) == 0 && child.err() == goro::errc::canceled) {
          good->fetch_add(1, std::memory_order_relaxed);
        }
        cancel();
        wg->done();
      });
    }
    bool all_started = goro_test::eventually([&] { return started->load() == n; }, limit);
    EXPECT_TRUE(all_started) << started->load() << " of " << n << " started";
    EXPECT_EQ(good->load(), 0) << "woken before the root's cancel";
    auto start = steady::now();
    rcancel();
    auto all_done = goro::make_chan<int>();
    goro::go([wg, all_done] {
      wg->wait();
      all_done.close();
    });
    bool finished = goro::select(all_done.on_recv(), goro::after(limit).on_recv()) == 0;
    EXPECT_TRUE(finished) << "not every waiter woke within " << limit.count() << " s";
    if (!finished) {
      abort.close();
      EXPECT_TRUE(closed_within<int>(all_done, limit));
    }
    EXPECT_EQ(good->load(), n);
    std::printf("[ info ] %lld waiters woken in %.3f s\n", static_cast<long long>(n),
                std::chrono::duration<double>(steady::now() - start).count());
    EXPECT_TRUE(goro_test::eventually([&] { return goro::num_goroutine() <= baseline; }, limit));
  });
}

// ---- memory ------------------------------------------------------------------------

// Not a Go test (Go's GC covers it): a derived context that is never
// cancelled, once every handle to it is gone, leaves its parent's children
// and is freed, although the parent lives on uncancelled. Observed through
// a value node above it, which it keeps alive while it exists.
struct live_counted {
  std::shared_ptr<std::atomic<int>> live;
  explicit live_counted(std::shared_ptr<std::atomic<int>> l) : live(std::move(l)) { ++*live; }
  live_counted(const live_counted& o) : live(o.live) { ++*live; }
  live_counted(live_counted&& o) noexcept : live(o.live) { ++*live; }
  ~live_counted() { --*live; }
};
const goro::context_key<live_counted> counted_key;

TEST(ContextMemory, UncancelledChildrenAreFreedWhenDropped) {
  goro::run([] {
    auto live = std::make_shared<std::atomic<int>>(0);
    auto [root, cancel_root] = goro::with_cancel(goro::background());
    {
      auto v = goro::with_value(root, counted_key, live_counted(live));
      auto [child, cancel_child] = goro::with_cancel(v);      // never cancelled
      auto [timed, cancel_timed] = goro::with_timeout(child, 1h);  // never cancelled
      auto [gc, cancel_gc] = goro::with_cancel(timed);
      EXPECT_EQ(live->load(), 1);
      EXPECT_NE(gc.value(counted_key), nullptr);
    }
    EXPECT_EQ(live->load(), 0) << "an uncancelled, dropped child stayed in its parent's list";
    // One whose done channel is still held stays registered (its
    // cancellation can be seen), and is cancelled with its parent.
    goro::recv_chan<std::monostate> done;
    {
      auto v = goro::with_value(root, counted_key, live_counted(live));
      auto [child, cancel_child] = goro::with_cancel(v);
      done = child.done();
    }
    EXPECT_EQ(live->load(), 1);
    cancel_root();
    EXPECT_EQ(goro::select(done.on_recv(), goro::after(wait_limit).on_recv()), 0u);
    done = {};
    EXPECT_EQ(live->load(), 0);
  });
}

}  // namespace
