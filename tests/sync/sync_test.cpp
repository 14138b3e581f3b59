// tests/sync/sync_test.cpp: goro::wait_group and goro::mutex (Go's
// sync.WaitGroup and sync.Mutex). sync_more_test.cpp has rw_mutex and cond,
// sync_once_pool_test.cpp once, once_func/once_value/once_values, pool and
// semaphore.
//
// Every test runs inside goro::run unless it is about plain threads; every
// wait is bounded (a broken library fails a test, it does not hang it); every
// goroutine a test starts returns before the test ends (the leak check in
// test_main.cpp). Sleeps only give something that must NOT happen a chance
// to happen, or stand for work done while holding a lock. Objects that a
// goroutine or thread may still touch after a failed (timed-out) wait are
// held by shared_ptr and captured by value.
//
// Tests that port a test of Go's src/sync/*_test.go say which.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
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

// ---- wait_group --------------------------------------------------------------

// Go's TestWaitGroup / testWaitGroup: wg1 tells the test that all n have
// arrived, wg2 holds them until the test releases it; eight rounds on the
// same two groups check that a group is reusable. Here some of the n are
// plain threads.
TEST(WaitGroup, TwoGroupsAsBarriersReusedEightTimes) {
  goro::run([] {
    auto wg1 = std::make_shared<goro::wait_group>();
    auto wg2 = std::make_shared<goro::wait_group>();
    constexpr int n = 16;
    for (int round = 0; round < 8; ++round) {
      wg1->add(n);
      wg2->add(n);
      auto exited = goro::make_chan<int>(n);
      std::vector<std::unique_ptr<bounded_thread>> threads;
      for (int i = 0; i < n; ++i) {
        auto body = [wg1, wg2, exited] {
          wg1->done();
          wg2->wait();
          exited.send(1);
        };
        if (i % 6 == 0) {
          threads.push_back(std::make_unique<bounded_thread>(body));
        } else {
          goro::go(body);
        }
      }
      ASSERT_TRUE(in_goroutine([wg1] { wg1->wait(); })) << "round " << round;
      for (int i = 0; i < n; ++i) {
        ASSERT_FALSE(ready_now(exited)) << "wait_group released the group too soon (round " << round << ")";
        wg2->done();
      }
      ASSERT_TRUE(wait_for(exited, n)) << "round " << round;
      for (auto& t : threads) t->join();
    }
  });
}

// Go's TestWaitGroupMisuse: a negative counter panics.
TEST(WaitGroup, NegativeCounterThrowsPanicError) {
  {
    goro::wait_group wg;
    wg.add(1);
    wg.done();
    EXPECT_THROW(wg.done(), goro::panic_error);
  }
  {
    goro::wait_group wg;
    EXPECT_THROW(wg.add(-1), goro::panic_error);
  }
  goro::run([] {
    goro::wait_group wg;
    wg.add(2);
    EXPECT_THROW(wg.add(-3), goro::panic_error);
  });
}

// Go's TestWaitGroupRace: wait never returns before both dones (no spurious
// wakeup), over many fresh groups.
TEST(WaitGroup, WaitSeesEveryDone) {
  goro::run([] {
    const int iters = static_cast<int>(scaled(1000));
    EXPECT_TRUE(in_goroutine(
        [iters] {
          for (int i = 0; i < iters; ++i) {
            auto wg = std::make_shared<goro::wait_group>();
            auto n = std::make_shared<std::atomic<int>>(0);
            for (int g = 0; g < 2; ++g) {
              wg->add(1);
              goro::go([wg, n] {
                n->fetch_add(1);
                wg->done();
              });
            }
            wg->wait();
            if (n->load() != 2) {
              ADD_FAILURE() << "spurious wakeup from wait in iteration " << i;
              return;
            }
          }
        },
        60s));
  });
}

TEST(WaitGroup, WaitOnZeroReturnsAtOnceAndGroupIsReusable) {
  goro::run([] {
    auto wg = std::make_shared<goro::wait_group>();
    wg->wait();  // counter zero: returns at once
    for (int round = 0; round < 5; ++round) {
      auto count = std::make_shared<std::atomic<int>>(0);
      const int k = round + 1;
      wg->add(k);
      for (int i = 0; i < k; ++i) {
        goro::go([wg, count] {
          goro::yield();
          count->fetch_add(1);
          wg->done();
        });
      }
      EXPECT_TRUE(in_goroutine([wg] { wg->wait(); }));
      EXPECT_EQ(count->load(), k) << "round " << round;
      wg->wait();  // zero again: returns at once
    }
  });
}

// Go 1.25's WaitGroup.Go (TestWaitGroupGo).
TEST(WaitGroup, GoRunsEachFunctionAndWaitWaitsForThem) {
  goro::run([] {
    auto wg = std::make_shared<goro::wait_group>();
    auto count = std::make_shared<std::atomic<int>>(0);
    constexpr int n = 20;
    for (int i = 0; i < n; ++i) {
      wg->go([count] {
        goro::yield();
        count->fetch_add(1);
      });
    }
    // A move-only function.
    auto p = std::make_unique<int>(7);
    wg->go([count, p = std::move(p)] { count->fetch_add(*p - 7); });
    EXPECT_TRUE(in_goroutine([wg] { wg->wait(); }));
    EXPECT_EQ(count->load(), n);
  });
}

// Not a Go test: in Go the GC keeps a WaitGroup alive. Here the object may
// be destroyed as soon as wait() returns, so whoever lets the waiter go must
// not touch it afterwards (ASan reports the use after free if it does).
TEST(WaitGroup, DestroyedAsSoonAsWaitReturns) {
  goro::run([] {
    for (int round = 0; round < scaled(2000); ++round) {
      auto wg = std::make_unique<goro::wait_group>();
      wg->go([] { goro::yield(); });
      wg->go([] {});
      wg->wait();
      wg.reset();
    }
  });
}

// Not a Go test: go(f) destroys f, and what it holds by value, before its
// done(), so before wait() returns: the waiter may then destroy what a
// capture's destructor uses. Each capture counts its destruction, yielding
// first (the runtime destroys a goroutine's function on that goroutine), so
// that a waiter let go before the destructors ran gets to see the count short.
TEST(WaitGroup, GoDestroysTheFunctionBeforeDone) {
  goro::run([] {
    constexpr int tasks = 4;
    auto short_counts = std::make_shared<std::atomic<int>>(0);
    for (int round = 0; round < scaled(200); ++round) {
      auto destroyed = std::make_shared<std::atomic<int>>(0);
      auto wg = std::make_shared<goro::wait_group>();
      for (int i = 0; i < tasks; ++i) {
        wg->go([c = goro_test::counts_destruction(destroyed)] {
          (void)c;
          goro::yield();
        });
      }
      ASSERT_TRUE(in_goroutine([wg, destroyed, short_counts] {
        wg->wait();
        if (destroyed->load() != tasks) short_counts->fetch_add(1);
      }));
    }
    EXPECT_EQ(short_counts->load(), 0) << "wait() returned before every go function was destroyed";
  });
}

TEST(WaitGroup, WaitBlocksUntilTheLastGoFunctionReturns) {
  goro::run([] {
    auto wg = std::make_shared<goro::wait_group>();
    auto release = goro::make_chan<int>();
    for (int i = 0; i < 3; ++i) {
      wg->go([release] { (void)wait_for(release, 1); });
    }
    auto waited = goro::make_chan<int>(1);
    goro::go([wg, waited] {
      wg->wait();
      waited.send(1);
    });
    give_a_chance();
    EXPECT_FALSE(ready_now(waited)) << "wait returned while go functions were running";
    release.close();
    EXPECT_TRUE(wait_for(waited, 1));
  });
}

// A plain thread waits while goroutines call done.
TEST(WaitGroup, PlainThreadWaitsForGoroutines) {
  goro::run([] {
    auto wg = std::make_shared<goro::wait_group>();
    constexpr int n = 8;
    wg->add(n);
    auto release = goro::make_chan<int>();
    for (int i = 0; i < n; ++i) {
      goro::go([wg, release] {
        (void)wait_for(release, 1);
        wg->done();
      });
    }
    auto waited = goro::make_chan<int>(1);
    bounded_thread t([wg, waited] {
      wg->wait();  // blocks the thread
      waited.send(1);
    });
    give_a_chance();
    EXPECT_FALSE(ready_now(waited)) << "the thread's wait returned with the counter above zero";
    release.close();
    EXPECT_TRUE(wait_for(waited, 1));
    t.join();
  });
}

// No goroutine anywhere: plain threads call done and wait.
TEST(WaitGroup, PlainThreadsOnly) {
  auto wg = std::make_shared<goro::wait_group>();
  auto count = std::make_shared<std::atomic<int>>(0);
  constexpr int n = 4;
  wg->add(n);
  std::vector<std::unique_ptr<bounded_thread>> ts;
  for (int i = 0; i < n; ++i) {
    ts.push_back(std::make_unique<bounded_thread>([wg, count] {
      count->fetch_add(1);
      wg->done();
    }));
  }
  auto waited = goro::make_chan<int>(1);
  bounded_thread waiter([wg, count, waited] {
    wg->wait();
    waited.send(count->load());
  });
  EXPECT_EQ(goro_test::recv_within<int>(waited), n);
  for (auto& t : ts) t->join();
  waiter.join();
}

// Mixed hammer: each round, goroutines and threads call done while several
// goroutines and threads wait; every waiter returns once, after every done.
TEST(WaitGroup, HammerGoroutinesAndThreads) {
  goro::run([] {
    const int rounds = static_cast<int>(scaled(30));
    for (int round = 0; round < rounds; ++round) {
      auto wg = std::make_shared<goro::wait_group>();
      auto count = std::make_shared<std::atomic<int>>(0);
      constexpr int doers = 12;
      constexpr int waiters = 6;
      wg->add(doers);
      auto waited = goro::make_chan<int>(waiters);
      std::vector<std::unique_ptr<bounded_thread>> ts;
      for (int i = 0; i < waiters; ++i) {
        auto wait = [wg, count, waited] {
          wg->wait();
          waited.send(count->load());
        };
        if (i < 2) {
          ts.push_back(std::make_unique<bounded_thread>(wait));
        } else {
          goro::go(wait);
        }
      }
      for (int i = 0; i < doers; ++i) {
        auto work = [wg, count] {
          goro::yield();
          count->fetch_add(1);
          wg->done();
        };
        if (i == 0) {
          ts.push_back(std::make_unique<bounded_thread>(work));
        } else {
          goro::go(work);
        }
      }
      auto deadline = goro::after(wait_limit);
      for (int i = 0; i < waiters; ++i) {
        std::optional<int> v;
        ASSERT_EQ(goro::select(waited.on_recv(v), deadline.on_recv()), 0u) << "round " << round;
        EXPECT_EQ(v, doers) << "a waiter returned before every done";
      }
      for (auto& t : ts) t->join();
    }
  });
}

// ---- mutex -------------------------------------------------------------------

// Go's TestMutex, first part: TryLock.
TEST(Mutex, TryLockFailsWhenLockedSucceedsWhenFree) {
  auto check = [] {
    goro::mutex m;
    m.lock();
    EXPECT_FALSE(m.try_lock()) << "try_lock succeeded with the mutex locked";
    m.unlock();
    EXPECT_TRUE(m.try_lock()) << "try_lock failed with the mutex unlocked";
    EXPECT_FALSE(m.try_lock());
    m.unlock();
  };
  check();  // plain thread
  goro::run(check);
}

struct counted {
  goro::mutex mu;
  std::int64_t value = 0;  // guarded by mu (deliberately not atomic)
  std::atomic<std::int64_t> increments{0};
};

// Go's HammerMutex, with a shared non-atomic counter: every way of taking
// the lock, and now and then a yield with the lock held so that others park.
void hammer_mutex(counted& s, int loops) {
  std::int64_t mine = 0;
  for (int i = 0; i < loops; ++i) {
    switch (i % 4) {
      case 0:
        if (s.mu.try_lock()) {
          ++s.value;
          ++mine;
          s.mu.unlock();
        }
        break;
      case 1: {
        std::lock_guard lock(s.mu);
        ++s.value;
        ++mine;
        break;
      }
      case 2: {
        std::unique_lock lock(s.mu);
        ++s.value;
        ++mine;
        break;
      }
      default:
        s.mu.lock();
        ++s.value;
        ++mine;
        if (i % 64 == 3) goro::yield();
        s.mu.unlock();
        break;
    }
  }
  s.increments.fetch_add(mine);
}

// Go's TestMutex (the hammer), plus plain threads.
TEST(Mutex, HammerGoroutinesAndThreads) {
  goro::run([] {
    auto s = std::make_shared<counted>();
    constexpr int goroutines = 10;
    constexpr int threads = 3;
    const int loops = static_cast<int>(scaled(2000));
    auto done = goro::make_chan<int>(goroutines + threads);
    std::vector<std::unique_ptr<bounded_thread>> ts;
    for (int i = 0; i < goroutines + threads; ++i) {
      auto body = [s, loops, done] {
        hammer_mutex(*s, loops);
        done.send(1);
      };
      if (i < threads) {
        ts.push_back(std::make_unique<bounded_thread>(body));
      } else {
        goro::go(body);
      }
    }
    ASSERT_TRUE(wait_for(done, goroutines + threads, 60s));
    for (auto& t : ts) t->join();
    std::lock_guard lock(s->mu);
    EXPECT_EQ(s->value, s->increments.load());
    EXPECT_GE(s->value, static_cast<std::int64_t>(goroutines + threads) * loops * 3 / 4);
  });
}

TEST(Mutex, LockBlocksWhileHeldByAGoroutineOrThread) {
  goro::run([] {
    auto mu = std::make_shared<goro::mutex>();
    mu->lock();
    auto got = goro::make_chan<int>(2);
    goro::go([mu, got] {
      mu->lock();
      got.send(1);
      mu->unlock();
    });
    bounded_thread t([mu, got] {
      mu->lock();  // blocks the thread
      got.send(2);
      mu->unlock();
    });
    give_a_chance();
    EXPECT_FALSE(ready_now(got)) << "lock succeeded while the mutex was held";
    mu->unlock();
    EXPECT_TRUE(wait_for(got, 2));
    t.join();
    EXPECT_TRUE(mu->try_lock());
    mu->unlock();
  });
}

// Go allows one goroutine to unlock a mutex another locked.
TEST(Mutex, AnotherGoroutineOrThreadMayUnlock) {
  goro::run([] {
    auto mu = std::make_shared<goro::mutex>();
    mu->lock();
    EXPECT_TRUE(in_goroutine([mu] { mu->unlock(); }));
    EXPECT_TRUE(mu->try_lock());
    {
      bounded_thread t([mu] { mu->unlock(); });
      t.join();
    }
    EXPECT_TRUE(in_goroutine([mu] {
      mu->lock();
      mu->unlock();
    }));
  });
}

// Go's TestMutexFairness: a goroutine that keeps the lock nearly all the
// time, unlocking only briefly, does not starve another. Also with a plain
// thread on either side.
TEST(Mutex, Fairness) {
  goro::run([] {
    for (int variant = 0; variant < 3; ++variant) {
      // 0: goroutine hog, goroutine waiter; 1: thread hog; 2: thread waiter.
      auto mu = std::make_shared<goro::mutex>();
      auto stop = std::make_shared<std::atomic<bool>>(false);
      auto hog_done = goro::make_chan<int>(1);
      auto hog = [mu, stop, hog_done, variant] {
        while (!stop->load()) {
          mu->lock();
          if (variant == 1) {
            std::this_thread::sleep_for(100us);  // work done holding the lock
          } else {
            goro::sleep(100us);
          }
          mu->unlock();
        }
        hog_done.send(1);
      };
      auto done = goro::make_chan<int>(1);
      auto waiter = [mu, done, variant] {
        for (int i = 0; i < 10; ++i) {
          if (variant == 2) {
            std::this_thread::sleep_for(100us);
          } else {
            goro::sleep(100us);
          }
          mu->lock();
          mu->unlock();
        }
        done.send(1);
      };
      std::unique_ptr<bounded_thread> t;
      if (variant == 1) {
        t = std::make_unique<bounded_thread>(hog);
      } else {
        goro::go(hog);
      }
      if (variant == 2) {
        t = std::make_unique<bounded_thread>(waiter);
      } else {
        goro::go(waiter);
      }
      EXPECT_TRUE(wait_for(done, 1, 10s)) << "can't acquire the mutex in 10 seconds (variant " << variant << ")";
      stop->store(true);
      EXPECT_TRUE(wait_for(hog_done, 1));
      if (t) t->join();
    }
  });
}

TEST(Mutex, WorksWithStandardLockTypes) {
  goro::run([] {
    goro::mutex a;
    goro::mutex b;
    {
      std::lock_guard lock(a);
      EXPECT_FALSE(a.try_lock());
    }
    EXPECT_TRUE(a.try_lock());
    a.unlock();
    {
      std::unique_lock lock(a, std::defer_lock);
      EXPECT_FALSE(lock.owns_lock());
      lock.lock();
      EXPECT_TRUE(lock.owns_lock());
      std::unique_lock other(a, std::try_to_lock);
      EXPECT_FALSE(other.owns_lock());
      lock.unlock();
      std::unique_lock third(a, std::try_to_lock);
      EXPECT_TRUE(third.owns_lock());
    }
    {
      std::scoped_lock lock(a, b);
      EXPECT_FALSE(a.try_lock());
      EXPECT_FALSE(b.try_lock());
    }
    EXPECT_TRUE(a.try_lock());
    EXPECT_TRUE(b.try_lock());
    a.unlock();
    b.unlock();
  });
}

// std::scoped_lock (std::lock's deadlock avoidance, built on try_lock) over
// two goro::mutexes taken in opposite orders by goroutines and threads.
TEST(Mutex, ScopedLockInOppositeOrdersDoesNotDeadlock) {
  goro::run([] {
    struct state {
      goro::mutex a, b;
      std::int64_t both = 0;  // guarded by a and b
    };
    auto s = std::make_shared<state>();
    const int loops = static_cast<int>(scaled(500));
    constexpr int workers = 6;
    auto done = goro::make_chan<int>(workers);
    std::vector<std::unique_ptr<bounded_thread>> ts;
    for (int w = 0; w < workers; ++w) {
      auto body = [s, loops, done, w] {
        for (int i = 0; i < loops; ++i) {
          if ((w + i) % 2 == 0) {
            std::scoped_lock lock(s->a, s->b);
            ++s->both;
          } else {
            std::scoped_lock lock(s->b, s->a);
            ++s->both;
          }
          if (i % 16 == 0) goro::yield();
        }
        done.send(1);
      };
      if (w < 2) {
        ts.push_back(std::make_unique<bounded_thread>(body));
      } else {
        goro::go(body);
      }
    }
    ASSERT_TRUE(wait_for(done, workers, 60s));
    for (auto& t : ts) t->join();
    std::scoped_lock lock(s->a, s->b);
    EXPECT_EQ(s->both, static_cast<std::int64_t>(workers) * loops);
  });
}

// Go's fatal "sync: unlock of unlocked mutex" (TestMutexMisuse).
// Not a Go test: the last user of a mutex may destroy it right after its
// unlock, while the unlocker that woke it may still be returning.
TEST(Mutex, DestroyedByTheLastUserRightAfterUnlock) {
  goro::run([] {
    for (int round = 0; round < scaled(2000); ++round) {
      auto* m = new goro::mutex;
      auto done = goro::make_chan<int>(1);
      m->lock();
      goro::go([m, done] {
        m->lock();  // parks until the unlock below
        m->unlock();
        delete m;
        done.send(1);
      });
      goro::yield();
      m->unlock();
      ASSERT_TRUE(wait_for(done, 1));
    }
  });
}

// Not a Go test: the refcount idiom. Three users, goroutines and a plain
// thread; each drops its reference under the lock and the one that drops the
// last deletes the mutex, possibly while another's unlock() (which may have
// woken a waiter) is still returning. ASan reports it if unlock touches the
// mutex after releasing it.
TEST(Mutex, DestroyedByWhoeverDropsTheLastReference) {
  struct shared {
    goro::mutex mu;
    int refs = 3;
  };
  auto drop = [](shared* s) {
    s->mu.lock();
    goro::yield();  // let the others queue (sched_yield on the thread)
    bool last = --s->refs == 0;
    s->mu.unlock();
    if (last) delete s;
  };
  goro::run([&] {
    for (int round = 0; round < scaled(1000); ++round) {
      auto* s = new shared;
      auto done = goro::make_chan<int>(2);
      for (int i = 0; i < 2; ++i) {
        goro::go([s, drop, done] {
          drop(s);
          done.send(1);
        });
      }
      bounded_thread t([s, drop] { drop(s); });
      ASSERT_TRUE(wait_for(done, 2));
      ASSERT_TRUE(t.join());
    }
  });
}

TEST(MutexDeathTest, UnlockOfUnlockedMutexEndsTheProgram) {
  EXPECT_DEATH(
      {
        goro::mutex m;
        m.unlock();
      },
      "unlock of unlocked mutex");
  EXPECT_DEATH(
      {
        goro::mutex m;
        m.lock();
        m.unlock();
        m.unlock();
      },
      "unlock of unlocked mutex");
  EXPECT_DEATH(goro::run([] {
                 goro::mutex m;
                 m.unlock();
               }),
               "unlock of unlocked mutex");
}

}  // namespace
