// Long runs: a million parked goroutines, spawn storms, skynet, thread ring,
// gomaxprocs changes under load, plain threads and goroutines hammering the
// same channels.
//
// Sizes are the CI sizes times goro_test::stress_scale() (GORO_STRESS_SCALE).
// Sanitizer builds use far smaller counts: ThreadSanitizer keeps a fiber per
// goroutine and cannot afford more than a few thousand cheaply. Every wait is
// bounded by a generous limit; a hang becomes a failure.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "support/test_support.hpp"

using namespace goro_test;
using steady = std::chrono::steady_clock;

namespace {

/// The bound on any one phase of a stress test (they are slow in Debug and
/// under sanitizers, and the CI machine is shared).
constexpr std::chrono::seconds stress_limit{120};

/// The bound for each phase of the million-goroutine test: it is bound by
/// page faults (a parked goroutine touches one fresh stack page), which cost
/// tens of microseconds each on a loaded virtual machine.
constexpr std::chrono::seconds parked_limit{300};

/// Waits (bounded) until pred() holds, polling every `poll` (coarser than
/// goro_test::eventually, so as not to compete with the work it waits for).
template <class Pred>
bool wait_for(Pred pred, std::chrono::nanoseconds limit, std::chrono::nanoseconds poll = std::chrono::milliseconds(5)) {
  auto deadline = steady::now() + limit;
  while (!pred()) {
    if (steady::now() > deadline) return false;
    goro::sleep(poll);
  }
  return true;
}

double seconds_since(steady::time_point start) {
  return std::chrono::duration<double>(steady::now() - start).count();
}

/// Resident set size of the process, from /proc/self/statm; 0 if unknown.
std::int64_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::int64_t size = 0;
  std::int64_t resident = 0;
  if (!(statm >> size >> resident)) return 0;
  return resident * static_cast<std::int64_t>(sysconf(_SC_PAGESIZE));
}

/// Waits (bounded) until num_goroutine() is back to `baseline`.
bool back_to(std::int64_t baseline) {
  return eventually([&] { return goro::num_goroutine() <= baseline; }, stress_limit);
}

/// Receives `n` values from `ch` (bounded by one overall deadline); returns
/// how many arrived.
template <class T>
std::int64_t recv_n(const goro::recv_chan<T>& ch, std::int64_t n, std::vector<T>* out = nullptr) {
  auto deadline = goro::after(stress_limit);
  std::int64_t got = 0;
  while (got < n) {
    std::optional<T> v;
    if (goro::select(ch.on_recv(v), deadline.on_recv()) == 1) break;
    if (!v) break;  // closed
    if (out != nullptr) out->push_back(*v);
    ++got;
  }
  return got;
}

}  // namespace

// ---------------------------------------------------------------- parked goroutines

// A million goroutines parked at once, on one channel; then the channel
// closes and every one of them exits. Reports the memory a parked goroutine
// costs (the design's target: about one page).
TEST(Stress, MillionParkedGoroutines) {
  // Not multiplied by the stress scale beyond 4: memory is the bound here.
  const std::int64_t n =
      (under_sanitizer() ? 10000 : 1000000) * std::min<std::int64_t>(stress_scale(), 4);
  goro::run([n] {
    const std::int64_t baseline = goro::num_goroutine();
    const std::int64_t rss_before = rss_bytes();
    auto gate = goro::make_chan<int>();
    std::atomic<std::int64_t> parked{0};
    std::atomic<std::int64_t> left{n};
    event all_exited;
    auto start = steady::now();
    for (std::int64_t i = 0; i < n; ++i) {
      goro::go([gate, &parked, &left, all_exited]() mutable {
        parked.fetch_add(1, std::memory_order_relaxed);
        EXPECT_FALSE(gate.recv().has_value());
        if (left.fetch_sub(1) == 1) all_exited.notify();
      });
    }
    auto spawned = seconds_since(start);
    // Every one has run up to its receive (and, the gate being open, none has
    // exited); the last few may be between the count and the park.
    EXPECT_TRUE(wait_for([&] { return parked.load() == n; }, parked_limit))
        << parked.load() << " of " << n << " goroutines started";
    EXPECT_EQ(goro::num_goroutine(), baseline + n);
    goro::yield();
    auto all_parked = seconds_since(start);
    const std::int64_t rss_parked = rss_bytes();
    const double per_goroutine = static_cast<double>(rss_parked - rss_before) / static_cast<double>(n);

    gate.close();  // on every path: a failed wait above must not leave them parked
    ASSERT_TRUE(all_exited.wait(parked_limit)) << left.load() << " goroutines never woke";
    EXPECT_TRUE(wait_for([&] { return goro::num_goroutine() <= baseline; }, parked_limit))
        << goro::num_goroutine() - baseline << " goroutines left";
    auto all_done = seconds_since(start);

    std::cout << "[          ] " << n << " parked goroutines: spawned in " << spawned << " s, all parked after "
              << all_parked << " s, all exited after " << all_done << " s; RSS grew "
              << (rss_parked - rss_before) / (1 << 20) << " MiB = " << per_goroutine << " bytes per goroutine\n";
    ::testing::Test::RecordProperty("parked_goroutines", std::to_string(n));
    ::testing::Test::RecordProperty("rss_bytes_per_parked_goroutine",
                                    std::to_string(static_cast<std::int64_t>(per_goroutine)));
  });
}

// Each goroutine parks on its own channel; they are woken one by one.
TEST(Stress, ParkedOnTheirOwnChannels) {
  const std::int64_t n = scaled(100000, 2000);
  goro::run([n] {
    const std::int64_t baseline = goro::num_goroutine();
    std::vector<goro::chan<std::int64_t>> chans;
    chans.reserve(n);
    auto sums = goro::make_chan<std::int64_t>(1024);
    for (std::int64_t i = 0; i < n; ++i) {
      chans.push_back(goro::make_chan<std::int64_t>());
      goro::go([c = chans.back(), sums] {
        auto v = c.recv();
        sums.send(v ? *v : -1);
      });
    }
    ASSERT_TRUE(eventually([&] { return goro::num_goroutine() == baseline + n; }, stress_limit));
    // Wake them in reverse order of creation, a value each.
    std::int64_t expect = 0;
    auto deadline = goro::after(stress_limit);
    for (std::int64_t i = n - 1; i >= 0; --i) {
      std::size_t r = goro::select(chans[i].on_send(i), deadline.on_recv());
      ASSERT_EQ(r, 0u) << "goroutine " << i << " is not receiving";
      expect += i;
    }
    std::vector<std::int64_t> got;
    ASSERT_EQ(recv_n<std::int64_t>(sums, n, &got), n);
    std::int64_t total = 0;
    for (auto v : got) total += v;
    EXPECT_EQ(total, expect);
    EXPECT_TRUE(back_to(baseline));
  });
}

// ---------------------------------------------------------------- spawn storms

// A million short goroutines, repeated: each decrements a counter, the last
// one signals.
TEST(Stress, SpawnStorm) {
  const std::int64_t n = scaled(1000000, 20000);
  goro::run([n] {
    const std::int64_t baseline = goro::num_goroutine();
    for (int round = 0; round < 3; ++round) {
      std::atomic<std::int64_t> left{n};
      event done;
      auto start = steady::now();
      for (std::int64_t i = 0; i < n; ++i) {
        goro::go([&left, done]() mutable {
          if (left.fetch_sub(1, std::memory_order_acq_rel) == 1) done.notify();
        });
      }
      ASSERT_TRUE(done.wait(stress_limit)) << "round " << round << ": " << left.load() << " never ran";
      ASSERT_TRUE(back_to(baseline)) << "round " << round << ": " << goro::num_goroutine() - baseline
                                     << " goroutines left";
      std::cout << "[          ] round " << round << ": " << n << " goroutines in " << seconds_since(start)
                << " s\n";
    }
  });
}

// Plain threads and goroutines spawning at once.
TEST(Stress, SpawnStormFromThreadsAndGoroutines) {
  const std::int64_t per_spawner = scaled(100000, 2000);
  static constexpr int thread_spawners = 2;
  static constexpr int goroutine_spawners = 4;
  static constexpr std::int64_t spawners = thread_spawners + goroutine_spawners;
  goro::run([per_spawner] {
    const std::int64_t baseline = goro::num_goroutine();
    std::atomic<std::int64_t> left{spawners * per_spawner};
    event done;
    auto spawn_all = [&left, done, per_spawner] {
      for (std::int64_t i = 0; i < per_spawner; ++i) {
        goro::go([&left, done]() mutable {
          if (left.fetch_sub(1, std::memory_order_acq_rel) == 1) done.notify();
        });
      }
    };
    std::vector<std::thread> threads;
    for (int t = 0; t < thread_spawners; ++t) threads.emplace_back(spawn_all);
    for (int g = 0; g < goroutine_spawners; ++g) goro::go(spawn_all);
    bool ok = done.wait(stress_limit);
    for (auto& th : threads) th.join();  // spawning never blocks: these end by themselves
    ASSERT_TRUE(ok) << left.load() << " goroutines never ran";
    EXPECT_TRUE(back_to(baseline));
  });
}

// ---------------------------------------------------------------- skynet

namespace {

void skynet(goro::send_chan<std::int64_t> out, std::int64_t num, std::int64_t size, std::int64_t div) {
  if (size == 1) {
    out.send(num);
    return;
  }
  auto rc = goro::make_chan<std::int64_t>();
  for (std::int64_t i = 0; i < div; ++i) {
    goro::go(skynet, goro::send_chan<std::int64_t>(rc), num + i * (size / div), size / div, div);
  }
  std::int64_t sum = 0;
  for (std::int64_t i = 0; i < div; ++i) sum += *rc.recv();
  out.send(sum);
}

}  // namespace

// The skynet benchmark as a test: a 10-ary tree of goroutines over
// unbuffered channels, each leaf sending its number, each node the sum.
TEST(Stress, SkynetTree) {
  std::int64_t leaves = 100000;  // 111,111 goroutines
  if (stress_scale() >= 10) leaves = 1000000;  // 1,111,111 goroutines
  if (under_sanitizer()) leaves = 1000;
  goro::run([leaves] {
    const std::int64_t baseline = goro::num_goroutine();
    auto start = steady::now();
    auto out = goro::make_chan<std::int64_t>();
    goro::go(skynet, goro::send_chan<std::int64_t>(out), std::int64_t{0}, leaves, std::int64_t{10});
    auto sum = recv_within<std::int64_t>(out, stress_limit);
    EXPECT_EQ(sum, leaves * (leaves - 1) / 2);
    EXPECT_TRUE(back_to(baseline));
    std::cout << "[          ] skynet over " << leaves << " leaves: " << seconds_since(start) << " s\n";
  });
}

// ---------------------------------------------------------------- thread ring

// The Benchmarks Game's thread-ring: 503 goroutines in a ring pass a token
// that counts down; the one that receives 0 reports its number.
TEST(Stress, ThreadRing) {
  static constexpr std::int64_t ring = 503;
  const std::int64_t hops = scaled(1000000, 50000);
  goro::run([hops] {
    const std::int64_t baseline = goro::num_goroutine();
    std::vector<goro::chan<std::int64_t>> links;
    for (std::int64_t i = 0; i < ring; ++i) links.push_back(goro::make_chan<std::int64_t>());
    auto winner = goro::make_chan<std::int64_t>(1);
    for (std::int64_t i = 0; i < ring; ++i) {
      goro::go([in = links[i], next = links[(i + 1) % ring], winner, id = i + 1] {
        for (;;) {
          auto token = in.recv();
          if (!token) return;  // the ring is being torn down
          if (*token == 0) {
            winner.send(id);
            return;
          }
          next.send(*token - 1);
        }
      });
    }
    auto start = steady::now();
    links[0].send(hops);
    auto id = recv_within<std::int64_t>(winner, stress_limit);
    EXPECT_EQ(id, hops % ring + 1);
    for (auto& l : links) l.close();
    EXPECT_TRUE(back_to(baseline));
    std::cout << "[          ] thread ring: " << hops << " hops in " << seconds_since(start) << " s\n";
  });
}

// ---------------------------------------------------------------- gomaxprocs under load

// 100 goroutines in ping-pong pairs while gomaxprocs goes 1, 2, 4, 1, ...
// under them; every exchange completes and is correct, and the original
// value is restored.
TEST(Stress, GomaxprocsChangesWhileGoroutinesRun) {
  static constexpr int pairs = 50;
  const std::int64_t rounds = scaled(20000, 1000);
  goro::run([rounds] {
    scoped_setting restore(goro::gomaxprocs, 0);  // 0 only reads it
    const std::int64_t baseline = goro::num_goroutine();
    auto results = goro::make_chan<std::int64_t>(pairs);
    for (int p = 0; p < pairs; ++p) {
      auto ping = goro::make_chan<std::int64_t>();
      auto pong = goro::make_chan<std::int64_t>();
      goro::go([ping, pong] {
        for (auto v : ping) pong.send(2 * v + 1);
        pong.close();
      });
      goro::go([ping, pong, results, rounds, p] {
        std::int64_t correct = 0;
        for (std::int64_t i = 0; i < rounds; ++i) {
          std::int64_t v = p * rounds + i;
          ping.send(v);
          auto r = pong.recv();
          if (r && *r == 2 * v + 1) ++correct;
          if (i % 16 == 0) goro::yield();
        }
        ping.close();
        EXPECT_FALSE(pong.recv().has_value());
        results.send(correct);
      });
    }
    // Change gomaxprocs under them until they are done. The changer's state
    // is shared, not on this stack: an ASSERT below may return while it runs.
    struct changer_state {
      std::atomic<bool> stop{false};
      std::atomic<int> changes{0};
    };
    auto changer = std::make_shared<changer_state>();
    auto changer_done = goro::make_chan<int>(1);
    const int original = restore.old();
    goro::go([changer, changer_done, original] {
      const int settings[] = {1, 2, 4, 1};
      for (int k = 0; !changer->stop.load() || changer->changes.load() < 8; ++k) {
        goro::gomaxprocs(settings[k % 4]);
        changer->changes.fetch_add(1);
        goro::sleep(std::chrono::microseconds(500));
      }
      goro::gomaxprocs(original);
      changer_done.send(1);
    });
    std::vector<std::int64_t> got;
    const std::int64_t finished = recv_n<std::int64_t>(results, pairs, &got);
    changer->stop = true;  // before any ASSERT: the changer ends either way
    ASSERT_EQ(finished, pairs) << "some pairs never finished";
    ASSERT_TRUE(recv_within<int>(changer_done, stress_limit));
    for (auto c : got) EXPECT_EQ(c, rounds);
    EXPECT_GE(changer->changes.load(), 8);
    EXPECT_EQ(goro::gomaxprocs(0), original);
    EXPECT_TRUE(back_to(baseline));
    std::cout << "[          ] " << changer->changes.load() << " gomaxprocs changes under " << pairs << " ping-pong pairs\n";
  });
}

// ---------------------------------------------------------------- threads and goroutines together

// Producers and consumers, half plain threads and half goroutines, on one
// buffered and one unbuffered channel (consumers select over both): every
// value is received exactly once.
TEST(Stress, PlainThreadsAndGoroutinesShareChannels) {
  static constexpr int thread_producers = 2;
  static constexpr int goroutine_producers = 4;
  static constexpr int thread_consumers = 2;
  static constexpr int goroutine_consumers = 4;
  static constexpr int producers = thread_producers + goroutine_producers;
  static constexpr int consumers = thread_consumers + goroutine_consumers;
  const std::int64_t per_producer = scaled(100000, 5000);
  goro::run([per_producer] {
    const std::int64_t baseline = goro::num_goroutine();
    const std::int64_t total = producers * per_producer;
    auto buffered = goro::make_chan<std::int64_t>(16);
    auto unbuffered = goro::make_chan<std::int64_t>();
    std::vector<std::atomic<std::uint8_t>> seen(total);
    auto produced = goro::make_chan<int>(producers);
    auto consumed = goro::make_chan<std::int64_t>(consumers);

    auto produce = [=](int id) {
      for (std::int64_t i = 0; i < per_producer; ++i) {
        std::int64_t v = id * per_producer + i;
        if (i % 2 == 0) {
          buffered.send(v);
        } else {
          unbuffered.send(v);
        }
      }
      produced.send(id);
    };
    auto consume = [=, &seen] {
      std::int64_t count = 0;
      bool buffered_open = true;
      bool unbuffered_open = true;
      goro::chan<std::int64_t> b = buffered;
      goro::chan<std::int64_t> u = unbuffered;
      while (buffered_open || unbuffered_open) {
        std::optional<std::int64_t> v;
        // A closed channel is replaced by the nil channel, which select never picks.
        std::size_t i = goro::select(b.on_recv(v), u.on_recv(v));
        if (!v) {
          (i == 0 ? buffered_open : unbuffered_open) = false;
          (i == 0 ? b : u) = goro::chan<std::int64_t>();
          continue;
        }
        seen[*v].fetch_add(1, std::memory_order_relaxed);
        ++count;
      }
      consumed.send(count);
    };

    std::vector<std::thread> threads;
    for (int t = 0; t < thread_producers; ++t) threads.emplace_back(produce, t);
    for (int g = 0; g < goroutine_producers; ++g) goro::go(produce, thread_producers + g);
    for (int t = 0; t < thread_consumers; ++t) threads.emplace_back(consume);
    for (int g = 0; g < goroutine_consumers; ++g) goro::go(consume);

    auto start = steady::now();
    std::int64_t producers_done = recv_n<int>(produced, producers);
    if (producers_done == producers) {
      buffered.close();
      unbuffered.close();
    }
    std::vector<std::int64_t> counts;
    std::int64_t consumers_done = producers_done == producers ? recv_n<std::int64_t>(consumed, consumers, &counts) : 0;
    if (producers_done != producers || consumers_done != consumers) {
      // Threads stuck in a channel operation cannot be joined: fail loudly.
      std::fprintf(stderr, "goro stress: %lld of %d producers and %lld of %d consumers finished; aborting\n",
                   static_cast<long long>(producers_done), producers, static_cast<long long>(consumers_done),
                   consumers);
      std::abort();
    }
    for (auto& th : threads) th.join();

    std::int64_t received = 0;
    for (auto c : counts) received += c;
    EXPECT_EQ(received, total);
    std::int64_t wrong = 0;
    for (std::int64_t v = 0; v < total; ++v) {
      int times = seen[v].load();
      if (times != 1 && ++wrong <= 5) ADD_FAILURE() << "value " << v << " received " << times << " times";
    }
    EXPECT_EQ(wrong, 0);
    EXPECT_TRUE(back_to(baseline));
    std::cout << "[          ] " << total << " values through " << producers << " producers and " << consumers
              << " consumers in " << seconds_since(start) << " s\n";
  });
}

// More plain threads than cores on one channel of capacity 1: the OS
// preempts threads that hold the channel's lock, so its waiters spin out and
// sleep, and unlocks must wake them (runtime_mutex: a sleeper's membarrier
// against the unlock's plain store and read of the sleepers). A lost wake-up
// leaves a thread asleep for good, and its bounded join fails.
TEST(Stress, ChannelLockSleepersAreWoken) {
  static constexpr int pairs = 6;
  const std::int64_t per = scaled(100000, 5000);
  goro::run([per] {
    struct shared_state {
      goro::chan<std::int64_t> c = goro::make_chan<std::int64_t>(1);
      std::atomic<std::int64_t> received{0};
      std::atomic<std::int64_t> sum{0};
    };
    // Shared, not on this stack: a thread that fails its join is detached.
    auto st = std::make_shared<shared_state>();
    std::vector<std::unique_ptr<bounded_thread>> threads;
    for (int i = 0; i < pairs; ++i) {
      threads.push_back(std::make_unique<bounded_thread>([st, per] {
        for (std::int64_t k = 0; k < per; ++k) st->c.send(k);
      }));
      threads.push_back(std::make_unique<bounded_thread>([st, per] {
        for (std::int64_t k = 0; k < per; ++k) {
          st->sum.fetch_add(*st->c.recv(), std::memory_order_relaxed);
          st->received.fetch_add(1, std::memory_order_relaxed);
        }
      }));
    }
    bool all_joined = true;
    for (auto& t : threads) all_joined = t->join(stress_limit) && all_joined;
    ASSERT_TRUE(all_joined) << "a thread waiting on the channel was never woken";
    EXPECT_EQ(st->received.load(), pairs * per);
    EXPECT_EQ(st->sum.load(), pairs * (per * (per - 1) / 2));
  });
}

// Plain threads blocked on channels while goroutines wake them, and the
// other way round, with select and timeouts in the mix.
TEST(Stress, PingPongBetweenThreadsAndGoroutines) {
  static constexpr int threads_n = 4;
  const std::int64_t rounds = scaled(20000, 1000);
  goro::run([rounds] {
    const std::int64_t baseline = goro::num_goroutine();
    auto done = goro::make_chan<std::int64_t>(threads_n);
    std::vector<std::thread> threads;
    for (int t = 0; t < threads_n; ++t) {
      auto ping = goro::make_chan<std::int64_t>();
      auto pong = goro::make_chan<std::int64_t>();
      // Echo in a goroutine, with a select and a timeout per receive.
      goro::go([ping, pong] {
        auto deadline = goro::after(stress_limit);
        for (;;) {
          std::optional<std::int64_t> v;
          std::size_t i = goro::select(ping.on_recv(v), deadline.on_recv());
          if (i == 1 || !v) break;
          pong.send(*v + 1);
        }
        pong.close();
      });
      threads.emplace_back([ping, pong, done, rounds] {
        std::int64_t correct = 0;
        auto deadline = goro::after(stress_limit);
        for (std::int64_t i = 0; i < rounds; ++i) {
          ping.send(i);
          std::optional<std::int64_t> r;
          if (goro::select(pong.on_recv(r), deadline.on_recv()) == 1 || !r) break;
          if (*r == i + 1) ++correct;
        }
        ping.close();
        done.send(correct);
      });
    }
    std::vector<std::int64_t> got;
    std::int64_t finished = recv_n<std::int64_t>(done, threads_n, &got);
    if (finished != threads_n) {
      std::fprintf(stderr, "goro stress: only %lld of %d threads finished; aborting\n",
                   static_cast<long long>(finished), threads_n);
      std::abort();
    }
    for (auto& th : threads) th.join();
    for (auto c : got) EXPECT_EQ(c, rounds);
    EXPECT_TRUE(back_to(baseline));
  });
}
