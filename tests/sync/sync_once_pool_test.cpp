// tests/sync/sync_once_pool_test.cpp: goro::once (and once_func,
// once_value, once_values), goro::pool<T> and goro::semaphore (Go's
// sync.Once, sync.OnceFunc/OnceValue/OnceValues, sync.Pool and
// golang.org/x/sync/semaphore.Weighted).
//
// The conventions of sync_test.cpp hold here: every test runs inside
// goro::run unless it is about plain threads; every wait is bounded; every
// goroutine a test starts returns before the test ends; sleeps only give
// something that must NOT happen a chance to happen, or stand for work.
//
// Tests that port a test of Go's src/sync/*_test.go or of x/sync's
// semaphore_test.go say which.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "sync/sync_helpers.hpp"

namespace {

using namespace std::chrono_literals;
using goro_test::wait_limit;
using sync_test::bounded_thread;
using sync_test::give_a_chance;
using sync_test::in_goroutine;
using sync_test::ready_now;
using sync_test::scaled;
using sync_test::wait_for;

// ---- once --------------------------------------------------------------------

// Go's TestOnce: many concurrent callers; f runs once and every caller sees
// its effect once call() returns. Some callers are plain threads.
TEST(Once, RunsOnceAndEveryCallerSeesTheEffect) {
  goro::run([] {
    struct state {
      goro::once o;
      int value = 0;  // written by f only
    };
    auto s = std::make_shared<state>();
    constexpr int goroutines = 10;
    constexpr int threads = 2;
    auto done = goro::make_chan<int>(goroutines + threads);
    std::vector<std::unique_ptr<bounded_thread>> ts;
    for (int i = 0; i < goroutines + threads; ++i) {
      auto caller = [s, done] {
        s->o.call([&] {
          goro::yield();  // let the others arrive while f runs
          ++s->value;
        });
        done.send(s->value);
      };
      if (i < threads) {
        ts.push_back(std::make_unique<bounded_thread>(caller));
      } else {
        goro::go(caller);
      }
    }
    auto deadline = goro::after(wait_limit);
    for (int i = 0; i < goroutines + threads; ++i) {
      std::optional<int> v;
      ASSERT_EQ(goro::select(done.on_recv(v), deadline.on_recv()), 0u);
      EXPECT_EQ(v, 1) << "once failed inside run";
    }
    for (auto& t : ts) t->join();
    EXPECT_EQ(s->value, 1) << "once failed outside run";
    EXPECT_TRUE(s->o.done());
  });
}

// Every other caller waits until f has returned, even while f blocks.
TEST(Once, CallersWaitForARunningF) {
  goro::run([] {
    auto o = std::make_shared<goro::once>();
    auto value = std::make_shared<std::atomic<int>>(0);
    auto started = goro::make_chan<int>(1);
    auto release = goro::make_chan<int>();
    auto done = goro::make_chan<int>(8);
    goro::go([o, value, started, release, done] {
      o->call([&] {
        started.send(1);
        (void)wait_for(release, 1);
        value->store(42);
      });
      done.send(value->load());
    });
    ASSERT_TRUE(wait_for(started, 1));
    EXPECT_FALSE(o->done());
    std::vector<std::unique_ptr<bounded_thread>> ts;
    for (int i = 0; i < 4; ++i) {
      auto caller = [o, value, done] {
        o->call([&] { value->store(-1); });
        done.send(value->load());
      };
      if (i == 0) {
        ts.push_back(std::make_unique<bounded_thread>(caller));
      } else {
        goro::go(caller);
      }
    }
    give_a_chance();
    EXPECT_FALSE(ready_now(done)) << "a call returned before f did";
    release.close();
    auto deadline = goro::after(wait_limit);
    for (int i = 0; i < 5; ++i) {
      std::optional<int> v;
      ASSERT_EQ(goro::select(done.on_recv(v), deadline.on_recv()), 0u);
      EXPECT_EQ(v, 42);
    }
    for (auto& t : ts) t->join();
    EXPECT_TRUE(o->done());
  });
}

// Go's TestOncePanic: f's exception reaches its caller, and the once counts
// as done: f is not run again.
TEST(Once, ExceptionReachesTheCallerAndFIsNotRunAgain) {
  auto check = [] {
    goro::once o;
    EXPECT_FALSE(o.done());
    EXPECT_THROW(o.call([] { throw std::runtime_error("failed"); }), std::runtime_error);
    EXPECT_TRUE(o.done());
    bool ran = false;
    o.call([&] { ran = true; });
    EXPECT_FALSE(ran) << "once ran f twice";
  };
  check();
  goro::run(check);
}

// Callers waiting while f throws return normally (as in Go, where only the
// goroutine running f panics).
TEST(Once, WaitingCallersReturnNormallyWhenFThrows) {
  goro::run([] {
    auto o = std::make_shared<goro::once>();
    auto started = goro::make_chan<int>(1);
    auto release = goro::make_chan<int>();
    auto result = goro::make_chan<int>(4);
    goro::go([o, started, release, result] {
      try {
        o->call([&] {
          started.send(1);
          (void)wait_for(release, 1);
          throw std::runtime_error("boom");
        });
        result.send(0);
      } catch (const std::runtime_error&) {
        result.send(1);
      }
    });
    ASSERT_TRUE(wait_for(started, 1));
    for (int i = 0; i < 3; ++i) {
      goro::go([o, result] {
        try {
          o->call([] {});
          result.send(2);
        } catch (...) {
          result.send(3);
        }
      });
    }
    give_a_chance();
    release.close();
    int first = 0, others = 0;
    auto deadline = goro::after(wait_limit);
    for (int i = 0; i < 4; ++i) {
      std::optional<int> v;
      ASSERT_EQ(goro::select(result.on_recv(v), deadline.on_recv()), 0u);
      if (v == 1) ++first;
      if (v == 2) ++others;
    }
    EXPECT_EQ(first, 1) << "the exception did not reach f's caller";
    EXPECT_EQ(others, 3) << "a waiting caller did not return normally";
  });
}

// Mixed hammer: goroutines and plain threads race through many fresh onces;
// each f runs exactly once and every caller sees its effect.
TEST(Once, HammerGoroutinesAndThreads) {
  goro::run([] {
    const int count = static_cast<int>(scaled(300));
    struct state {
      explicit state(int n) : onces(n), runs(n, 0) {}
      std::vector<goro::once> onces;
      std::vector<int> runs;  // runs[i] written only by onces[i]'s f
      std::atomic<int> errors{0};
    };
    auto s = std::make_shared<state>(count);
    constexpr int goroutines = 6;
    constexpr int threads = 2;
    auto done = goro::make_chan<int>(goroutines + threads);
    std::vector<std::unique_ptr<bounded_thread>> ts;
    for (int w = 0; w < goroutines + threads; ++w) {
      auto body = [s, count, done, w] {
        for (int i = 0; i < count; ++i) {
          // Half the workers walk forwards, half backwards.
          int k = w % 2 == 0 ? i : count - 1 - i;
          s->onces[k].call([&] {
            if (k % 8 == 0) goro::yield();
            ++s->runs[k];
          });
          if (s->runs[k] != 1) s->errors.fetch_add(1);
        }
        done.send(1);
      };
      if (w < threads) {
        ts.push_back(std::make_unique<bounded_thread>(body));
      } else {
        goro::go(body);
      }
    }
    ASSERT_TRUE(wait_for(done, goroutines + threads, 60s));
    for (auto& t : ts) t->join();
    EXPECT_EQ(s->errors.load(), 0) << "a caller returned before f's effect was visible";
    for (int i = 0; i < count; ++i) {
      ASSERT_EQ(s->runs[i], 1) << "once " << i;
      ASSERT_TRUE(s->onces[i].done());
    }
  });
}

// Go's TestOnceFunc: f runs once, across copies of the returned function.
TEST(OnceFunc, RunsOnceAcrossCopies) {
  goro::run([] {
    auto calls = std::make_shared<std::atomic<int>>(0);
    auto f = goro::once_func([calls] { calls->fetch_add(1); });
    EXPECT_EQ(calls->load(), 0);
    f();
    f();
    auto g = f;
    g();
    EXPECT_EQ(calls->load(), 1);

    // Concurrent callers on copies, goroutines and threads.
    auto calls2 = std::make_shared<std::atomic<int>>(0);
    auto h = goro::once_func([calls2] {
      goro::yield();
      calls2->fetch_add(1);
    });
    auto done = goro::make_chan<int>(8);
    std::vector<std::unique_ptr<bounded_thread>> ts;
    for (int i = 0; i < 8; ++i) {
      auto caller = [h, calls2, done]() mutable {
        h();
        done.send(calls2->load());
      };
      if (i < 2) {
        ts.push_back(std::make_unique<bounded_thread>(caller));
      } else {
        goro::go(caller);
      }
    }
    auto deadline = goro::after(wait_limit);
    for (int i = 0; i < 8; ++i) {
      std::optional<int> v;
      ASSERT_EQ(goro::select(done.on_recv(v), deadline.on_recv()), 0u);
      EXPECT_EQ(v, 1);
    }
    for (auto& t : ts) t->join();
    EXPECT_EQ(calls2->load(), 1);
  });
}

// Go's TestOnceValue and TestOnceValues.
TEST(OnceFunc, OnceValueAndOnceValues) {
  goro::run([] {
    auto calls = std::make_shared<int>(0);
    auto v = goro::once_value([calls] {
      ++*calls;
      return std::string("value ") + std::to_string(*calls);
    });
    EXPECT_EQ(v(), "value 1");
    auto w = v;
    EXPECT_EQ(w(), "value 1");
    EXPECT_EQ(v(), "value 1");
    EXPECT_EQ(*calls, 1);

    auto calls2 = std::make_shared<int>(0);
    auto vs = goro::once_values([calls2] {
      ++*calls2;
      return std::pair<int, std::string>(*calls2, "ok");
    });
    auto [a, b] = vs();
    EXPECT_EQ(a, 1);
    EXPECT_EQ(b, "ok");
    auto [c, d] = vs();
    EXPECT_EQ(c, 1);
    EXPECT_EQ(d, "ok");
    EXPECT_EQ(*calls2, 1);

    auto t = goro::once_values([] { return std::tuple<int, double, char>(1, 2.5, 'x'); });
    EXPECT_EQ(std::get<2>(t()), 'x');

    // A move-only function.
    auto m = goro::once_value([p = std::make_unique<int>(9)] { return *p; });
    EXPECT_EQ(m(), 9);
    EXPECT_EQ(m(), 9);
  });
}

// Go's TestOnceFuncPanic / TestOnceValuePanic / TestOnceValuesPanic: f runs
// once; its exception is rethrown by every call.
TEST(OnceFunc, ExceptionIsRethrownOnEveryCall) {
  goro::run([] {
    int calls = 0;
    auto f = goro::once_func([&calls] {
      ++calls;
      throw std::runtime_error("x");
    });
    auto g = f;
    for (int i = 0; i < 3; ++i) {
      try {
        (i == 1 ? g : f)();
        ADD_FAILURE() << "call " << i << " did not throw";
      } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "x");
      }
    }
    EXPECT_EQ(calls, 1);

    int vcalls = 0;
    auto v = goro::once_value([&vcalls]() -> int {
      ++vcalls;
      throw std::invalid_argument("y");
    });
    EXPECT_THROW(v(), std::invalid_argument);
    EXPECT_THROW(v(), std::invalid_argument);
    EXPECT_EQ(vcalls, 1);

    int vscalls = 0;
    auto vs = goro::once_values([&vscalls]() -> std::pair<int, int> {
      ++vscalls;
      throw std::out_of_range("z");
    });
    EXPECT_THROW(vs(), std::out_of_range);
    EXPECT_THROW(vs(), std::out_of_range);
    EXPECT_EQ(vscalls, 1);
  });
}

// Go's TestOnceXGC: once it has run, the function (and what it captured)
// is released, also when it threw.
TEST(OnceFunc, FunctionIsReleasedAfterItRuns) {
  auto captured = std::make_shared<int>(1);
  std::weak_ptr<int> weak = captured;
  auto f = goro::once_func([captured = std::move(captured)] {});
  EXPECT_FALSE(weak.expired());
  f();
  EXPECT_TRUE(weak.expired()) << "once_func kept f after running it";

  auto captured2 = std::make_shared<int>(2);
  std::weak_ptr<int> weak2 = captured2;
  auto v = goro::once_value([captured2 = std::move(captured2)]() -> int { throw std::runtime_error("no"); });
  EXPECT_THROW(v(), std::runtime_error);
  EXPECT_TRUE(weak2.expired()) << "once_value kept f after it threw";
}

// ---- pool --------------------------------------------------------------------

/// Counts constructions and destructions, and who holds each object.
struct item {
  static inline std::atomic<int> live{0};
  static inline std::atomic<int> constructed{0};
  item() noexcept {
    live.fetch_add(1);
    constructed.fetch_add(1);
  }
  item(const item&) = delete;
  item& operator=(const item&) = delete;
  ~item() { live.fetch_sub(1); }
  std::atomic<int> holders{0};  // 1 while got from the pool and not put back
};

TEST(Pool, EmptyPoolGetReturnsValueInitialisedT) {
  goro::pool<std::unique_ptr<int>> p;
  EXPECT_EQ(p.get(), nullptr);  // plain thread
  goro::run([&p] { EXPECT_EQ(p.get(), nullptr); });
  goro::pool<int> ints;
  EXPECT_EQ(ints.get(), 0);
}

TEST(Pool, NewFunctionIsUsedWhenEmpty) {
  goro::run([] {
    int calls = 0;
    {
      goro::pool<std::unique_ptr<item>> p([&calls] {
        ++calls;
        return std::make_unique<item>();
      });
      auto a = p.get();
      ASSERT_NE(a, nullptr);
      EXPECT_EQ(calls, 1);
      item* raw = a.get();
      p.put(std::move(a));
      auto b = p.get();  // no block since the put: the same processor's cache
      EXPECT_EQ(b.get(), raw);
      EXPECT_EQ(calls, 1);
      auto c = p.get();
      EXPECT_NE(c.get(), raw);
      EXPECT_EQ(calls, 2);
      p.put(std::move(b));
      p.put(std::move(c));
    }
    EXPECT_EQ(item::live.load(), 0) << "the pool's destructor did not destroy its values";
  });
}

// Go's TestPool, first part: put then get on one goroutine (which cannot
// move to another processor without blocking) returns the newest value,
// then the older one, then nothing.
TEST(Pool, PutThenGetOnOneGoroutineReturnsTheSameObjects) {
  goro::run([] {
    goro::pool<std::unique_ptr<int>> p;
    EXPECT_EQ(p.get(), nullptr);
    auto a = std::make_unique<int>(1);
    auto b = std::make_unique<int>(2);
    int* ra = a.get();
    int* rb = b.get();
    p.put(std::move(a));
    p.put(std::move(b));
    auto g1 = p.get();
    auto g2 = p.get();
    auto g3 = p.get();
    EXPECT_EQ(g1.get(), rb);
    EXPECT_EQ(g2.get(), ra);
    EXPECT_EQ(g3, nullptr);
  });
}

TEST(Pool, PutThenGetOnAPlainThread) {
  goro::pool<std::unique_ptr<int>> p;
  auto a = std::make_unique<int>(1);
  int* ra = a.get();
  p.put(std::move(a));
  auto g = p.get();
  EXPECT_EQ(g.get(), ra);
  bounded_thread t([&p] {
    auto b = std::make_unique<int>(2);
    int* rb = b.get();
    p.put(std::move(b));
    auto h = p.get();
    EXPECT_EQ(h.get(), rb);
  });
  EXPECT_TRUE(t.join());
}

// One goroutine puts more than a processor keeps; the spill goes to the
// shared list, which a plain thread reads. No object is handed out twice.
TEST(Pool, SpillIsSharedWithPlainThreadsWithoutDuplicates) {
  goro::run([] {
    {
      auto p = std::make_shared<goro::pool<std::unique_ptr<item>>>();
      constexpr int n = 200;
      std::set<item*> made;
      for (int i = 0; i < n; ++i) {
        auto x = std::make_unique<item>();
        made.insert(x.get());
        p->put(std::move(x));
      }
      auto got = std::make_shared<std::vector<std::unique_ptr<item>>>();
      bounded_thread t([p, got] {
        while (auto x = p->get()) got->push_back(std::move(x));
      });
      ASSERT_TRUE(t.join());
      EXPECT_GT(got->size(), 0u) << "nothing spilled to the shared list";
      while (auto x = p->get()) got->push_back(std::move(x));
      std::set<item*> seen;
      for (auto& x : *got) {
        EXPECT_TRUE(made.count(x.get())) << "an object the pool never got";
        EXPECT_TRUE(seen.insert(x.get()).second) << "an object handed out twice";
      }
      EXPECT_LE(got->size(), static_cast<std::size_t>(n));
    }
    EXPECT_EQ(item::live.load(), 0);
  });
}

// Go's TestPoolStress, with ownership checks: goroutines and plain threads
// get and put concurrently; no object is ever held by two at once, a
// goroutine's put-then-get returns its own object, and once the pool is
// destroyed every object constructed has been destroyed.
TEST(Pool, StressGoroutinesAndThreadsOwnershipBalance) {
  goro::run([] {
    item::constructed.store(0);
    ASSERT_EQ(item::live.load(), 0);
    auto errors = std::make_shared<std::atomic<int>>(0);
    auto not_same = std::make_shared<std::atomic<int>>(0);
    {
      auto p = std::make_shared<goro::pool<std::unique_ptr<item>>>(
          [] { return std::make_unique<item>(); });
      constexpr int goroutines = 8;
      constexpr int threads = 2;
      const int loops = static_cast<int>(scaled(3000));
      auto done = goro::make_chan<int>(goroutines + threads);
      std::vector<std::unique_ptr<bounded_thread>> ts;
      for (int w = 0; w < goroutines + threads; ++w) {
        bool is_thread = w < threads;
        auto body = [p, errors, not_same, loops, done, is_thread]() mutable {
          std::vector<std::unique_ptr<item>> held;
          for (int i = 0; i < loops; ++i) {
            auto x = p->get();
            if (x->holders.exchange(1) != 0) errors->fetch_add(1);
            held.push_back(std::move(x));
            if (i % 3 == 0 && held.size() < 8) continue;  // hold a few for a while
            if (i % 7 == 0) goro::yield();
            while (!held.empty()) {
              auto y = std::move(held.back());
              held.pop_back();
              y->holders.store(0);
              item* raw = y.get();
              p->put(std::move(y));
              if (!is_thread && i % 5 == 0) {
                auto z = p->get();  // no block since the put
                if (z.get() != raw) not_same->fetch_add(1);
                if (z->holders.exchange(1) != 0) errors->fetch_add(1);
                z->holders.store(0);
                p->put(std::move(z));
              }
            }
          }
          for (auto& x : held) x->holders.store(0);
          held.clear();  // destroyed, not put back
          p.reset();     // the pool dies with the test's scope, not with this closure
          done.send(1);
        };
        if (is_thread) {
          ts.push_back(std::make_unique<bounded_thread>(body));
        } else {
          goro::go(body);
        }
      }
      ASSERT_TRUE(wait_for(done, goroutines + threads, 60s));
      for (auto& t : ts) t->join();
    }
    EXPECT_EQ(errors->load(), 0) << "an object was held by two at once";
    EXPECT_EQ(not_same->load(), 0) << "a goroutine's get right after put returned another object";
    EXPECT_EQ(item::live.load(), 0) << "objects leaked (constructed " << item::constructed.load() << ")";
  });
}

// Go's TestPoolRelease / TestPool's second part: values a pool holds while
// nobody uses it are dropped (here: within about two seconds), whether a
// goroutine or a plain thread put them.
TEST(Pool, IdleValuesAreDropped) {
  goro::run([] {
    ASSERT_EQ(item::live.load(), 0);
    auto p = std::make_shared<goro::pool<std::unique_ptr<item>>>();
    for (int i = 0; i < 100; ++i) p->put(std::make_unique<item>());
    {
      bounded_thread t([p] {
        for (int i = 0; i < 10; ++i) p->put(std::make_unique<item>());
      });
      ASSERT_TRUE(t.join());
    }
    EXPECT_EQ(item::live.load(), 110);
    EXPECT_TRUE(goro_test::eventually([] { return item::live.load() == 0; }))
        << item::live.load() << " pooled values were never dropped";
  });
}

// Once a sweep has found a processor's caches empty, the runtime stops
// sweeping them; values put there after that must make it sweep again. One
// processor, so that both rounds use the same cache.
TEST(Pool, ValuesPutAfterTheCachesEmptiedAreDroppedToo) {
  goro_test::scoped_setting<int> procs(goro::gomaxprocs, 1);
  goro::run([] {
    ASSERT_EQ(item::live.load(), 0);
    goro::pool<std::unique_ptr<item>> p;
    for (int round = 0; round < 2; ++round) {
      for (int i = 0; i < 10; ++i) p.put(std::make_unique<item>());
      EXPECT_EQ(item::live.load(), 10);
      EXPECT_TRUE(goro_test::eventually([] { return item::live.load() == 0; }))
          << item::live.load() << " pooled values were never dropped in round " << round;
    }
  });
}

// ---- semaphore ---------------------------------------------------------------

// x/sync's TestWeightedTryAcquire.
TEST(Semaphore, TryAcquire) {
  goro::semaphore sem(2);
  std::vector<bool> tries;
  sem.acquire(1);
  tries.push_back(sem.try_acquire(1));
  tries.push_back(sem.try_acquire(1));
  sem.release(2);
  tries.push_back(sem.try_acquire(1));
  sem.acquire(1);
  tries.push_back(sem.try_acquire(1));
  EXPECT_EQ(tries, (std::vector<bool>{true, false, true, false}));
  sem.release(2);
}

TEST(Semaphore, AcquireAndReleaseWeights) {
  goro::run([] {
    goro::semaphore sem(5);
    sem.acquire(3);
    EXPECT_FALSE(sem.try_acquire(3));
    EXPECT_TRUE(sem.try_acquire(2));
    EXPECT_FALSE(sem.try_acquire());
    sem.release(4);
    EXPECT_TRUE(sem.try_acquire(4));
    sem.release(5);
    EXPECT_TRUE(sem.try_acquire(5));
    sem.release(5);
  });
}

TEST(Semaphore, AcquireBlocksUntilReleaseGoroutinesAndThreads) {
  goro::run([] {
    auto sem = std::make_shared<goro::semaphore>(1);
    sem->acquire();
    auto got = goro::make_chan<int>(2);
    goro::go([sem, got] {
      sem->acquire();
      got.send(1);
    });
    bounded_thread t([sem, got] {
      sem->acquire();  // blocks the thread
      got.send(2);
    });
    give_a_chance();
    EXPECT_FALSE(ready_now(got)) << "acquire succeeded with no unit free";
    sem->release();
    EXPECT_TRUE(wait_for(got, 1));
    give_a_chance();
    EXPECT_FALSE(ready_now(got)) << "one release let two acquires through";
    sem->release();
    EXPECT_TRUE(wait_for(got, 1));
    t.join();
    sem->release();
    EXPECT_TRUE(sem->try_acquire());
    sem->release();
  });
}

// x/sync's TestWeightedPanic: releasing more than is held panics.
TEST(Semaphore, OverReleaseThrowsPanicError) {
  {
    goro::semaphore sem(1);
    EXPECT_THROW(sem.release(1), goro::panic_error);
  }
  {
    goro::semaphore sem(3);
    sem.acquire(1);
    EXPECT_THROW(sem.release(2), goro::panic_error);
  }
}

// x/sync's TestWeightedDoesntBlockIfTooBig (goro throws instead of waiting
// for a context), and a negative size.
TEST(Semaphore, ImpossibleRequestsThrowInvalidArgument) {
  EXPECT_THROW(goro::semaphore(-1), std::invalid_argument);
  goro::run([] {
    goro::semaphore sem(3);
    EXPECT_THROW(sem.acquire(4), std::invalid_argument);
    goro::semaphore none(0);
    EXPECT_THROW(none.acquire(1), std::invalid_argument);
    EXPECT_TRUE(sem.try_acquire(3));  // the failed acquire took nothing
    sem.release(3);
  });
}

// FIFO: a request that cannot be served blocks later, smaller requests even
// when there are units enough for them (try_acquire too).
TEST(Semaphore, SmallRequestWaitsBehindALargeOne) {
  goro::run([] {
    auto sem = std::make_shared<goro::semaphore>(10);
    auto seq = std::make_shared<std::atomic<int>>(0);
    sem->acquire(5);
    auto large_about = goro::make_chan<int>(1);
    auto order = goro::make_chan<int>(2);
    goro::go([sem, seq, large_about, order] {
      large_about.send(1);
      sem->acquire(10);
      order.send(10 + seq->fetch_add(1));
      sem->release(10);
    });
    ASSERT_TRUE(wait_for(large_about, 1));
    // The large request is queued once try_acquire(1) fails with 5 units free.
    bool queued = goro_test::eventually([&] {
      if (sem->try_acquire(1)) {
        sem->release(1);
        return false;
      }
      return true;
    });
    EXPECT_TRUE(queued) << "try_acquire succeeded with a request waiting";
    bounded_thread small([sem, seq, order] {
      sem->acquire(1);
      order.send(20 + seq->fetch_add(1));
      sem->release(1);
    });
    give_a_chance();
    EXPECT_FALSE(ready_now(order)) << "a request went ahead of the one waiting longer";
    sem->release(5);
    auto first = goro_test::recv_within<int>(order);
    auto second = goro_test::recv_within<int>(order);
    EXPECT_EQ(first, 10) << "the large request was not served first";
    EXPECT_EQ(second, 21);
    small.join();
    EXPECT_TRUE(sem->try_acquire(10));
    sem->release(10);
  });
}

// x/sync's TestLargeAcquireDoesntStarve: holders that keep releasing and
// re-acquiring one unit do not starve a request for all of them.
TEST(Semaphore, LargeAcquireDoesntStarve) {
  goro::run([] {
    constexpr int n = 4;
    auto sem = std::make_shared<goro::semaphore>(n);
    auto running = std::make_shared<std::atomic<bool>>(true);
    auto done = goro::make_chan<int>(n);
    std::vector<std::unique_ptr<bounded_thread>> ts;
    for (int i = 0; i < n; ++i) {
      sem->acquire(1);
      auto holder = [sem, running, done, i] {
        while (running->load()) {
          if (i == 0) {
            std::this_thread::sleep_for(100us);  // work
          } else {
            goro::sleep(100us);
          }
          sem->release(1);
          sem->acquire(1);
        }
        sem->release(1);
        done.send(1);
      };
      if (i == 0) {
        ts.push_back(std::make_unique<bounded_thread>(holder));
      } else {
        goro::go(holder);
      }
    }
    auto large = goro::make_chan<int>(1);
    goro::go([sem, large] {
      sem->acquire(n);
      large.send(1);
    });
    bool got = wait_for(large, 1);
    EXPECT_TRUE(got) << "acquire(" << n << ") starved";
    running->store(false);
    if (got) sem->release(n);
    EXPECT_TRUE(wait_for(done, n));
    if (!got) EXPECT_TRUE(wait_for(large, 1));  // the holders are gone: it gets in
    for (auto& t : ts) t->join();
  });
}

// x/sync's TestWeighted / HammerWeighted, plus plain threads and a check
// that the units in use never exceed the size.
TEST(Semaphore, HammerGoroutinesAndThreads) {
  goro::run([] {
    constexpr int size = 8;
    auto sem = std::make_shared<goro::semaphore>(size);
    auto in_use = std::make_shared<std::atomic<int>>(0);
    auto over = std::make_shared<std::atomic<int>>(0);
    const int loops = static_cast<int>(scaled(1000));
    constexpr int goroutines = 8;
    constexpr int threads = 3;
    auto done = goro::make_chan<int>(goroutines + threads);
    std::vector<std::unique_ptr<bounded_thread>> ts;
    for (int w = 0; w < goroutines + threads; ++w) {
      const int weight = 1 + w % size;
      auto body = [sem, in_use, over, loops, done, weight] {
        for (int i = 0; i < loops; ++i) {
          if (i % 4 == 0) {
            if (!sem->try_acquire(weight)) continue;
          } else {
            sem->acquire(weight);
          }
          if (in_use->fetch_add(weight) + weight > size) over->fetch_add(1);
          if (i % 8 == 1) goro::yield();
          in_use->fetch_sub(weight);
          sem->release(weight);
        }
        done.send(1);
      };
      if (w < threads) {
        ts.push_back(std::make_unique<bounded_thread>(body));
      } else {
        goro::go(body);
      }
    }
    ASSERT_TRUE(wait_for(done, goroutines + threads, 60s));
    for (auto& t : ts) t->join();
    EXPECT_EQ(over->load(), 0) << "more units in use than the size";
    EXPECT_TRUE(sem->try_acquire(size)) << "units were lost";
    sem->release(size);
  });
}

}  // namespace
