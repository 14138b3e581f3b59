// A client for echo_server: dials the server, sends N numbered lines from one
// goroutine while the main goroutine reads the echoes back and checks each
// (so neither side can fill its socket buffer and wait for the other), then
// prints a summary. Exits 1 if anything came back wrong or an error came.
//
//   echo_client [address] [lines]      (default 127.0.0.1:7000, 10 lines)
//
// address is host:port, or a Unix socket path / @name as for echo_server.
// The whole exchange has a 10 s deadline, so a silent server cannot hang it.
#include <goro/goro.hpp>
#include <goro/net.hpp>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>

using namespace std::chrono_literals;
namespace net = goro::net;

static std::string line(long i) { return "line " + std::to_string(i) + " of the echo test\n"; }

int main(int argc, char** argv) {
  std::string address = argc > 1 ? argv[1] : "127.0.0.1:7000";
  const long lines = argc > 2 ? std::atol(argv[2]) : 10;
  const bool is_unix = address.find('/') != std::string::npos || address.starts_with('@');

  return goro::run([&]() -> int {
    auto start = goro::clock::now();
    auto dialed = net::dial(is_unix ? "unix" : "tcp", address);
    if (!dialed) {
      std::cerr << "dial " << address << ": " << dialed.error().message() << "\n";
      return 1;
    }
    net::conn c = *dialed;
    c.set_deadline(start + 10s);
    std::cout << "connected " << c.local_addr() << " -> " << c.remote_addr() << "\n";

    // The writer: every line, then close_write so the server sees EOF.
    auto wrote = goro::make_chan<std::error_code>(1);
    goro::go([c, lines, wrote]() mutable {
      std::error_code err;
      for (long i = 0; i < lines && !err; ++i) err = c.write(line(i)).err;
      if (!err) err = c.close_write();
      wrote.send(err);
    });

    // The reader: each echo must be the line sent.
    long good = 0;
    std::size_t bytes = 0;
    std::error_code read_err;
    for (long i = 0; i < lines; ++i) {
      const std::string want = line(i);
      std::string got(want.size(), '\0');
      auto [n, err] = net::read_full(c, got.data(), got.size());
      bytes += n;
      if (err) {
        read_err = err;
        break;
      }
      if (got != want) {
        std::cerr << "line " << i << ": sent \"" << want.substr(0, want.size() - 1) << "\", got back \""
                  << got.substr(0, got.find('\n')) << "\"\n";
        continue;
      }
      ++good;
    }
    // Then the server, having echoed everything, closes: EOF.
    char extra[64];
    auto tail = read_err ? net::io_result{} : c.read(extra);
    std::error_code write_err = *wrote.recv();
    c.close();

    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(goro::clock::now() - start).count();
    std::cout << "sent " << lines << " lines, " << good << " echoed back intact (" << bytes << " bytes) in " << ms
              << " ms\n";
    bool ok = good == lines;
    if (write_err) {
      std::cerr << "write: " << write_err.message() << "\n";
      ok = false;
    }
    if (read_err) {
      std::cerr << "read: " << read_err.message() << "\n";
      ok = false;
    }
    if (!read_err && (tail.n > 0 || tail.err != net::errc::eof)) {
      std::cerr << "after the last line: " << tail.n << " more bytes, " << tail.err.message() << "\n";
      ok = false;
    }
    std::cout << (ok ? "all lines echoed correctly" : "MISMATCH") << "\n";
    return ok ? 0 : 1;
  });
}
