// tests/rate/rate_test.cpp: goro::rate (golang.org/x/time/rate) and
// goro::rate::multi_limiter.
//
// Most tests drive the limiter on explicit time_points (t(k) = t0 + k * d),
// as x/time/rate's rate_test.go does, so they do not depend on the machine's
// speed. Tests of wait() run on the real clock: their timing checks are lower
// bounds (a timer never fires early) derived from what the limiter must have
// computed, and upper bounds only catch hangs. A wait that must be cut short
// is cut short once the waiter has observably reserved (tokens() < 0), not
// after a sleep.
//
// Tests that port a test of rate_test.go say which.
#include <goro/rate.hpp>
#include <goro/testing.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <system_error>
#include <thread>
#include <vector>

#include "support/test_support.hpp"
#include "sync/sync_helpers.hpp"

namespace {

using namespace std::chrono_literals;
using goro::time_point;
using goro::rate::limiter;
using goro::rate::multi_limiter;
using goro::rate::reservation;
using goro_test::wait_limit;
using sync_test::bounded_thread;

constexpr std::chrono::nanoseconds d = 100ms;
const time_point t0 = goro::clock::now();
time_point t(int k) { return t0 + k * d; }

/// Multiples of d from t0 to x, rounded to the nearest (Go's dSince).
int d_since(time_point x) {
  auto dur = x - t0;
  return static_cast<int>((dur + d / 2) / d);
}

struct allow_step {
  time_point at;
  int n;
  bool ok;
};

/// Go's run: each allow_n must answer as listed.
void run(limiter& lim, std::initializer_list<allow_step> steps) {
  int i = 0;
  for (const allow_step& s : steps) {
    EXPECT_EQ(lim.allow_n(s.at, s.n), s.ok) << "step " << i << ": allow_n(t" << d_since(s.at) << ", " << s.n << ")";
    ++i;
  }
}

/// Go's runReserve: reserve_n(at, n) must be ok as listed and, if ok, act at `act`.
reservation run_reserve(limiter& lim, time_point at, int n, time_point act, bool ok) {
  reservation r = lim.reserve_n(at, n);
  EXPECT_EQ(r.ok(), ok) << "reserve_n(t" << d_since(at) << ", " << n << ")";
  if (r.ok() && ok) {
    EXPECT_EQ(d_since(r.time_to_act()), d_since(act))
        << "reserve_n(t" << d_since(at) << ", " << n << ") acts at t" << d_since(r.time_to_act());
  }
  return r;
}

double secs(std::chrono::nanoseconds x) { return std::chrono::duration<double>(x).count(); }

// ---- limits -------------------------------------------------------------------

// Go's TestLimit and TestEvery.
TEST(Rate, EveryConvertsAnIntervalToALimit) {
  EXPECT_NE(goro::rate::limit(10), goro::rate::inf);
  struct {
    std::chrono::nanoseconds interval;
    goro::rate::limit want;
  } cases[] = {
      {0ns, goro::rate::inf},
      {-1ns, goro::rate::inf},
      {1ns, 1e9},
      {1us, 1e6},
      {1ms, 1e3},
      {10ms, 100},
      {100ms, 10},
      {1s, 1},
      {2s, 0.5},
      {2500ms, 0.4},
      {4s, 0.25},
      {10s, 0.1},
      {std::chrono::nanoseconds::max(), 1e9 / static_cast<double>(std::numeric_limits<std::int64_t>::max())},
  };
  for (const auto& c : cases) {
    goro::rate::limit got = goro::rate::every(c.interval);
    if (std::isinf(c.want)) {
      EXPECT_EQ(got, goro::rate::inf) << c.interval.count() << "ns";
    } else {
      EXPECT_NEAR(got / c.want, 1.0, 1e-9) << c.interval.count() << "ns";
    }
  }
}

// ---- allow --------------------------------------------------------------------

// Go's TestLimiterBurst1.
TEST(Limiter, Burst1AllowsOneEventPerInterval) {
  limiter lim(10, 1);
  EXPECT_EQ(lim.get_limit(), 10);
  EXPECT_EQ(lim.burst(), 1);
  run(lim, {{t(0), 1, true},
            {t(0), 1, false},
            {t(0), 1, false},
            {t(1), 1, true},
            {t(1), 1, false},
            {t(1), 1, false},
            {t(2), 2, false},  // the burst is 1, so n = 2 always fails
            {t(2), 1, true},
            {t(2), 1, false}});
}

// Go's TestLimiterBurst3.
TEST(Limiter, Burst3AllowsBurstsUpToThree) {
  limiter lim(10, 3);
  run(lim, {{t(0), 2, true},
            {t(0), 2, false},
            {t(0), 1, true},
            {t(0), 1, false},
            {t(1), 4, false},
            {t(2), 1, true},
            {t(3), 1, true},
            {t(4), 1, true},
            {t(4), 1, true},
            {t(4), 1, false},
            {t(4), 1, false},
            {t(9), 3, true},
            {t(9), 0, true}});
}

// Go's TestLimiterJumpBackwards.
TEST(Limiter, TimeGoingBackwardsAddsNoTokens) {
  limiter lim(10, 3);
  run(lim, {{t(1), 1, true},  // start at t1
            {t(0), 1, true},  // jump back to t0: two tokens remain
            {t(0), 1, true},
            {t(0), 1, false},
            {t(0), 1, false},
            {t(1), 1, true},  // got a token
            {t(1), 1, false},
            {t(1), 1, false},
            {t(2), 1, true},  // got another token
            {t(2), 1, false},
            {t(2), 1, false}});
}

// Go's TestLimiter_noTruncationErrors (golang.org/issue/34861).
TEST(Limiter, OddLimitAllowsTheFirstEvent) { EXPECT_TRUE(limiter(0.7692307692307693, 1).allow()); }

// Go's TestZeroLimit.
TEST(Limiter, ZeroLimitAllowsTheBurstThenNothing) {
  limiter lim(0, 1);
  EXPECT_TRUE(lim.allow()) << "a zero limit with burst 1 allows the first event";
  EXPECT_FALSE(lim.allow()) << "and nothing after it";
  EXPECT_FALSE(lim.allow_n(t(1000), 1)) << "however long one waits";
  EXPECT_FALSE(lim.reserve_n(t(1000), 1).ok()) << "a token that never comes cannot be reserved";
}

// Go's TestSetAfterZeroLimit: raising a zero limit starts the refill.
TEST(Limiter, RaisingAZeroLimitRefills) {
  limiter lim(0, 1);
  EXPECT_TRUE(lim.allow_n(t(0), 1)) << "the bucket starts full";
  EXPECT_FALSE(lim.allow_n(t(1), 1));
  lim.set_limit_at(t(1), 10);
  run_reserve(lim, t(2), 1, t(2), true);  // one token came between t1 and t2
  run_reserve(lim, t(2), 1, t(3), true);
}

TEST(Limiter, InfAllowsEverythingWhateverTheBurst) {
  limiter lim(goro::rate::inf, 0);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(lim.allow_n(t(0), 1000));
  reservation r = lim.reserve_n(t(0), 1000);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.delay_from(t(0)), 0ns);
  r.cancel_at(t(0));  // nothing to give back; harmless
  EXPECT_TRUE(lim.allow());
  // Back to a finite limit: the burst counts again.
  lim.set_limit_at(t(1), 10);
  EXPECT_FALSE(lim.allow_n(t(2), 1)) << "burst 0 allows nothing at a finite limit";
  lim.set_burst_at(t(2), 1);
  EXPECT_TRUE(lim.allow_n(t(3), 1));
  EXPECT_FALSE(lim.allow_n(t(3), 1));
}

TEST(Limiter, TokensAtCountsRefillAndReservations) {
  limiter lim(10, 3);
  EXPECT_DOUBLE_EQ(lim.tokens_at(t(0)), 3) << "the bucket starts full";
  ASSERT_TRUE(lim.allow_n(t(0), 2));
  EXPECT_DOUBLE_EQ(lim.tokens_at(t(0)), 1);
  EXPECT_DOUBLE_EQ(lim.tokens_at(t(1)), 2);
  EXPECT_DOUBLE_EQ(lim.tokens_at(t(5)), 3) << "never more than the burst";
  reservation r = lim.reserve_n(t(0), 3);
  ASSERT_TRUE(r.ok());
  EXPECT_DOUBLE_EQ(lim.tokens_at(t(0)), -2) << "tokens reserved ahead are negative";
  EXPECT_DOUBLE_EQ(lim.tokens_at(t(2)), 0);
  EXPECT_LE(lim.tokens(), 3);
}

// Go's TestSimultaneousRequests, with goroutines and plain threads: a bucket
// that practically never refills grants exactly its burst.
TEST(Limiter, SimultaneousRequestsGetExactlyTheBurst) {
  goro::run([] {
    constexpr int burst = 50, goroutines = 8, threads = 2, tries = 20;
    auto lim = std::make_shared<limiter>(goro::rate::every(1h), burst);
    auto ok = std::make_shared<std::atomic<int>>(0);
    auto done = goro::make_chan<int>(goroutines);
    auto body = [lim, ok] {
      for (int i = 0; i < tries; ++i) {
        if (lim->allow()) ok->fetch_add(1);
      }
    };
    std::vector<std::unique_ptr<bounded_thread>> ts;
    for (int i = 0; i < threads; ++i) ts.push_back(std::make_unique<bounded_thread>(body));
    for (int i = 0; i < goroutines; ++i) {
      goro::go([body, done] {
        body();
        done.send(1);
      });
    }
    ASSERT_TRUE(sync_test::wait_for(done, goroutines));
    for (auto& th : ts) ASSERT_TRUE(th->join());
    EXPECT_EQ(ok->load(), burst);
  });
}

// Go's TestLongRunningQPS, at a small scale (half a second, 100 a second,
// burst 20): over time the limiter grants its burst plus limit * elapsed,
// no more, and, with demand well above the rate, not fewer.
TEST(Limiter, LongRunningQpsMatchesTheLimit) {
  goro::run([] {
    constexpr double rate = 100;
    constexpr int burst = 20, workers = 3;
    constexpr auto run_for = 500ms;
    time_point before_create = goro::clock::now();
    auto lim = std::make_shared<limiter>(rate, burst);
    auto ok = std::make_shared<std::atomic<int>>(lim->allow() ? 1 : 0);
    time_point after_first = goro::clock::now();  // the refill starts no later than this
    time_point end = after_first + run_for;
    auto last_call = std::make_shared<std::atomic<std::int64_t>>(0);  // ns since after_first
    auto body = [lim, ok, end, after_first, last_call] {
      for (;;) {
        time_point now = goro::clock::now();
        if (now >= end) return;
        if (lim->allow()) ok->fetch_add(1);
        std::int64_t since = (now - after_first).count();
        std::int64_t prev = last_call->load();
        while (prev < since && !last_call->compare_exchange_weak(prev, since)) {
        }
        goro::sleep(1ms);  // pacing: still ~1000 offers a second, ten times the limit
      }
    };
    auto done = goro::make_chan<int>(workers);
    for (int i = 0; i < workers - 1; ++i) {
      goro::go([body, done] {
        body();
        done.send(1);
      });
    }
    bounded_thread th(body);
    ASSERT_TRUE(sync_test::wait_for(done, workers - 1));
    ASSERT_TRUE(th.join());
    time_point after_all = goro::clock::now();

    double most = burst + rate * secs(after_all - before_create);
    double least = burst + rate * secs(std::chrono::nanoseconds(last_call->load()));
    EXPECT_LE(ok->load(), static_cast<int>(most) + 1) << "more events than the limit allows";
    EXPECT_GE(ok->load(), static_cast<int>(least) - 2) << "far fewer events than the limit allows";
  });
}

// ---- reserve and cancel --------------------------------------------------------

// Go's TestSimpleReserve.
TEST(Reservation, ReservesFromTheFuture) {
  limiter lim(10, 2);
  run_reserve(lim, t(0), 2, t(0), true);
  run_reserve(lim, t(0), 2, t(2), true);
  run_reserve(lim, t(3), 2, t(4), true);
}

// Go's TestMix.
TEST(Reservation, MixesWithAllow) {
  limiter lim(10, 2);
  run_reserve(lim, t(0), 3, t(1), false);  // n > burst
  run_reserve(lim, t(0), 2, t(0), true);
  run(lim, {{t(1), 2, false}});  // not enough tokens
  run_reserve(lim, t(1), 2, t(2), true);
  run(lim, {{t(1), 1, false}});  // negative tokens
  run(lim, {{t(3), 1, true}});
}

// Go's TestCancelInvalid.
TEST(Reservation, CancellingOneNotOkGivesNothing) {
  limiter lim(10, 2);
  run_reserve(lim, t(0), 2, t(0), true);
  reservation r = run_reserve(lim, t(0), 3, t(3), false);
  EXPECT_EQ(r.delay_from(t(0)), goro::rate::inf_duration);
  r.cancel_at(t(0));                       // no effect
  run_reserve(lim, t(0), 2, t(2), true);   // no extra tokens
}

// Go's TestCancelLast.
TEST(Reservation, CancellingTheLastGivesAllBack) {
  limiter lim(10, 2);
  run_reserve(lim, t(0), 2, t(0), true);
  reservation r = run_reserve(lim, t(0), 2, t(2), true);
  EXPECT_EQ(r.delay_from(t(0)), 2 * d);
  EXPECT_EQ(r.delay_from(t(1)), d);
  EXPECT_EQ(r.delay_from(t(3)), 0ns);
  r.cancel_at(t(1));  // 2 tokens back
  run_reserve(lim, t(1), 2, t(2), true);
}

// Go's TestCancelTooLate.
TEST(Reservation, CancellingAfterTheTimeToActGivesNothing) {
  limiter lim(10, 2);
  run_reserve(lim, t(0), 2, t(0), true);
  reservation r = run_reserve(lim, t(0), 2, t(2), true);
  r.cancel_at(t(3));  // too late
  run_reserve(lim, t(3), 2, t(4), true);
}

// Go's TestCancel0Tokens.
TEST(Reservation, CancellingBehindALaterReservationGivesNothing) {
  limiter lim(10, 2);
  run_reserve(lim, t(0), 2, t(0), true);
  reservation r = run_reserve(lim, t(0), 1, t(1), true);
  run_reserve(lim, t(0), 1, t(2), true);
  r.cancel_at(t(0));  // 0 tokens back
  run_reserve(lim, t(0), 1, t(3), true);
}

// Go's TestCancel1Token.
TEST(Reservation, CancellingGivesBackWhatLaterOnesDidNotTake) {
  limiter lim(10, 2);
  run_reserve(lim, t(0), 2, t(0), true);
  reservation r = run_reserve(lim, t(0), 2, t(2), true);
  run_reserve(lim, t(0), 1, t(3), true);
  r.cancel_at(t(2));  // 1 token back
  run_reserve(lim, t(2), 2, t(4), true);
}

// Go's TestCancelMulti.
TEST(Reservation, CancellingSeveral) {
  limiter lim(10, 4);
  run_reserve(lim, t(0), 4, t(0), true);
  reservation a = run_reserve(lim, t(0), 3, t(3), true);
  run_reserve(lim, t(0), 1, t(4), true);
  reservation c = run_reserve(lim, t(0), 1, t(5), true);
  c.cancel_at(t(1));  // 1 token back
  a.cancel_at(t(1));  // 2 tokens back, as if c had never been reserved
  run_reserve(lim, t(1), 3, t(5), true);
}

// Go's TestReserveJumpBack.
TEST(Reservation, TimeGoingBackwards) {
  limiter lim(10, 2);
  run_reserve(lim, t(1), 2, t(1), true);  // start at t1
  run_reserve(lim, t(0), 1, t(1), true);  // violates limit and burst
  run_reserve(lim, t(2), 2, t(3), true);
}

// Go's TestReserveJumpBackCancel.
TEST(Reservation, CancellingAtAnEarlierTime) {
  limiter lim(10, 2);
  run_reserve(lim, t(1), 2, t(1), true);  // start at t1
  reservation r = run_reserve(lim, t(1), 2, t(3), true);
  run_reserve(lim, t(1), 1, t(4), true);
  r.cancel_at(t(0));                      // 1 token back
  run_reserve(lim, t(1), 2, t(4), true);  // violates limit and burst
}

// Go's TestReserveSetLimit.
TEST(Reservation, SetLimitChangesTheRefillFromThen) {
  limiter lim(5, 2);
  run_reserve(lim, t(0), 2, t(0), true);
  run_reserve(lim, t(0), 2, t(4), true);
  lim.set_limit_at(t(2), 10);
  EXPECT_EQ(lim.get_limit(), 10);
  run_reserve(lim, t(2), 1, t(4), true);  // violates limit and burst
}

// Go's TestReserveSetBurst.
TEST(Reservation, SetBurstChangesTheBucket) {
  limiter lim(5, 2);
  run_reserve(lim, t(0), 2, t(0), true);
  run_reserve(lim, t(0), 2, t(4), true);
  lim.set_burst_at(t(3), 4);
  EXPECT_EQ(lim.burst(), 4);
  run_reserve(lim, t(0), 4, t(9), true);  // violates limit and burst
}

// Go's TestReserveSetLimitCancel.
TEST(Reservation, CancelAfterSetLimit) {
  limiter lim(5, 2);
  run_reserve(lim, t(0), 2, t(0), true);
  reservation r = run_reserve(lim, t(0), 2, t(4), true);
  lim.set_limit_at(t(2), 10);
  r.cancel_at(t(2));  // 2 tokens back
  run_reserve(lim, t(2), 2, t(3), true);
}

TEST(Reservation, LoweringTheBurstCapsTheBucket) {
  limiter lim(10, 5);
  lim.set_burst_at(t(0), 2);
  EXPECT_DOUBLE_EQ(lim.tokens_at(t(0)), 2);
  run(lim, {{t(0), 3, false}, {t(0), 2, true}, {t(0), 1, false}, {t(1), 1, true}});
}

TEST(Reservation, CancelIsIdempotentAndMovesCarryIt) {
  limiter lim(10, 2);
  run_reserve(lim, t(0), 2, t(0), true);
  reservation r = run_reserve(lim, t(0), 2, t(2), true);
  reservation moved = std::move(r);
  EXPECT_FALSE(r.ok());  // NOLINT(bugprone-use-after-move): a moved-from reservation is not ok
  r.cancel_at(t(0));     // NOLINT(bugprone-use-after-move): and gives nothing back
  EXPECT_DOUBLE_EQ(lim.tokens_at(t(0)), -2);
  moved.cancel_at(t(0));
  EXPECT_DOUBLE_EQ(lim.tokens_at(t(0)), 0);
  moved.cancel_at(t(0));  // a second cancel gives nothing more
  EXPECT_DOUBLE_EQ(lim.tokens_at(t(0)), 0);
  reservation none;
  EXPECT_FALSE(none.ok());
  EXPECT_EQ(none.delay(), goro::rate::inf_duration);
  none.cancel();
}

// ---- wait ---------------------------------------------------------------------

TEST(RateErrors, CodesHaveGoMessagesAndStdEquivalents) {
  std::error_code burst = goro::rate::errc::exceeds_burst;
  std::error_code deadline = goro::rate::errc::would_exceed_deadline;
  std::error_code never = goro::rate::errc::never_refilled;
  EXPECT_EQ(burst, std::errc::invalid_argument);
  EXPECT_EQ(deadline, std::errc::timed_out);
  EXPECT_NE(never, std::errc::timed_out);
  EXPECT_EQ(deadline.message(), "rate: wait(n) would exceed context deadline");
  EXPECT_EQ(burst.message(), "rate: wait(n) exceeds limiter's burst");
  EXPECT_STREQ(burst.category().name(), "goro.rate");
  EXPECT_NE(deadline, goro::errc::deadline_exceeded) << "not the context's own error";
}

// Go's TestWaitSimple.
TEST(LimiterWait, SimpleCases) {
  goro::run([] {
    limiter lim(10, 3);
    auto [cancelled, cancel] = goro::with_cancel(goro::background());
    cancel();
    EXPECT_EQ(lim.wait(cancelled), goro::errc::canceled) << "already-cancelled";
    EXPECT_DOUBLE_EQ(lim.tokens_at(t0), 3) << "a failed wait takes nothing";

    EXPECT_EQ(lim.wait_n(goro::background(), 4), std::errc::invalid_argument) << "exceed-burst-error";
    EXPECT_EQ(lim.wait_n(goro::background(), 4), goro::rate::errc::exceeds_burst);

    time_point start_now = goro::clock::now();
    EXPECT_FALSE(lim.wait_n(goro::background(), 2)) << "act-now";
    EXPECT_GE(lim.tokens(), 0) << "act-now needed no tokens from the future";

    // act-later: 1 token left (plus what came since start_now), 3 wanted:
    // the wait is 2d less that refill.
    time_point start_later = goro::clock::now();
    EXPECT_FALSE(lim.wait_n(goro::background(), 3)) << "act-later";
    auto waited = goro::clock::now() - start_later;
    EXPECT_GE(waited, 2 * d - (start_later - start_now) - 1ms);
    EXPECT_LT(waited, 2 * d + wait_limit);
  });
}

// Go's TestWaitCancel: a wait cut short by its context gives its tokens back.
TEST(LimiterWait, CancelledWhileWaitingGivesTokensBack) {
  goro::run([] {
    auto lim = std::make_shared<limiter>(1, 3);  // one token a second
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    EXPECT_FALSE(lim->wait_n(ctx, 2)) << "act-now";  // 1 token left
    auto result = goro::make_chan<std::error_code>(1);
    goro::go([lim, ctx = ctx, result] { result.send(lim->wait_n(ctx, 3)); });  // needs ~2 s
    ASSERT_TRUE(goro_test::eventually([&] { return lim->tokens() < 0; })) << "the waiter never reserved";
    cancel();
    std::optional<std::error_code> e = goro_test::recv_within(goro::recv_chan<std::error_code>(result));
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(*e, goro::errc::canceled);
    double left = lim->tokens();
    EXPECT_GE(left, 0.99) << "the 3 reserved tokens were not given back";
    EXPECT_LT(left, 3);
    EXPECT_FALSE(lim->wait(goro::background())) << "act-now-after-cancel";
    EXPECT_GE(lim->tokens(), -0.01);
  });
}

// Go's TestWaitTimeout: a wait that would outlast the deadline fails at once.
TEST(LimiterWait, WouldExceedDeadlineFailsAtOnce) {
  goro::run([] {
    limiter lim(goro::rate::every(5s), 3);
    auto [ctx, cancel] = goro::with_timeout(goro::background(), 5s);
    EXPECT_FALSE(lim.wait_n(ctx, 2)) << "act-now";
    time_point start = goro::clock::now();
    std::error_code e = lim.wait_n(ctx, 3);  // needs 2 more tokens: 10 s
    EXPECT_LT(goro::clock::now() - start, 4s) << "waited instead of failing at once";
    EXPECT_EQ(e, goro::rate::errc::would_exceed_deadline);
    EXPECT_EQ(e, std::errc::timed_out);
    EXPECT_GT(lim.tokens(), 0.99) << "a failed wait takes nothing";
    cancel();
  });
}

// Go's TestWaitInf.
TEST(LimiterWait, InfIgnoresTheBurst) {
  goro::run([] {
    limiter lim(goro::rate::inf, 0);
    EXPECT_FALSE(lim.wait_n(goro::background(), 3));
  });
}

TEST(LimiterWait, ZeroLimitFailsInsteadOfWaitingForever) {
  goro::run([] {
    limiter lim(0, 1);
    EXPECT_FALSE(lim.wait(goro::background()));
    EXPECT_EQ(lim.wait(goro::background()), goro::rate::errc::never_refilled);
    auto [ctx, cancel] = goro::with_timeout(goro::background(), 1h);
    EXPECT_EQ(lim.wait(ctx), goro::rate::errc::would_exceed_deadline);
    cancel();
  });
}

// Many goroutines and threads waiting on one limiter are paced by it: the
// events beyond the burst are spread at the limit.
TEST(LimiterWait, WaitersFromGoroutinesAndThreadsArePaced) {
  goro::run([] {
    constexpr double rate = 500;
    constexpr int burst = 10, goroutines = 4, threads = 2, each = 10;
    constexpr int total = (goroutines + threads) * each;
    auto lim = std::make_shared<limiter>(rate, burst);
    auto failures = std::make_shared<std::atomic<int>>(0);
    auto body = [lim, failures] {
      for (int i = 0; i < each; ++i) {
        if (lim->wait(goro::background())) failures->fetch_add(1);
      }
    };
    time_point start = goro::clock::now();
    std::vector<std::unique_ptr<bounded_thread>> ts;
    for (int i = 0; i < threads; ++i) ts.push_back(std::make_unique<bounded_thread>(body));
    auto done = goro::make_chan<int>(goroutines);
    for (int i = 0; i < goroutines; ++i) {
      goro::go([body, done] {
        body();
        done.send(1);
      });
    }
    ASSERT_TRUE(sync_test::wait_for(done, goroutines));
    for (auto& th : ts) ASSERT_TRUE(th->join());
    auto took = goro::clock::now() - start;
    EXPECT_EQ(failures->load(), 0);
    // The last of `total` reservations acts (total - burst) / rate after the first.
    EXPECT_GE(took, std::chrono::duration<double>((total - burst) / rate) - 1ms);
  });
}

TEST(LimiterWait, PlainThreadBlocksUntilItsToken) {
  auto lim = std::make_shared<limiter>(goro::rate::every(50ms), 1);
  time_point start = goro::clock::now();
  ASSERT_TRUE(lim->allow());  // the next token comes 50 ms after this
  auto result = std::make_shared<std::error_code>(goro::rate::errc::exceeds_burst);
  bounded_thread th([lim, result] { *result = lim->wait(goro::background()); });
  ASSERT_TRUE(th.join());
  EXPECT_FALSE(*result);
  EXPECT_GE(goro::clock::now() - start, 50ms - 1ms);
}

// ---- multi_limiter ---------------------------------------------------------------

TEST(MultiLimiter, TheStrictestWinsAndARefusalTakesNothing) {
  limiter per_second(10, 1);  // one per d
  limiter per_minute(1, 3);   // one per 10 d, bursts of 3
  multi_limiter both(per_second, per_minute);
  EXPECT_TRUE(both.allow_n(t(0), 1));
  EXPECT_FALSE(both.allow_n(t(0), 1)) << "per_second is empty";
  EXPECT_DOUBLE_EQ(per_minute.tokens_at(t(0)), 2) << "the refusal took a token from per_minute";
  EXPECT_TRUE(both.allow_n(t(1), 1));
  EXPECT_TRUE(both.allow_n(t(2), 1));
  EXPECT_FALSE(both.allow_n(t(3), 1)) << "per_minute is empty";
  EXPECT_DOUBLE_EQ(per_second.tokens_at(t(3)), 1) << "the refusal kept per_second's token";
  EXPECT_TRUE(both.allow_n(t(12), 1));
  EXPECT_FALSE(both.allow_n(t(12), 1));
}

TEST(MultiLimiter, LimitIsTheSmallestAndEachLimiterCountsOnce) {
  limiter a(10, 1), b(goro::rate::every(1min), 10), c(goro::rate::inf, 0);
  multi_limiter ab(a, b);
  EXPECT_DOUBLE_EQ(ab.get_limit(), 1.0 / 60);
  multi_limiter abc(ab, c, a);
  EXPECT_EQ(abc.limiters().size(), 3u);
  EXPECT_DOUBLE_EQ(abc.get_limit(), 1.0 / 60);
  EXPECT_EQ(multi_limiter(c).get_limit(), goro::rate::inf);
  EXPECT_EQ(multi_limiter(std::span<limiter* const>{}).get_limit(), goro::rate::inf);
  EXPECT_TRUE(multi_limiter(std::span<limiter* const>{}).allow());
}

TEST(MultiLimiter, WaitWaitsForTheLongestDelay) {
  goro::run([] {
    limiter fast(goro::rate::every(50ms), 1), slow(goro::rate::every(150ms), 1);
    multi_limiter both(fast, slow);
    time_point first = goro::clock::now();
    EXPECT_FALSE(both.wait(goro::background()));
    time_point second = goro::clock::now();
    EXPECT_FALSE(both.wait(goro::background()));
    auto waited = goro::clock::now() - second;
    EXPECT_GE(waited, 150ms - (second - first) - 1ms) << "did not wait for the slower limiter";
    EXPECT_LT(waited, 150ms + wait_limit);
  });
}

TEST(MultiLimiter, WaitThatWouldExceedTheDeadlineGivesTokensBack) {
  goro::run([] {
    limiter fast(10, 1), slow(goro::rate::every(10s), 1);
    ASSERT_TRUE(slow.allow());
    multi_limiter both(fast, slow);
    auto [ctx, cancel] = goro::with_timeout(goro::background(), 5s);
    time_point start = goro::clock::now();
    EXPECT_EQ(both.wait(ctx), std::errc::timed_out);
    EXPECT_LT(goro::clock::now() - start, 4s);
    EXPECT_GT(fast.tokens(), 0.99) << "fast's reservation was not cancelled";
    cancel();
  });
}

TEST(MultiLimiter, WaitNBeyondAnyBurstFailsAtOnce) {
  goro::run([] {
    limiter a(10, 5), b(10, 2);
    multi_limiter both(a, b);
    EXPECT_EQ(both.wait_n(goro::background(), 3), goro::rate::errc::exceeds_burst);
    EXPECT_DOUBLE_EQ(a.tokens(), 5);
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    cancel();
    EXPECT_EQ(both.wait(ctx), goro::errc::canceled);
    EXPECT_DOUBLE_EQ(b.tokens(), 2);
  });
}

TEST(MultiLimiter, CancelledWhileWaitingGivesEveryTokenBack) {
  goro::run([] {
    // Both reservations lie in the future (a reservation whose time to act
    // has passed is not given back, as in x/time/rate).
    auto a = std::make_shared<limiter>(goro::rate::every(5s), 1);
    auto b = std::make_shared<limiter>(1, 1);  // one a second
    ASSERT_TRUE(a->allow());
    ASSERT_TRUE(b->allow());
    auto both = std::make_shared<multi_limiter>(*a, *b);
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    auto result = goro::make_chan<std::error_code>(1);
    goro::go([a, b, both, ctx = ctx, result] { result.send(both->wait(ctx)); });
    ASSERT_TRUE(goro_test::eventually([&] { return a->tokens() < 0 && b->tokens() < 0; }))
        << "the waiter never reserved";
    cancel();
    std::optional<std::error_code> e = goro_test::recv_within(goro::recv_chan<std::error_code>(result));
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(*e, goro::errc::canceled);
    EXPECT_GT(a->tokens(), -0.01) << "a's token was not given back";
    EXPECT_GT(b->tokens(), -0.01) << "b's token was not given back";
  });
}

// Many goroutines and threads through a multi_limiter whose second limiter
// is the strict one: exactly its burst passes, and every token the refused
// took from the first comes back.
TEST(MultiLimiter, SimultaneousRequestsGetTheStrictestBurst) {
  goro::run([] {
    constexpr int goroutines = 8, threads = 2, tries = 20;
    auto loose = std::make_shared<limiter>(goro::rate::every(1h), 50);
    auto strict = std::make_shared<limiter>(goro::rate::every(1h), 30);
    auto both = std::make_shared<multi_limiter>(*loose, *strict);
    auto ok = std::make_shared<std::atomic<int>>(0);
    auto body = [loose, strict, both, ok] {
      for (int i = 0; i < tries; ++i) {
        if (both->allow()) ok->fetch_add(1);
      }
    };
    std::vector<std::unique_ptr<bounded_thread>> ts;
    for (int i = 0; i < threads; ++i) ts.push_back(std::make_unique<bounded_thread>(body));
    auto done = goro::make_chan<int>(goroutines);
    for (int i = 0; i < goroutines; ++i) {
      goro::go([body, done] {
        body();
        done.send(1);
      });
    }
    ASSERT_TRUE(sync_test::wait_for(done, goroutines));
    for (auto& th : ts) ASSERT_TRUE(th->join());
    EXPECT_EQ(ok->load(), 30);
    EXPECT_NEAR(loose->tokens(), 20, 0.01);
  });
}

}  // namespace

// ---- on a virtual clock (goro::testing::bubble) ---------------------------------
// Waits are paced to the nanosecond, and a long run is deterministic.

TEST(RateVirtualClock, WaitsArePacedAtTheLimit) {
  goro::testing::bubble([] {
    limiter lim(goro::rate::every(100ms), 1);
    auto start = goro::clock::now();
    for (int i = 0; i < 50; ++i) {
      ASSERT_FALSE(lim.wait(goro::background()));
      auto at = goro::clock::now() - start;
      // The delay comes from a token count in floating point: within 1 µs.
      EXPECT_LE(std::chrono::abs(at - i * 100ms), 1us) << "wait " << i;
    }
  });
}

TEST(RateVirtualClock, AWaitThatWouldOutliveTheDeadlineFailsAtOnce) {
  goro::testing::bubble([] {
    limiter lim(goro::rate::every(1s), 1);
    ASSERT_TRUE(lim.allow());
    auto [ctx, cancel] = goro::with_timeout(goro::background(), 500ms);
    auto start = goro::clock::now();
    EXPECT_EQ(lim.wait(ctx), goro::rate::errc::would_exceed_deadline);
    EXPECT_EQ(goro::clock::now(), start);  // no time passed
    cancel();
  });
}

TEST(RateVirtualClock, ALongRunAllowsExactlyTheBurstPlusTheRefill) {
  // Go's TestLongRunningQPS on the virtual clock: three goroutines offer an
  // event every millisecond for ten seconds at a limit of 100 a second and a
  // burst of 20. The count is the same on every run.
  auto one_run = [] {
    int ok = 0;
    goro::testing::bubble([&] {
      limiter lim(100, 20);
      auto end = goro::clock::now() + 10s;
      std::atomic<int> n{0};
      goro::wait_group wg;
      for (int w = 0; w < 3; ++w) {
        wg.add(1);
        goro::go([&] {
          while (goro::clock::now() < end) {
            if (lim.allow()) ++n;
            goro::sleep(1ms);
          }
          wg.done();
        });
      }
      wg.wait();
      ok = n.load();
    });
    return ok;
  };
  int first = one_run();
  // The last offers are at 9.999 s: 20 + 999.9 tokens, floor 1019.
  EXPECT_GE(first, 1018);
  EXPECT_LE(first, 1020);
  EXPECT_EQ(one_run(), first);
}
