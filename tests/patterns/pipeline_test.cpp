// tests/patterns/pipeline_test.cpp: goro/pipeline.hpp, the pipeline patterns
// of "Concurrency in Go" (Katherine Cox-Buday), chapter 4: what each pattern
// delivers (values, order, closing), with every kind of input (chan<T>,
// recv_chan<T>, stream<T>) and with move-only values where the pattern
// allows them. pipeline_stop_test.cpp checks that each of them stops.
//
// Conventions: see pipeline_helpers.hpp. Every test names the book section
// (or the Go idea) it checks.
#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <random>
#include <ranges>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "patterns/pipeline_helpers.hpp"
#include "sync/sync_helpers.hpp"

namespace {

using namespace std::chrono_literals;
using namespace pipe_test;

/// Calls f with the same values as a chan<int>, a recv_chan<int> and a
/// stream<int> (the pattern must take all three).
template <class F>
void with_each_input(const goro::stop_signal& stop, const std::vector<int>& values, F f) {
  traced("input: chan<int>", [&] {
    goro::chan<int> in = filled(values);
    f(in);
  });
  traced("input: recv_chan<int>", [&] {
    goro::recv_chan<int> in = filled(values);
    f(in);
  });
  traced("input: stream<int>", [&] {
    goro::stream<int> in = goro::from(stop, values);
    f(in);
  });
}

/// 0, 1, ..., n-1: an input range whose end is a sentinel, not an iterator.
struct upto {
  struct sentinel {};
  struct iterator {
    using value_type = int;
    using difference_type = std::ptrdiff_t;
    int i = 0;
    int n = 0;
    int operator*() const { return i; }
    iterator& operator++() {
      ++i;
      return *this;
    }
    void operator++(int) { ++i; }
    friend bool operator==(const iterator& it, sentinel) { return it.i >= it.n; }
  };
  int n;
  iterator begin() const { return {0, n}; }
  sentinel end() const { return {}; }
};
static_assert(std::ranges::input_range<upto> && !std::ranges::common_range<upto>);

// ---- generators (book: "The generator", repeat, take, repeatFn) ----------------------

// Book, "Pipelines": generator(done, 1, 2, 3, 4) sends its values in order,
// then closes its stream.
TEST(Pipeline, GeneratorSendsItsValuesInOrderThenCloses) {
  with_done([](stopper& done) {
    EXPECT_EQ(drain<int>(goro::generator(done.signal(), 1, 2, 3, 4)), (std::vector<int>{1, 2, 3, 4}));
    EXPECT_EQ(drain<std::string>(goro::generator(done.signal(), std::string("a"), "b", "c")),
              (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_EQ(drain<int>(goro::generator(done.signal(), 7)), (std::vector<int>{7}));
    // Move-only values (Go's channels carry any type).
    auto ptrs = goro::generator(done.signal(), std::make_unique<int>(0), std::make_unique<int>(1));
    EXPECT_EQ(values_of(drain<std::unique_ptr<int>>(ptrs)), iota_vec(2));
  });
}

// Book, "Pipelines" (the generator over a slice): from sends every element
// of a range, in order, then closes; the range is copied, so it may die.
TEST(Pipeline, FromSendsARangeInOrderThenCloses) {
  with_done([](stopper& done) {
    std::vector<int> v = iota_vec(many());
    goro::stream<int> s;
    {
      std::vector<int> copy = v;
      s = goro::from(done.signal(), copy);
    }
    EXPECT_EQ(drain<int>(s), v);
    // A range whose end is a sentinel, not an iterator (as views::take_while
    // gives; a hand-made one, as clang cannot compile libstdc++ 12's views).
    EXPECT_EQ(drain<int>(goro::from(done.signal(), upto{4})), iota_vec(4));
    const upto five{5};
    EXPECT_EQ(drain<int>(goro::from(done.signal(), five)), iota_vec(5));
    EXPECT_TRUE(drain<int>(goro::from(done.signal(), std::vector<int>{})).empty()) << "empty range: just closes";
  });
}

// Book, "Some Handy Generators": `for num := range take(done, repeat(done, 1), 10)`
// prints 1 ten times; repeat cycles through all its values in order.
TEST(Pipeline, TakeOfRepeatGivesTheBooksOutput) {
  with_done([](stopper& done) {
    EXPECT_EQ(drain<int>(goro::take(done.signal(), goro::repeat(done.signal(), 1), 10)), std::vector<int>(10, 1));
    EXPECT_EQ(drain<int>(goro::take(done.signal(), goro::repeat(done.signal(), 1, 2, 3), 8)),
              (std::vector<int>{1, 2, 3, 1, 2, 3, 1, 2}));
    EXPECT_EQ(drain<int>(goro::repeat(done.signal(), 4, 5) | goro::take(3)), (std::vector<int>{4, 5, 4}));
  });
}

// Book, "Some Handy Generators": take(done, repeatFn(done, rand), 10) gives
// ten results of fn, in the order fn made them.
TEST(Pipeline, RepeatFnCallsFnForEachValue) {
  with_done([](stopper& done) {
    int n = 0;  // only the repeat_fn goroutine touches it; read after that goroutine returned
    auto counter = std::make_shared<std::atomic<int>>(0);
    auto s = goro::take(done.signal(), goro::repeat_fn(done.signal(), [counter] { return counter->fetch_add(1); }), 10);
    EXPECT_EQ(drain<int>(s), iota_vec(10));
    (void)n;
    auto strs = goro::repeat_fn(done.signal(), [i = 0]() mutable { return std::to_string(i++); }) | goro::take(3);
    EXPECT_EQ(drain<std::string>(strs), (std::vector<std::string>{"0", "1", "2"}));
  });
}

// Book, take: the first n values, then close; it reads no more than n
// values from its input, and closes when its input closes first.
TEST(Pipeline, TakeReadsExactlyNValues) {
  with_done([](stopper& done) {
    with_each_input(done, iota_vec(10), [&](const auto& in) {
      goro::recv_chan<int> plain = in;
      std::size_t before = plain.size();
      EXPECT_EQ(drain<int>(goro::take(done.signal(), in, 3)), iota_vec(3));
      if (before == 10) {  // a filled channel: exactly 3 were taken out of it
        EXPECT_EQ(plain.size(), 7u) << "take read more than n values";
      }
      // The rest is still there for someone else.
      EXPECT_EQ(drain<int>(plain), iota_vec(7, 3));
    });
    // Fewer values than n: closes when the input closes.
    EXPECT_EQ(drain<int>(goro::take(done.signal(), filled(iota_vec(4)), 100)), iota_vec(4));
  });
}

// Book, take with n = 0 (Go: `for i := 0; i < num; i++` never runs): closes
// at once, reads nothing.
TEST(Pipeline, TakeZeroClosesAtOnceAndReadsNothing) {
  with_done([](stopper& done) {
    auto in = filled(iota_vec(5));
    EXPECT_TRUE(drain<int>(goro::take(done.signal(), in, 0)).empty());
    EXPECT_EQ(in.size(), 5u);
    EXPECT_TRUE(drain<int>(goro::repeat(done.signal(), 1) | goro::take(0)).empty());
    EXPECT_TRUE(drain<int>(goro::take(done.signal(), goro::recv_chan<int>(), 0)).empty())
        << "take 0 of the nil channel closes too";
  });
}

// take of move-only values.
TEST(Pipeline, TakeMovesMoveOnlyValues) {
  with_done([](stopper& done) {
    EXPECT_EQ(values_of(drain<std::unique_ptr<int>>(goro::take(done.signal(), filled_ptrs(10), 4))), iota_vec(4));
  });
}

// ---- stages (book: "Pipelines", "Best Practices for Constructing Pipelines") -------

// Book, "Best Practices for Constructing Pipelines": generator -> multiply(2)
// -> add(1) -> multiply(2) over 1, 2, 3, 4 prints 6 10 14 18; composed with |
// and with the function forms.
TEST(Pipeline, BooksPipelineGivesTheBooksOutput) {
  with_done([](stopper& done) {
    auto multiply = [](int m) { return [m](int v) { return v * m; }; };
    auto add = [](int a) { return [a](int v) { return v + a; }; };
    const std::vector<int> book{6, 10, 14, 18};

    auto piped = goro::generator(done.signal(), 1, 2, 3, 4) | goro::map(multiply(2)) | goro::map(add(1)) |
                 goro::map(multiply(2));
    EXPECT_EQ(drain<int>(piped), book);

    goro::stop_signal d = done;
    auto nested = goro::map(d, goro::map(d, goro::map(d, goro::generator(d, 1, 2, 3, 4), multiply(2)), add(1)),
                            multiply(2));
    EXPECT_EQ(drain<int>(nested), book);

    // And a plain range-for over the pipeline, as the book's main does.
    std::vector<int> got;
    for (int v : goro::generator(done.signal(), 1, 2, 3, 4) | goro::map(multiply(2)) | goro::map(add(1)) |
                     goro::map(multiply(2))) {
      got.push_back(v);
    }
    EXPECT_EQ(got, book);

    // All the | steps in one pipeline.
    auto all = goro::from(done.signal(), iota_vec(20)) | goro::map([](int v) { return v * 3; }) |
               goro::filter([](int v) { return v % 2 == 0; }) | goro::take(6) | goro::buffer(2) | goro::batch(4);
    EXPECT_EQ(drain<std::vector<int>>(all), (std::vector<std::vector<int>>{{0, 6, 12, 18}, {24, 30}}));
  });
}

// Book, "Pipelines" (a stage: values in, values out, in order): map keeps
// the order of thousands of values, from every kind of input, and changes
// the type when f does.
TEST(Pipeline, MapKeepsOrderForEveryInputKind) {
  with_done([](stopper& done) {
    std::vector<int> v = iota_vec(many());
    with_each_input(done, v, [&](const auto& in) {
      std::vector<long> want;
      for (int x : v) want.push_back(2L * x + 1);
      EXPECT_EQ(drain<long>(goro::map(done.signal(), in, [](int x) { return 2L * x + 1; })), want);
    });
    with_each_input(done, iota_vec(3), [&](const auto& in) {
      EXPECT_EQ(drain<std::string>(goro::stage(done.signal(), in, [](int x) { return std::to_string(x); })),
                (std::vector<std::string>{"0", "1", "2"}));
    });
  });
}

// A stage over move-only values (Go's channels carry any type; goro's carry
// move-only ones): map takes the value by rvalue and may return it.
TEST(Pipeline, MapMovesMoveOnlyValues) {
  with_done([](stopper& done) {
    auto s = goro::map(done.signal(), filled_ptrs(100), [](std::unique_ptr<int> p) {
      *p *= 2;
      return p;
    });
    std::vector<int> want;
    for (int i = 0; i < 100; ++i) want.push_back(2 * i);
    EXPECT_EQ(values_of(drain<std::unique_ptr<int>>(s)), want);
    // To a copyable type, through |.
    auto ints = goro::or_done(done.signal(), filled_ptrs(5)) | goro::map([](std::unique_ptr<int> p) { return *p; });
    EXPECT_EQ(drain<int>(ints), iota_vec(5));
  });
}

// Book, "Pipelines": a stage that drops values keeps the order of the rest.
TEST(Pipeline, FilterKeepsOrder) {
  with_done([](stopper& done) {
    std::vector<int> v = iota_vec(many());
    with_each_input(done, v, [&](const auto& in) {
      std::vector<int> want;
      for (int x : v) {
        if (x % 3 == 0) want.push_back(x);
      }
      EXPECT_EQ(drain<int>(goro::filter(done.signal(), in, [](int x) { return x % 3 == 0; })), want);
    });
    EXPECT_TRUE(drain<int>(goro::from(done.signal(), iota_vec(50)) | goro::filter([](int) { return false; })).empty());
    auto ptrs = goro::filter(done.signal(), filled_ptrs(10), [](const std::unique_ptr<int>& p) { return *p >= 7; });
    EXPECT_EQ(values_of(drain<std::unique_ptr<int>>(ptrs)), (std::vector<int>{7, 8, 9}));
  });
}

// Book, "Error Handling": errors travel with the values (Result{Error,
// Response}); try_map carries what f threw, in the value's place, and
// value() rethrows it.
TEST(Pipeline, TryMapCarriesTheExceptionOfF) {
  with_done([](stopper& done) {
    with_each_input(done, iota_vec(10), [&](const auto& in) {
      auto s = goro::try_map(done.signal(), in, [](int x) {
        if (x % 4 == 1) throw std::runtime_error("bad " + std::to_string(x));
        return x * 10;
      });
      std::vector<goro::result<int>> got = drain<goro::result<int>>(s);
      ASSERT_EQ(got.size(), 10u);
      for (int i = 0; i < 10; ++i) {
        goro::result<int>& r = got[static_cast<std::size_t>(i)];
        if (i % 4 == 1) {
          EXPECT_FALSE(r) << i;
          EXPECT_FALSE(r.has_value());
          EXPECT_TRUE(r.error());
          try {
            (void)r.value();
            ADD_FAILURE() << "value() of an error did not throw";
          } catch (const std::runtime_error& e) {
            EXPECT_EQ(std::string(e.what()), "bad " + std::to_string(i));
          }
          EXPECT_THROW((void)*r, std::runtime_error);
        } else {
          ASSERT_TRUE(r) << i;
          EXPECT_EQ(*r, i * 10);
          EXPECT_EQ(r.value(), i * 10);
          EXPECT_FALSE(r.error()) << "error() of a value is E{}";
        }
      }
    });
    // Move-only results; an exception that is not a std::exception.
    auto ptrs = goro::try_map(done.signal(), filled(iota_vec(3)), [](int x) {
      if (x == 2) throw 42;
      return std::make_unique<int>(x);
    });
    auto got = drain<goro::result<std::unique_ptr<int>>>(ptrs);
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(*got[0].value(), 0);
    EXPECT_EQ(*std::move(got[1]).value(), 1);
    EXPECT_THROW((void)got[2].value(), int);
  });
}

// Book, "Error Handling" (Result{Error, Response} with a plain error value):
// result<T, E> with an error that is not an exception_ptr: value() throws
// bad_result_access; a null exception_ptr too.
TEST(Pipeline, ResultWithPlainError) {
  auto ok = goro::result<int, std::string>::ok(3);
  auto bad = goro::result<int, std::string>::fail("why");
  EXPECT_TRUE(ok);
  EXPECT_EQ(*ok, 3);
  EXPECT_EQ(ok.error(), "");
  EXPECT_FALSE(bad);
  EXPECT_EQ(bad.error(), "why");
  EXPECT_THROW((void)bad.value(), goro::bad_result_access);
  auto null = goro::result<int>::fail(nullptr);
  EXPECT_THROW((void)null.value(), goro::bad_result_access);
  static_assert(std::is_nothrow_move_constructible_v<goro::result<std::unique_ptr<int>>>);
}

// Book, "Queuing" (batching: the book's stage that works on chunks): batch
// groups values into vectors of n, in order, the last one shorter; a batch
// size of 0 is refused.
TEST(Pipeline, BatchGroupsInOrderWithAPartialLastBatch) {
  with_done([](stopper& done) {
    with_each_input(done, iota_vec(10), [&](const auto& in) {
      EXPECT_EQ(drain<std::vector<int>>(goro::batch(done.signal(), in, 4)),
                (std::vector<std::vector<int>>{{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9}}));
    });
    EXPECT_EQ(drain<std::vector<int>>(goro::from(done.signal(), iota_vec(6)) | goro::batch(3)),
              (std::vector<std::vector<int>>{{0, 1, 2}, {3, 4, 5}}))
        << "no empty last batch";
    EXPECT_EQ(drain<std::vector<int>>(goro::from(done.signal(), iota_vec(2)) | goro::batch(1)),
              (std::vector<std::vector<int>>{{0}, {1}}));
    EXPECT_TRUE(drain<std::vector<int>>(goro::batch(done.signal(), filled(std::vector<int>{}), 3)).empty());
    EXPECT_THROW((void)goro::batch(done.signal(), filled(iota_vec(3)), 0), std::invalid_argument);
    std::vector<int> big = iota_vec(many());
    std::vector<int> flat;
    for (auto& b : drain<std::vector<int>>(goro::from(done.signal(), big) | goro::batch(7))) {
      EXPECT_LE(b.size(), 7u);
      flat.insert(flat.end(), b.begin(), b.end());
    }
    EXPECT_EQ(flat, big);
    // Move-only values.
    auto ptr_batches = drain<std::vector<std::unique_ptr<int>>>(goro::batch(done.signal(), filled_ptrs(5), 2));
    ASSERT_EQ(ptr_batches.size(), 3u);
    EXPECT_EQ(values_of(ptr_batches[0]), (std::vector<int>{0, 1}));
    EXPECT_EQ(values_of(ptr_batches[1]), (std::vector<int>{2, 3}));
    EXPECT_EQ(values_of(ptr_batches[2]), (std::vector<int>{4}));
  });
}

// Book, "Queuing": a buffer lets the stage before it run ahead of a slow
// reader by up to its capacity, and keeps the order.
TEST(Pipeline, BufferKeepsOrderAndLetsTheWriterRunAhead) {
  with_done([](stopper& done) {
    std::vector<int> v = iota_vec(many());
    with_each_input(done, v, [&](const auto& in) {
      EXPECT_EQ(drain<int>(goro::buffer(done.signal(), in, 16)), v);
    });
    // Nobody reads: the buffer fills to its capacity (and no further).
    auto q = goro::repeat(done.signal(), 1) | goro::buffer(5);
    EXPECT_TRUE(goro_test::eventually([&] { return q.size() == 5; }));
    give_a_chance();
    EXPECT_EQ(q.size(), 5u);
    EXPECT_EQ(q.capacity(), 5u);
    // Capacity 0: an unbuffered queue still passes everything.
    EXPECT_EQ(drain<int>(goro::buffer(done.signal(), filled(iota_vec(5)), 0)), iota_vec(5));
    EXPECT_EQ(values_of(drain<std::unique_ptr<int>>(goro::buffer(done.signal(), filled_ptrs(6), 3))), iota_vec(6));
  });
}

// ---- the or-channel (book: "The or-channel") -----------------------------------------

// Book, "The or-channel": or(sig(2h), sig(5m), sig(1s), sig(1h), sig(1m))
// closes after about the shortest (here: when the one closed channel closes),
// whatever the other channels' element types.
TEST(Pipeline, OrChannelClosesWhenAnyInputCloses) {
  goro::run([] {
    std::int64_t baseline = goro::num_goroutine();
    auto a = goro::make_chan<int>();
    auto b = goro::make_chan<std::string>();
    auto c = goro::make_done();
    auto d = goro::make_chan<std::unique_ptr<int>>();
    goro::stream<double> e(goro::make_chan<double>(), goro::stop_signal());
    goro::done_chan any = goro::or_channel(a, goro::recv_chan<std::string>(b), c, d, e);
    EXPECT_TRUE(any);
    give_a_chance();
    EXPECT_FALSE(ready_now(any)) << "closed before any input did";
    b.close();
    EXPECT_TRUE(closes_within(any));
    EXPECT_TRUE(goroutines_back_to(baseline)) << "or_channel's goroutine did not return";

    // The book's example: timers; the 1 ms one wins long before the hour.
    auto start = std::chrono::steady_clock::now();
    auto sig = [](std::chrono::nanoseconds after) {
      auto ch = goro::make_done();
      goro::go([ch, after] {
        goro::sleep(after);
        ch.close();
      });
      return ch;
    };
    auto one_ms = sig(1ms);
    auto ten_ms = sig(10ms);
    auto forever = goro::make_done();
    EXPECT_TRUE(closes_within(goro::or_channel(forever, ten_ms, one_ms)));
    EXPECT_LT(std::chrono::steady_clock::now() - start, wait_limit);
    forever.close();
    EXPECT_TRUE(goroutines_back_to(baseline));
  });
}

// The or-channel fires on a value as well as on a close (Go: `case <-c:`
// takes either), and ignores nil channels (never ready).
TEST(Pipeline, OrChannelFiresOnAValueAndIgnoresNilChannels) {
  goro::run([] {
    std::int64_t baseline = goro::num_goroutine();
    auto a = goro::make_chan<int>(1);
    goro::recv_chan<int> nil;
    auto b = goro::make_chan<std::string>();
    auto any = goro::or_channel(nil, a, b);
    give_a_chance();
    EXPECT_FALSE(ready_now(any));
    a.send(5);
    EXPECT_TRUE(closes_within(any));
    EXPECT_TRUE(goroutines_back_to(baseline));
    EXPECT_EQ(a.size(), 0u) << "the or-channel consumed the value";

    // One channel, already closed.
    auto closed = goro::make_done();
    closed.close();
    EXPECT_TRUE(closes_within(goro::or_channel(closed)));
    // No channel at all: the nil channel (never closes; nothing started).
    goro::done_chan none = goro::or_channel();
    EXPECT_FALSE(none);
    EXPECT_FALSE(ready_now(none));
    EXPECT_TRUE(goroutines_back_to(baseline));
  });
}

// Book, "The or-channel" over a slice of channels (a run-time number): the
// vector form closes when any of them closes; empty gives the nil channel.
TEST(Pipeline, OrChannelVectorForm) {
  goro::run([] {
    std::int64_t baseline = goro::num_goroutine();
    std::vector<goro::chan<int>> chans;
    std::vector<goro::recv_chan<int>> views;
    for (int i = 0; i < 50; ++i) {
      chans.push_back(goro::make_chan<int>());
      views.push_back(chans.back());
    }
    views.push_back(goro::recv_chan<int>());  // a nil one among them
    auto any = goro::or_channel(views);
    give_a_chance();
    EXPECT_FALSE(ready_now(any));
    chans[37].close();
    EXPECT_TRUE(closes_within(any));
    EXPECT_TRUE(goroutines_back_to(baseline));

    // A value on one of them fires it too.
    auto buffered = goro::make_chan<int>(1);
    auto any2 = goro::or_channel(std::vector<goro::recv_chan<int>>{chans[0], buffered});
    buffered.send(1);
    EXPECT_TRUE(closes_within(any2));

    // Vectors of chan<T> and of stream<T> too.
    auto plain = goro::make_chan<int>();
    auto any3 = goro::or_channel(std::vector<goro::chan<int>>{goro::make_chan<int>(), plain});
    give_a_chance();
    EXPECT_FALSE(ready_now(any3));
    plain.close();
    EXPECT_TRUE(closes_within(any3));
    auto stopper_of_streams = goro::make_done();
    auto any4 = goro::or_channel(std::vector<goro::stream<int>>{goro::generator(stopper_of_streams, 1)});
    EXPECT_TRUE(closes_within(any4)) << "the generator's value fires it";
    stopper_of_streams.close();

    auto none = goro::or_channel(std::vector<goro::recv_chan<int>>{});
    EXPECT_FALSE(none);
    EXPECT_TRUE(goroutines_back_to(baseline));
  });
}

// ---- or-done (book: "The or-done-channel") -----------------------------------------

// Book, "The or-done-channel": `for val := range orDone(done, myChan)` gives
// myChan's values in order and ends when myChan closes.
TEST(Pipeline, OrDonePassesValuesInOrderUntilTheInputCloses) {
  with_done([](stopper& done) {
    std::vector<int> v = iota_vec(many());
    with_each_input(done, v, [&](const auto& in) { EXPECT_EQ(drain<int>(goro::or_done(done.signal(), in)), v); });
    EXPECT_EQ(values_of(drain<std::unique_ptr<int>>(goro::or_done(done.signal(), filled_ptrs(20)))), iota_vec(20));
  });
}

// ---- tee (book: "The tee-channel") ---------------------------------------------------

// Book, "The tee-channel": out1 and out2 each get every value, in order
// (the book reads them in lock-step: `fmt.Printf("out1: %v, out2: %v\n",
// v1, <-out2)`); both close when the input closes.
TEST(Pipeline, TeeGivesBothOutputsEveryValueInOrder) {
  with_done([](stopper& done) {
    // Lock-step, as the book.
    auto [out1, out2] = goro::tee(done.signal(), goro::take(done.signal(), goro::repeat(done.signal(), 1, 2), 4));
    std::vector<std::pair<int, int>> got;
    for (int v1 : out1) {
      std::optional<int> v2 = goro_test::recv_within<int>(out2);
      ASSERT_TRUE(v2);
      got.emplace_back(v1, *v2);
    }
    EXPECT_EQ(got, (std::vector<std::pair<int, int>>{{1, 1}, {2, 2}, {1, 1}, {2, 2}}));
    EXPECT_TRUE(closes_within<int>(out2));

    // Thousands of values, each output read by its own goroutine.
    std::vector<int> v = iota_vec(many());
    with_each_input(done, v, [&](const auto& in) {
      auto [a, b] = goro::tee(done.signal(), in);
      auto got_b = goro::make_chan<std::vector<int>>(1);
      goro::go([b = b, got_b] { got_b.send(drain<int>(b)); });
      EXPECT_EQ(drain<int>(a), v);
      std::optional<std::vector<int>> vb = goro_test::recv_within<std::vector<int>>(got_b);
      ASSERT_TRUE(vb);
      EXPECT_EQ(*vb, v);
    });
  });
}

// Book, "The tee-channel": a value goes to both outputs before the next is
// read, so the slower reader sets the pace: out1 gets nothing more until
// out2 has taken the value out1 already has.
TEST(Pipeline, TeeIsPacedByTheSlowerReader) {
  with_done([](stopper& done) {
    auto in = goro::make_chan<int>(10);
    for (int i = 0; i < 10; ++i) in.send(i);
    in.close();
    auto [fast, slow] = goro::tee(done.signal(), in);
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(next<int>(fast), i);
      give_a_chance();
      EXPECT_FALSE(ready_now(fast)) << "tee ran ahead of its slower reader at " << i;
      EXPECT_EQ(next<int>(slow), i);
    }
    // tee holds the next value (3), and reads no further.
    EXPECT_TRUE(goro_test::eventually([&] { return in.size() == 6; }));
    give_a_chance();
    EXPECT_EQ(in.size(), 6u) << "tee read ahead of its slower reader (it holds at most one value)";
    // The other way round: slow first.
    EXPECT_EQ(next<int>(slow), 3);
    give_a_chance();
    EXPECT_FALSE(ready_now(slow));
    EXPECT_EQ(next<int>(fast), 3);
    // The rest, then both close.
    std::vector<int> rest_fast;
    auto rest_slow = goro::make_chan<std::vector<int>>(1);
    goro::go([slow = slow, rest_slow] { rest_slow.send(drain<int>(slow)); });
    rest_fast = drain<int>(fast);
    EXPECT_EQ(rest_fast, iota_vec(6, 4));
    auto rs = goro_test::recv_within<std::vector<int>>(rest_slow);
    ASSERT_TRUE(rs);
    EXPECT_EQ(*rs, iota_vec(6, 4));
  });
}

// ---- bridge (book: "The bridge-channel") ---------------------------------------------

// Book, "The bridge-channel": genVals sends 10 channels of one value each;
// `for v := range bridge(nil, genVals())` prints 0 1 2 ... 9.
TEST(Pipeline, BridgeGivesTheBooksOutput) {
  with_done([](stopper& done) {
    auto gen_vals = [] {
      auto chan_stream = goro::make_chan<goro::recv_chan<int>>();
      goro::go([chan_stream] {
        for (int i = 0; i < 10; ++i) {
          auto stream = goro::make_chan<int>(1);
          stream.send(i);
          stream.close();
          chan_stream.send(stream);
        }
        chan_stream.close();
      });
      return chan_stream;
    };
    EXPECT_EQ(drain<int>(goro::bridge(done.signal(), gen_vals())), iota_vec(10));
    // A nil stop signal, as the book's bridge(nil, ...): stops when chans closes.
    EXPECT_EQ(drain<int>(goro::bridge(goro::stop_signal(), gen_vals())), iota_vec(10));
  });
}

// bridge: the values of each inner channel in order, one channel after the
// other (none interleaved), empty inner channels skipped; closes when the
// channel of channels closes; from every kind of outer channel; move-only
// values.
TEST(Pipeline, BridgeKeepsOrderAcrossChannels) {
  with_done([](stopper& done) {
    int per = many() / 10;
    auto make_outer = [&] {
      std::vector<goro::recv_chan<int>> inner;
      for (int c = 0; c < 10; ++c) {
        inner.push_back(goro::from(done.signal(), iota_vec(per, c * per)));
        if (c % 3 == 0) inner.push_back(filled(std::vector<int>{}));  // empty ones
      }
      return filled(std::move(inner));
    };
    std::vector<int> want = iota_vec(10 * per);
    goro::chan<goro::recv_chan<int>> outer = make_outer();
    EXPECT_EQ(drain<int>(goro::bridge(done.signal(), outer)), want);
    goro::recv_chan<goro::recv_chan<int>> outer_view = make_outer();
    EXPECT_EQ(drain<int>(goro::bridge(done.signal(), outer_view)), want);
    goro::stream<goro::recv_chan<int>> outer_stream = goro::or_done(done.signal(), make_outer());
    EXPECT_EQ(drain<int>(goro::bridge(done.signal(), outer_stream)), want);
    EXPECT_TRUE(drain<int>(goro::bridge(done.signal(), filled(std::vector<goro::recv_chan<int>>{}))).empty());

    std::vector<goro::recv_chan<std::unique_ptr<int>>> ptrs;
    for (int c = 0; c < 3; ++c) {
      std::vector<std::unique_ptr<int>> vals;
      for (int i = 0; i < 3; ++i) vals.push_back(std::make_unique<int>(c * 3 + i));
      ptrs.push_back(filled(std::move(vals)));
    }
    EXPECT_EQ(values_of(drain<std::unique_ptr<int>>(goro::bridge(done.signal(), filled(std::move(ptrs))))),
              iota_vec(9));

    // Channels of streams and of chans (what a stage that makes streams
    // gives): repeat_fn making take(repeat) streams, as the book's genVals.
    auto streams = goro::repeat_fn(done.signal(), [d = done.signal(), i = 0]() mutable {
      ++i;
      return goro::take(d, goro::repeat(d, i), static_cast<std::size_t>(i));
    });
    EXPECT_EQ(drain<int>(goro::bridge(done.signal(), streams) | goro::take(6)), (std::vector<int>{1, 2, 2, 3, 3, 3}));
    std::vector<goro::chan<int>> chans{filled(iota_vec(2)), filled(iota_vec(2, 2))};
    EXPECT_EQ(drain<int>(goro::bridge(done.signal(), filled(chans))), iota_vec(4));
  });
}

// ---- fan-out, fan-in (book: "Fan-Out, Fan-In") -----------------------------------------

template <class T>
std::multiset<T> as_multiset(const std::vector<T>& v) {
  return std::multiset<T>(v.begin(), v.end());
}

// Book, "Fan-Out, Fan-In" (fanIn): every value of every channel arrives
// exactly once, and the output closes when the last input closes. The order
// across channels is free, but each channel's own values keep their order.
TEST(Pipeline, FanInDeliversEveryValueExactlyOnce) {
  with_done([](stopper& done) {
    int per = many() / 5;
    std::vector<goro::recv_chan<int>> ins;
    std::vector<int> want;
    for (int c = 0; c < 5; ++c) {
      std::vector<int> vals = iota_vec(per, c * 100000);
      want.insert(want.end(), vals.begin(), vals.end());
      if (c % 2 == 0) {
        ins.push_back(goro::from(done.signal(), vals));
      } else {
        ins.push_back(filled(vals));
      }
    }
    std::vector<int> got = drain<int>(goro::fan_in(done.signal(), ins));
    EXPECT_EQ(as_multiset(got), as_multiset(want)) << "a value was lost or duplicated";
    std::map<int, int> last;  // per input channel (value / 100000): values in order
    for (int v : got) {
      auto [it, fresh] = last.try_emplace(v / 100000, v);
      if (!fresh) {
        EXPECT_LT(it->second, v) << "fan_in reordered one channel's values";
        it->second = v;
      }
    }
    // No input: closed at once. One input.
    EXPECT_TRUE(drain<int>(goro::fan_in(done.signal(), std::vector<goro::recv_chan<int>>{})).empty());
    EXPECT_EQ(drain<int>(goro::fan_in(done.signal(), std::vector<goro::recv_chan<int>>{filled(iota_vec(5))})),
              iota_vec(5));
    // Streams and channels as inputs, and move-only values.
    std::vector<goro::stream<int>> streams{goro::from(done.signal(), iota_vec(3)), goro::from(done.signal(), iota_vec(3, 3))};
    EXPECT_EQ(as_multiset(drain<int>(goro::fan_in(done.signal(), streams))), as_multiset(iota_vec(6)));
    std::vector<goro::chan<int>> chans{filled(iota_vec(2)), filled(iota_vec(2, 2))};
    EXPECT_EQ(as_multiset(drain<int>(goro::fan_in(done.signal(), chans))), as_multiset(iota_vec(4)));
    std::vector<goro::recv_chan<std::unique_ptr<int>>> ptrs{filled_ptrs(50), filled_ptrs(50)};
    auto got_ptrs = values_of(drain<std::unique_ptr<int>>(goro::fan_in(done.signal(), ptrs)));
    std::vector<int> want_ptrs = iota_vec(50);
    want_ptrs.insert(want_ptrs.end(), want_ptrs.begin(), want_ptrs.end());
    EXPECT_EQ(as_multiset(got_ptrs), as_multiset(want_ptrs));
  });
}

// Book, "Fan-Out, Fan-In" (the prime finder: n finders over one stream,
// fanned back in): every value's result arrives exactly once, the output
// closes once the input is drained, and no more than n calls of f run at
// once.
TEST(Pipeline, FanOutDeliversEveryResultExactlyOnce) {
  with_done([](stopper& done) {
    std::vector<int> v = iota_vec(many());
    std::vector<long> want;
    for (int x : v) want.push_back(3L * x);
    with_each_input(done, v, [&](const auto& in) {
      auto running = std::make_shared<std::atomic<int>>(0);
      auto max_running = std::make_shared<std::atomic<int>>(0);
      auto s = goro::fan_out(done.signal(), in, 4, [running, max_running](int x) {
        int now = running->fetch_add(1) + 1;
        int seen = max_running->load();
        while (now > seen && !max_running->compare_exchange_weak(seen, now)) {
        }
        if (x % 7 == 0) goro::yield();
        running->fetch_sub(1);
        return 3L * x;
      });
      EXPECT_EQ(as_multiset(drain<long>(s)), as_multiset(want));
      EXPECT_LE(max_running->load(), 4);
    });
    EXPECT_THROW((void)goro::fan_out(done.signal(), filled(iota_vec(3)), 0, [](int x) { return x; }),
                 std::invalid_argument);
    // Move-only values in and out.
    auto ptrs = goro::fan_out(done.signal(), filled_ptrs(200), 3, [](std::unique_ptr<int> p) {
      *p += 1000;
      return p;
    });
    EXPECT_EQ(as_multiset(values_of(drain<std::unique_ptr<int>>(ptrs))), as_multiset(iota_vec(200, 1000)));
  });
}

// Book, "Fan-Out, Fan-In" (the book notes fan-in loses order; the ordered
// variant keeps it): fan_out_ordered gives f's results in the input's order
// though each call takes a random time, and runs at most n calls at once.
TEST(Pipeline, FanOutOrderedKeepsOrderWithRandomDelays) {
  with_done([](stopper& done) {
    int count = goro_test::under_sanitizer() ? 400 : 2000;
    std::vector<int> v = iota_vec(count);
    std::vector<int> want;
    for (int x : v) want.push_back(x * x);
    for (std::size_t n : {std::size_t{1}, std::size_t{3}, std::size_t{8}}) {
      traced("n = " + std::to_string(n), [&] { with_each_input(done, v, [&](const auto& in) {
        auto running = std::make_shared<std::atomic<int>>(0);
        auto max_running = std::make_shared<std::atomic<int>>(0);
        const unsigned seed = std::random_device{}();
        auto s = goro::fan_out_ordered(done.signal(), in, n, [running, max_running, seed](int x) {
          int now = running->fetch_add(1) + 1;
          int seen = max_running->load();
          while (now > seen && !max_running->compare_exchange_weak(seen, now)) {
          }
          // Random work: yields, and now and then a short sleep (stands for
          // work taking time; nothing waits on it).
          // (A generator per call, not a thread_local one: a goroutine may
          // move to another thread when it yields.)
          std::minstd_rand rng(static_cast<unsigned>(x) * 2654435761u + seed);
          unsigned r = rng() % 16;
          if (r < 2) {
            goro::sleep(std::chrono::microseconds(50 + rng() % 200));
          } else {
            for (unsigned i = 0; i < r; ++i) goro::yield();
          }
          running->fetch_sub(1);
          return x * x;
        });
        EXPECT_EQ(drain<int>(s), want);
        EXPECT_LE(max_running->load(), static_cast<int>(n)) << "more than n calls of f at once";
        EXPECT_GE(max_running->load(), 1);
        if (n > 1) EXPECT_GE(max_running->load(), 2) << "the calls never overlapped";
      }); });
    }
    EXPECT_THROW((void)goro::fan_out_ordered(done.signal(), filled(iota_vec(3)), 0, [](int x) { return x; }),
                 std::invalid_argument);
    EXPECT_TRUE(drain<int>(goro::fan_out_ordered(done.signal(), filled(std::vector<int>{}), 3, [](int x) { return x; }))
                    .empty());
    // Move-only values in and out.
    auto ptrs = goro::fan_out_ordered(done.signal(), filled_ptrs(100), 4, [](std::unique_ptr<int> p) {
      if (*p % 3 == 0) goro::yield();
      return p;
    });
    EXPECT_EQ(values_of(drain<std::unique_ptr<int>>(ptrs)), iota_vec(100));
  });
}

// ---- plain threads -----------------------------------------------------------------

// A stream is a channel: a plain std::thread (not a goroutine) can range
// over it, as any Go code can range over a channel.
TEST(Pipeline, PlainThreadReadsAStream) {
  goro::run([] {
    std::int64_t baseline = goro::num_goroutine();
    auto done = goro::make_done();
    auto s = goro::from(done, iota_vec(1000)) | goro::map([](int x) { return x + 1; }) | goro::buffer(8);
    auto result = std::make_shared<std::vector<int>>();
    {
      sync_test::bounded_thread t([s, result] {
        for (int v : s) result->push_back(v);
      });
      EXPECT_TRUE(t.join());
    }
    EXPECT_EQ(*result, iota_vec(1000, 1));
    done.close();
    EXPECT_TRUE(goroutines_back_to(baseline));
  });
}

// The same from a thread that is not in goro::run at all, while the
// pipeline's goroutines run on the scheduler.
TEST(Pipeline, PlainThreadOutsideRunReadsAStream) {
  std::int64_t baseline = goro::num_goroutine();
  auto done = goro::make_done();
  auto s = goro::generator(goro::stop_signal(done), 1, 2, 3, 4) | goro::map([](int x) { return x * 2; });
  auto got = std::make_shared<std::vector<int>>();
  {
    sync_test::bounded_thread t([s, got] {
      for (int v : s) got->push_back(v);
    });
    EXPECT_TRUE(t.join());
  }
  EXPECT_EQ(*got, (std::vector<int>{2, 4, 6, 8}));
  done.close();
  EXPECT_TRUE(goroutines_back_to(baseline));
}

}  // namespace
