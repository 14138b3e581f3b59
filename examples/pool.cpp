// Chapter 3, "Pool": a cache of values to reuse. get() takes one if there is
// one and calls the pool's new function otherwise; put() offers it back. The
// book's three gets, its 1 KiB "calculators", and its service connections
// (scaled down: connecting takes 2 ms, not 1 s).
#include <goro/goro.hpp>

#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>
#include <vector>

using namespace std::chrono_literals;

struct connection {};

int main() {
  goro::run([] {
    {  // New runs only when the pool is empty.
      goro::pool<std::unique_ptr<int>> my_pool([] {
        std::cout << "Creating new instance.\n";
        return std::make_unique<int>();
      });
      my_pool.get();
      auto instance = my_pool.get();
      my_pool.put(std::move(instance));
      my_pool.get();  // the one put back: nothing printed
    }
    {  // Many goroutines, few buffers: each takes one, uses it, puts it back.
      std::atomic<int> calcs_created = 0;
      goro::pool<std::unique_ptr<std::vector<char>>> calc_pool([&] {
        ++calcs_created;
        return std::make_unique<std::vector<char>>(1024);
      });
      for (int i = 0; i < 4; ++i) calc_pool.put(std::make_unique<std::vector<char>>(1024));  // seed 4 KiB
      constexpr int num_workers = 20000;
      goro::wait_group wg;
      for (int i = 0; i < num_workers; ++i) {
        wg.go([&] {
          auto mem = calc_pool.get();
          (*mem)[0] = 1;  // use it
          calc_pool.put(std::move(mem));
        });
      }
      wg.wait();
      std::cout << calcs_created.load() << " calculator(s) were created for " << num_workers << " workers\n";
    }
    // A server answering 50 requests, one after the other, each needing a
    // connection to a service that is slow to connect to.
    int created = 0;
    auto connect_to_service = [&] {
      goro::sleep(2ms);
      ++created;
      return std::make_unique<connection>();
    };
    auto serve = [](const char* how, int n, auto get, auto put) {
      auto start = goro::clock::now();
      for (int i = 0; i < n; ++i) put(get());  // the request: get, use, put back
      std::chrono::duration<double, std::micro> us = goro::clock::now() - start;
      std::cout << how << ": " << us.count() / n << " us per request\n";
    };
    serve("without a pool", 50, connect_to_service, [](std::unique_ptr<connection>) {});
    std::cout << "  connections created: " << created << "\n";
    created = 0;
    goro::pool<std::unique_ptr<connection>> conn_pool(connect_to_service);
    std::vector<std::unique_ptr<connection>> warm;  // the book's warmServiceConnCache
    for (int i = 0; i < 10; ++i) warm.push_back(connect_to_service());
    for (auto& c : warm) conn_pool.put(std::move(c));
    serve("with a warm pool", 50, [&] { return conn_pool.get(); }, [&](auto c) { conn_pool.put(std::move(c)); });
    std::cout << "  connections created: " << created << "\n";
  });
}
