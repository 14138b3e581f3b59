// tests/patterns/pipeline_stop_test.cpp: goro/pipeline.hpp's first rule:
// when the stop signal fires (the book's done channel is closed, or a
// context is cancelled), every goroutine a pattern started returns,
// promptly, even if nobody reads its output, even mid-stream with a stage
// blocked sending, even when its input is the nil channel; and its output
// closes. (Book, "Preventing Goroutine Leaks": "If a goroutine is
// responsible for creating a goroutine, it is also responsible for ensuring
// it can stop the goroutine.")
//
// Every check runs twice: with a done channel and with a context.
// Conventions: see pipeline_helpers.hpp.
#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "patterns/pipeline_helpers.hpp"

namespace {

using namespace std::chrono_literals;
using namespace pipe_test;

class PipelineStop : public ::testing::TestWithParam<stop_kind> {};

INSTANTIATE_TEST_SUITE_P(Stops, PipelineStop, ::testing::Values(stop_kind::done, stop_kind::context), kind_name);

template <class S>
goro::recv_chan<typename S::value_type> as_recv(const S& s) {
  return s;
}

/// The three stops every pattern must survive, on a pipeline build(stop)
/// makes (with its own source, infinite or long enough to read 3 values):
///  1. stopped while nobody reads its output;
///  2. stopped mid-stream: 3 values read, then the pattern blocked sending
///     the next one;
///  3. stopped before it was even built.
/// Each time: every goroutine returns (num_goroutine back to where it was,
/// within a bound) and the output closes, with at most `left` values still
/// in it (a buffer's capacity).
template <class Build>
void check_stops(stop_kind kind, Build build, std::size_t left = 0) {
  goro::run([&] {
    const std::int64_t baseline = goro::num_goroutine();
    traced("stopped while nobody reads", [&] {
      stopper stop(kind);
      auto out = build(stop.signal());
      using T = typename decltype(out)::value_type;
      give_a_chance();  // lets the pipeline start and block (not needed for the check)
      stop.fire();
      EXPECT_TRUE(goroutines_back_to(baseline)) << goro::num_goroutine() - baseline << " goroutine(s) left";
      EXPECT_TRUE(closes_within<T>(out, left)) << "output not closed after the stop";
    });
    traced("stopped mid-stream, blocked sending", [&] {
      stopper stop(kind);
      auto out = build(stop.signal());
      using T = typename decltype(out)::value_type;
      for (int i = 0; i < 3; ++i) ASSERT_TRUE(next<T>(out)) << "value " << i;
      EXPECT_TRUE(goro_test::until_senders(as_recv(out), 1)) << "the pattern never blocked sending";
      stop.fire();
      EXPECT_TRUE(goroutines_back_to(baseline)) << goro::num_goroutine() - baseline << " goroutine(s) left";
      EXPECT_TRUE(closes_within<T>(out, left)) << "output not closed after the stop";
    });
    traced("stopped before it was built", [&] {
      stopper stop(kind);
      stop.fire();
      auto out = build(stop.signal());
      using T = typename decltype(out)::value_type;
      EXPECT_TRUE(goroutines_back_to(baseline)) << goro::num_goroutine() - baseline << " goroutine(s) left";
      EXPECT_TRUE(closes_within<T>(out, left)) << "output not closed after the stop";
    });
  });
}

/// A pattern whose input is the nil channel (Go: receiving from a nil
/// channel blocks forever): it delivers nothing, and the stop still ends it.
template <class Build>
void check_nil_input(stop_kind kind, Build build) {
  goro::run([&] { traced("input: the nil channel", [&] {
    const std::int64_t baseline = goro::num_goroutine();
    stopper stop(kind);
    auto out = build(stop.signal());
    using T = typename decltype(out)::value_type;
    give_a_chance();
    EXPECT_FALSE(ready_now(out)) << "something came out of the nil channel";
    stop.fire();
    EXPECT_TRUE(goroutines_back_to(baseline)) << goro::num_goroutine() - baseline << " goroutine(s) left";
    EXPECT_TRUE(closes_within<T>(out)) << "output not closed after the stop";
  }); });
}

const goro::recv_chan<int> nil_ints;
const goro::context_key<int> some_key;

// ---- generators -------------------------------------------------------------------

// Book, "Preventing Goroutine Leaks" (the generator that would leak without
// done) and "Pipelines": generator and from stop.
TEST_P(PipelineStop, Generator) {
  check_stops(GetParam(), [](const goro::stop_signal& s) { return goro::generator(s, 1, 2, 3, 4, 5, 6, 7, 8); });
}
TEST_P(PipelineStop, From) {
  check_stops(GetParam(), [](const goro::stop_signal& s) { return goro::from(s, iota_vec(100)); });
}

// Book, "Some Handy Generators": repeat and repeatFn never end on their own;
// only the stop ends them.
TEST_P(PipelineStop, Repeat) {
  check_stops(GetParam(), [](const goro::stop_signal& s) { return goro::repeat(s, 1, 2, 3); });
}
TEST_P(PipelineStop, RepeatFn) {
  check_stops(GetParam(), [](const goro::stop_signal& s) {
    return goro::repeat_fn(s, [i = 0]() mutable { return std::make_unique<int>(i++); });
  });
}

// Book, take: stops mid-stream and on a nil input.
TEST_P(PipelineStop, Take) {
  check_stops(GetParam(), [](const goro::stop_signal& s) { return goro::take(s, goro::repeat(s, 1), 1000); });
  check_nil_input(GetParam(), [](const goro::stop_signal& s) { return goro::take(s, nil_ints, 5); });
}

// Book, take over repeat: once take has its n values it closes, but the
// repeat before it stays blocked sending until the stop (as in Go: that is
// what done is for).
TEST_P(PipelineStop, TakeLeavesItsSourceToTheStop) {
  goro::run([kind = GetParam()] {
    const std::int64_t baseline = goro::num_goroutine();
    stopper stop(kind);
    auto src = goro::repeat(stop.signal(), 1);
    EXPECT_EQ(drain<int>(goro::take(stop.signal(), src, 3)), (std::vector<int>{1, 1, 1}));
    EXPECT_TRUE(goro_test::until_senders(as_recv(src), 1));
    EXPECT_TRUE(goro_test::eventually([&] { return goro::num_goroutine() == baseline + 1; }))
        << "take's goroutine did not return once it had its values";
    stop.fire();
    EXPECT_TRUE(goroutines_back_to(baseline));
    EXPECT_TRUE(closes_within<int>(src));
  });
}

// ---- stages -------------------------------------------------------------------------

// Book, "Pipelines" (every stage selects on done when it sends and when it
// receives): map, filter, try_map, batch, buffer.
TEST_P(PipelineStop, Map) {
  check_stops(GetParam(), [](const goro::stop_signal& s) {
    return goro::map(s, goro::repeat(s, 1), [](int x) { return x * 2; });
  });
  check_stops(GetParam(), [](const goro::stop_signal& s) {
    return goro::repeat(s, 1) | goro::map([](int x) { return x + 1; }) | goro::map([](int x) { return x * 2; });
  });
  check_nil_input(GetParam(), [](const goro::stop_signal& s) {
    return goro::map(s, nil_ints, [](int x) { return x; });
  });
}
TEST_P(PipelineStop, Filter) {
  check_stops(GetParam(), [](const goro::stop_signal& s) {
    return goro::filter(s, goro::repeat(s, 1, 2, 3), [](int x) { return x != 2; });
  });
  check_nil_input(GetParam(), [](const goro::stop_signal& s) {
    return goro::filter(s, nil_ints, [](int) { return true; });
  });
}

// A filter that drops everything: blocked receiving, never sending; the
// stop ends it (Go: the select in its receive).
TEST_P(PipelineStop, FilterThatDropsEverything) {
  goro::run([kind = GetParam()] {
    const std::int64_t baseline = goro::num_goroutine();
    stopper stop(kind);
    auto calls = std::make_shared<std::atomic<int>>(0);
    auto out = goro::filter(stop.signal(), goro::repeat(stop.signal(), 1), [calls](int) {
      calls->fetch_add(1);
      return false;
    });
    EXPECT_TRUE(goro_test::eventually([&] { return calls->load() > 100; }));
    EXPECT_FALSE(ready_now(out));
    stop.fire();
    EXPECT_TRUE(goroutines_back_to(baseline));
    EXPECT_TRUE(closes_within<int>(out));
  });
}
TEST_P(PipelineStop, TryMap) {
  check_stops(GetParam(), [](const goro::stop_signal& s) {
    return goro::try_map(s, goro::repeat(s, 1, 2), [](int x) {
      if (x == 2) throw std::runtime_error("two");
      return x;
    });
  });
  check_nil_input(GetParam(), [](const goro::stop_signal& s) {
    return goro::try_map(s, nil_ints, [](int x) { return x; });
  });
}
TEST_P(PipelineStop, Batch) {
  check_stops(GetParam(), [](const goro::stop_signal& s) { return goro::batch(s, goro::repeat(s, 1), 3); });
  check_nil_input(GetParam(), [](const goro::stop_signal& s) { return goro::batch(s, nil_ints, 3); });
}

// batch's partial last batch is not sent after the stop (nor does batch
// wait for someone to take it).
TEST_P(PipelineStop, BatchDropsItsPartialBatchOnStop) {
  goro::run([kind = GetParam()] {
    const std::int64_t baseline = goro::num_goroutine();
    stopper stop(kind);
    auto in = goro::make_chan<int>();
    auto out = goro::batch(stop.signal(), in, 10);
    in.send(1);
    in.send(2);
    EXPECT_TRUE(goro_test::until_receivers(in, 1));
    stop.fire();
    EXPECT_TRUE(goroutines_back_to(baseline));
    EXPECT_TRUE(closes_within<std::vector<int>>(out));
    in.close();
  });
}
TEST_P(PipelineStop, Buffer) {
  check_stops(GetParam(), [](const goro::stop_signal& s) { return goro::buffer(s, goro::repeat(s, 1), 4); }, 4);
  check_nil_input(GetParam(), [](const goro::stop_signal& s) { return goro::buffer(s, nil_ints, 4); });
}

// ---- or-done, tee, bridge -------------------------------------------------------------

// Book, "The or-done-channel": the point of orDone is a channel someone else
// owns that may never close (here: never sent on, or sent on and never
// closed): the stop still ends the loop.
TEST_P(PipelineStop, OrDone) {
  auto theirs = goro::make_chan<int>(10);  // never closed by its owner
  check_stops(GetParam(), [&theirs](const goro::stop_signal& s) {
    theirs = goro::make_chan<int>(10);
    for (int i = 0; i < 10; ++i) theirs.send(i);
    return goro::or_done(s, theirs);
  });
  check_nil_input(GetParam(), [](const goro::stop_signal& s) {
    return goro::or_done(s, goro::make_chan<std::unique_ptr<int>>());
  });
  check_nil_input(GetParam(), [](const goro::stop_signal& s) { return goro::or_done(s, nil_ints); });
}

// Book, "The tee-channel": stops with nobody reading either output, with
// one output read and the other not (tee blocked sending the value to the
// second), mid-stream, and on a nil input.
TEST_P(PipelineStop, Tee) {
  const stop_kind kind = GetParam();
  goro::run([kind] {
    const std::int64_t baseline = goro::num_goroutine();
    for (int reads = 0; reads < 4; ++reads) traced("values read from out1 before the stop: " + std::to_string(reads), [&] {
      stopper stop(kind);
      auto [out1, out2] = goro::tee(stop.signal(), goro::repeat(stop.signal(), 1, 2));
      for (int i = 0; i < reads; ++i) {
        ASSERT_TRUE(next<int>(out1));
        if (i + 1 < reads) ASSERT_TRUE(next<int>(out2));  // the last value only reaches out1
      }
      if (reads > 0) EXPECT_TRUE(goro_test::until_senders(as_recv(out2), 1));
      stop.fire();
      EXPECT_TRUE(goroutines_back_to(baseline));
      EXPECT_TRUE(closes_within<int>(out1));
      EXPECT_TRUE(closes_within<int>(out2));
    });
    {
      stopper stop(kind);
      stop.fire();
      auto [out1, out2] = goro::tee(stop.signal(), goro::repeat(stop.signal(), 1));
      EXPECT_TRUE(goroutines_back_to(baseline));
      EXPECT_TRUE(closes_within<int>(out1));
      EXPECT_TRUE(closes_within<int>(out2));
    }
  });
  check_nil_input(kind, [](const goro::stop_signal& s) { return goro::tee(s, nil_ints).first; });
}

// Book, "The bridge-channel": stops in the middle of an inner channel that
// never ends, while waiting for the next channel, and on a nil inner or
// outer channel.
TEST_P(PipelineStop, Bridge) {
  check_stops(GetParam(), [](const goro::stop_signal& s) {
    return goro::bridge(s, goro::repeat_fn(s, [s] { return goro::repeat(s, 1); }));  // a stream of streams
  });
  check_stops(GetParam(), [](const goro::stop_signal& s) {
    // Short inner channels, many of them.
    return goro::bridge(s, goro::repeat_fn(s, [s] { return goro::recv_chan<int>(goro::generator(s, 1, 2)); }));
  });
  check_nil_input(GetParam(), [](const goro::stop_signal& s) {
    return goro::bridge(s, goro::recv_chan<goro::recv_chan<int>>());
  });
  check_nil_input(GetParam(), [](const goro::stop_signal& s) {
    auto outer = goro::make_chan<goro::recv_chan<int>>(1);
    outer.send(goro::recv_chan<int>());  // a nil inner channel
    return goro::bridge(s, outer);
  });
}

// ---- fan-out, fan-in ---------------------------------------------------------------

// Book, "Fan-Out, Fan-In": fanIn's goroutines (one per input) all return on
// the stop, and the output closes once the last one has.
TEST_P(PipelineStop, FanIn) {
  check_stops(GetParam(), [](const goro::stop_signal& s) {
    return goro::fan_in(s, std::vector<goro::recv_chan<int>>{goro::repeat(s, 1), goro::repeat(s, 2), nil_ints,
                                                             goro::generator(s, 3)});
  });
  check_nil_input(GetParam(), [](const goro::stop_signal& s) {
    return goro::fan_in(s, std::vector<goro::recv_chan<int>>{nil_ints, nil_ints, nil_ints});
  });
}
TEST_P(PipelineStop, FanOut) {
  check_stops(GetParam(), [](const goro::stop_signal& s) {
    return goro::fan_out(s, goro::repeat(s, 1, 2), 4, [](int x) { return x * 10; });
  });
  check_nil_input(GetParam(), [](const goro::stop_signal& s) {
    return goro::fan_out(s, nil_ints, 4, [](int x) { return x; });
  });
}
TEST_P(PipelineStop, FanOutOrdered) {
  check_stops(GetParam(), [](const goro::stop_signal& s) {
    return goro::fan_out_ordered(s, goro::repeat(s, 1, 2), 4, [](int x) { return x * 10; });
  });
  check_nil_input(GetParam(), [](const goro::stop_signal& s) {
    return goro::fan_out_ordered(s, nil_ints, 4, [](int x) { return x; });
  });
}

// fan_out / fan_out_ordered stopped while calls of f are running (f cannot
// be interrupted; its result is dropped when it returns): every goroutine
// returns once f does.
TEST_P(PipelineStop, FanOutStoppedWhileFRuns) {
  goro::run([kind = GetParam()] {
    const std::int64_t baseline = goro::num_goroutine();
    for (bool ordered : {false, true}) traced(ordered ? "fan_out_ordered" : "fan_out", [&] {
      stopper stop(kind);
      auto gate = goro::make_done();
      auto inside = std::make_shared<std::atomic<int>>(0);
      auto f = [gate, inside](int x) {
        inside->fetch_add(1);
        (void)gate.recv();  // until the test opens the gate
        return x;
      };
      goro::stream<int> out = ordered ? goro::fan_out_ordered(stop.signal(), goro::repeat(stop.signal(), 1), 3, f)
                                      : goro::fan_out(stop.signal(), goro::repeat(stop.signal(), 1), 3, f);
      EXPECT_TRUE(goro_test::eventually([&] { return inside->load() == 3; })) << "n calls of f did not start";
      stop.fire();
      give_a_chance();
      gate.close();
      EXPECT_TRUE(goroutines_back_to(baseline));
      EXPECT_TRUE(closes_within<int>(out));
    });
  });
}

// ---- contexts ---------------------------------------------------------------------

// Book, "The context Package": a pipeline given a context with a deadline
// stops by itself when the deadline passes, nobody reading.
TEST(PipelineContext, DeadlineStopsThePipeline) {
  goro::run([] {
    const std::int64_t baseline = goro::num_goroutine();
    auto [ctx, cancel] = goro::with_timeout(goro::background(), 20ms);
    auto out = goro::repeat(ctx, 1) | goro::map([](int x) { return x; }) | goro::buffer(2);
    auto fanned = goro::fan_out_ordered(ctx, goro::repeat(ctx, 2), 2, [](int x) { return x; });
    EXPECT_TRUE(goroutines_back_to(baseline)) << "the deadline did not stop the pipeline";
    EXPECT_EQ(ctx.err(), goro::errc::deadline_exceeded);
    EXPECT_TRUE(closes_within<int>(out, 2));
    EXPECT_TRUE(closes_within<int>(fanned));
    cancel();
  });
}

// Book, "The context Package": cancelling a parent context stops a pipeline
// that was given a child of it.
TEST(PipelineContext, ParentCancelStopsThePipeline) {
  goro::run([] {
    const std::int64_t baseline = goro::num_goroutine();
    auto [parent, cancel_parent] = goro::with_cancel(goro::background());
    auto [child, cancel_child] = goro::with_cancel(goro::with_value(parent, some_key, 1));
    auto out = goro::from(child, iota_vec(100)) | goro::filter([](int x) { return x % 2 == 0; }) | goro::batch(2);
    EXPECT_EQ(next<std::vector<int>>(out), (std::vector<int>{0, 2}));
    cancel_parent();
    EXPECT_TRUE(goroutines_back_to(baseline));
    EXPECT_TRUE(closes_within<std::vector<int>>(out));
    cancel_child();
  });
}

// A stop_signal made from a context that can never be cancelled (background)
// never stops; the pipeline still ends when its input does.
TEST(PipelineContext, BackgroundNeverStopsButInputsEnd) {
  goro::run([] {
    const std::int64_t baseline = goro::num_goroutine();
    goro::stop_signal never = goro::background();
    EXPECT_FALSE(never.done());
    EXPECT_FALSE(never.stopped());
    EXPECT_EQ(drain<int>(goro::from(never, iota_vec(10)) | goro::map([](int x) { return x; })), iota_vec(10));
    EXPECT_TRUE(goroutines_back_to(baseline));
    auto done = goro::make_done();
    goro::stop_signal sig = done;
    EXPECT_FALSE(sig.stopped());
    done.close();
    EXPECT_TRUE(sig.stopped());
  });
}

}  // namespace
