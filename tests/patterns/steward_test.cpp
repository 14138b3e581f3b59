// tests/patterns/steward_test.cpp: goro::steward (goro/steward.hpp), the
// "Healing Unhealthy Goroutines" section of Concurrency in Go, ch. 5.
//
// Conventions as in heartbeat_test.cpp: inside goro::run, every wait
// bounded, every goroutine stopped before the test ends; sleeps only give
// a wrongful restart the chance to happen. Timeouts are generous (tens of
// milliseconds) where a test needs a healthy ward to stay healthy, so a
// loaded machine (sanitizers, GOMAXPROCS=1) does not make it look hung.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <stdexcept>
#include <utility>
#include <variant>
#include <vector>

#include <goro/patterns.hpp>

#include "support/test_support.hpp"

namespace {

using namespace std::chrono_literals;
using goro_test::eventually;
using goro_test::recv_within;
using goro_test::wait_limit;
using steady = std::chrono::steady_clock;
using beat_chan = goro::recv_chan<std::monostate>;

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

/// What the wards of one test did. Shared with the wards, which may
/// outlive a failed test's scope.
struct ward_log {
  goro::chan<steady::time_point> starts = goro::make_chan<steady::time_point>(1024);
  std::atomic<int> started{0};
  std::atomic<int> halted{0};
  std::atomic<int> restarts{0};

  void start() {
    started.fetch_add(1);
    (void)starts.try_send(steady::now());
  }
};

/// A steward's on_restart that counts restarts in log.
auto count_restarts(std::shared_ptr<ward_log> log) {
  return [log] { log->restarts.fetch_add(1); };
}

/// A ward that hangs from the start: it never pulses, but it does stop when
/// told to, and then closes its heartbeat channel (the contract).
auto hung_ward(std::shared_ptr<ward_log> log) {
  return [log](goro::stop_signal done, std::chrono::nanoseconds) -> beat_chan {
    log->start();
    auto beats = goro::make_chan<std::monostate>();
    goro::go([log, done, beats] {
      done.done().recv();
      log->halted.fetch_add(1);
      beats.close();
    });
    return beats;
  };
}

/// A healthy ward: goro::heartbeat waiting for input that never comes,
/// pulsing every interval meanwhile.
auto healthy_ward(std::shared_ptr<ward_log> log) {
  return [log](goro::stop_signal done, std::chrono::nanoseconds pulse_interval) -> beat_chan {
    log->start();
    return goro::heartbeat(done, pulse_interval, goro::recv_chan<int>()).heartbeats;
  };
}

/// Receives n start times of wards.
std::vector<steady::time_point> starts_of(const ward_log& log, int n) {
  std::vector<steady::time_point> t;
  for (int i = 0; i < n; ++i) {
    std::optional<steady::time_point> s = recv_within(goro::recv_chan<steady::time_point>(log.starts));
    if (!s) break;
    t.push_back(*s);
  }
  return t;
}

// A ward that never pulses is restarted after `timeout` (not before, and
// within a bound after), again and again; each old ward is told to stop.
TEST(Steward, RestartsAHungWardAfterTimeout) {
  goro::run([] {
    auto log = std::make_shared<ward_log>();
    const auto timeout = 20ms;
    const auto bound = 2s;  // scheduling slack on a loaded machine
    auto done = goro::make_done();
    beat_chan beats = goro::steward(timeout, hung_ward(log), count_restarts(log))(done, 1h);
    std::vector<steady::time_point> t = starts_of(*log, 4);
    ASSERT_EQ(t.size(), 4u);
    for (std::size_t i = 1; i < t.size(); ++i) {
      EXPECT_GE(t[i] - t[i - 1], timeout) << "restart " << i << " came before the timeout";
      EXPECT_LT(t[i] - t[i - 1], timeout + bound) << "restart " << i;
    }
    EXPECT_GE(log->restarts.load(), 3);
    EXPECT_TRUE(eventually([&] { return log->halted.load() >= 3; })) << "replaced wards were not stopped";
    done.close();
    EXPECT_TRUE(closes(beats));
    // The current ward has stopped once the steward has; one replaced just
    // before the stop may still be on its way out.
    EXPECT_TRUE(eventually([&] { return log->halted.load() == log->started.load(); }));
    EXPECT_EQ(log->restarts.load(), log->started.load() - 1);
  });
}

// A ward that pulses every timeout / 2 is left alone.
TEST(Steward, LeavesAHealthyWardRunning) {
  goro::run([] {
    auto log = std::make_shared<ward_log>();
    auto done = goro::make_done();
    beat_chan beats = goro::steward(200ms, healthy_ward(log), count_restarts(log))(done, 1h);
    goro::sleep(500ms);  // a wrongful restart's chance to happen
    EXPECT_EQ(log->restarts.load(), 0);
    EXPECT_EQ(log->started.load(), 1);
    done.close();
    EXPECT_TRUE(closes(beats));
  });
}

// A ward that ends on its own (closes its heartbeat) is restarted a timeout
// later, not in a tight loop.
TEST(Steward, RestartsAWardThatEndsAfterTimeoutNotAtOnce) {
  goro::run([] {
    auto log = std::make_shared<ward_log>();
    const auto timeout = 10ms;
    auto quitter = [log](goro::stop_signal, std::chrono::nanoseconds) -> beat_chan {
      log->start();
      auto beats = goro::make_chan<std::monostate>(1);
      beats.send(std::monostate{});  // one pulse, then it ends
      beats.close();
      return beats;
    };
    auto done = goro::make_done();
    beat_chan beats = goro::steward(timeout, quitter)(done, 1h);
    std::vector<steady::time_point> t = starts_of(*log, 3);
    ASSERT_EQ(t.size(), 3u);
    for (std::size_t i = 1; i < t.size(); ++i) EXPECT_GE(t[i] - t[i - 1], timeout) << "restart " << i;
    done.close();
    EXPECT_TRUE(closes(beats));
  });
}

// The steward pulses on its own heartbeat every pulse_interval.
TEST(Steward, PulsesEveryPulseInterval) {
  goro::run([] {
    auto log = std::make_shared<ward_log>();
    auto done = goro::make_done();
    beat_chan beats = goro::steward(200ms, healthy_ward(log))(done, 1ms);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(recv_within(beats)) << "pulse " << i;
    EXPECT_EQ(beats.capacity(), 1u);
    done.close();
    EXPECT_TRUE(closes(beats));
  });
}

// Cancelling the context stops the ward, then the steward: once the
// steward's heartbeat is closed, the ward has stopped.
TEST(Steward, ContextCancelStopsWardThenSteward) {
  goro::run([] {
    auto log = std::make_shared<ward_log>();
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    beat_chan beats = goro::steward(1h, hung_ward(log))(ctx, 1h);
    ASSERT_EQ(starts_of(*log, 1).size(), 1u);
    EXPECT_EQ(log->halted.load(), 0);
    cancel();
    EXPECT_TRUE(closes(beats));
    EXPECT_EQ(log->halted.load(), 1) << "the steward closed its heartbeat before its ward had stopped";
    EXPECT_EQ(log->started.load(), 1);
  });
}

// The book's irresponsible ward: it returns the nil channel (no heartbeat at
// all) and stops when told to. The steward restarts it every timeout, and
// stops without waiting for it.
TEST(Steward, NilHeartbeatWardIsRestartedAndStopped) {
  goro::run([] {
    auto log = std::make_shared<ward_log>();
    auto irresponsible = [log](goro::stop_signal done, std::chrono::nanoseconds) -> beat_chan {
      log->start();
      goro::go([log, done] {
        done.done().recv();
        log->halted.fetch_add(1);
      });
      return {};
    };
    auto done = goro::make_done();
    beat_chan beats = goro::steward(5ms, irresponsible)(done, 1h);
    ASSERT_EQ(starts_of(*log, 3).size(), 3u);
    done.close();
    EXPECT_TRUE(closes(beats));
    EXPECT_TRUE(eventually([&] { return log->halted.load() == log->started.load(); }));
  });
}

// A steward is a start function: a steward can watch a steward. The inner
// one heals its hung wards and pulses for the outer one, which therefore
// never restarts it; stopping the outer stops all.
TEST(Steward, StewardOfAStewardHealsTheInnerWards) {
  goro::run([] {
    auto log = std::make_shared<ward_log>();
    auto outer_restarts = std::make_shared<std::atomic<int>>(0);
    auto inner = goro::steward(10ms, hung_ward(log), count_restarts(log));
    auto outer = goro::steward(400ms, inner, [outer_restarts] { outer_restarts->fetch_add(1); });
    auto done = goro::make_done();
    beat_chan beats = outer(done, 1h);
    ASSERT_EQ(starts_of(*log, 4).size(), 4u);
    EXPECT_EQ(outer_restarts->load(), 0) << "the inner steward pulses every 200 ms";
    done.close();
    EXPECT_TRUE(closes(beats));
    EXPECT_TRUE(eventually([&] { return log->halted.load() == log->started.load(); }));
  });
}

TEST(Steward, BadIntervalsThrowAndStartNothing) {
  goro::run([] {
    auto log = std::make_shared<ward_log>();
    EXPECT_THROW((void)goro::steward(1ns, hung_ward(log)), std::invalid_argument);
    auto start = goro::steward(1s, hung_ward(log));
    EXPECT_THROW((void)start(goro::make_done(), 0ns), goro::panic_error);
    EXPECT_EQ(log->started.load(), 0);
  });
}

// ---- the book's generator of wards ---------------------------------------------------

/// The book's bridge (ch. 4), enough of it for this test: the values of a
/// stream of streams, in order, as one stream.
goro::recv_chan<int> bridge(goro::stop_signal done, goro::recv_chan<goro::recv_chan<int>> streams) {
  auto out = goro::make_chan<int>();
  goro::go([done, streams, out] {
    struct closer {
      goro::chan<int> c;
      ~closer() { c.close(); }
    } close_out{out};
    for (;;) {
      std::optional<goro::recv_chan<int>> stream;
      if (goro::select(streams.on_recv(stream), done.on_stop()) == 1 || !stream) return;
      for (;;) {
        std::optional<int> v;
        if (goro::select(stream->on_recv(v), done.on_stop()) == 1) return;
        if (!v) break;
        if (goro::select(out.on_send(*v), done.on_stop()) == 1) return;
      }
    }
  });
  return out;
}

/// The book's doWorkFn: a start function for wards that each produce the
/// values of `list` (on a stream of their own, bridged into one), pulsing
/// meanwhile, and end (unhealthy: no more pulses) at the first negative
/// value. Returns the start function and the bridged stream.
auto do_work_fn(goro::stop_signal done, std::vector<int> list) {
  auto int_chan_stream = goro::make_chan<goro::recv_chan<int>>();
  goro::recv_chan<int> int_stream = bridge(done, int_chan_stream);
  auto do_work = [int_chan_stream, list](goro::stop_signal ward_done,
                                         std::chrono::nanoseconds pulse_interval) {
    auto ints = goro::make_chan<int>();
    auto heartbeat = goro::make_chan<std::monostate>();
    goro::go([int_chan_stream, list, ward_done, pulse_interval, ints, heartbeat] {
      struct closer {
        goro::chan<int> c;
        ~closer() { c.close(); }
      } close_ints{ints};
      if (goro::select(int_chan_stream.on_send(goro::recv_chan<int>(ints)), ward_done.on_stop()) == 1) return;
      goro::ticker pulse(pulse_interval);
      struct stopper {
        goro::ticker& t;
        ~stopper() { t.stop(); }
      } stop_pulse{pulse};
      for (;;) {
        for (int v : list) {
          if (v < 0) return;  // the book logs "negative value" and returns: unhealthy
          for (bool sent = false; !sent;) {
            switch (goro::select(pulse.c().on_recv(), ints.on_send(v), ward_done.on_stop())) {
              case 0:
                (void)heartbeat.try_send(std::monostate{});
                break;
              case 1:
                sent = true;
                break;
              default:
                return;
            }
          }
        }
      }
    });
    return beat_chan(heartbeat);
  };
  return std::make_pair(do_work, int_stream);
}

// The book's example: wards that produce 1, 2 and then die on -1; the
// steward restarts each dead one, so a consumer taking six values sees
// 1 2 1 2 1 2. (The book's timeout is 1 ms; 100 ms keeps a healthy ward
// healthy on a loaded machine.)
TEST(Steward, BookGeneratorOfWardsRestartsFromTheStart) {
  goro::run([] {
    auto done = goro::make_done();
    auto restarts = std::make_shared<std::atomic<int>>(0);
    auto [do_work, int_stream] = do_work_fn(done, {1, 2, -1, 3, 4, 5});
    auto do_work_with_steward = goro::steward(100ms, do_work, [restarts] { restarts->fetch_add(1); });
    beat_chan beats = do_work_with_steward(done, 1h);
    std::vector<int> got;
    for (int i = 0; i < 6; ++i) {
      std::optional<int> v = recv_within(int_stream);
      if (!v) break;
      got.push_back(*v);
    }
    EXPECT_EQ(got, (std::vector<int>{1, 2, 1, 2, 1, 2}));
    EXPECT_GE(restarts->load(), 2);
    done.close();
    EXPECT_TRUE(closes(beats));
    EXPECT_TRUE(closes(int_stream));
  });
}

}  // namespace
