// An echo server: one goroutine per connection copies back what it reads
// until the client closes its side. While a connection waits for data its
// goroutine is parked, not a thread, so thousands of idle clients cost
// little.
//
//   echo_server [address] [--once | --max N]
//
// address is host:port (default 127.0.0.1:7000; port 0 lets the system pick
// one) or a Unix socket: a path, or @name in Linux's abstract namespace. It
// prints the address it listens on, then serves until killed; with --max N
// it stops accepting after N connections, waits for them to end and exits 0
// (--once is --max 1): how a test runs it briefly. Try it with echo_client.
#include <goro/goro.hpp>
#include <goro/net.hpp>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>

namespace net = goro::net;

int main(int argc, char** argv) {
  std::string address = "127.0.0.1:7000";
  long max_conns = 0;  // 0: no limit
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--once") {
      max_conns = 1;
    } else if (arg == "--max" && i + 1 < argc) {
      max_conns = std::atol(argv[++i]);
    } else {
      address = arg;
    }
  }
  const bool is_unix = address.find('/') != std::string::npos || address.starts_with('@');

  return goro::run([&]() -> int {
    auto ln = net::listen(is_unix ? "unix" : "tcp", address);
    if (!ln) {
      std::cerr << "listen " << address << ": " << ln.error().message() << "\n";
      return 1;
    }
    std::cout << "echo server listening on " << ln->addr() << std::endl;

    goro::wait_group wg;
    std::atomic<long> bytes{0};
    long served = 0;
    int status = 0;
    while (max_conns == 0 || served < max_conns) {
      auto c = ln->accept();  // parks this goroutine until a client connects
      if (!c) {
        std::cerr << "accept: " << c.error().message() << "\n";
        status = 1;
        break;
      }
      ++served;
      wg.go([c = *c, &bytes]() mutable {
        char buf[16 << 10];
        for (;;) {
          auto [n, err] = c.read(buf);  // n bytes, then err (net::errc::eof at the end)
          if (n > 0 && c.write(buf, n).err) break;
          bytes += static_cast<long>(n);
          if (err) break;
        }
        c.close();
      });
    }
    ln->close();  // no more clients; the ones connected finish
    wg.wait();
    std::cout << "served " << served << " connection(s), echoed " << bytes.load() << " bytes" << std::endl;
    return status;
  });
}
