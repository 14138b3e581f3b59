// tests/context/context_test.cpp: goro's context package (goro/context.hpp).
//
// Conventions as in tests/chan/chan_test.cpp: tests run inside goro::run
// unless they are about plain threads; every wait is bounded; every
// goroutine a test starts (after_func's and to_stop_token's too) has
// returned before the test ends; sleeps only give something that must NOT
// happen a chance to happen. Every context a test makes is cancelled before
// it ends (a context left registered with a cancellable parent is only
// unregistered by a cancel).
//
// Tests that port a test of Go's src/context (context_test.go, x_test.go)
// say which.
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <goro/testing.hpp>

#include "context/context_helpers.hpp"

namespace {

using namespace std::chrono_literals;
using namespace ctx_test;
using goro_test::wait_limit;
using steady = std::chrono::steady_clock;

const goro::context_key<std::string> k1;
const goro::context_key<std::string> k2;
const goro::context_key<std::string> k3;
const goro::context_key<int> int_key;
const goro::context_key<std::shared_ptr<int>> ptr_key;

// ---- errors --------------------------------------------------------------------

// Go's TestDeadlineExceededSupportsTimeout, and the messages Go prints.
TEST(Context, ErrorCodesHaveGoMessagesAndStdEquivalents) {
  std::error_code canceled = goro::errc::canceled;
  std::error_code deadline = goro::errc::deadline_exceeded;
  EXPECT_EQ(canceled.message(), "context canceled");
  EXPECT_EQ(deadline.message(), "context deadline exceeded");
  EXPECT_EQ(&canceled.category(), &goro::context_category());
  EXPECT_TRUE(canceled == std::errc::operation_canceled);
  EXPECT_TRUE(deadline == std::errc::timed_out);
  EXPECT_FALSE(canceled == std::errc::timed_out);
  EXPECT_FALSE(deadline == std::errc::operation_canceled);
  EXPECT_NE(canceled, deadline);
  EXPECT_TRUE(canceled);  // a context error is an error
}

// ---- background and todo ------------------------------------------------------------

// Go's TestBackground and TestTODO.
TEST(Context, BackgroundAndTodoAreNeverDone) {
  goro::run([] {
    for (const goro::context& ctx : {goro::background(), goro::todo(), goro::context()}) {
      EXPECT_FALSE(ctx.done()) << "done() of a context that cannot be cancelled is the nil channel";
      EXPECT_EQ(goro::select(ctx.done().on_recv(), goro::on_default()), 1u);
      EXPECT_FALSE(ctx.err());
      EXPECT_EQ(ctx.deadline(), std::nullopt);
      EXPECT_EQ(ctx.value(k1), nullptr);
      EXPECT_FALSE(goro::cause(ctx));
    }
    EXPECT_TRUE(goro::background() == goro::background());
    EXPECT_TRUE(goro::context() == goro::background()) << "a default context is the background context";
    EXPECT_TRUE(goro::todo() == goro::todo());
    EXPECT_FALSE(goro::todo() == goro::background());
    // A nil done channel in a select with a timer: the timer wins.
    EXPECT_EQ(goro::select(goro::background().done().on_recv(), goro::after(1ms).on_recv()), 1u);
  });
}

// ---- with_cancel ------------------------------------------------------------------

// Go's TestWithCancel: cancelling a context cancels every descendant (through
// value contexts too), closes their done channels and sets err(); cancel is
// idempotent.
TEST(Context, WithCancelCancelsChildrenAndGrandchildren) {
  goro::run([] {
    auto [c1, cancel1] = goro::with_cancel(goro::background());
    goro::context o = goro::with_value(c1, k1, "o");
    auto [c2, cancel2] = goro::with_cancel(o);
    auto [c3, cancel3] = goro::with_cancel(c2);
    auto [t4, cancel4] = goro::with_timeout(c3, 1h);
    std::vector<goro::context> all = {c1, o, c2, c3, t4};
    for (std::size_t i = 0; i < all.size(); ++i) {
      EXPECT_TRUE(all[i].done()) << "context " << i << ": a cancellable context has a done channel";
      EXPECT_FALSE(all[i].err()) << "context " << i;
      EXPECT_FALSE(is_done(all[i])) << "context " << i << " done before cancel";
    }
    EXPECT_TRUE(cancel1);
    cancel1();
    for (std::size_t i = 0; i < all.size(); ++i) {
      EXPECT_TRUE(done_within(all[i])) << "context " << i << " not done after its ancestor's cancel";
      EXPECT_EQ(all[i].err(), goro::errc::canceled) << "context " << i;
      EXPECT_TRUE(all[i].err() == std::errc::operation_canceled) << "context " << i;
      EXPECT_TRUE(is_done(all[i])) << "done stays closed";
    }
    EXPECT_EQ(o.value(k1)->compare("o"), 0) << "values outlive the cancel";
    // Idempotent: again, and the children's own cancels after the parent's.
    cancel1();
    cancel2();
    cancel3(goro::make_error_code(goro::errc::deadline_exceeded));
    cancel4();
    for (std::size_t i = 0; i < all.size(); ++i) {
      EXPECT_EQ(all[i].err(), goro::errc::canceled) << "context " << i << ": a second cancel changed err";
      EXPECT_EQ(goro::cause(all[i]), goro::errc::canceled) << "context " << i << ": a second cancel changed cause";
    }
    goro::cancel_func none;
    EXPECT_FALSE(none);
    none();  // does nothing
  });
}

// done() of one context is the same channel every time, closed once.
TEST(Context, DoneIsOneChannelForTheContextsLife) {
  goro::run([] {
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    auto d1 = ctx.done();
    auto d2 = ctx.done();
    EXPECT_TRUE(d1 == d2);
    goro::context copy = ctx;
    EXPECT_TRUE(copy == ctx);
    EXPECT_TRUE(copy.done() == d1);
    cancel();
    EXPECT_TRUE(ready_now(d1));
    EXPECT_TRUE(ready_now(d2));
    EXPECT_TRUE(ctx.done() == d1);
    bool closed = false;
    EXPECT_EQ(d1.try_recv(&closed), std::nullopt);
    EXPECT_TRUE(closed);
    // done() asked for the first time after the cancel is closed too.
    auto [late, late_cancel] = goro::with_cancel(goro::background());
    late_cancel();
    EXPECT_TRUE(is_done(late));
  });
}

// Go's TestParentFinishesChild: a parent's cancel finishes every kind of
// child, with canceled (not deadline_exceeded) for timer children.
TEST(Context, ParentFinishesChild) {
  goro::run([] {
    auto [parent, cancel] = goro::with_cancel(goro::background());
    auto [cancel_child, stop1] = goro::with_cancel(parent);
    goro::context value_child = goro::with_value(parent, k1, "v");
    auto [timer_child, stop2] = goro::with_timeout(value_child, 1h);
    auto [cause_child, stop3] = goro::with_cancel_cause(timer_child);
    auto after_ran = goro::make_chan<int>(1);
    auto stop_after = goro::after_func(parent, [after_ran] { after_ran.send(1); });
    for (const auto& c : {parent, cancel_child, value_child, timer_child, cause_child}) {
      EXPECT_FALSE(is_done(c));
    }
    cancel();
    for (const auto& c : {parent, cancel_child, value_child, timer_child, cause_child}) {
      EXPECT_TRUE(done_within(c));
      EXPECT_EQ(c.err(), goro::errc::canceled);
      EXPECT_EQ(goro::cause(c), goro::errc::canceled);
    }
    EXPECT_TRUE(wait_for(after_ran, 1));
    EXPECT_FALSE(stop_after()) << "stop() after f started";
    stop1();
    stop2();
    stop3();
  });
}

// Go's TestChildFinishesFirst: a child's cancel leaves its parent alone, for
// a cancellable parent and for background.
TEST(Context, ChildFinishesFirst) {
  goro::run([] {
    auto [cancellable, pcancel] = goro::with_cancel(goro::background());
    for (const goro::context& parent : {goro::background(), cancellable}) {
      auto [child, cancel] = goro::with_cancel(parent);
      cancel();
      EXPECT_TRUE(is_done(child));
      EXPECT_EQ(child.err(), goro::errc::canceled);
      EXPECT_FALSE(is_done(parent));
      EXPECT_FALSE(parent.err());
    }
    pcancel();
  });
}

// Go's TestCancelRemoves (and the reason TestChildFinishesFirst checks its
// parent's children): a cancelled child is dropped by its parent, so a
// long-lived parent with many short-lived children keeps flat memory. The
// malloc heap in use must not grow by anything like n nodes.
TEST(Context, CancelledChildrenAreRemovedFromTheirParent) {
  if (goro_test::under_sanitizer()) GTEST_SKIP() << "a sanitizer's allocator hides malloc's figures";
  goro::run([] {
    auto [parent, pcancel] = goro::with_cancel(goro::background());
    goro::context vparent = goro::with_value(parent, k1, "v");  // children anchor through it
    auto churn = [&, &parent = parent](std::int64_t n) {
      for (std::int64_t i = 0; i < n; ++i) {
        const goro::context& p = (i % 2 == 0) ? parent : vparent;
        if (i % 3 == 0) {
          auto [c, cancel] = goro::with_timeout(p, 1h);
          (void)c.done();
          cancel();
        } else {
          auto [c, cancel] = goro::with_cancel(p);
          if (i % 5 == 0) (void)c.done();
          cancel(io_error());
        }
      }
    };
    churn(2000);  // warm up
    const std::int64_t n = 100000;
    std::size_t before = mallinfo2().uordblks;
    auto start = steady::now();
    churn(n);
    double secs = std::chrono::duration<double>(steady::now() - start).count();
    std::size_t after = mallinfo2().uordblks;
    std::int64_t grown = static_cast<std::int64_t>(after) - static_cast<std::int64_t>(before);
    // A node is well over 64 bytes; a leak of each would be > 6 MB.
    EXPECT_LT(grown, n * 16) << "heap grew by " << grown << " bytes over " << n << " cancelled children";
    EXPECT_LT(secs, 30.0);
    EXPECT_FALSE(is_done(parent));
    pcancel();
  });
}

// TestCancelRemoves's AfterFunc part: a stopped after_func is dropped by its
// context at once (its function, and what that holds, destroyed) while the
// context lives on.
TEST(Context, StoppedAfterFuncsAreDroppedByTheirContext) {
  goro::run([] {
    auto [parent, pcancel] = goro::with_cancel(goro::background());
    auto held = std::make_shared<int>(0);
    const int n = static_cast<int>(scaled(10000, 1000));
    for (int i = 0; i < n; ++i) {
      {
        auto stop = goro::after_func(i % 2 == 0 ? parent : goro::with_value(parent, k1, "v"), [held] { ++*held; });
        ASSERT_EQ(held.use_count(), 2) << "iteration " << i;
        EXPECT_TRUE(stop());
      }
      ASSERT_EQ(held.use_count(), 1) << "iteration " << i << ": a stopped after_func is still held";
    }
    EXPECT_EQ(held.use_count(), 1) << "stopped after_funcs still held by the context";
    pcancel();
    give_a_chance();
    EXPECT_EQ(*held, 0) << "a stopped after_func ran";
  });
}

// Go's TestWithCancelCanceledParent: a child of a cancelled context is born
// cancelled, with the parent's cause.
TEST(Context, WithCancelOfCancelledParent) {
  goro::run([] {
    auto [parent, pcancel] = goro::with_cancel_cause(goro::background());
    pcancel(io_error());
    auto [c, cancel] = goro::with_cancel(parent);
    EXPECT_TRUE(is_done(c));
    EXPECT_EQ(c.err(), goro::errc::canceled);
    EXPECT_EQ(goro::cause(c), io_error());
    auto [t, tcancel] = goro::with_timeout(goro::with_value(parent, k1, "x"), 1h);
    EXPECT_TRUE(is_done(t));
    EXPECT_EQ(t.err(), goro::errc::canceled);
    EXPECT_EQ(goro::cause(t), io_error());
    cancel();
    tcancel();
  });
}

// Go's TestSimultaneousCancels: a tree of contexts, every cancel started at
// once in its own goroutine; every context ends done.
TEST(Context, SimultaneousCancels) {
  goro::run([] {
    std::vector<std::pair<goro::context, goro::cancel_func>> all;
    all.push_back(goro::with_cancel(goro::background()));
    for (std::size_t q = 0; q < all.size() && all.size() < 100; ++q) {
      for (int i = 0; i < 4; ++i) {
        goro::context parent = all[q].first;
        all.push_back(i == 3 ? goro::with_timeout(parent, 1h) : goro::with_cancel(parent));
      }
    }
    auto finished = goro::make_chan<int>(static_cast<int>(all.size()));
    for (std::size_t i = all.size(); i-- > 0;) {
      goro::go([cancel = all[i].second, finished] {
        cancel();
        finished.send(1);
      });
    }
    for (auto& [ctx, cancel] : all) {
      EXPECT_TRUE(done_within(ctx));
      EXPECT_EQ(ctx.err(), goro::errc::canceled);
    }
    EXPECT_TRUE(wait_for(finished, static_cast<int>(all.size())));
  });
}

// Go's TestInterlockedCancels: a goroutine that cancels a child when it sees
// the parent done.
TEST(Context, InterlockedCancels) {
  goro::run([] {
    auto [parent, cancel_parent] = goro::with_cancel(goro::background());
    auto [child, cancel_child] = goro::with_cancel(parent);
    auto finished = goro::make_chan<int>(1);
    goro::go([parent = parent, cancel_child = cancel_child, finished] {
      EXPECT_TRUE(done_within(parent));
      cancel_child();
      finished.send(1);
    });
    cancel_parent();
    EXPECT_TRUE(done_within(child));
    EXPECT_TRUE(wait_for(finished, 1));
  });
}

// Go's TestLayersCancel and TestLayersTimeout, made deterministic: layers of
// value, cancel and timeout contexts; ending a layer ends every layer below
// it and none above, with the values of every layer still visible below.
TEST(Context, Layers) {
  goro::run([] {
    for (int end_at = 0; end_at < 4; ++end_at) {
      for (bool by_timeout : {false, true}) {
        std::vector<goro::context> layers;
        std::vector<goro::cancel_func> cancels;
        goro::context ctx = goro::background();
        for (int l = 0; l < 4; ++l) {
          ctx = goro::with_value(ctx, int_key, l);
          auto [c, cancel] = (l == end_at && by_timeout) ? goro::with_timeout(ctx, 5ms) : goro::with_cancel(ctx);
          layers.push_back(c);
          cancels.push_back(cancel);
          ctx = c;
        }
        if (!by_timeout) cancels[end_at]();
        for (int l = 0; l < 4; ++l) {
          if (l < end_at) {
            EXPECT_FALSE(is_done(layers[l])) << "layer " << l << " above the end at " << end_at;
          } else {
            EXPECT_TRUE(done_within(layers[l])) << "layer " << l << " below the end at " << end_at;
            EXPECT_EQ(layers[l].err(), by_timeout ? goro::errc::deadline_exceeded : goro::errc::canceled);
          }
          EXPECT_EQ(*layers[l].value(int_key), l);
        }
        for (auto& c : cancels) c();
      }
    }
  });
}

// ---- deadlines ------------------------------------------------------------------

// Go's TestDeadline and TestTimeout: done within bounded time, not before
// the deadline, with deadline_exceeded; also below a value context.
TEST(Context, DeadlineAndTimeoutExpire) {
  goro::run([] {
    for (int kind = 0; kind < 3; ++kind) {
      auto start = goro::clock::now();
      auto want = start + 30ms;
      std::pair<goro::context, goro::cancel_func> p;
      if (kind == 0) p = goro::with_deadline(goro::background(), want);
      if (kind == 1) p = goro::with_timeout(goro::background(), 30ms);
      if (kind == 2) p = goro::with_deadline(goro::with_value(goro::background(), k1, "x"), want);
      auto& [ctx, cancel] = p;
      ASSERT_TRUE(ctx.deadline().has_value());
      EXPECT_GE(*ctx.deadline(), want - 1ms);
      EXPECT_LE(*ctx.deadline(), goro::clock::now() + 30ms);
      EXPECT_FALSE(is_done(ctx));
      EXPECT_TRUE(done_within(ctx)) << "kind " << kind;
      EXPECT_GE(goro::clock::now(), *ctx.deadline()) << "kind " << kind << ": done before the deadline";
      EXPECT_EQ(ctx.err(), goro::errc::deadline_exceeded);
      EXPECT_TRUE(ctx.err() == std::errc::timed_out);
      EXPECT_EQ(ctx.err().message(), "context deadline exceeded");
      EXPECT_EQ(goro::cause(ctx), goro::errc::deadline_exceeded);
      cancel();  // after the deadline: changes nothing
      EXPECT_EQ(ctx.err(), goro::errc::deadline_exceeded);
    }
  });
}

// Go's testDeadline "deadline in the past" cases: done at once.
TEST(Context, DeadlineInThePastIsDoneAtOnce) {
  goro::run([] {
    for (auto d : {goro::clock::now() - 1s, goro::clock::now(), goro::time_point{}}) {
      auto [ctx, cancel] = goro::with_deadline(goro::background(), d);
      EXPECT_TRUE(is_done(ctx));
      EXPECT_EQ(ctx.err(), goro::errc::deadline_exceeded);
      cancel();
    }
    auto [t, tcancel] = goro::with_timeout(goro::background(), -5s);
    EXPECT_TRUE(is_done(t));
    EXPECT_EQ(t.err(), goro::errc::deadline_exceeded);
    tcancel();
  });
}

// Go's TestCanceledTimeout: a timeout context cancelled before its deadline
// reports canceled, and its timer does not fire later (no goroutine left).
TEST(Context, CancelledTimeoutReportsCanceled) {
  goro::run([] {
    auto [parent, pcancel] = goro::with_timeout(goro::background(), 1h);
    goro::context o = goro::with_value(parent, k1, "o");
    auto [child, ccancel] = goro::with_timeout(o, 2h);
    pcancel();
    EXPECT_TRUE(done_within(child));
    EXPECT_EQ(child.err(), goro::errc::canceled);
    auto [t, tcancel] = goro::with_timeout(goro::background(), 20ms);
    tcancel();
    EXPECT_EQ(t.err(), goro::errc::canceled);
    goro::sleep(40ms);  // past the deadline: must stay canceled
    EXPECT_EQ(t.err(), goro::errc::canceled);
    ccancel();
  });
}

// deadline() is the earlier of the parent's and the context's own, and is
// inherited through every kind of derived context but without_cancel.
TEST(Context, DeadlineIsInheritedAndTheEarlierWins) {
  goro::run([] {
    auto base = goro::clock::now();
    auto [parent, pcancel] = goro::with_deadline(goro::background(), base + 1h);
    ASSERT_EQ(parent.deadline(), base + 1h);
    auto [later, c1] = goro::with_deadline(parent, base + 2h);
    EXPECT_EQ(later.deadline(), base + 1h) << "the parent's deadline is earlier";
    auto [earlier, c2] = goro::with_deadline(parent, base + 30min);
    EXPECT_EQ(earlier.deadline(), base + 30min);
    auto [cancel_child, c3] = goro::with_cancel(parent);
    EXPECT_EQ(cancel_child.deadline(), base + 1h);
    EXPECT_EQ(goro::with_value(earlier, k1, "x").deadline(), base + 30min);
    auto [grand, c4] = goro::with_timeout(goro::with_value(cancel_child, k1, "y"), 3h);
    EXPECT_EQ(grand.deadline(), base + 1h);
    EXPECT_EQ(goro::without_cancel(parent).deadline(), std::nullopt);
    auto [none, c5] = goro::with_cancel(goro::background());
    EXPECT_EQ(none.deadline(), std::nullopt);
    for (auto* c : {&pcancel, &c1, &c2, &c3, &c4, &c5}) (*c)();
  });
}

// A child whose own deadline is later than its parent's ends with the
// parent's, as deadline_exceeded.
TEST(Context, ChildEndsWithTheParentsEarlierDeadline) {
  goro::run([] {
    auto [parent, pcancel] = goro::with_timeout(goro::background(), 20ms);
    auto [child, ccancel] = goro::with_timeout(goro::with_value(parent, k1, "x"), 1h);
    EXPECT_TRUE(done_within(child));
    EXPECT_EQ(child.err(), goro::errc::deadline_exceeded);
    EXPECT_EQ(parent.err(), goro::errc::deadline_exceeded);
    ccancel();
    pcancel();
  });
}

// ---- values -----------------------------------------------------------------------

// Go's TestValues: typed keys, shadowing, missing keys, values seen through
// cancel and deadline contexts and without_cancel.
TEST(Context, Values) {
  goro::run([] {
    auto check = [](const goro::context& c, const char* name, const char* v1, const char* v2, const char* v3) {
      const char* want[] = {v1, v2, v3};
      const goro::context_key<std::string>* keys[] = {&k1, &k2, &k3};
      for (int i = 0; i < 3; ++i) {
        const std::string* got = c.value(*keys[i]);
        if (want[i] == nullptr) {
          EXPECT_EQ(got, nullptr) << name << ": k" << i + 1;
        } else if (got == nullptr) {
          ADD_FAILURE() << name << ": k" << i + 1 << " missing, want " << want[i];
        } else {
          EXPECT_EQ(*got, want[i]) << name << ": k" << i + 1;
        }
      }
    };
    goro::context c0 = goro::background();
    check(c0, "c0", nullptr, nullptr, nullptr);
    goro::context c1 = goro::with_value(goro::background(), k1, "c1k1");
    check(c1, "c1", "c1k1", nullptr, nullptr);
    goro::context c2 = goro::with_value(c1, k2, "c2k2");
    check(c2, "c2", "c1k1", "c2k2", nullptr);
    goro::context c3 = goro::with_value(c2, k3, "c3k3");
    check(c3, "c3", "c1k1", "c2k2", "c3k3");
    goro::context c4 = goro::with_value(c3, k1, "c4k1");  // shadows c1's
    check(c4, "c4", "c4k1", "c2k2", "c3k3");
    check(c3, "c3 after c4", "c1k1", "c2k2", "c3k3");
    auto [o0, cancel0] = goro::with_cancel(c4);
    check(o0, "o0", "c4k1", "c2k2", "c3k3");
    auto [o1, cancel1] = goro::with_timeout(goro::with_value(o0, k2, "o1k2"), 1h);
    check(o1, "o1", "c4k1", "o1k2", "c3k3");
    goro::context o2 = goro::without_cancel(o1);
    check(o2, "o2", "c4k1", "o1k2", "c3k3");
    cancel0();
    check(o1, "o1 after cancel", "c4k1", "o1k2", "c3k3");
    // Keys of the same type are distinct; a key of another type is too.
    goro::context ints = goro::with_value(c4, int_key, 42);
    EXPECT_EQ(*ints.value(int_key), 42);
    check(ints, "ints", "c4k1", "c2k2", "c3k3");
    EXPECT_EQ(c4.value(int_key), nullptr);
    // Pointers are stable: the same object each time.
    EXPECT_EQ(c3.value(k2), c2.value(k2));
    cancel1();
  });
}

// A value lives as long as a context that reaches it, and no longer.
TEST(Context, ValueLivesAsLongAsAContextReachesIt) {
  goro::run([] {
    auto v = std::make_shared<int>(7);
    std::weak_ptr<int> watch = v;
    {
      goro::context outer;
      {
        goro::context c = goro::with_value(goro::background(), ptr_key, std::move(v));
        auto [child, cancel] = goro::with_cancel(c);
        outer = goro::without_cancel(child);
        cancel();
        EXPECT_EQ(**c.value(ptr_key), 7);
      }
      EXPECT_FALSE(watch.expired()) << "a descendant still reaches the value";
      EXPECT_EQ(**outer.value(ptr_key), 7);
    }
    EXPECT_TRUE(watch.expired()) << "the value outlived every context";
  });
}

// ---- cancel causes ------------------------------------------------------------

// Go's TestCause (and TestWithCancelCause): the table of cancel, cancel with
// a cause, inherited causes and deadline causes.
TEST(Context, Cause) {
  goro::run([] {
    {  // with_cancel, cancel()
      auto [ctx, cancel] = goro::with_cancel(goro::background());
      EXPECT_FALSE(goro::cause(ctx)) << "empty before done";
      cancel();
      EXPECT_EQ(ctx.err(), goro::errc::canceled);
      EXPECT_EQ(goro::cause(ctx), goro::errc::canceled);
    }
    {  // with_cancel_cause, cancel(cause); a value context sees it too
      auto [ctx, cancel] = goro::with_cancel_cause(goro::background());
      goro::context v = goro::with_value(ctx, k1, "v");
      cancel(io_error());
      EXPECT_EQ(ctx.err(), goro::errc::canceled);
      EXPECT_EQ(goro::cause(ctx), io_error());
      EXPECT_EQ(goro::cause(v), io_error());
      cancel(doom());
      EXPECT_EQ(goro::cause(ctx), io_error()) << "the first cause stays";
    }
    {  // an empty cause means canceled
      auto [ctx, cancel] = goro::with_cancel_cause(goro::background());
      cancel(std::error_code());
      EXPECT_EQ(goro::cause(ctx), goro::errc::canceled);
    }
    {  // the parent's cause reaches the children
      auto [parent, pcancel] = goro::with_cancel_cause(goro::background());
      auto [child, ccancel] = goro::with_cancel(parent);
      auto [grand, gcancel] = goro::with_timeout(child, 1h);
      pcancel(io_error());
      EXPECT_EQ(child.err(), goro::errc::canceled);
      EXPECT_EQ(goro::cause(child), io_error());
      EXPECT_EQ(goro::cause(grand), io_error());
      ccancel();
      gcancel(doom());
      EXPECT_EQ(goro::cause(grand), io_error());
    }
    {  // the child cancelled first keeps its own cause
      auto [parent, pcancel] = goro::with_cancel_cause(goro::background());
      auto [child, ccancel] = goro::with_cancel_cause(parent);
      ccancel(doom());
      pcancel(io_error());
      EXPECT_EQ(goro::cause(child), doom());
      EXPECT_EQ(goro::cause(parent), io_error());
    }
    {  // with_deadline_cause that fires
      auto [ctx, cancel] = goro::with_deadline_cause(goro::background(), goro::clock::now() + 10ms, io_error());
      EXPECT_FALSE(goro::cause(ctx));
      EXPECT_TRUE(done_within(ctx));
      EXPECT_EQ(ctx.err(), goro::errc::deadline_exceeded);
      EXPECT_EQ(goro::cause(ctx), io_error());
      cancel();
    }
    {  // with_timeout_cause cancelled before it fires: canceled, both ways
      auto [ctx, cancel] = goro::with_timeout_cause(goro::background(), 1h, io_error());
      cancel();
      EXPECT_EQ(ctx.err(), goro::errc::canceled);
      EXPECT_EQ(goro::cause(ctx), goro::errc::canceled);
    }
    {  // with_deadline_cause in the past
      auto [ctx, cancel] = goro::with_deadline_cause(goro::background(), goro::clock::now() - 1s, io_error());
      EXPECT_EQ(ctx.err(), goro::errc::deadline_exceeded);
      EXPECT_EQ(goro::cause(ctx), io_error());
      cancel();
    }
    {  // a deadline-cause parent that fires: the child gets its cause
      auto [parent, pcancel] = goro::with_timeout_cause(goro::background(), 10ms, io_error());
      auto [child, ccancel] = goro::with_timeout_cause(parent, 1h, doom());
      EXPECT_TRUE(done_within(child));
      EXPECT_EQ(child.err(), goro::errc::deadline_exceeded);
      EXPECT_EQ(goro::cause(child), io_error());
      ccancel();
      pcancel();
    }
    {  // a parent cancelled with a cause, then a deadline child made under it
      auto [parent, pcancel] = goro::with_cancel_cause(goro::background());
      pcancel(io_error());
      auto [child, ccancel] = goro::with_deadline_cause(parent, goro::clock::now() + 1h, doom());
      EXPECT_EQ(child.err(), goro::errc::canceled);
      EXPECT_EQ(goro::cause(child), io_error());
      ccancel();
    }
    {  // without_cancel of a cancelled context has no cause
      auto [ctx, cancel] = goro::with_cancel_cause(goro::background());
      cancel(io_error());
      EXPECT_FALSE(goro::cause(goro::without_cancel(ctx)));
      EXPECT_FALSE(goro::cause(goro::background()));
    }
  });
}

// Go's TestCauseRace: cause() read while another goroutine cancels; once
// err() is set, cause() is the cause, never empty.
TEST(Context, CauseRace) {
  goro::run([] {
    for (int round = 0; round < 50; ++round) {
      auto [ctx, cancel] = goro::with_cancel_cause(goro::background());
      auto finished = goro::make_chan<int>(1);
      goro::go([cancel = cancel, finished] {
        goro::yield();
        cancel(io_error());
        finished.send(1);
      });
      auto deadline = steady::now() + wait_limit;
      for (;;) {
        std::error_code e = ctx.err();
        std::error_code c = goro::cause(ctx);
        if (e) {
          EXPECT_EQ(c, io_error()) << "err() set but cause() not yet";
          break;
        }
        ASSERT_LT(steady::now(), deadline) << "the cancel never happened";
        goro::yield();
      }
      ASSERT_EQ(ctx.err(), goro::errc::canceled);
      EXPECT_EQ(goro::cause(ctx), io_error());
      ASSERT_TRUE(wait_for(finished, 1));
    }
  });
}

// ---- without_cancel -------------------------------------------------------------

// Go's TestWithoutCancel: not cancelled with its parent, no done channel, no
// deadline, the parent's values; its own children cancel on their own.
TEST(Context, WithoutCancel) {
  goro::run([] {
    auto [parent, pcancel] = goro::with_timeout(goro::with_value(goro::background(), k1, "v"), 1h);
    goro::context wc = goro::without_cancel(parent);
    EXPECT_FALSE(wc.done());
    EXPECT_EQ(goro::select(wc.done().on_recv(), goro::on_default()), 1u);
    EXPECT_EQ(wc.deadline(), std::nullopt);
    auto [child, ccancel] = goro::with_cancel(wc);
    auto stop = goro::after_func(wc, [] { ADD_FAILURE() << "after_func on a context that is never done ran"; });
    pcancel();
    EXPECT_TRUE(is_done(parent));
    EXPECT_FALSE(wc.err());
    EXPECT_FALSE(goro::cause(wc));
    EXPECT_FALSE(is_done(child)) << "a child of without_cancel was cancelled by the parent";
    ASSERT_NE(wc.value(k1), nullptr);
    EXPECT_EQ(*wc.value(k1), "v");
    EXPECT_EQ(*child.value(k1), "v");
    ccancel();
    EXPECT_TRUE(is_done(child));
    EXPECT_FALSE(is_done(wc));
    EXPECT_TRUE(goro::without_cancel(goro::background()).done() == goro::background().done());
    EXPECT_TRUE(stop()) << "stop() of an after_func that never started";
  });
}

// ---- after_func -----------------------------------------------------------------

// Go's TestAfterFuncCalledAfterCancel: not before the cancel, once after.
TEST(Context, AfterFuncCalledAfterCancel) {
  goro::run([] {
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    auto ran = goro::make_chan<int>(2);
    auto stop = goro::after_func(ctx, [ran] { ran.send(1); });
    give_a_chance();
    EXPECT_FALSE(ready_now(ran)) << "after_func ran before the context was done";
    cancel();
    EXPECT_TRUE(wait_for(ran, 1));
    cancel();  // again: f runs once
    give_a_chance();
    EXPECT_FALSE(ready_now(ran)) << "after_func ran twice";
    EXPECT_FALSE(stop()) << "stop() after f started";
  });
}

// Go's TestAfterFuncCalledAfterTimeout.
TEST(Context, AfterFuncCalledAfterTimeout) {
  goro::run([] {
    auto [ctx, cancel] = goro::with_timeout(goro::background(), 10ms);
    auto ran = goro::make_chan<int>(1);
    auto stop = goro::after_func(ctx, [ran, ctx = ctx] {
      EXPECT_EQ(ctx.err(), goro::errc::deadline_exceeded) << "f runs after the context is done";
      ran.send(1);
    });
    EXPECT_TRUE(wait_for(ran, 1));
    EXPECT_FALSE(stop());
    cancel();
  });
}

// Go's TestAfterFuncCalledImmediately: on a context that is done already.
TEST(Context, AfterFuncOnDoneContextRuns) {
  goro::run([] {
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    cancel();
    auto ran = goro::make_chan<int>(1);
    auto stop = goro::after_func(ctx, [ran] { ran.send(1); });
    EXPECT_TRUE(wait_for(ran, 1));
    EXPECT_FALSE(stop());
  });
}

// Go's TestAfterFuncNotCalledAfterStop: stop() first returns true and f
// never runs; stop() again returns false.
TEST(Context, AfterFuncNotCalledAfterStop) {
  goro::run([] {
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    auto ran = goro::make_chan<int>(1);
    auto stop = goro::after_func(ctx, [ran] { ran.send(1); });
    EXPECT_TRUE(stop());
    cancel();
    give_a_chance();
    EXPECT_FALSE(ready_now(ran)) << "after_func ran after stop()";
    EXPECT_FALSE(stop()) << "a second stop()";
  });
}

// Go's TestAfterFuncCalledAsynchronously: f runs in a goroutine of its own,
// so a cancel returns while f blocks; from a goroutine and from a thread.
TEST(Context, AfterFuncRunsInItsOwnGoroutine) {
  goro::run([] {
    for (bool from_thread : {false, true}) {
      auto [ctx, cancel] = goro::with_cancel(goro::background());
      auto ids = goro::make_chan<std::uint64_t>(1);
      auto release = goro::make_chan<int>();
      auto finished = goro::make_chan<int>(1);
      auto stop = goro::after_func(ctx, [ids, release, finished] {
        ids.send(goro::this_goroutine::id());
        goro::select(release.on_recv(), goro::after(wait_limit).on_recv());
        finished.send(1);
      });
      if (from_thread) {
        bounded_thread t([cancel = cancel] { cancel(); });
        EXPECT_TRUE(t.join()) << "cancel from a thread blocked on f";
      } else {
        cancel();  // returns although f blocks
      }
      auto id = goro_test::recv_within<std::uint64_t>(ids);
      ASSERT_TRUE(id.has_value());
      EXPECT_NE(*id, 0u) << "f is not running in a goroutine";
      EXPECT_NE(*id, goro::this_goroutine::id());
      release.close();
      EXPECT_TRUE(wait_for(finished, 1));
    }
  });
}

// Several after_funcs on one context all run; one on a child runs when the
// parent is cancelled.
TEST(Context, EveryAfterFuncRuns) {
  goro::run([] {
    auto [parent, pcancel] = goro::with_cancel(goro::background());
    auto [child, ccancel] = goro::with_cancel(goro::with_value(parent, k1, "x"));
    auto ran = goro::make_chan<int>(8);
    std::vector<std::function<bool()>> stops;
    for (int i = 0; i < 4; ++i) stops.push_back(goro::after_func(parent, [ran] { ran.send(1); }));
    for (int i = 0; i < 4; ++i) stops.push_back(goro::after_func(child, [ran] { ran.send(2); }));
    pcancel();
    EXPECT_TRUE(wait_for(ran, 8));
    for (auto& s : stops) EXPECT_FALSE(s());
    ccancel();
  });
}

// stop() racing the cancel: exactly one wins. When stop() returns false f
// runs (once); when it returns true f never runs.
TEST(Context, AfterFuncStopRacesCancel) {
  goro::run([] {
    const int rounds = static_cast<int>(scaled(2000, 300));
    auto ran = goro::make_chan<int>(rounds);
    auto cancelled = goro::make_chan<int>(rounds);
    int want_runs = 0;
    for (int i = 0; i < rounds; ++i) {
      auto [ctx, cancel] = goro::with_cancel(goro::background());
      auto stop = goro::after_func(ctx, [ran] { ran.send(1); });
      goro::go([cancel = cancel, cancelled] {
        cancel();
        cancelled.send(1);
      });
      if (i % 2 == 0) goro::yield();
      if (!stop()) ++want_runs;
      cancel();
    }
    EXPECT_TRUE(wait_for(cancelled, rounds));
    EXPECT_TRUE(wait_for(ran, want_runs)) << "stop() returned false but f did not run";
    give_a_chance();
    EXPECT_FALSE(ready_now(ran)) << "f ran though stop() returned true";
  });
}

}  // namespace

// ---- on a virtual clock (goro::testing::bubble): deadlines to the nanosecond

TEST(ContextVirtualClock, TimeoutExpiresExactlyAtItsDeadline) {
  goro::testing::bubble([] {
    auto start = goro::clock::now();
    auto [ctx, cancel] = goro::with_timeout(goro::background(), 1h);
    ASSERT_TRUE(ctx.deadline().has_value());
    EXPECT_EQ(*ctx.deadline(), start + 1h);
    ctx.done().recv();
    EXPECT_EQ(goro::clock::now() - start, 1h);
    EXPECT_EQ(ctx.err(), goro::errc::deadline_exceeded);
    cancel();
  });
}

TEST(ContextVirtualClock, ChildEndsAtTheParentsEarlierDeadline) {
  goro::testing::bubble([] {
    auto start = goro::clock::now();
    auto [parent, pcancel] = goro::with_timeout(goro::background(), 2h);
    auto [child, ccancel] = goro::with_timeout(parent, 3h);
    EXPECT_EQ(*child.deadline(), start + 2h);
    child.done().recv();
    EXPECT_EQ(goro::clock::now() - start, 2h);
    EXPECT_EQ(child.err(), goro::errc::deadline_exceeded);
    ccancel();
    pcancel();
  });
}

TEST(ContextVirtualClock, CancelBeforeTheDeadlineWinsAndTheTimerNeverFires) {
  goro::testing::bubble([] {
    auto start = goro::clock::now();
    auto [ctx, cancel_it] = goro::with_timeout(goro::background(), 10min);
    goro::cancel_func cancel = cancel_it;  // a structured binding cannot be captured (clang 14)
    goro::go([cancel] {
      goro::sleep(1min);
      cancel();
    });
    ctx.done().recv();
    EXPECT_EQ(goro::clock::now() - start, 1min);
    EXPECT_EQ(ctx.err(), goro::errc::canceled);
  });  // returns: no timer is left to keep a goroutine in the bubble
}

TEST(ContextVirtualClock, AfterFuncRunsAtTheTimeout) {
  goro::testing::bubble([] {
    auto start = goro::clock::now();
    auto [ctx, cancel] = goro::with_timeout(goro::background(), 45s);
    auto ran = goro::make_chan<goro::clock::duration>(1);
    auto stop = goro::after_func(ctx, [ran, start] { ran.send(goro::clock::now() - start); });
    EXPECT_EQ(*ran.recv(), 45s);
    cancel();
  });
}
