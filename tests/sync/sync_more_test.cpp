// tests/sync/sync_more_test.cpp: goro::rw_mutex and goro::cond (Go's
// sync.RWMutex and sync.Cond).
//
// The conventions of sync_test.cpp hold here: every test runs inside
// goro::run unless it is about plain threads; every wait is bounded; every
// goroutine a test starts returns before the test ends; sleeps only give
// something that must NOT happen a chance to happen, or stand for work.
//
// Tests that port a test of Go's src/sync/*_test.go say which.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <optional>
#include <mutex>
#include <deque>
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

// ---- rw_mutex ----------------------------------------------------------------

// Go's TestRWMutex, first part: TryLock and TryRLock.
TEST(RWMutex, TryLockAndTryLockShared) {
  auto check = [] {
    goro::rw_mutex m;
    m.lock();
    EXPECT_FALSE(m.try_lock()) << "try_lock succeeded with the mutex locked";
    EXPECT_FALSE(m.try_lock_shared()) << "try_lock_shared succeeded with the mutex locked";
    m.unlock();
    EXPECT_TRUE(m.try_lock()) << "try_lock failed with the mutex unlocked";
    m.unlock();
    EXPECT_TRUE(m.try_lock_shared()) << "try_lock_shared failed with the mutex unlocked";
    EXPECT_TRUE(m.try_lock_shared()) << "try_lock_shared failed with the mutex read-locked";
    EXPECT_FALSE(m.try_lock()) << "try_lock succeeded with the mutex read-locked";
    m.unlock_shared();
    EXPECT_FALSE(m.try_lock()) << "try_lock succeeded with the mutex still read-locked once";
    m.unlock_shared();
    EXPECT_TRUE(m.try_lock());
    m.unlock();
  };
  check();
  goro::run(check);
}

// Go's TestParallelReaders / doTestParallelReaders: n readers hold the read
// lock at once; each waits for the test's go-ahead while holding it. Readers
// here are goroutines and, in the last rounds, plain threads too.
TEST(RWMutex, ParallelReaders) {
  goro::run([] {
    struct config {
      int goroutines;
      int threads;
    };
    for (config c : {config{1, 0}, config{3, 0}, config{4, 0}, config{10, 0}, config{4, 2}, config{1, 3}}) {
      auto m = std::make_shared<goro::rw_mutex>();
      int n = c.goroutines + c.threads;
      auto locked = goro::make_chan<int>(n);
      auto unlock = goro::make_chan<int>();
      auto done = goro::make_chan<int>(n);
      std::vector<std::unique_ptr<bounded_thread>> ts;
      for (int i = 0; i < n; ++i) {
        auto reader = [m, locked, unlock, done] {
          m->lock_shared();
          locked.send(1);
          unlock.recv();
          m->unlock_shared();
          done.send(1);
        };
        if (i < c.threads) {
          ts.push_back(std::make_unique<bounded_thread>(reader));
        } else {
          goro::go(reader);
        }
      }
      bool all_locked = wait_for(locked, n);
      EXPECT_TRUE(all_locked) << "readers did not all hold the read lock at once (" << c.goroutines
                              << " goroutines, " << c.threads << " threads)";
      EXPECT_FALSE(m->try_lock());
      unlock.close();  // releases every reader (even after a failure)
      EXPECT_TRUE(wait_for(done, n));
      for (auto& t : ts) t->join();
      EXPECT_TRUE(m->try_lock());
      m->unlock();
    }
  });
}

struct rw_state {
  goro::rw_mutex rw;
  std::atomic<std::int32_t> activity{0};  // readers inside + 10000 per writer inside
  std::int64_t data = 0;                  // written under the write lock only
  std::atomic<int> errors{0};
};

// Go's reader(): no writer may be inside while a reader is.
void rw_reader(rw_state& s, int iterations) {
  for (int i = 0; i < iterations; ++i) {
    s.rw.lock_shared();
    std::int32_t n = s.activity.fetch_add(1) + 1;
    if (n < 1 || n >= 10000) s.errors.fetch_add(1);
    std::int64_t before = s.data;
    if (i % 32 == 0) goro::yield();
    if (s.data != before) s.errors.fetch_add(1);
    s.activity.fetch_sub(1);
    s.rw.unlock_shared();
  }
}

// Go's writer(): a writer is alone.
void rw_writer(rw_state& s, int iterations) {
  for (int i = 0; i < iterations; ++i) {
    s.rw.lock();
    std::int32_t n = s.activity.fetch_add(10000) + 10000;
    if (n != 10000) s.errors.fetch_add(1);
    ++s.data;
    if (i % 16 == 0) goro::yield();
    s.activity.fetch_sub(10000);
    s.rw.unlock();
  }
}

// Go's HammerRWMutex (TestRWMutex's second part): two writers and n readers
// (some plain threads), checking exclusion through an activity counter.
TEST(RWMutex, HammerGoroutinesAndThreads) {
  goro::run([] {
    const int iterations = static_cast<int>(scaled(500));
    for (int readers : {1, 3, 10}) {
      for (int threads : {0, 3}) {
        auto s = std::make_shared<rw_state>();
        int total = 2 + readers;
        auto done = goro::make_chan<int>(total);
        std::vector<std::unique_ptr<bounded_thread>> ts;
        for (int i = 0; i < total; ++i) {
          bool writer = i == 0 || i == 1 + readers / 2;
          auto body = [s, iterations, done, writer] {
            if (writer) {
              rw_writer(*s, iterations);
            } else {
              rw_reader(*s, iterations);
            }
            done.send(1);
          };
          // The first `threads` workers (a writer among them) are threads.
          if (i < threads) {
            ts.push_back(std::make_unique<bounded_thread>(body));
          } else {
            goro::go(body);
          }
        }
        ASSERT_TRUE(wait_for(done, total, 60s)) << readers << " readers, " << threads << " threads";
        for (auto& t : ts) t->join();
        EXPECT_EQ(s->errors.load(), 0) << readers << " readers, " << threads << " threads";
        std::shared_lock lock(s->rw);
        EXPECT_EQ(s->data, 2 * iterations);
      }
    }
  });
}

// Writer preference: once a writer waits, new readers (try_lock_shared,
// lock_shared from a goroutine and from a thread) wait behind it.
TEST(RWMutex, WaitingWriterBlocksNewReaders) {
  goro::run([] {
    auto rw = std::make_shared<goro::rw_mutex>();
    auto seq = std::make_shared<std::atomic<int>>(0);
    rw->lock_shared();  // reader 1, held by the test
    auto about_to_lock = goro::make_chan<int>(1);
    auto writer_locked = goro::make_chan<int>(1);
    auto writer_unlock = goro::make_chan<int>();
    auto writer_done = goro::make_chan<int>(1);
    goro::go([=] {
      about_to_lock.send(1);
      rw->lock();
      writer_locked.send(seq->fetch_add(1));
      (void)wait_for(writer_unlock, 1);
      rw->unlock();
      writer_done.send(1);
    });
    ASSERT_TRUE(wait_for(about_to_lock, 1));
    // The writer is pending once a new reader cannot get in.
    bool pending = goro_test::eventually([&] {
      if (rw->try_lock_shared()) {
        rw->unlock_shared();
        return false;
      }
      return true;
    });
    EXPECT_TRUE(pending) << "a waiting writer did not stop try_lock_shared";
    EXPECT_FALSE(rw->try_lock()) << "try_lock succeeded with the mutex read-locked";
    EXPECT_FALSE(ready_now(writer_locked)) << "the writer got in while a reader held the lock";

    auto reader_locked = goro::make_chan<int>(2);
    auto reader = [rw, seq, reader_locked] {
      rw->lock_shared();
      reader_locked.send(seq->fetch_add(1));
      rw->unlock_shared();
    };
    goro::go(reader);
    bounded_thread t(reader);
    give_a_chance();
    EXPECT_FALSE(ready_now(reader_locked)) << "a new reader got past a waiting writer";

    rw->unlock_shared();  // reader 1 leaves: the writer goes first
    auto w = goro_test::recv_within<int>(writer_locked);
    EXPECT_EQ(w, 0);
    give_a_chance();
    EXPECT_FALSE(ready_now(reader_locked)) << "a reader got in while the writer held the lock";
    writer_unlock.close();
    auto deadline = goro::after(wait_limit);
    for (int i = 0; i < 2; ++i) {
      std::optional<int> r;
      ASSERT_EQ(goro::select(reader_locked.on_recv(r), deadline.on_recv()), 0u);
      EXPECT_GE(r, 1) << "a reader got in before the writer";
    }
    EXPECT_TRUE(wait_for(writer_done, 1));
    t.join();
  });
}

// A writer waits for the readers inside to leave.
TEST(RWMutex, WriterWaitsForEveryReader) {
  goro::run([] {
    auto rw = std::make_shared<goro::rw_mutex>();
    rw->lock_shared();
    EXPECT_TRUE(in_goroutine([rw] { rw->lock_shared(); }));  // a second reader, from a goroutine
    auto locked = goro::make_chan<int>(1);
    bounded_thread t([rw, locked] {
      rw->lock();  // a writer on a plain thread
      locked.send(1);
      rw->unlock();
    });
    give_a_chance();
    EXPECT_FALSE(ready_now(locked));
    rw->unlock_shared();
    give_a_chance();
    EXPECT_FALSE(ready_now(locked)) << "the writer got in with a reader still inside";
    EXPECT_TRUE(in_goroutine([rw] { rw->unlock_shared(); }));  // unlocked by another goroutine
    EXPECT_TRUE(wait_for(locked, 1));
    t.join();
  });
}

TEST(RWMutex, WorksWithStandardLockTypes) {
  goro::run([] {
    goro::rw_mutex rw;
    {
      std::shared_lock a(rw);
      std::shared_lock b(rw, std::try_to_lock);
      EXPECT_TRUE(b.owns_lock());
      std::unique_lock w(rw, std::try_to_lock);
      EXPECT_FALSE(w.owns_lock());
    }
    {
      std::unique_lock w(rw);
      std::shared_lock r(rw, std::try_to_lock);
      EXPECT_FALSE(r.owns_lock());
    }
    {
      std::lock_guard w(rw);
      EXPECT_FALSE(rw.try_lock_shared());
    }
    std::shared_lock r(rw, std::defer_lock);
    EXPECT_FALSE(r.owns_lock());
    r.lock();
    EXPECT_TRUE(r.owns_lock());
    r.unlock();
    EXPECT_TRUE(rw.try_lock());
    rw.unlock();
  });
}

// Go's TestRLocker: the view read-locks (twice over, with no writer in
// between) and a write lock excludes it.
TEST(RWMutex, RLocker) {
  goro::run([] {
    auto wl = std::make_shared<goro::rw_mutex>();
    auto rl = std::make_shared<goro::rw_mutex::shared_view>(wl->rlocker());
    auto wlocked = goro::make_chan<int>(1);
    auto rlocked = goro::make_chan<int>(1);
    constexpr int n = 10;
    auto done = goro::make_chan<int>(1);
    goro::go([wl, rl, wlocked, rlocked, done] {
      for (int i = 0; i < n; ++i) {
        rl->lock();
        rl->lock();
        rlocked.send(1);
        wl->lock();
        wlocked.send(1);
      }
      done.send(1);
    });
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE(wait_for(rlocked, 1));
      rl->unlock();
      give_a_chance();
      ASSERT_FALSE(ready_now(wlocked)) << "rlocker() didn't read-lock it";
      rl->unlock();
      ASSERT_TRUE(wait_for(wlocked, 1));
      ASSERT_FALSE(ready_now(rlocked)) << "rlocker() didn't respect the write lock";
      EXPECT_FALSE(rl->try_lock());
      wl->unlock();
    }
    EXPECT_TRUE(wait_for(done, 1));
    EXPECT_TRUE(rl->try_lock());
    rl->unlock();
    std::lock_guard lock(*rl);  // the view is BasicLockable
    EXPECT_FALSE(wl->try_lock());
  });
}

// Go's fatal "sync: Unlock of unlocked RWMutex" / "sync: RUnlock of unlocked
// RWMutex" (goro names its own types in the message).
TEST(RWMutexDeathTest, UnlockOfUnlockedEndsTheProgram) {
  EXPECT_DEATH(
      {
        goro::rw_mutex m;
        m.unlock();
      },
      "unlock of unlocked rw_mutex");
  EXPECT_DEATH(
      {
        goro::rw_mutex m;
        m.unlock_shared();
      },
      "unlock_shared of unlocked rw_mutex");
}

// ---- cond --------------------------------------------------------------------

struct cond_state {
  goro::mutex m;
  goro::cond c{m};
};

// Go's TestCondSignal: each signal wakes exactly one waiter. The waiters are
// goroutines, then goroutines and plain threads.
TEST(Cond, Signal) {
  goro::run([] {
    for (int threads : {0, 2}) {
      auto s = std::make_shared<cond_state>();
      int n = 2 + threads;
      auto running = goro::make_chan<int>(n);
      auto awake = goro::make_chan<int>(n);
      std::vector<std::unique_ptr<bounded_thread>> ts;
      for (int i = 0; i < n; ++i) {
        auto waiter = [s, running, awake] {
          s->m.lock();
          running.send(1);
          s->c.wait();
          awake.send(1);
          s->m.unlock();
        };
        if (i < threads) {
          ts.push_back(std::make_unique<bounded_thread>(waiter));
        } else {
          goro::go(waiter);
        }
      }
      ASSERT_TRUE(wait_for(running, n));  // everyone runs
      for (int left = n; left > 0; --left) {
        ASSERT_FALSE(ready_now(awake)) << "a waiter is not asleep";
        s->m.lock();
        s->c.signal();
        s->m.unlock();
        ASSERT_TRUE(wait_for(awake, 1)) << "signal woke nobody";
        give_a_chance();
        ASSERT_FALSE(ready_now(awake)) << "signal woke more than one waiter";
      }
      s->c.signal();  // no waiter: nothing happens
      for (auto& t : ts) t->join();
    }
  });
}

// Go's TestCondSignalGenerations: a signal wakes a waiter that was waiting
// when it was sent, not one that began waiting afterwards.
TEST(Cond, SignalGenerations) {
  goro::run([] {
    auto s = std::make_shared<cond_state>();
    constexpr int n = 100;
    auto running = goro::make_chan<int>(n);
    auto awake = goro::make_chan<int>(n);
    for (int i = 0; i < n; ++i) {
      goro::go([s, running, awake, i] {
        s->m.lock();
        running.send(1);
        s->c.wait();
        awake.send(i);
        s->m.unlock();
      });
      if (i > 0) {
        auto a = goro_test::recv_within<int>(awake);
        ASSERT_EQ(a, i - 1) << "wrong waiter woke up";
      }
      ASSERT_TRUE(wait_for(running, 1));
      s->m.lock();
      s->c.signal();
      s->m.unlock();
    }
    EXPECT_EQ(goro_test::recv_within<int>(awake), n - 1);
  });
}

// Waiters are served in the order they began to wait: with k waiting,
// successive signals wake them 0, 1, 2, ... (goroutines and threads).
TEST(Cond, SignalWakesWaitersInTheOrderTheyBeganToWait) {
  goro::run([] {
    auto s = std::make_shared<cond_state>();
    constexpr int k = 12;
    auto running = goro::make_chan<int>(k);
    auto awake = goro::make_chan<int>(k);
    std::vector<std::unique_ptr<bounded_thread>> ts;
    for (int i = 0; i < k; ++i) {
      auto waiter = [s, running, awake, i] {
        s->m.lock();
        running.send(1);
        s->c.wait();
        awake.send(i);
        s->m.unlock();
      };
      if (i % 4 == 1) {
        ts.push_back(std::make_unique<bounded_thread>(waiter));
      } else {
        goro::go(waiter);
      }
      // Waiter i held m from before it said it runs until wait() released
      // it: once the test has the lock, waiter i is waiting.
      ASSERT_TRUE(wait_for(running, 1));
      s->m.lock();
      s->m.unlock();
    }
    for (int i = 0; i < k; ++i) {
      s->c.signal();
      auto a = goro_test::recv_within<int>(awake);
      ASSERT_EQ(a, i) << "signal did not wake the longest waiter";
    }
    for (auto& t : ts) t->join();
  });
}

// Go's TestCondBroadcast: each broadcast wakes every waiter once.
TEST(Cond, Broadcast) {
  goro::run([] {
    struct state {
      goro::mutex m;
      goro::cond c{m};
      bool exit = false;  // guarded by m
    };
    auto s = std::make_shared<state>();
    const int n = goro_test::under_sanitizer() ? 30 : 100;
    auto running = goro::make_chan<int>(n);
    auto awake = goro::make_chan<int>(n);
    for (int i = 0; i < n; ++i) {
      goro::go([s, running, awake, i] {
        s->m.lock();
        while (!s->exit) {
          running.send(i);
          s->c.wait();
          awake.send(i);
        }
        s->m.unlock();
      });
    }
    for (int round = 0; round < n; ++round) {
      ASSERT_TRUE(wait_for(running, n)) << "round " << round;  // all n are running
      if (round == n - 1) {
        std::lock_guard lock(s->m);
        s->exit = true;
      }
      ASSERT_FALSE(ready_now(awake)) << "a waiter is not asleep";
      s->m.lock();
      s->c.broadcast();
      s->m.unlock();
      std::vector<bool> seen(n);
      auto deadline = goro::after(wait_limit);
      for (int i = 0; i < n; ++i) {
        std::optional<int> g;
        ASSERT_EQ(goro::select(awake.on_recv(g), deadline.on_recv()), 0u) << "round " << round;
        ASSERT_FALSE(seen[*g]) << "waiter " << *g << " woke up twice";
        seen[*g] = true;
      }
    }
    EXPECT_FALSE(ready_now(running)) << "a waiter did not exit";
    s->c.broadcast();
  });
}

// Go's TestCondSignalStealing: a waiter that began waiting before a
// broadcast is woken by it, even when a new waiter races the broadcast.
TEST(Cond, SignalStealing) {
  goro::run([] {
    const int iters = static_cast<int>(scaled(200));
    for (int iter = 0; iter < iters; ++iter) {
      struct state {
        goro::mutex m;
        goro::cond c{m};
        bool done = false;  // guarded by m
      };
      auto s = std::make_shared<state>();
      auto ch = goro::make_chan<int>();
      auto helpers = goro::make_chan<int>(2);
      goro::go([s, ch] {  // the first waiter
        s->m.lock();
        ch.send(1);
        s->c.wait();
        s->m.unlock();
        ch.send(1);
      });
      ASSERT_TRUE(wait_for(ch, 1));
      s->m.lock();  // the first waiter is now in wait()
      s->m.unlock();
      goro::go([s, helpers] {
        s->c.broadcast();
        helpers.send(1);
      });
      goro::go([s, helpers] {
        s->m.lock();
        while (!s->done) s->c.wait();
        s->m.unlock();
        helpers.send(1);
      });
      ASSERT_TRUE(wait_for(ch, 1, 2s)) << "the first waiter didn't get the broadcast (iteration " << iter << ")";
      s->m.lock();  // release the second waiter if it missed the broadcast
      s->done = true;
      s->m.unlock();
      s->c.broadcast();
      ASSERT_TRUE(wait_for(helpers, 2));
    }
  });
}

// A cond over std::mutex, with no goroutine anywhere: plain threads wait
// (wait(pred)); another plain thread signals one at a time, then broadcasts.
TEST(Cond, OverStdMutexFromPlainThreads) {
  // Two conds: with one, a signal meant for a token waiter could wake a
  // thread already waiting for `last` instead, and be lost (in Go too).
  struct state {
    std::mutex m;
    goro::cond c{m};     // tokens
    goro::cond c2{m};    // last
    int tokens = 0;      // guarded by m
    bool last = false;   // guarded by m
  };
  auto s = std::make_shared<state>();
  constexpr int waiters = 3;
  auto took = goro::make_chan<int>(waiters * 2);
  std::vector<std::unique_ptr<bounded_thread>> ts;
  for (int i = 0; i < waiters; ++i) {
    ts.push_back(std::make_unique<bounded_thread>([s, took] {
      std::unique_lock lock(s->m);
      s->c.wait([&] { return s->tokens > 0; });
      --s->tokens;
      took.send(1);
      s->c2.wait([&] { return s->last; });
      took.send(2);
    }));
  }
  bounded_thread signaller([s] {
    for (int i = 0; i < waiters; ++i) {
      {
        std::lock_guard lock(s->m);
        ++s->tokens;
      }
      s->c.signal();
    }
  });
  EXPECT_TRUE(wait_for(took, waiters));
  {
    std::lock_guard lock(s->m);
    EXPECT_EQ(s->tokens, 0);
    s->last = true;
  }
  s->c2.broadcast();
  EXPECT_TRUE(wait_for(took, waiters));
  signaller.join();
  for (auto& t : ts) t->join();
}

// A cond over a rw_mutex's read side (Go: sync.NewCond(rw.RLocker())):
// waiting releases the read lock (so a writer gets in), and a waiter wakes
// holding the read lock again.
TEST(Cond, OverRLocker) {
  goro::run([] {
    struct state {
      goro::rw_mutex rw;
      goro::cond c{rw.rlocker()};
      bool flag = false;  // written under the write lock
    };
    auto s = std::make_shared<state>();
    constexpr int goroutines = 4;
    constexpr int threads = 2;
    constexpr int n = goroutines + threads;
    auto woke = goro::make_chan<int>(n);
    std::vector<std::unique_ptr<bounded_thread>> ts;
    for (int i = 0; i < n; ++i) {
      auto reader = [s, woke] {
        s->rw.lock_shared();
        s->c.wait([&] { return s->flag; });
        bool holds_read_lock = !s->rw.try_lock();
        s->rw.unlock_shared();
        woke.send(holds_read_lock ? 1 : 0);
      };
      if (i < threads) {
        ts.push_back(std::make_unique<bounded_thread>(reader));
      } else {
        goro::go(reader);
      }
    }
    // The writer gets in although every reader took the read lock: wait()
    // released it.
    EXPECT_TRUE(in_goroutine([s] {
      s->rw.lock();
      s->flag = true;
      s->rw.unlock();
    }));
    s->c.broadcast();
    auto deadline = goro::after(wait_limit);
    for (int i = 0; i < n; ++i) {
      std::optional<int> v;
      ASSERT_EQ(goro::select(woke.on_recv(v), deadline.on_recv()), 0u);
      EXPECT_EQ(v, 1) << "a waiter woke without the read lock";
    }
    for (auto& t : ts) t->join();
  });
}

// Mixed hammer: a bounded queue built from a goro::mutex and two conds
// (wait(pred) form), producers and consumers both goroutines and threads.
TEST(Cond, BoundedQueueHammerGoroutinesAndThreads) {
  goro::run([] {
    struct state {
      goro::mutex m;
      goro::cond not_empty{m};
      goro::cond not_full{m};
      std::deque<int> q;     // guarded by m
      bool closed = false;   // guarded by m
      std::atomic<std::int64_t> sum{0};
      std::atomic<int> count{0};
    };
    auto s = std::make_shared<state>();
    constexpr int producers = 4;  // one is a thread
    constexpr int consumers = 4;  // one is a thread
    const int per = static_cast<int>(scaled(1000));
    auto produced = goro::make_chan<int>(producers);
    auto consumed = goro::make_chan<int>(consumers);
    std::vector<std::unique_ptr<bounded_thread>> ts;
    for (int p = 0; p < producers; ++p) {
      auto produce = [s, per, produced, p] {
        for (int i = 1; i <= per; ++i) {
          std::unique_lock lock(s->m);
          s->not_full.wait([&] { return s->q.size() < 4; });
          s->q.push_back(p * per + i);
          lock.unlock();
          s->not_empty.signal();
        }
        produced.send(1);
      };
      if (p == 0) {
        ts.push_back(std::make_unique<bounded_thread>(produce));
      } else {
        goro::go(produce);
      }
    }
    for (int c = 0; c < consumers; ++c) {
      auto consume = [s, consumed] {
        std::unique_lock lock(s->m);
        for (;;) {
          s->not_empty.wait([&] { return !s->q.empty() || s->closed; });
          if (s->q.empty()) break;
          int v = s->q.front();
          s->q.pop_front();
          s->not_full.signal();
          lock.unlock();
          s->sum.fetch_add(v);
          s->count.fetch_add(1);
          lock.lock();
        }
        consumed.send(1);
      };
      if (c == 0) {
        ts.push_back(std::make_unique<bounded_thread>(consume));
      } else {
        goro::go(consume);
      }
    }
    bool ok = wait_for(produced, producers, 60s);
    {
      std::lock_guard lock(s->m);
      s->closed = true;
    }
    s->not_empty.broadcast();
    ASSERT_TRUE(ok);
    ASSERT_TRUE(wait_for(consumed, consumers, 60s));
    for (auto& t : ts) t->join();
    const std::int64_t total = static_cast<std::int64_t>(producers) * per;
    EXPECT_EQ(s->count.load(), total);
    EXPECT_EQ(s->sum.load(), total * (total + 1) / 2);
  });
}

}  // namespace
