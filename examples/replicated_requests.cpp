// Replicated requests (Concurrency in Go, ch. 5): send one request to
// several handlers, take the fastest answer, cancel the others.
#include <goro/patterns.hpp>
#include <cstdio>
#include <random>
#include <vector>
using namespace std::chrono_literals;

int main() {
  goro::run([] {
    // Ten handlers, each with a simulated load of 10 to 50 ms.
    std::mt19937 rng(std::random_device{}());
    std::vector<std::chrono::milliseconds> load;
    for (int i = 0; i < 10; ++i) load.push_back(10ms * (1 + static_cast<int>(rng() % 5)));

    auto handler = [&load](const goro::context& ctx, std::size_t id) -> std::optional<std::size_t> {
      auto started = goro::clock::now();
      // goro::sleep(ctx, d) returns ctx.err() if ctx is cancelled first.
      bool cancelled = static_cast<bool>(goro::sleep(ctx, load[id]));
      std::printf("%zu took %lldms%s\n", id,
                  static_cast<long long>((goro::clock::now() - started) / 1ms),
                  cancelled ? " (cancelled)" : "");
      if (cancelled) return std::nullopt;  // no answer from this one
      return id;
    };

    // first_of returns the first answer once every handler has returned:
    // the slow ones were cancelled, not abandoned.
    auto r = goro::first_of(goro::background(), load.size(), handler);
    std::printf("received an answer from #%zu\n", *r.value);

    // With a deadline none of them can meet, there is no answer, only why.
    auto [ctx, cancel] = goro::with_timeout(goro::background(), 5ms);
    auto late = goro::first_of(ctx, 3, handler);
    std::printf("no answer: %s\n", late.err.message().c_str());
    cancel();
  });
}
