// tests/patterns/heartbeat_test.cpp: goro::heartbeat, goro::heartbeat_per_unit
// (goro/heartbeat.hpp) and goro::first_of (goro/replicate.hpp): the
// "Heartbeats" and "Replicated Requests" sections of Concurrency in Go, ch. 5.
//
// Conventions as in tests/sync/sync_test.cpp: every test runs inside
// goro::run; every wait is bounded (goro_test::recv_within, event::wait);
// every goroutine a test starts has returned before it ends (the leak check
// in test_main.cpp), so every test stops what it started. Sleeps only stand
// for work, or give something that must NOT happen a chance to happen.
// Tests that port one of the book's say which.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <variant>
#include <vector>

#include <goro/patterns.hpp>

#include "support/test_support.hpp"

namespace {

using namespace std::chrono_literals;
using goro_test::event;
using goro_test::recv_within;
using goro_test::wait_limit;
using steady = std::chrono::steady_clock;

/// A generator over v (the book's intSlice), for the work functions.
auto generate(std::vector<int> v) {
  return [v = std::move(v), i = std::size_t{0}]() mutable -> std::optional<int> {
    if (i == v.size()) return std::nullopt;
    return v[i++];
  };
}

/// Whether ch is closed within wait_limit, dropping what it still delivers.
template <class T>
bool closes(const goro::recv_chan<T>& ch) {
  auto deadline = goro::after(wait_limit);
  for (;;) {
    std::optional<T> v;
    if (goro::select(ch.on_recv(v), deadline.on_recv()) == 1) return false;
    if (!v) return true;
  }
}

/// Whether the goroutine count is back to `baseline` within wait_limit.
bool back_to(std::int64_t baseline) {
  return goro_test::eventually([&] { return goro::num_goroutine() <= baseline; });
}

// ---- heartbeat (pulses at an interval) --------------------------------------------------

// Nobody takes the result: the worker waits to send it, pulsing every
// interval meanwhile; then it stops when done closes, closing both channels.
TEST(Heartbeat, PulsesEveryIntervalWhileItsResultWaits) {
  goro::run([] {
    auto done = goro::make_done();
    auto [beats, results] = goro::heartbeat(done, 2ms, generate({7}));
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(recv_within(beats)) << "pulse " << i;
    EXPECT_EQ(recv_within(results), 7);
    done.close();
    EXPECT_TRUE(closes(results));
    EXPECT_TRUE(closes(beats));
  });
}

// Pulses nobody reads never block the worker: it produces every result.
TEST(Heartbeat, UnreadPulsesNeverBlockTheWorker) {
  goro::run([] {
    auto done = goro::make_done();
    std::vector<int> want;
    for (int i = 0; i < 200; ++i) want.push_back(i);
    auto [beats, results] = goro::heartbeat(done, 100us, generate(want));
    std::vector<int> got;
    for (;;) {
      std::optional<int> v = recv_within(results);
      if (!v) break;
      got.push_back(*v);
      if (got.size() % 50 == 0) goro::sleep(1ms);  // stands for slow consumption: ticks pile up
    }
    EXPECT_EQ(got, want);
    EXPECT_EQ(beats.capacity(), 1u);
    EXPECT_TRUE(closes(beats)) << "the work ended: heartbeats close too";
    done.close();
  });
}

// The work ending (nullopt) closes results, then heartbeats, with no stop.
TEST(Heartbeat, EndOfWorkClosesBothChannels) {
  goro::run([] {
    auto [beats, results] = goro::heartbeat(goro::stop_signal(), 1h, generate({1, 2}));
    EXPECT_EQ(recv_within(results), 1);
    EXPECT_EQ(recv_within(results), 2);
    EXPECT_TRUE(closes(results));
    EXPECT_TRUE(closes(beats));
  });
}

// A context stops it as a done channel does; the work gets the stop_signal
// and can watch it while it blocks.
TEST(Heartbeat, ContextCancelStopsAWorkerBlockedInItsWork) {
  goro::run([] {
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    auto calls = std::make_shared<std::atomic<int>>(0);
    auto hanging = std::make_shared<event>();
    auto [beats, results] =
        goro::heartbeat(ctx, 1ms, [calls, hanging](const goro::stop_signal& stop) -> std::optional<int> {
          if (calls->fetch_add(1) == 1) {
            hanging->notify();
            stop.done().recv();  // the second unit hangs until stopped
            return std::nullopt;
          }
          return 42;
        });
    EXPECT_EQ(recv_within(results), 42);
    ASSERT_TRUE(hanging->wait());
    cancel();
    EXPECT_TRUE(closes(results));
    EXPECT_TRUE(closes(beats));
    EXPECT_EQ(calls->load(), 2) << "no call of work after the stop";
  });
}

// The book's unhealthy worker (the doWork that stops pulsing after two
// iterations): once the work hangs, the pulses stop, and a watcher that
// waits a few intervals for one sees that.
TEST(Heartbeat, WorkThatHangsStopsThePulses) {
  goro::run([] {
    auto done = goro::make_done();
    int n = 0;
    auto [beats, results] =
        goro::heartbeat(done, 1ms, [&n](const goro::stop_signal& stop) -> std::optional<int> {
          if (++n > 2) {
            stop.done().recv();
            return std::nullopt;
          }
          return n;
        });
    EXPECT_EQ(recv_within(results), 1);
    EXPECT_EQ(recv_within(results), 2);
    // The worker is now in its third unit (it returned from its send): at
    // most one stale pulse is buffered, and no new one can come.
    (void)beats.try_recv();
    EXPECT_EQ(goro::select(beats.on_recv(), goro::after(20ms).on_recv()), 1u)
        << "a pulse from a worker stuck in its work";
    done.close();
    EXPECT_TRUE(closes(results));
    EXPECT_TRUE(closes(beats));
  });
}

// The book's doWork, whose work arrives on a channel (time.Tick(2 *
// pulseInterval)): pulses while it waits for input, and forwards the input.
TEST(Heartbeat, ChannelSourcePulsesWhileWaitingForInput) {
  goro::run([] {
    auto done = goro::make_done();
    auto in = goro::make_chan<int>();
    auto [beats, results] = goro::heartbeat(done, 1ms, in);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(recv_within(beats)) << "no pulse while waiting for input";
    in.send(5);
    EXPECT_EQ(recv_within(results), 5);
    in.close();
    EXPECT_TRUE(closes(results)) << "a closed source ends the worker";
    EXPECT_TRUE(closes(beats));
    done.close();
  });
}

// The book's TestDoWork_GeneratesAllNumbers for the interval version: the
// test selects on results, heartbeats and a timeout, so a slow worker only
// delays it, and a stuck one fails it rather than hanging it.
TEST(Heartbeat, BookIntervalTestGeneratesAllNumbers) {
  goro::run([] {
    auto done = goro::make_done();
    const std::vector<int> want = {0, 1, 2, 3, 5};
    const auto timeout = 2s;
    bool first = true;
    auto [beats, results] = goro::heartbeat(done, timeout / 2, [&, w = generate(want)]() mutable {
      if (std::exchange(first, false)) goro::sleep(5ms);  // stands for a slow start
      return w();
    });
    std::size_t i = 0;
    for (bool open = true; open;) {
      std::optional<int> r;
      switch (goro::select(results.on_recv(r), beats.on_recv(), goro::after(timeout * 5).on_recv())) {
        case 0:
          if (!r) {
            open = false;
            break;
          }
          ASSERT_LT(i, want.size());
          EXPECT_EQ(*r, want[i]) << "index " << i;
          ++i;
          break;
        case 1:
          break;
        default:
          FAIL() << "test timed out";
      }
    }
    EXPECT_EQ(i, want.size());
    done.close();
  });
}

TEST(Heartbeat, NonPositiveIntervalThrowsAndStartsNothing) {
  goro::run([] {
    auto baseline = goro::num_goroutine();
    EXPECT_THROW((void)goro::heartbeat(goro::make_done(), 0ns, generate({1})), goro::panic_error);
    EXPECT_EQ(goro::num_goroutine(), baseline);
  });
}

// ---- heartbeat_per_unit -------------------------------------------------------------------

// A pulse before each unit (and before the call that ends the work): read
// alternately, pulse k always comes before result k, and none is dropped.
TEST(HeartbeatPerUnit, PulsesBeforeEachUnit) {
  goro::run([] {
    auto done = goro::make_done();
    auto [beats, results] = goro::heartbeat_per_unit(done, generate({10, 11, 12}));
    for (int k = 0; k < 3; ++k) {
      ASSERT_TRUE(recv_within(beats)) << "pulse " << k;
      ASSERT_EQ(recv_within(results), 10 + k);
    }
    EXPECT_TRUE(recv_within(beats)) << "the pulse before the call that ends the work";
    EXPECT_TRUE(closes(results));
    EXPECT_TRUE(closes(beats));
    done.close();
  });
}

// The book's deterministic test (TestDoWork_GeneratesAllNumbers with
// per-unit pulses): wait for the first pulse (the worker has begun, however
// slow its start), then read every result with no timing assumption.
TEST(HeartbeatPerUnit, BookDeterministicTestGeneratesAllNumbers) {
  goro::run([] {
    auto done = goro::make_done();
    const std::vector<int> want = {0, 1, 2, 3, 5};
    bool first = true;
    auto [beats, results] = goro::heartbeat_per_unit(done, [&, w = generate(want)]() mutable {
      if (std::exchange(first, false)) goro::sleep(20ms);  // stands for a slow start
      return w();
    });
    ASSERT_TRUE(recv_within(beats)) << "the worker never began";
    std::size_t i = 0;
    while (std::optional<int> r = recv_within(results)) {
      ASSERT_LT(i, want.size());
      EXPECT_EQ(*r, want[i]) << "index " << i;
      ++i;
    }
    EXPECT_EQ(i, want.size());
    done.close();
  });
}

// Stopped while waiting to send: it neither sends nor calls work again.
TEST(HeartbeatPerUnit, StopWhileWaitingToSendClosesBothChannels) {
  goro::run([] {
    auto done = goro::make_done();
    int calls = 0;
    auto [beats, results] =
        goro::heartbeat_per_unit(done, [&calls]() -> std::optional<int> { return ++calls; });
    ASSERT_TRUE(recv_within(beats));
    ASSERT_TRUE(goro_test::until_senders(results, 1));
    done.close();
    EXPECT_TRUE(closes(results));
    EXPECT_TRUE(closes(beats));
    EXPECT_EQ(calls, 1);
  });
}

// ---- first_of (replicated requests) ----------------------------------------------------------

// One replica answers at once; the others wait for their context and give
// up. first_of returns the answer, every loser has seen the cancel and
// returned, and no goroutine is left.
TEST(FirstOf, ReturnsFirstAnswerCancelsAndWaitsForTheRest) {
  goro::run([] {
    auto baseline = goro::num_goroutine();
    auto cancelled = std::make_shared<std::atomic<int>>(0);
    auto returned = std::make_shared<std::atomic<int>>(0);
    auto r = goro::first_of(goro::background(), 8,
                            [=](const goro::context& ctx, std::size_t id) -> std::optional<std::string> {
                              struct count {
                                std::atomic<int>& n;
                                ~count() { n.fetch_add(1); }
                              } on_return{*returned};
                              if (id == 5) return "answer from #" + std::to_string(id);
                              ctx.done().recv();
                              if (ctx.err() == goro::errc::canceled) cancelled->fetch_add(1);
                              return std::nullopt;
                            });
    ASSERT_TRUE(r);
    EXPECT_EQ(*r.value, "answer from #5");
    EXPECT_EQ(r.replica, 5u);
    EXPECT_FALSE(r.err);
    EXPECT_EQ(returned->load(), 8) << "first_of returned before every replica had";
    EXPECT_EQ(cancelled->load(), 7);
    EXPECT_TRUE(back_to(baseline));
  });
}

// A plain return type: the first to return wins; the others, cancelled,
// return values that are not taken.
TEST(FirstOf, PlainReturnTypeTakesTheFirstReturn) {
  goro::run([] {
    auto r = goro::first_of(goro::background(), 4, [](const goro::context& ctx, std::size_t id) {
      if (id != 2) ctx.done().recv();
      return static_cast<int>(id) * 10;
    });
    ASSERT_TRUE(r);
    EXPECT_EQ(*r.value, 20);
    EXPECT_EQ(r.replica, 2u);
  });
}

// The book's replicated requests: handlers with random simulated load; the
// fastest answers. Here the loads are fixed so the winner is known.
TEST(FirstOf, FastestReplicaWinsAndSlowOnesAreCutShort) {
  goro::run([] {
    auto start = steady::now();
    auto r = goro::first_of(goro::background(), 5,
                            [](const goro::context& ctx, std::size_t id) -> std::optional<std::size_t> {
                              auto load = id == 3 ? 1ms : 1h;
                              if (goro::sleep(ctx, load)) return std::nullopt;  // cancelled
                              return id;
                            });
    ASSERT_TRUE(r);
    EXPECT_EQ(*r.value, 3u);
    EXPECT_LT(steady::now() - start, wait_limit) << "the slow replicas were not cut short";
  });
}

// ctx ends before any answer: err is ctx.err(), and every replica returned.
TEST(FirstOf, ContextDeadlineFirstReturnsItsError) {
  goro::run([] {
    auto baseline = goro::num_goroutine();
    auto [ctx, cancel] = goro::with_timeout(goro::background(), 5ms);
    auto returned = std::make_shared<std::atomic<int>>(0);
    auto r = goro::first_of(ctx, 3, [returned](const goro::context& c) -> std::optional<int> {
      c.done().recv();
      returned->fetch_add(1);
      return std::nullopt;
    });
    EXPECT_FALSE(r);
    EXPECT_EQ(r.err, goro::errc::deadline_exceeded);
    EXPECT_EQ(returned->load(), 3);
    EXPECT_TRUE(back_to(baseline));
    cancel();
  });
}

// Cancelled from another goroutine while the replicas work.
TEST(FirstOf, ParentCancelStopsAllReplicas) {
  goro::run([] {
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    auto started = goro::make_chan<int>(4);
    goro::go([started, cancel = cancel] {
      for (int i = 0; i < 4; ++i) started.recv();
      cancel();
    });
    auto r = goro::first_of(ctx, 4, [started](const goro::context& c) -> std::optional<int> {
      started.send(1);
      c.done().recv();
      return std::nullopt;
    });
    EXPECT_FALSE(r);
    EXPECT_EQ(r.err, goro::errc::canceled);
  });
}

TEST(FirstOf, DoneContextStartsNothing) {
  goro::run([] {
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    cancel();
    int calls = 0;
    auto r = goro::first_of(ctx, 3, [&calls](const goro::context&) { return ++calls; });
    EXPECT_FALSE(r);
    EXPECT_EQ(r.err, goro::errc::canceled);
    EXPECT_EQ(calls, 0);
  });
}

TEST(FirstOf, EveryReplicaGivingUpIsNoMessage) {
  goro::run([] {
    auto r =
        goro::first_of(goro::background(), 3, [](const goro::context&) -> std::optional<int> { return {}; });
    EXPECT_FALSE(r);
    EXPECT_EQ(r.err, std::errc::no_message);
  });
}

// A replica's context is derived from ctx: it sees ctx's values.
const goro::context_key<int> request_key;

TEST(FirstOf, ReplicaContextCarriesParentValues) {
  goro::run([] {
    goro::context ctx = goro::with_value(goro::background(), request_key, 99);
    auto r = goro::first_of(ctx, 2, [](const goro::context& c) {
      const int* v = c.value(request_key);
      return v != nullptr ? *v : -1;
    });
    ASSERT_TRUE(r);
    EXPECT_EQ(*r.value, 99);
  });
}

TEST(FirstOf, ZeroReplicasThrows) {
  goro::run([] {
    EXPECT_THROW((void)goro::first_of(goro::background(), 0, [](const goro::context&) { return 1; }),
                 std::invalid_argument);
  });
}

}  // namespace
