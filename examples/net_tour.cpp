// A short tour of goro::net: an echo server on a port the system picks,
// three clients talking to it at once, EOF, a read deadline, goro::blocking
// for a call that holds its thread, and closing the listener to stop the
// server. Each connection is a goroutine that parks while it waits for the
// network. Finishes in a few tens of milliseconds.
#include <goro/goro.hpp>
#include <goro/net.hpp>

#include <array>
#include <chrono>
#include <iostream>
#include <string>
#include <system_error>
#include <thread>

using namespace std::chrono_literals;
namespace net = goro::net;

int main() {
  return goro::run([]() -> int {
    std::cout << "1. listen on 127.0.0.1:0: the system picks a free port\n";
    auto ln = net::listen("tcp", "127.0.0.1:0");
    if (!ln) {
      std::cerr << "listen: " << ln.error().message() << "\n";
      return 1;
    }
    net::listener l = *ln;
    std::cout << "   listening on " << l.addr() << "\n";

    std::cout << "2. the server: one goroutine per connection, echoing until EOF\n";
    auto server_done = goro::make_chan<std::error_code>(1);
    goro::go([l, server_done]() mutable {
      goro::wait_group wg;
      std::error_code why;
      for (;;) {
        auto c = l.accept();  // parks until a client connects
        if (!c) {
          why = c.error();
          break;
        }
        wg.go([c = *c]() mutable {
          char buf[1024];
          for (;;) {
            auto [n, err] = c.read(buf);  // Go's n, err := c.Read(buf)
            if (n > 0 && c.write(buf, n).err) break;
            if (err) break;  // net::errc::eof once the client has closed its side
          }
          c.close();
        });
      }
      wg.wait();
      server_done.send(why);
    });

    std::cout << "3. three clients at once: write, close_write, read the echo until EOF\n";
    std::array<std::string, 3> replies;
    goro::wait_group clients;
    for (int i = 0; i < 3; ++i) {
      clients.go([&, i] {
        auto c = net::dial("tcp", l.addr());
        if (!c) {
          replies[i] = "dial failed: " + c.error().message();
          return;
        }
        c->set_deadline(goro::clock::now() + 5s);  // never hang, whatever happens
        c->write("hello from client " + std::to_string(i + 1));
        c->close_write();  // the server reads EOF after the message, and closes
        std::string got;
        char buf[256];
        for (;;) {
          auto [n, err] = c->read(buf);
          got.append(buf, n);
          if (err) {
            if (err != net::errc::eof) got += " [" + err.message() + "]";
            break;
          }
        }
        c->close();
        replies[i] = got;
      });
    }
    clients.wait();
    for (int i = 0; i < 3; ++i) std::cout << "   client " << i + 1 << " got back: " << replies[i] << "\n";

    std::cout << "4. a read deadline: nothing comes back until we write, so the read times out\n";
    auto c = net::dial("tcp", l.addr());
    if (!c) {
      std::cerr << "dial: " << c.error().message() << "\n";
      return 1;
    }
    c->set_read_deadline(goro::clock::now() + 20ms);
    char buf[16];
    auto [n, err] = c->read(buf);
    std::cout << "   read: " << n << " bytes, \"" << err.message()
              << "\" (timed out: " << (err == std::errc::timed_out ? "yes" : "no") << ")\n";
    c->close();

    std::cout << "5. goro::blocking: a call that holds its thread runs off the processors\n";
    int answer = goro::blocking([] {
      std::this_thread::sleep_for(10ms);  // stands for a blocking library call
      return 42;
    });
    std::cout << "   the blocking call returned " << answer << "\n";

    std::cout << "6. closing the listener ends the server's accept loop\n";
    l.close();
    std::error_code why = *server_done.recv();
    std::cout << "   server stopped: \"" << why.message()
              << "\" (errc::closed: " << (why == net::errc::closed ? "yes" : "no") << ")\n";
    std::cout << "net tour complete\n";
    return 0;
  });
}
