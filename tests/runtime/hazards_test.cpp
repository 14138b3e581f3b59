// The hazards of switching stacks (DESIGN.md), one test each.
#include <atomic>
#include <cerrno>
#include <cstring>
#include <exception>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>

#include "support/test_support.hpp"

using namespace goro_test;

// goro's own per-thread state must be re-read after every switch: a goroutine
// that migrates between workers must see the state of the worker it is on.
// A stale read shows up as a wrong goroutine id or a crash.
TEST(Hazards, GoroutineStateIsRightAfterMigration) {
  goro::run([] {
    constexpr int n = 64;
    auto done = goro::make_chan<int>(n);
    auto ping = goro::make_chan<int>(1);
    std::atomic<int> migrations{0};
    for (int i = 0; i < n; ++i) {
      goro::go([=, &migrations] {
        std::uint64_t id = goro::this_goroutine::id();
        std::thread::id thread = std::this_thread::get_id();
        for (int k = 0; k < 200; ++k) {
          ping.send(k);
          ping.recv();
          if (goro::this_goroutine::id() != id) {
            ADD_FAILURE() << "goroutine id changed after a switch";
            break;
          }
          if (std::this_thread::get_id() != thread) {
            migrations.fetch_add(1, std::memory_order_relaxed);
            thread = std::this_thread::get_id();
          }
        }
        done.send(1);
      });
    }
    for (int i = 0; i < n; ++i) ASSERT_TRUE(recv_within<int>(done));
    if (goro::gomaxprocs() > 1) RecordProperty("migrations", migrations.load());
  });
}

// C++ exception state is per OS thread; goro swaps it at every switch. A
// goroutine that parks inside a catch block and then rethrows must rethrow
// its own exception, whatever other goroutines threw meanwhile.
TEST(Hazards, ExceptionStateIsPerGoroutine) {
  goro::run([] {
    int old = goro::gomaxprocs(1);  // make both goroutines share one worker
    auto a_in = goro::make_chan<int>(), b_in = goro::make_chan<int>();
    auto results = goro::make_chan<std::string>(2);
    auto body = [results](goro::chan<int> wait_on, std::string name) {
      try {
        try {
          throw std::runtime_error(name);
        } catch (const std::exception&) {
          EXPECT_EQ(std::uncaught_exceptions(), 0);
          wait_on.recv();  // park inside the catch block
          EXPECT_NE(std::current_exception(), nullptr);
          throw;  // must rethrow our own exception
        }
      } catch (const std::runtime_error& e) {
        results.send(std::string(e.what()));
      }
    };
    goro::go(body, a_in, std::string("from a"));
    goro::go(body, b_in, std::string("from b"));
    goro::yield();
    a_in.send(1);  // a resumes while b is parked in its own catch block
    b_in.send(1);
    std::set<std::string> got;
    for (int i = 0; i < 2; ++i) got.insert(recv_within<std::string>(results).value_or("?"));
    EXPECT_EQ(got, (std::set<std::string>{"from a", "from b"}));
    goro::gomaxprocs(old);
  });
}

// std::uncaught_exceptions() is per goroutine too: a destructor running
// during unwinding in one goroutine parks; another goroutine must not see
// the unwinding.
TEST(Hazards, UncaughtExceptionsCountIsPerGoroutine) {
  goro::run([] {
    int old = goro::gomaxprocs(1);
    auto step = goro::make_chan<int>();
    auto seen = goro::make_chan<int>(1);
    struct parks_in_destructor {
      goro::chan<int> ch;
      ~parks_in_destructor() { ch.recv(); }
    };
    auto done = goro::make_chan<int>(1);
    goro::go([step, done] {
      try {
        parks_in_destructor p{step};
        throw std::runtime_error("unwinding");
      } catch (...) {
      }
      done.send(1);
    });
    goro::go([seen] { seen.send(std::uncaught_exceptions()); });
    EXPECT_EQ(recv_within<int>(seen), 0);
    step.send(1);
    ASSERT_TRUE(recv_within<int>(done));
    goro::gomaxprocs(old);
  });
}

// Stacks are reused warm; under ASan a reused stack must not carry the
// previous goroutine's poison (frames with redzones left mid-way by a
// goroutine that parked deep and finished).
TEST(Hazards, ReusedStacksCarryNoStalePoison) {
  goro::run([] {
    for (int round = 0; round < 50; ++round) {
      auto done = goro::make_chan<int>(8);
      for (int i = 0; i < 8; ++i) {
        goro::go([done, i] {
          char buf[8192];
          std::memset(buf, i, sizeof buf);
          goro::yield();
          volatile char sink = buf[i * 7];
          (void)sink;
          done.send(1);
        });
      }
      for (int i = 0; i < 8; ++i) ASSERT_TRUE(recv_within<int>(done));
    }
  });
}

// Deep but bounded recursion fits in a goroutine's stack.
namespace {
GORO_NOINLINE int recurse(int depth) {
  volatile char frame[256];
  frame[0] = static_cast<char>(depth);
  if (depth == 0) return frame[0];
  return recurse(depth - 1) + 1 + (frame[0] - frame[0]);
}
}  // namespace

TEST(Hazards, DeepRecursionFits) {
  goro::run([] {
    auto done = goro::make_chan<int>(1);
    goro::go([done] { done.send(recurse(200)); });  // ~60 KiB even with sanitizers
    EXPECT_EQ(recv_within<int>(done), 200);
  });
}

// errno is per thread; goro does not touch the caller's errno across a switch.
TEST(Hazards, ErrnoSurvivesParking) {
  goro::run([] {
    auto ch = goro::make_chan<int>();
    auto done = goro::make_chan<int>(1);
    goro::go([ch, done] {
      errno = 0;
      ch.recv();
      done.send(errno);
    });
    ch.send(1);
    EXPECT_EQ(recv_within<int>(done), 0);
  });
}
