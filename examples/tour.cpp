// A short guided tour of goro: goroutines, channels, select, a pipeline that
// stops when its done channel closes, sync, a socket whose reads park the
// goroutine, and a deadlock reported. Run: cmake --workflow --preset demo
#include <goro/goro.hpp>

#include <iostream>
#include <string>

using namespace std::chrono_literals;

// Stage 1 of the pipeline: 1, 2, 3, ... until done is closed.
goro::recv_chan<int> count(goro::recv_chan<int> done) {
  auto out = goro::make_chan<int>();
  goro::go([done, out] {
    for (int i = 1;; ++i) {
      if (goro::select(out.on_send(i), done.on_recv()) == 1) break;
    }
    out.close();
  });
  return out;
}

// Stages 2 and 3: apply f to every value, until done is closed.
template <class F>
goro::recv_chan<int> stage(goro::recv_chan<int> done, goro::recv_chan<int> in, F f) {
  auto out = goro::make_chan<int>();
  goro::go([done, in, out, f] {
    for (int v : in) {
      if (goro::select(out.on_send(f(v)), done.on_recv()) == 1) break;
    }
    out.close();
  });
  return out;
}

int main() {
  goro::run([] {
    std::cout << "1. goroutines and an unbuffered channel: a send waits for its receiver\n";
    auto greetings = goro::make_chan<std::string>();
    goro::go([greetings] { greetings.send("hello from goroutine " + std::to_string(goro::this_goroutine::id())); });
    std::cout << "   " << *greetings.recv() << "\n";

    std::cout << "2. a buffered channel holds values until they are received\n";
    auto jobs = goro::make_chan<int>(3);
    for (int j = 1; j <= 3; ++j) jobs.send(j);
    std::cout << "   size " << jobs.size() << " of capacity " << jobs.capacity() << "\n";

    std::cout << "3. close, then range: receivers drain what is left, then stop\n";
    jobs.close();
    for (int j : jobs) std::cout << "   job " << j << "\n";

    std::cout << "4. select with a default: nothing is ready, so the default runs\n";
    auto quiet = goro::make_chan<int>();
    goro::select(quiet.on_recv([](int v) { std::cout << "   got " << v << "\n"; }),
                 goro::on_default([] { std::cout << "   nothing ready\n"; }));

    std::cout << "5. select with a timeout: the timer's channel fires first\n";
    auto start = goro::clock::now();
    if (goro::select(quiet.on_recv(), goro::after(20ms).on_recv()) == 1) {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(goro::clock::now() - start);
      std::cout << "   timed out after " << ms.count() << " ms\n";
    }

    std::cout << "6. a three-stage pipeline, cancelled by closing done\n";
    auto done = goro::make_chan<int>();
    auto squares = stage(done, count(done), [](int v) { return v * v; });
    auto plus_one = stage(done, squares, [](int v) { return v + 1; });
    for (int k = 0; k < 5; ++k) std::cout << "   " << *plus_one.recv() << "\n";
    done.close();  // every stage sees done closed and returns
    for ([[maybe_unused]] int v : plus_one) {
    }  // drain until the last stage closes its output
    std::cout << "   pipeline stopped\n";

    std::cout << "7. sync: a wait_group waits for ten goroutines sharing a mutex\n";
    goro::wait_group wg;
    goro::mutex mu;
    int total = 0;
    for (int w = 1; w <= 10; ++w) {
      wg.go([&, w] {
        std::lock_guard lock(mu);
        total += w;
      });
    }
    wg.wait();
    std::cout << "   total " << total << "\n";

    std::cout << "8. sockets: an echo server on a port the system picks; its reads park the goroutine\n";
    auto ln = goro::net::listen("tcp", "127.0.0.1:0").value();
    goro::go([ln] {
      auto c = ln.accept().value();  // parks until the client connects
      char buf[64];
      for (;;) {
        auto [n, err] = c.read(buf);  // parks until data comes
        if (n > 0) c.write(buf, n);
        if (err) break;  // goro::net::errc::eof: the client is done
      }
    });
    auto client = goro::net::dial("tcp", ln.addr()).value();
    client.write("ping");
    char echo[4];
    goro::net::read_full(client, echo);
    std::cout << "   sent ping, got back " << std::string(echo, 4) << "\n";
    client.close();
    ln.close();
  });

  std::cout << "9. a deadlock: run() reports it (and every goroutine) instead of hanging\n";
  try {
    goro::run([] { goro::make_chan<int>().recv(); });  // nobody will ever send
  } catch (const goro::deadlock_error& e) {
    std::string report = e.what();
    std::cout << "   " << report.substr(0, report.find('\n')) << "\n";
  }
  std::cout << "tour complete\n";
}
