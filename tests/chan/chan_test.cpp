// tests/chan/chan_test.cpp: goro::chan<T> (Go's chan T).
//
// Every test runs inside goro::run unless it is about plain threads; every
// wait is bounded (a broken library fails a test, it does not hang it); every
// goroutine a test starts returns before the test ends (the leak check in
// test_main.cpp). Sleeps only give something that must NOT happen a chance to
// happen. A test that needs a goroutine or thread to have blocked on a
// channel waits (bounded) until it is in the channel's queue
// (goro_test::until_receivers / until_senders), never sleeps for it.
//
// Tests that port a test of Go's runtime/chan_test.go say which.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
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

/// Receives from ch within limit (fails the test and returns empty if not).
template <class T>
std::optional<T> recv_for(const goro::chan<T>& ch, std::chrono::nanoseconds limit = wait_limit) {
  return goro_test::recv_within<T>(ch, limit);
}

/// Sends v on ch within limit; fails the test and returns false if not taken.
template <class T>
bool send_within(const goro::chan<T>& ch, T v, std::chrono::nanoseconds limit = wait_limit) {
  if (goro::select(ch.on_send(std::move(v)), goro::after(limit).on_recv()) == 0) return true;
  ADD_FAILURE() << "send not taken within " << std::chrono::duration<double>(limit).count() << " s";
  return false;
}

/// Bounded operations against a deadline channel made once (goro::after),
/// for loops that would otherwise start a timer per operation.
template <class T>
std::optional<T> recv_before(const goro::chan<T>& ch, const goro::recv_chan<goro::time_point>& deadline) {
  std::optional<T> v;
  if (goro::select(ch.on_recv(v), deadline.on_recv()) != 0) {
    ADD_FAILURE() << "deadline passed in recv";
    return std::nullopt;
  }
  return v;
}
template <class T>
bool send_before(const goro::chan<T>& ch, T v, const goro::recv_chan<goro::time_point>& deadline) {
  if (goro::select(ch.on_send(std::move(v)), deadline.on_recv()) == 0) return true;
  ADD_FAILURE() << "deadline passed in send";
  return false;
}

/// Counts live instances, to check that a channel destroys every value it
/// holds exactly once.
struct tracked {
  static inline std::atomic<int> live{0};
  static inline std::atomic<int> bad_destroys{0};  // destroyed twice, or never constructed
  static constexpr std::uint32_t alive_tag = 0x600d600d;
  static constexpr std::uint32_t dead_tag = 0xdeaddead;

  explicit tracked(int v) noexcept : value(v), tag(alive_tag) { live.fetch_add(1); }
  tracked(tracked&& o) noexcept : value(o.value), tag(alive_tag) {
    o.value = -1;
    live.fetch_add(1);
  }
  tracked(const tracked& o) noexcept : value(o.value), tag(alive_tag) { live.fetch_add(1); }
  tracked& operator=(tracked&& o) noexcept {
    value = o.value;
    o.value = -1;
    return *this;
  }
  tracked& operator=(const tracked& o) noexcept = default;
  ~tracked() {
    if (tag != alive_tag) {
      bad_destroys.fetch_add(1);
    } else {
      live.fetch_sub(1);
    }
    tag = dead_tag;
  }

  int value;
  volatile std::uint32_t tag;  // volatile: the store in the destructor must not be optimised away
};

// ---- the nil channel -------------------------------------------------------

TEST(Chan, NilChannelHasSizeAndCapacityZero) {
  goro::run([] {
    goro::chan<int> nil;
    EXPECT_FALSE(nil);
    EXPECT_EQ(nil.size(), 0u);
    EXPECT_EQ(nil.capacity(), 0u);
    goro::send_chan<int> s = nil;
    goro::recv_chan<int> r = nil;
    EXPECT_FALSE(s);
    EXPECT_FALSE(r);
    EXPECT_EQ(s.capacity(), 0u);
    EXPECT_EQ(r.size(), 0u);
    EXPECT_TRUE(nil == goro::chan<int>());
    EXPECT_FALSE(nil == goro::make_chan<int>());
  });
}

TEST(Chan, NilChannelIsNeverReadyInSelect) {
  goro::run([] {
    goro::chan<int> nil;
    for (int i = 0; i < 100; ++i) {
      EXPECT_EQ(goro::select(nil.on_recv(), goro::on_default()), 1u);
      EXPECT_EQ(goro::select(nil.on_send(i), goro::on_default()), 1u);
      std::optional<int> v = 5;
      EXPECT_EQ(goro::select(nil.on_recv(v), nil.on_send(1), goro::on_default()), 2u);
      EXPECT_EQ(v, 5) << "a case not taken must not touch its destination";
    }
  });
}

TEST(Chan, NilChannelTrySendAndTryRecvFail) {
  goro::run([] {
    goro::chan<int> nil;
    EXPECT_FALSE(nil.try_send(1));
    bool closed = true;
    EXPECT_EQ(nil.try_recv(&closed), std::nullopt);
    EXPECT_FALSE(closed) << "the nil channel is not closed, it is never ready";
  });
}

TEST(Chan, CloseOfNilChannelThrowsPanicError) {
  goro::run([] {
    goro::chan<int> nil;
    EXPECT_THROW(nil.close(), goro::panic_error);
    goro::send_chan<int> s;
    EXPECT_THROW(s.close(), goro::panic_error);
  });
}

// ---- unbuffered: rendezvous ------------------------------------------------

// Go's TestChan, "Ensure that send to full chan blocks" at capacity 0.
TEST(Chan, UnbufferedSendBlocksUntilReceived) {
  goro::run([] {
    auto ch = goro::make_chan<int>();
    auto done = goro::make_chan<int>(1);
    auto sent = std::make_shared<std::atomic<bool>>(false);
    goro::go([ch, done, sent] {
      ch.send(7);
      sent->store(true);
      done.send(1);
    });
    goro::sleep(20ms);  // a chance for the send to complete wrongly
    EXPECT_FALSE(sent->load()) << "send on an unbuffered channel returned with no receiver";
    EXPECT_EQ(ch.size(), 0u);
    EXPECT_EQ(recv_for(ch), 7);
    EXPECT_TRUE(wait_for(done, 1));
    EXPECT_TRUE(sent->load());
  });
}

// Go's TestChan, "Ensure that receive from empty chan blocks", at capacity 0
// and a few buffered capacities; and that a non-blocking receive does not.
TEST(Chan, RecvFromEmptyChannelBlocks) {
  goro::run([] {
    for (std::size_t cap : {0, 1, 2, 7, 64}) {
      auto ch = goro::make_chan<int>(cap);
      auto got = goro::make_chan<int>(2);
      for (int i = 0; i < 2; ++i) {
        goro::go([ch, got] {
          auto v = ch.recv();
          got.send(v.value_or(-1));
        });
      }
      goro::sleep(10ms);  // a chance for a receive to complete wrongly
      EXPECT_EQ(got.size(), 0u) << "cap " << cap << ": a receive from an empty channel returned";
      EXPECT_EQ(ch.try_recv(), std::nullopt);
      EXPECT_EQ(goro::select(ch.on_recv(), goro::on_default()), 1u);
      EXPECT_TRUE(send_within(ch, 0));
      EXPECT_TRUE(send_within(ch, 0));
      EXPECT_EQ(recv_for(got), 0);
      EXPECT_EQ(recv_for(got), 0);
    }
  });
}

// Go's TestChan, "Ensure that send to full chan blocks", for buffered
// capacities; and that a non-blocking send to a full channel does not block.
TEST(Chan, SendToFullChannelBlocks) {
  goro::run([] {
    for (std::size_t cap : {1, 2, 7, 64}) {
      auto ch = goro::make_chan<int>(cap);
      for (std::size_t i = 0; i < cap; ++i) ch.send(static_cast<int>(i));
      auto done = goro::make_chan<int>(1);
      auto sent = std::make_shared<std::atomic<bool>>(false);
      goro::go([ch, done, sent] {
        ch.send(-1);
        sent->store(true);
        done.send(1);
      });
      goro::sleep(10ms);  // a chance for the send to complete wrongly
      EXPECT_FALSE(sent->load()) << "cap " << cap << ": send to a full channel returned";
      EXPECT_FALSE(ch.try_send(-2));
      EXPECT_EQ(goro::select(ch.on_send(-3), goro::on_default()), 1u);
      EXPECT_EQ(recv_for(ch), 0);
      EXPECT_TRUE(wait_for(done, 1));
      EXPECT_TRUE(sent->load());
      for (std::size_t i = 1; i < cap; ++i) EXPECT_EQ(recv_for(ch), static_cast<int>(i));
      EXPECT_EQ(recv_for(ch), -1);
      EXPECT_EQ(ch.size(), 0u);
    }
  });
}

// Everything the sender did before the send happens-before the receive
// returns (Go's memory model); and for an unbuffered channel the receive
// happens-before the send completes. Data races here are reported by TSan.
TEST(Chan, SendHappensBeforeReceiveReturns) {
  goro::run([] {
    for (std::size_t cap : {0, 1}) {
      auto ch = goro::make_chan<int>(cap);
      auto back = goro::make_chan<int>(cap);
      auto data = std::make_shared<std::vector<int>>(64, 0);
      auto done = goro::make_chan<int>(1);
      goro::go([ch, back, data, done] {
        for (int round = 1; round <= 100; ++round) {
          for (int& x : *data) x = round;  // plain writes, published by the send
          ch.send(round);
          auto v = back.recv();  // the receiver's writes, published by its send
          if (!v || *v != round || (*data)[0] != -round) break;
        }
        done.send(1);
      });
      for (int round = 1; round <= 100; ++round) {
        auto v = recv_for(ch);
        ASSERT_EQ(v, round);
        EXPECT_EQ((*data)[63], round);
        for (int& x : *data) x = -round;
        ASSERT_TRUE(send_within(back, round));
      }
      EXPECT_TRUE(wait_for(done, 1));
    }
  });
}

// An unbuffered receive completes before the matching send returns (Go's
// memory model: "A receive from an unbuffered channel is synchronized before
// the completion of the corresponding send on that channel"). Both orders:
// the receiver parked first, and the sender parked first.
TEST(Chan, UnbufferedRecvHappensBeforeSendCompletes) {
  goro::run([] {
    for (bool receiver_first : {true, false}) {
      auto ch = goro::make_chan<int>();
      auto done = goro::make_chan<int>(1);
      auto data = std::make_shared<int>(0);
      auto seen = std::make_shared<int>(-1);
      goro::go([ch, done, data, receiver_first] {
        *data = 42;  // written before the receive...
        // Sender first: receive only once the sender has parked in its select.
        if (!receiver_first && !goro_test::until_senders(ch, 1)) {
          done.send(0);
          return;
        }
        auto v = ch.recv();
        (void)v;
        done.send(1);
      });
      if (receiver_first) ASSERT_TRUE(goro_test::until_receivers(ch, 1));
      ASSERT_EQ(goro::select(ch.on_send(1), goro::after(wait_limit).on_recv()), 0u);
      *seen = *data;  // ...so visible once the send has completed
      EXPECT_EQ(*seen, 42) << (receiver_first ? "receiver" : "sender") << " parked first";
      EXPECT_EQ(recv_for(done), 1) << "the sender never parked";
    }
  });
}

TEST(Chan, WaitingReceiverTakesValueStraightFromSender) {
  goro::run([] {
    auto ch = goro::make_chan<int>(4);
    auto about = goro::make_chan<int>(1);
    auto got = goro::make_chan<int>(1);
    goro::go([ch, about, got] {
      about.send(1);
      auto v = ch.recv();
      got.send(v.value_or(-1));
    });
    ASSERT_TRUE(recv_for(about));
    ASSERT_TRUE(goro_test::until_receivers(ch, 1));  // the receiver has parked in recv
    ch.send(42);  // room in the buffer: does not block either way
    EXPECT_EQ(ch.size(), 0u) << "the value went through the buffer instead of to the waiting receiver";
    EXPECT_EQ(recv_for(got), 42);
  });
}

// Go's TestChan, "Send 100 integers, ensure that we receive them
// non-corrupted in FIFO order", at capacity 0 and buffered capacities.
TEST(Chan, ValuesArriveInTheOrderSent) {
  goro::run([] {
    for (std::size_t cap : {0, 1, 2, 7, 100}) {
      auto ch = goro::make_chan<int>(cap);
      auto done = goro::make_chan<int>(1);
      goro::go([ch, done] {
        for (int i = 0; i < 100; ++i) ch.send(i);
        done.send(1);
      });
      for (int i = 0; i < 100; ++i) {
        auto v = recv_for(ch);
        ASSERT_EQ(v, i) << "cap " << cap;
      }
      EXPECT_TRUE(wait_for(done, 1));
    }
  });
}

// ---- buffered --------------------------------------------------------------

class ChanBuffered : public ::testing::TestWithParam<std::size_t> {};

// Go's TestChan, "Test len/cap", plus fill/try_send/FIFO.
TEST_P(ChanBuffered, FillsToCapacityThenTrySendFailsAndValuesComeOutInOrder) {
  const std::size_t cap = GetParam();
  goro::run([cap] {
    auto ch = goro::make_chan<int>(cap);
    EXPECT_TRUE(ch);
    EXPECT_EQ(ch.capacity(), cap);
    EXPECT_EQ(ch.size(), 0u);
    for (std::size_t i = 0; i < cap; ++i) {
      ASSERT_TRUE(ch.try_send(static_cast<int>(i)));
      EXPECT_EQ(ch.size(), i + 1);
    }
    EXPECT_EQ(ch.size(), cap);
    EXPECT_EQ(ch.capacity(), cap);
    EXPECT_FALSE(ch.try_send(-1)) << "try_send succeeded on a full channel";
    int lvalue = -2;
    EXPECT_FALSE(ch.try_send(lvalue));
    EXPECT_EQ(ch.size(), cap);
    for (std::size_t i = 0; i < cap; ++i) {
      auto v = ch.try_recv();
      ASSERT_EQ(v, static_cast<int>(i));
      EXPECT_EQ(ch.size(), cap - i - 1);
    }
    EXPECT_EQ(ch.try_recv(), std::nullopt);
    // Wrap around the ring a few times, keeping it half full.
    int next_in = 0;
    int next_out = 0;
    auto deadline = goro::after(wait_limit);
    for (std::size_t i = 0; i < cap / 2; ++i) ch.send(next_in++);  // room: does not block
    for (std::size_t round = 0; round < 3 * cap; ++round) {
      ch.send(next_in++);
      ASSERT_EQ(recv_before(ch, deadline), next_out++);
    }
    while (next_out < next_in) ASSERT_EQ(recv_before(ch, deadline), next_out++);
    EXPECT_EQ(ch.size(), 0u);
  });
}

INSTANTIATE_TEST_SUITE_P(Capacities, ChanBuffered, ::testing::Values(1, 2, 1024),
                         [](const auto& info) { return "cap" + std::to_string(info.param); });

// ---- close -----------------------------------------------------------------

// Go's TestChan, "Ensure that we receive 0 from closed chan".
TEST(Chan, ReceiversDrainBufferedValuesThenGetEmpty) {
  goro::run([] {
    for (std::size_t cap : {0, 1, 2, 7, 64}) {
      auto ch = goro::make_chan<int>(cap);
      for (std::size_t i = 0; i < cap; ++i) ch.send(static_cast<int>(i));
      ch.close();
      EXPECT_EQ(ch.size(), cap) << "close must keep buffered values";
      auto deadline = goro::after(wait_limit);
      for (std::size_t i = 0; i < cap; ++i) EXPECT_EQ(recv_before(ch, deadline), static_cast<int>(i));
      EXPECT_EQ(recv_before(ch, deadline), std::nullopt);
      EXPECT_EQ(recv_before(ch, deadline), std::nullopt) << "a drained closed channel stays ready";
      bool closed = false;
      EXPECT_EQ(ch.try_recv(&closed), std::nullopt);
      EXPECT_TRUE(closed);
    }
  });
}

TEST(Chan, TryRecvTellsEmptyFromClosed) {
  goro::run([] {
    auto ch = goro::make_chan<int>(1);
    bool closed = true;
    EXPECT_EQ(ch.try_recv(&closed), std::nullopt);
    EXPECT_FALSE(closed);
    ch.send(3);
    ch.close();
    closed = true;
    EXPECT_EQ(ch.try_recv(&closed), 3);
    EXPECT_FALSE(closed) << "a value was received; closed must say false";
    EXPECT_EQ(ch.try_recv(&closed), std::nullopt);
    EXPECT_TRUE(closed);
  });
}

// try_send, try_recv and a one-case select with a default decide "would
// block" without the channel's lock (Go's non-blocking fast paths). On an
// unbuffered channel that decision rests on the waiter queue alone: a
// counterpart parked there must be seen, and an empty queue must give
// "would block" with closed false.
TEST(Chan, NonBlockingOpsOnUnbufferedSeeAParkedCounterpart) {
  goro::run([] {
    auto ch = goro::make_chan<int>();
    bool closed = true;
    EXPECT_EQ(ch.try_recv(&closed), std::nullopt);
    EXPECT_FALSE(closed);
    EXPECT_FALSE(ch.try_send(1));
    EXPECT_EQ(goro::select(ch.on_recv(), goro::on_default()), 1u);
    EXPECT_EQ(goro::select(ch.on_send(1), goro::on_default()), 1u);

    auto done = goro::make_chan<int>(4);
    goro::go([ch, done] {
      ch.send(7);
      ch.send(8);
      done.send(1);
    });
    ASSERT_TRUE(goro_test::until_senders(ch, 1));
    EXPECT_EQ(ch.try_recv(&closed), 7);
    ASSERT_TRUE(goro_test::until_senders(ch, 1));
    std::optional<int> v;
    EXPECT_EQ(goro::select(ch.on_recv(v), goro::on_default()), 0u);
    EXPECT_EQ(v, 8);
    ASSERT_TRUE(wait_for(done, 1));

    auto got = goro::make_chan<int>(2);
    goro::go([ch, got] {
      got.send(*ch.recv());
      got.send(*ch.recv());
    });
    ASSERT_TRUE(goro_test::until_receivers(ch, 1));
    EXPECT_TRUE(ch.try_send(5));
    EXPECT_EQ(recv_for(got), 5);
    ASSERT_TRUE(goro_test::until_receivers(ch, 1));
    EXPECT_EQ(goro::select(ch.on_send(6), goro::on_default()), 0u);
    EXPECT_EQ(recv_for(got), 6);

    ch.close();
    EXPECT_EQ(ch.try_recv(&closed), std::nullopt);
    EXPECT_TRUE(closed) << "a closed channel would not block a receive";
    EXPECT_EQ(goro::select(ch.on_recv(), goro::on_default()), 0u);
    EXPECT_THROW(ch.try_send(1), goro::closed_channel_error);
  });
}

TEST(Chan, RangeForEndsOnClose) {
  goro::run([] {
    auto ch = goro::make_chan<int>(3);
    auto done = goro::make_chan<int>(1);
    goro::go([ch, done] {
      for (int i = 0; i < 50; ++i) ch.send(i);
      ch.close();
      done.send(1);
    });
    auto seen = std::make_shared<std::vector<int>>();
    EXPECT_TRUE(in_goroutine([ch, seen] {
      for (int v : ch) seen->push_back(v);
    })) << "range-for did not end at the close";
    std::vector<int> expected(50);
    for (int i = 0; i < 50; ++i) expected[i] = i;
    EXPECT_EQ(*seen, expected);
    EXPECT_TRUE(wait_for(done, 1));

    // A channel closed before the loop starts: the loop drains then ends.
    auto pre = goro::make_chan<int>(2);
    pre.send(1);
    pre.send(2);
    pre.close();
    seen->clear();
    EXPECT_TRUE(in_goroutine([pre, seen] {
      for (int v : pre) seen->push_back(v);
    }));
    EXPECT_EQ(*seen, (std::vector<int>{1, 2}));
    // Range-for over a recv_chan view too.
    auto empty = goro::make_chan<int>();
    empty.close();
    goro::recv_chan<int> view = empty;
    auto n = std::make_shared<int>(0);
    EXPECT_TRUE(in_goroutine([view, n] {
      for ([[maybe_unused]] int v : view) ++*n;
    }));
    EXPECT_EQ(*n, 0);
  });
}

TEST(Chan, SendOnClosedThrowsClosedChannelError) {
  goro::run([] {
    for (std::size_t cap : {0, 1, 4}) {
      auto ch = goro::make_chan<int>(cap);
      ch.close();
      EXPECT_THROW(ch.send(1), goro::closed_channel_error);
      int lvalue = 2;
      EXPECT_THROW(ch.send(lvalue), goro::closed_channel_error);
      goro::send_chan<int> s = ch;
      EXPECT_THROW(s.send(3), goro::closed_channel_error);
      EXPECT_EQ(ch.size(), 0u) << "nothing may be buffered by a failed send";
      EXPECT_EQ(recv_for(ch), std::nullopt);
    }
  });
}

// Go: a non-blocking send (select with default) on a closed channel panics
// too; try_send is goro's spelling of it.
TEST(Chan, TrySendOnClosedThrowsClosedChannelError) {
  goro::run([] {
    auto ch = goro::make_chan<int>(1);
    ch.close();
    EXPECT_THROW(ch.try_send(1), goro::closed_channel_error);
    EXPECT_THROW(goro::select(ch.on_send(1), goro::on_default()), goro::closed_channel_error);
  });
}

TEST(Chan, CloseOfClosedThrowsPanicError) {
  goro::run([] {
    auto ch = goro::make_chan<int>(2);
    ch.send(1);
    ch.close();
    EXPECT_THROW(ch.close(), goro::panic_error);
    EXPECT_EQ(recv_for(ch), 1) << "a failed close must not disturb the buffer";
    EXPECT_EQ(recv_for(ch), std::nullopt);
  });
}

TEST(Chan, SenderBlockedAtCloseGetsClosedChannelError) {
  goro::run([] {
    for (std::size_t cap : {0, 1}) {
      auto ch = goro::make_chan<int>(cap);
      if (cap == 1) ch.send(100);  // full
      constexpr int senders = 3;
      auto about = goro::make_chan<int>(senders);
      auto result = goro::make_chan<std::string>(senders);
      for (int i = 0; i < senders; ++i) {
        goro::go([ch, about, result, i] {
          about.send(i);
          try {
            ch.send(i);
            result.send("sent");
          } catch (const goro::closed_channel_error&) {
            result.send("closed_channel_error");
          } catch (const std::exception& e) {
            result.send(std::string("other exception: ") + e.what());
          }
        });
      }
      ASSERT_TRUE(wait_for(about, senders));
      ASSERT_TRUE(goro_test::until_senders(ch, senders));  // all of them blocked in send
      ch.close();
      for (int i = 0; i < senders; ++i) EXPECT_EQ(recv_for(result), std::string("closed_channel_error"));
      if (cap == 1) EXPECT_EQ(recv_for(ch), 100) << "the buffered value survives the close";
      EXPECT_EQ(recv_for(ch), std::nullopt);
    }
  });
}

// Go's TestChan, "Ensure that close unblocks receive", for every receiver
// blocked at the time.
TEST(Chan, AllReceiversBlockedAtCloseWakeWithEmpty) {
  goro::run([] {
    for (std::size_t cap : {0, 1, 16}) {
      auto ch = goro::make_chan<int>(cap);
      constexpr int receivers = 10;
      auto about = goro::make_chan<int>(receivers);
      auto result = goro::make_chan<int>(receivers);  // 1: empty optional, 0: a value (wrong)
      for (int i = 0; i < receivers; ++i) {
        goro::go([ch, about, result] {
          about.send(1);
          auto v = ch.recv();
          result.send(v ? 0 : 1);
        });
      }
      ASSERT_TRUE(wait_for(about, receivers));
      ASSERT_TRUE(goro_test::until_receivers(ch, receivers));  // all of them blocked in recv
      ch.close();
      for (int i = 0; i < receivers; ++i) EXPECT_EQ(recv_for(result), 1) << "cap " << cap;
    }
  });
}

// ---- FIFO order of waiters ----------------------------------------------------

TEST(Chan, BlockedReceiversAreServedInArrivalOrder) {
  goro::run([] {
    for (std::size_t cap : {0, 3}) {
      constexpr int receivers = 5;
      auto ch = goro::make_chan<int>(cap);
      auto about = goro::make_chan<int>(receivers);
      auto got = goro::make_chan<std::pair<int, int>>(receivers);  // (receiver, value)
      for (int i = 0; i < receivers; ++i) {
        goro::go([ch, about, got, i] {
          about.send(i);
          auto v = ch.recv();
          got.send({i, v.value_or(-1)});
        });
        // Receiver i must be queued before receiver i+1 starts.
        ASSERT_EQ(recv_for(about), i);
        ASSERT_TRUE(goro_test::until_receivers(ch, static_cast<std::size_t>(i) + 1));
      }
      for (int v = 0; v < receivers; ++v) ASSERT_TRUE(send_within(ch, v));
      std::vector<int> value_of(receivers, -2);
      for (int k = 0; k < receivers; ++k) {
        auto r = recv_for(got);
        ASSERT_TRUE(r);
        value_of[r->first] = r->second;
      }
      for (int i = 0; i < receivers; ++i) {
        EXPECT_EQ(value_of[i], i) << "cap " << cap << ": receiver " << i << " (the " << i
                                  << "th to block) got the wrong value";
      }
    }
  });
}

TEST(Chan, BlockedSendersAreServedInArrivalOrder) {
  goro::run([] {
    for (std::size_t cap : {0, 2}) {
      constexpr int senders = 5;
      auto ch = goro::make_chan<int>(cap);
      for (std::size_t k = 0; k < cap; ++k) ch.send(100 + static_cast<int>(k));  // full
      auto about = goro::make_chan<int>(senders);
      auto done = goro::make_chan<int>(senders);
      for (int i = 0; i < senders; ++i) {
        goro::go([ch, about, done, i] {
          about.send(i);
          ch.send(i);
          done.send(1);
        });
        // Sender i must be queued before sender i+1 starts.
        ASSERT_EQ(recv_for(about), i);
        ASSERT_TRUE(goro_test::until_senders(ch, static_cast<std::size_t>(i) + 1));
      }
      for (std::size_t k = 0; k < cap; ++k) EXPECT_EQ(recv_for(ch), 100 + static_cast<int>(k));
      for (int i = 0; i < senders; ++i) EXPECT_EQ(recv_for(ch), i) << "cap " << cap;
      EXPECT_TRUE(wait_for(done, senders));
    }
  });
}

// ---- directional views -----------------------------------------------------

int sum_all(goro::recv_chan<int> in) {
  int s = 0;
  for (int v : in) s += v;
  return s;
}
void send_range(goro::send_chan<int> out, int n) {
  for (int i = 1; i <= n; ++i) out.send(i);
  out.close();
}

TEST(Chan, ConvertsImplicitlyToSendAndRecvViews) {
  goro::run([] {
    auto ch = goro::make_chan<int>(10);
    send_range(ch, 10);  // chan<int> -> send_chan<int>; room for all: does not block
    auto sum = std::make_shared<int>(0);
    EXPECT_TRUE(in_goroutine([ch, sum] { *sum = sum_all(ch); }));  // chan<int> -> recv_chan<int>
    EXPECT_EQ(*sum, 55);

    auto ch2 = goro::make_chan<int>(2);
    goro::send_chan<int> s = ch2;
    goro::recv_chan<int> r = ch2;
    EXPECT_TRUE(s);
    EXPECT_TRUE(r);
    EXPECT_EQ(s.capacity(), 2u);
    EXPECT_EQ(r.capacity(), 2u);
    s.send(4);
    EXPECT_EQ(r.size(), 1u);
    EXPECT_EQ(ch2.size(), 1u);
    EXPECT_TRUE(s.try_send(5));
    EXPECT_FALSE(s.try_send(6));
    EXPECT_EQ(goro_test::recv_within(r), 4);
    EXPECT_EQ(r.try_recv(), 5);
    s.close();
    bool closed = false;
    EXPECT_EQ(r.try_recv(&closed), std::nullopt);
    EXPECT_TRUE(closed);
  });
}

TEST(Chan, EqualityComparesIdentity) {
  goro::run([] {
    auto a = goro::make_chan<int>(1);
    auto b = goro::make_chan<int>(1);
    goro::chan<int> a2 = a;
    EXPECT_TRUE(a == a2);
    EXPECT_FALSE(a == b);
    EXPECT_TRUE(a != b);
    goro::send_chan<int> sa = a;
    goro::send_chan<int> sa2 = a2;
    goro::send_chan<int> sb = b;
    EXPECT_TRUE(sa == sa2);
    EXPECT_FALSE(sa == sb);
    goro::recv_chan<int> ra = a;
    goro::recv_chan<int> rb = b;
    EXPECT_TRUE(ra == goro::recv_chan<int>(a2));
    EXPECT_FALSE(ra == rb);
    EXPECT_TRUE(goro::send_chan<int>() == goro::send_chan<int>());
    EXPECT_FALSE(goro::recv_chan<int>() == ra);
    // Copies share the channel: a value sent through one handle comes out of another.
    a2.send(9);
    EXPECT_EQ(a.size(), 1u);
    EXPECT_EQ(goro_test::recv_within(ra), 9);
    // Assignment rebinds the handle.
    a2 = b;
    EXPECT_TRUE(a2 == b);
    EXPECT_FALSE(a2 == a);
  });
}

// ---- move-only and non-trivial element types -------------------------------

TEST(Chan, MoveOnlyValuesPassThroughUnbufferedAndBufferedChannels) {
  goro::run([] {
    for (std::size_t cap : {0, 1, 8}) {
      auto ch = goro::make_chan<std::unique_ptr<int>>(cap);
      auto done = goro::make_chan<int>(1);
      goro::go([ch, done] {
        for (int i = 0; i < 20; ++i) ch.send(std::make_unique<int>(i));
        ch.close();
        done.send(1);
      });
      int expected = 0;
      for (;;) {
        std::optional<std::unique_ptr<int>> v;
        if (goro::select(ch.on_recv(v), goro::after(wait_limit).on_recv()) != 0) {
          ADD_FAILURE() << "timed out";
          break;
        }
        if (!v) break;  // closed
        ASSERT_TRUE(*v);
        EXPECT_EQ(**v, expected);
        ++expected;
      }
      EXPECT_EQ(expected, 20);
      EXPECT_TRUE(wait_for(done, 1));
    }
  });
}

TEST(Chan, RvalueNotSentStaysIntact) {
  goro::run([] {
    auto full = goro::make_chan<std::unique_ptr<int>>(1);
    full.send(std::make_unique<int>(0));
    auto ready = goro::make_chan<int>(1);
    ready.send(1);

    auto p = std::make_unique<int>(7);
    EXPECT_FALSE(full.try_send(std::move(p)));
    ASSERT_TRUE(p) << "try_send moved from a value it did not send";
    EXPECT_EQ(*p, 7);

    EXPECT_EQ(goro::select(full.on_send(std::move(p)), goro::on_default()), 1u);
    ASSERT_TRUE(p) << "select moved from the value of a send case it did not take";
    EXPECT_EQ(*p, 7);

    EXPECT_EQ(goro::select(full.on_send(std::move(p)), ready.on_recv(), goro::after(wait_limit).on_recv()), 1u);
    ASSERT_TRUE(p);
    EXPECT_EQ(*p, 7);

    goro::chan<std::unique_ptr<int>> nil;
    EXPECT_EQ(goro::select(nil.on_send(std::move(p)), goro::on_default()), 1u);
    ASSERT_TRUE(p);

    // Taken: now it is moved from.
    EXPECT_TRUE(recv_for(full).value_or(nullptr) != nullptr);
    EXPECT_EQ(goro::select(full.on_send(std::move(p)), goro::on_default()), 0u);
    EXPECT_FALSE(p);
    auto back = recv_for(full);
    ASSERT_TRUE(back && *back);
    EXPECT_EQ(**back, 7);
  });
}

TEST(Chan, EveryValueNotReceivedIsDestroyedWithTheLastHandle) {
  ASSERT_EQ(tracked::live.load(), 0);
  tracked::bad_destroys = 0;
  goro::run([] {
    {
      auto ch = goro::make_chan<tracked>(8);
      for (int i = 0; i < 5; ++i) ch.send(tracked(i));
      EXPECT_EQ(tracked::live.load(), 5);
      {
        auto v = recv_for(ch);
        ASSERT_TRUE(v);
        EXPECT_EQ(v->value, 0);
        EXPECT_EQ(tracked::live.load(), 5);
      }
      EXPECT_EQ(tracked::live.load(), 4);
      tracked lvalue(99);
      ch.send(lvalue);  // a copy goes in
      EXPECT_EQ(tracked::live.load(), 6);
      goro::chan<tracked> other = ch;
      goro::recv_chan<tracked> view = ch;
      ch = goro::chan<tracked>();
      EXPECT_EQ(tracked::live.load(), 6) << "buffered values destroyed while handles remain";
      other = goro::chan<tracked>();
      EXPECT_EQ(tracked::live.load(), 6);
      EXPECT_EQ(goro_test::recv_within(view).value_or(tracked(-1)).value, 1);
      view = goro::recv_chan<tracked>();   // the last handle: 4 buffered values go
      EXPECT_EQ(tracked::live.load(), 1);  // lvalue
    }
    EXPECT_EQ(tracked::live.load(), 0);

    // Closed with values buffered; a ring that has wrapped around.
    {
      auto ch = goro::make_chan<tracked>(4);
      for (int i = 0; i < 3; ++i) ch.send(tracked(i));
      for (int i = 0; i < 3; ++i) EXPECT_EQ(recv_for(ch).value_or(tracked(-1)).value, i);
      for (int i = 0; i < 4; ++i) ch.send(tracked(i));  // wraps
      ch.close();
      EXPECT_EQ(tracked::live.load(), 4);
    }
    EXPECT_EQ(tracked::live.load(), 0);

    // Through an unbuffered hand-off, a blocked sender at close, and a send
    // case not taken.
    {
      auto ch = goro::make_chan<tracked>();
      auto done = goro::make_chan<int>(2);
      goro::go([ch, done] {
        ch.send(tracked(1));
        try {
          ch.send(tracked(2));  // blocks until the close
        } catch (const goro::closed_channel_error&) {
        }
        done.send(1);
      });
      {
        auto v = recv_for(ch);
        ASSERT_TRUE(v);
        EXPECT_EQ(v->value, 1);
      }
      EXPECT_TRUE(goro_test::until_senders(ch, 1));  // blocked in the second send
      ch.close();
      EXPECT_TRUE(wait_for(done, 1));
      tracked t(3);
      EXPECT_EQ(goro::select(ch.on_recv(), goro::on_default()), 0u);  // closed: ready
      auto full = goro::make_chan<tracked>(1);
      full.send(tracked(4));
      EXPECT_EQ(goro::select(full.on_send(std::move(t)), goro::on_default()), 1u);
      EXPECT_EQ(t.value, 3);
      EXPECT_EQ(tracked::live.load(), 2);  // t and the buffered one
    }
    EXPECT_EQ(tracked::live.load(), 0);

    // Many goroutines, some values received, the rest dropped with the channel.
    {
      auto ch = goro::make_chan<tracked>(1000);
      auto done = goro::make_chan<int>(10);
      for (int g = 0; g < 10; ++g) {
        goro::go([ch, done, g]() mutable {
          for (int i = 0; i < 100; ++i) ch.send(tracked(g * 100 + i));
          ch = goro::chan<tracked>();  // drop this handle before saying done
          done.send(1);
        });
      }
      EXPECT_TRUE(wait_for(done, 10));
      auto deadline = goro::after(wait_limit);
      for (int i = 0; i < 500; ++i) EXPECT_TRUE(recv_before(ch, deadline));
      EXPECT_EQ(tracked::live.load(), 500);
    }
    EXPECT_EQ(tracked::live.load(), 0);
  });
  EXPECT_EQ(tracked::live.load(), 0);
  EXPECT_EQ(tracked::bad_destroys.load(), 0) << "a value was destroyed twice";
}

// ---- plain threads and goroutines ------------------------------------------

TEST(Chan, ThreadSendsGoroutineReceives) {
  goro::run([] {
    auto ch = goro::make_chan<int>();
    bounded_thread t([ch] {
      try {
        for (int i = 0; i < 1000; ++i) ch.send(i);
        ch.close();
      } catch (const goro::panic_error&) {  // the test gave up and closed it
      }
    });
    int i = 0;
    for (; i < 1000; ++i) {
      auto v = recv_for(ch);
      if (!v) break;
      EXPECT_EQ(*v, i);
    }
    EXPECT_EQ(i, 1000);
    if (i == 1000) {
      EXPECT_EQ(recv_for(ch), std::nullopt);
    } else {
      try {
        ch.close();
      } catch (const goro::panic_error&) {
      }
    }
    t.join();
  });
}

TEST(Chan, GoroutineSendsThreadReceives) {
  goro::run([] {
    for (std::size_t cap : {0, 4}) {
      auto ch = goro::make_chan<int>(cap);
      auto result = goro::make_chan<std::int64_t>(1);
      auto done = goro::make_chan<int>(1);
      goro::go([ch, done] {
        auto deadline = goro::after(wait_limit);
        for (int i = 0; i < 1000; ++i) {
          if (!send_before(ch, i, deadline)) break;
        }
        ch.close();
        done.send(1);
      });
      bounded_thread t([ch, result] {
        std::int64_t sum = 0;
        int expected = 0;
        for (int v : ch) {  // blocks the thread; ends at the close
          if (v != expected) sum = -1'000'000'000;
          ++expected;
          sum += v;
        }
        result.send(sum);
      });
      EXPECT_EQ(recv_for(result), 999 * 1000 / 2);
      EXPECT_TRUE(wait_for(done, 1));
      t.join();
    }
  });
}

TEST(Chan, ThreadBlockedInRecvIsWokenByGoroutineSend) {
  goro::run([] {
    auto ch = goro::make_chan<int>();
    auto about = goro::make_chan<int>(1);
    auto got = goro::make_chan<int>(1);
    bounded_thread t([ch, about, got] {
      about.send(1);
      auto v = ch.recv();  // blocks the thread
      got.send(v.value_or(-1));
    });
    ASSERT_TRUE(recv_for(about));
    // The thread has blocked in recv (if not, the send below still releases it).
    EXPECT_TRUE(goro_test::until_receivers(ch, 1));
    auto done = goro::make_chan<int>(1);
    goro::go([ch, done] {
      send_within(ch, 5);
      done.send(1);
    });
    auto v = recv_for(got);
    EXPECT_EQ(v, 5);
    if (!v) ch.close();  // release the thread
    EXPECT_TRUE(wait_for(done, 1));
    t.join();
  });
}

TEST(Chan, ThreadBlockedInSendIsWokenByGoroutineRecv) {
  goro::run([] {
    auto ch = goro::make_chan<int>();
    auto about = goro::make_chan<int>(1);
    auto result = goro::make_chan<int>(1);
    bounded_thread t([ch, about, result] {
      about.send(1);
      try {
        ch.send(11);  // blocks the thread
        result.send(1);
      } catch (const goro::closed_channel_error&) {
        result.send(0);
      }
    });
    ASSERT_TRUE(recv_for(about));
    // The thread has blocked in send (if not, the receive below still releases it).
    EXPECT_TRUE(goro_test::until_senders(ch, 1));
    auto got = goro::make_chan<int>(1);
    goro::go([ch, got] { got.send(recv_for(ch).value_or(-1)); });
    EXPECT_EQ(recv_for(got), 11);
    EXPECT_EQ(recv_for(result), 1);
    t.join();
  });
}

TEST(Chan, ThreadAndGoroutinePingPong) {
  goro::run([] {
    auto ping = goro::make_chan<int>();
    auto pong = goro::make_chan<int>();
    constexpr int rounds = 2000;
    bounded_thread t([ping, pong] {
      for (int v : ping) {
        try {
          pong.send(v + 1);
        } catch (const goro::closed_channel_error&) {
          return;
        }
      }
    });
    auto deadline = goro::after(60s);
    for (int i = 0; i < rounds; ++i) {
      if (!send_before(ping, i, deadline)) break;
      auto v = recv_before(pong, deadline);
      if (v != i + 1) {
        ADD_FAILURE() << "round " << i;
        pong.close();
        break;
      }
    }
    ping.close();
    t.join();
  });
}

// No goroutine anywhere: both ends are plain threads (and so is the test).
TEST(Chan, TwoPlainThreadsWithoutGoroutines) {
  for (std::size_t cap : {0, 1, 16}) {
    auto ping = goro::make_chan<int>(cap);
    auto pong = goro::make_chan<int>(cap);
    auto result = goro::make_chan<int>(1);
    constexpr int rounds = 2000;
    bounded_thread a([ping, pong, result] {
      int ok = 1;
      for (int i = 0; i < rounds; ++i) {
        ping.send(i);
        auto v = pong.recv();
        if (v != i * 2) {
          ok = 0;
          break;
        }
      }
      ping.close();
      result.send(ok);
    });
    bounded_thread b([ping, pong] {
      for (int v : ping) pong.send(v * 2);
      pong.close();
    });
    EXPECT_EQ(goro_test::recv_within<int>(result), 1) << "cap " << cap;
    a.join();
    if (b.join()) {
      bool closed = false;
      EXPECT_EQ(pong.try_recv(&closed), std::nullopt);
      EXPECT_TRUE(closed);
    }
  }
}

TEST(Chan, ManyThreadsAndGoroutinesShareAChannel) {
  goro::run([] {
    constexpr int threads = 3;
    constexpr int goroutines = 3;
    constexpr int per = 2000;
    constexpr int total = (threads + goroutines) * per;
    auto ch = goro::make_chan<int>(4);
    auto counts = std::make_shared<std::vector<std::atomic<int>>>(total);
    auto producers_done = goro::make_chan<int>(threads + goroutines);
    auto consumers_done = goro::make_chan<int>(threads + goroutines);
    std::vector<std::unique_ptr<bounded_thread>> ts;
    for (int p = 0; p < threads + goroutines; ++p) {
      auto produce = [ch, producers_done, p] {
        for (int i = 0; i < per; ++i) ch.send(p * per + i);
        producers_done.send(1);
      };
      auto consume = [ch, consumers_done, counts] {
        for (int v : ch) (*counts)[v].fetch_add(1, std::memory_order_relaxed);
        consumers_done.send(1);
      };
      if (p < threads) {
        ts.push_back(std::make_unique<bounded_thread>(produce));
        ts.push_back(std::make_unique<bounded_thread>(consume));
      } else {
        goro::go(std::move(produce));
        goro::go(std::move(consume));
      }
    }
    bool produced = wait_for(producers_done, threads + goroutines, 60s);
    ch.close();
    EXPECT_TRUE(produced);
    EXPECT_TRUE(wait_for(consumers_done, threads + goroutines, 60s));
    for (auto& t : ts) t->join();
    for (int v = 0; v < total; ++v) {
      ASSERT_EQ((*counts)[v].load(), 1) << "value " << v;
    }
  });
}

// ---- every value received exactly once -------------------------------------

// Go's TestChan, "Send 1000 integers in 4 goroutines, ensure that we receive
// what we send", scaled up: 8 producers x 8 consumers.
void every_value_received_exactly_once(std::size_t cap) {
  const std::int64_t n = scaled(1'000'000);
  static constexpr int producers = 8;
  static constexpr int consumers = 8;
  auto counts = std::make_shared<std::vector<std::atomic<std::uint8_t>>>(static_cast<std::size_t>(n));
  auto out_of_range = std::make_shared<std::atomic<int>>(0);
  goro::run([&] {
    auto ch = goro::make_chan<std::int64_t>(cap);
    auto producers_done = goro::make_chan<int>(producers);
    auto consumers_done = goro::make_chan<int>(consumers);
    for (int p = 0; p < producers; ++p) {
      goro::go([ch, producers_done, p, n] {
        for (std::int64_t v = p; v < n; v += producers) ch.send(v);
        producers_done.send(1);
      });
    }
    for (int c = 0; c < consumers; ++c) {
      goro::go([ch, consumers_done, counts, out_of_range, n] {
        for (std::int64_t v : ch) {
          if (v < 0 || v >= n) {
            out_of_range->fetch_add(1);
          } else {
            (*counts)[static_cast<std::size_t>(v)].fetch_add(1, std::memory_order_relaxed);
          }
        }
        consumers_done.send(1);
      });
    }
    bool produced = wait_for(producers_done, producers, 120s);
    ch.close();
    EXPECT_TRUE(produced);
    EXPECT_TRUE(wait_for(consumers_done, consumers, 120s));
  });
  EXPECT_EQ(out_of_range->load(), 0);
  std::int64_t lost = 0;
  std::int64_t duplicated = 0;
  std::int64_t first_bad = -1;
  for (std::int64_t v = 0; v < n; ++v) {
    auto c = (*counts)[static_cast<std::size_t>(v)].load();
    if (c == 0) ++lost;
    if (c > 1) ++duplicated;
    if (c != 1 && first_bad < 0) first_bad = v;
  }
  EXPECT_EQ(lost, 0) << "values never received (first bad value " << first_bad << ")";
  EXPECT_EQ(duplicated, 0) << "values received more than once (first bad value " << first_bad << ")";
}

TEST(Chan, EveryValueReceivedExactlyOnceBuffered) { every_value_received_exactly_once(16); }
TEST(Chan, EveryValueReceivedExactlyOnceUnbuffered) { every_value_received_exactly_once(0); }

// Go's TestMultiConsumer: workers receive with range, re-send to a results
// channel, occasionally yielding to disturb the order; the sum and count of
// results must match.
TEST(Chan, MultiConsumer) {
  goro::run([] {
    constexpr int nwork = 23;
    const int niter = static_cast<int>(scaled(27'182));
    static constexpr int pn[] = {2, 3, 7, 11, 13, 17, 19, 23, 27, 31};
    auto q = goro::make_chan<int>(nwork * 3);
    auto r = goro::make_chan<int>(nwork * 3);
    auto workers_done = goro::make_chan<int>(nwork);
    for (int w = 0; w < nwork; ++w) {
      goro::go([q, r, workers_done, w] {
        for (int v : q) {
          if (pn[w % 10] == v) goro::yield();  // mess with the fifo-ish nature of range
          r.send(v);
        }
        workers_done.send(1);
      });
    }
    auto expect = std::make_shared<std::int64_t>(0);
    auto feeder_done = goro::make_chan<int>(1);
    goro::go([q, r, workers_done, expect, feeder_done, niter] {
      for (int i = 0; i < niter; ++i) {
        int v = pn[i % 10];
        *expect += v;
        q.send(v);
      }
      q.close();
      bool ok = wait_for(workers_done, nwork, 60s);
      r.close();
      feeder_done.send(ok ? 1 : 0);
    });
    auto deadline = goro::after(60s);
    std::int64_t n = 0;
    std::int64_t s = 0;
    for (;;) {
      std::optional<int> v;
      if (goro::select(r.on_recv(v), deadline.on_recv()) != 0) {
        ADD_FAILURE() << "timed out";
        break;
      }
      if (!v) break;
      ++n;
      s += *v;
    }
    EXPECT_EQ(recv_for(feeder_done), 1);
    EXPECT_EQ(n, niter);
    EXPECT_EQ(s, *expect);  // the feeder's writes are published by the close of r
  });
}

// Go's TestNonblockRecvRace: a non-blocking receive on a channel that holds a
// value or is closed must never find it "not ready".
TEST(Chan, NonblockRecvRace) {
  goro::run([] {
    const int n = static_cast<int>(scaled(10'000));
    auto result = goro::make_chan<int>(n);
    for (int i = 0; i < n; ++i) {
      auto c = goro::make_chan<int>(1);
      c.send(1);
      goro::go([c, result] {
        bool closed = false;
        auto v = c.try_recv(&closed);
        result.send(v || closed ? 1 : 0);
      });
      c.close();
      c.try_recv();
    }
    auto deadline = goro::after(60s);
    int not_ready = 0;
    for (int i = 0; i < n; ++i) {
      std::optional<int> v;
      if (goro::select(result.on_recv(v), deadline.on_recv()) != 0) {
        ADD_FAILURE() << "timed out";
        break;
      }
      if (*v == 0) ++not_ready;
    }
    EXPECT_EQ(not_ready, 0) << "chan is not ready";
  });
}

// Plain sends and receives paired against selects on the same unbuffered
// channel (each side parks in turn), many times, with no value lost.
TEST(Chan, PlainOpsPairWithSelectsOnTheSameChannel) {
  goro::run([] {
    const int n = static_cast<int>(scaled(20'000));
    auto ch = goro::make_chan<int>();
    auto other = goro::make_chan<int>();  // never ready
    auto done = goro::make_chan<std::int64_t>(2);
    // Plain receives against select sends, then plain sends against select receives.
    goro::go([ch, other, done, n] {
      std::int64_t sum = 0;
      for (int i = 0; i < n; ++i) {
        std::optional<int> v;
        goro::select(ch.on_recv(v), other.on_recv());
        sum += v.value_or(0);
      }
      for (int i = 1; i <= n; ++i) goro::select(ch.on_send(i), other.on_send(-1));
      done.send(sum);
    });
    goro::go([ch, done, n] {
      for (int i = 1; i <= n; ++i) ch.send(i);
      std::int64_t sum = 0;
      for (int i = 0; i < n; ++i) sum += ch.recv().value_or(0);
      done.send(sum);
    });
    const std::int64_t expected = static_cast<std::int64_t>(n) * (n + 1) / 2;
    EXPECT_EQ(recv_for(done, 60s), expected);
    EXPECT_EQ(recv_for(done, 60s), expected);
  });
}

}  // namespace
