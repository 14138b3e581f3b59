// tests/net/net_test.cpp: goro::net (goroutine-aware sockets: listen, dial,
// conn, listener, read_full, deadlines, close) and goro::blocking.
//
// Every test runs inside goro::run unless it is about plain threads. Every
// wait is bounded: a socket call the test waits on has a deadline, or runs in
// a goroutine whose result the test receives with a time limit; and each test
// closes its sockets when it ends, however it ends (closer, below), so a
// goroutine still blocked on one returns and the leak check in test_main.cpp
// stays quiet. Sleeps only let a deadline pass when the deadline is what is
// tested, and then the test asserts on the outcome, not on how long it took.
// Loopback only (127.0.0.1, ::1, Unix sockets); sizes scale with scaled().
#include <goro/net.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <iostream>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "support/test_support.hpp"

namespace {

// GoogleTest's SCOPED_TRACE keeps a per-thread stack, and a goroutine can
// resume on another thread: this labels the case instead, printed when the
// scope ends with the test failed.
class case_label {
 public:
  explicit case_label(std::string s) : s_(std::move(s)) {}
  ~case_label() {
    if (::testing::Test::HasFailure()) std::cerr << "  (in case: " << s_ << ")\n";
  }
  case_label(const case_label&) = delete;
  case_label& operator=(const case_label&) = delete;

 private:
  std::string s_;
};

using namespace std::chrono_literals;
using goro_test::bounded_thread;
using goro_test::give_a_chance;
using goro_test::ready_now;
using goro_test::recv_within;
using goro_test::scaled;
using goro_test::wait_for;
using goro_test::wait_limit;
namespace net = goro::net;

// For the tests that push hard (a thousand connections, megabytes through
// tiny buffers): dials may wait for SYN retries when a backlog overflows,
// and sanitizers are slow.
constexpr std::chrono::seconds long_limit{60};
// Messages each of the thousand clients echoes.
constexpr int messages_per_client = 4;
// The size of each write in ConcurrentWritesDoNotInterleave.
constexpr std::size_t write_block = 64 << 10;
// Goroutines in blocking() at once in OtherGoroutinesRunMeanwhile.
constexpr int blocking_callers = 4;

// ---- helpers ---------------------------------------------------------------------

// What an error enum (net::errc, goro::errc, or a std::errc condition) says.
template <class E>
std::string describe(E e) {
  if constexpr (std::is_error_code_enum_v<E>) {
    return std::error_code(e).message();
  } else {
    return std::make_error_condition(e).message();
  }
}

std::string describe_code(const std::error_code& err) {
  if (!err) return "no error";
  return "\"" + err.message() + "\" (" + err.category().name() + ":" + std::to_string(err.value()) + ")";
}

// Whether err is want, saying what err is when it is not.
template <class E>
testing::AssertionResult is_error(const std::error_code& err, E want) {
  if (err == want) return testing::AssertionSuccess();
  return testing::AssertionFailure() << "got " << describe_code(err) << ", want \"" << describe(want) << "\"";
}

// Whether err is a or b.
template <class A, class B>
testing::AssertionResult is_either(const std::error_code& err, A a, B b) {
  if (err == a || err == b) return testing::AssertionSuccess();
  return testing::AssertionFailure() << "got " << describe_code(err) << ", want \"" << describe(a) << "\" or \""
                                     << describe(b) << "\"";
}

// The port of "host:port" or "[v6]:port"; -1 if there is none.
int port_of(const std::string& addr) {
  auto colon = addr.rfind(':');
  if (colon == std::string::npos || colon + 1 == addr.size()) return -1;
  return std::atoi(addr.c_str() + colon + 1);
}

// The host part of "host:port" or "[v6]:port" (brackets kept).
std::string host_of(const std::string& addr) {
  auto colon = addr.rfind(':');
  return colon == std::string::npos ? addr : addr.substr(0, colon);
}

// Bytes [offset, offset + n) of the test stream: byte i is i*7 mod 251, so
// a byte that is lost, doubled or moved shows.
std::string pattern(std::size_t n, std::size_t offset = 0) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>(((offset + i) * 7) % 251);
  return s;
}

// Whether got == want, naming the first byte that differs (never printing
// megabytes of both).
testing::AssertionResult same_bytes(const std::string& got, const std::string& want) {
  if (got == want) return testing::AssertionSuccess();
  std::size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
  return testing::AssertionFailure() << "got " << got.size() << " bytes, want " << want.size()
                                     << "; first difference at byte " << i;
}

// A name in Linux's abstract Unix-socket namespace, unique in this run.
std::string abstract_name(std::string_view what) {
  static std::atomic<int> counter{0};
  return "@goro-test-" + std::to_string(::getpid()) + "-" + std::string(what) + "-" +
         std::to_string(counter.fetch_add(1));
}

// A fresh directory made with mkdtemp (short enough for a socket path in
// it); empty, with a test failure, if it cannot be made.
std::string make_temp_dir() {
  std::error_code ec;
  std::string base = std::filesystem::temp_directory_path(ec).string();
  if (ec || base.empty() || base.size() > 60) base = "/tmp";  // sun_path holds 108 bytes
  std::string tmpl = base + "/goro-net-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp(" << tmpl << "): " << std::system_category().message(errno);
    return "";
  }
  return tmpl;
}

// Runs f when the scope ends, however it ends (an ASSERT returns early).
class at_exit {
 public:
  explicit at_exit(std::function<void()> f) : f_(std::move(f)) {}
  at_exit(const at_exit&) = delete;
  at_exit& operator=(const at_exit&) = delete;
  ~at_exit() {
    if (f_) f_();
  }

 private:
  std::function<void()> f_;
};

// Closes the sockets it holds when the test's scope ends, however it ends,
// so goroutines blocked on them return (closing one twice is harmless).
class closer {
 public:
  closer() = default;
  closer(const closer&) = delete;
  closer& operator=(const closer&) = delete;
  ~closer() {
    for (auto& c : conns_) (void)c.close();
    for (auto& l : listeners_) (void)l.close();
  }
  net::conn add(net::conn c) {
    conns_.push_back(c);
    return c;
  }
  net::listener add(net::listener l) {
    listeners_.push_back(l);
    return l;
  }

 private:
  std::vector<net::conn> conns_;
  std::vector<net::listener> listeners_;
};

// Sets an int socket option; false (and a test failure) if that fails.
bool set_int_option(int fd, int level, int name, int value) {
  if (::setsockopt(fd, level, name, &value, sizeof value) == 0) return true;
  ADD_FAILURE() << "setsockopt(fd " << fd << ", option " << name << ", " << value
                << "): " << std::system_category().message(errno);
  return false;
}

// A small send buffer on c (the kernel doubles what it is given), and a
// small receive buffer too if `receive`. On TCP also TCP_NODELAY, so that
// Nagle's algorithm and delayed ACKs do not turn tiny buffers into 40 ms
// stalls: these tests are about goro's write and read loops, not TCP tuning.
void shrink_buffers(const net::conn& c, int bytes, bool tcp, bool receive = true) {
  set_int_option(c.native_handle(), SOL_SOCKET, SO_SNDBUF, bytes);
  if (receive) set_int_option(c.native_handle(), SOL_SOCKET, SO_RCVBUF, bytes);
  if (tcp) set_int_option(c.native_handle(), IPPROTO_TCP, TCP_NODELAY, 1);
}

struct conn_pair {
  net::conn client;  // dialed
  net::conn server;  // accepted
};

// Two connected ends over network, through a listener on address that is
// closed once they are connected. Both are registered with cl and get a
// safety deadline wait_limit away (a test about deadlines sets its own).
// Empty conns, and a test failure, if a step fails.
conn_pair connect_pair(closer& cl, const std::string& network = "tcp", const std::string& address = "127.0.0.1:0") {
  auto ln = net::listen(network, address);
  if (!ln) {
    ADD_FAILURE() << "listen(" << network << ", " << address << "): " << ln.error().message();
    return {};
  }
  net::listener l = cl.add(*ln);
  auto timeout = goro::with_timeout(goro::background(), wait_limit);
  auto dialed = net::dial(timeout.first, network, l.addr());
  timeout.second();
  if (!dialed) {
    ADD_FAILURE() << "dial(" << network << ", " << l.addr() << "): " << dialed.error().message();
    return {};
  }
  net::conn client = cl.add(*dialed);
  (void)l.set_deadline(goro::clock::now() + wait_limit);
  auto accepted = l.accept();
  (void)l.close();
  if (!accepted) {
    ADD_FAILURE() << "accept on " << network << " " << l.addr() << ": " << accepted.error().message();
    return {};
  }
  net::conn server = cl.add(*accepted);
  auto limit = goro::clock::now() + wait_limit;
  EXPECT_FALSE(client.set_deadline(limit));
  EXPECT_FALSE(server.set_deadline(limit));
  return {client, server};
}

// Copies what c reads back to it until the peer closes its side (or an
// error), then closes c.
void echo(net::conn c) {
  char buf[4096];
  for (;;) {
    auto [n, err] = c.read(buf);
    if (n > 0 && c.write(buf, n).err) break;
    if (err) break;
  }
  (void)c.close();
}

// An echo server on l: one goroutine per connection, each connection with a
// deadline `limit` away (so none outlives a failed test for long). The
// returned channel receives once accept has failed (with errc::closed when
// the test closes l; any other error is a test failure) and every
// connection's goroutine has returned. `accepted`, if given, counts the
// connections.
goro::chan<int> start_echo(net::listener l, std::chrono::nanoseconds limit = wait_limit,
                           std::shared_ptr<std::atomic<int>> accepted = nullptr) {
  auto finished = goro::make_chan<int>(1);
  goro::go([l, limit, accepted, finished]() mutable {
    auto wg = std::make_shared<goro::wait_group>();
    for (;;) {
      auto a = l.accept();
      if (!a) {
        EXPECT_TRUE(is_error(a.error(), net::errc::closed)) << "the echo server's accept";
        break;
      }
      if (accepted) accepted->fetch_add(1);
      net::conn c = *a;
      (void)c.set_deadline(goro::clock::now() + limit);
      wg->go([c] { echo(c); });
    }
    wg->wait();
    finished.send(1);
  });
  return finished;
}

// Writes data on c from its own goroutine; the result arrives on the channel.
goro::chan<net::io_result> write_async(net::conn c, std::string data) {
  auto result = goro::make_chan<net::io_result>(1);
  goro::go([c, data = std::move(data), result]() mutable { result.send(c.write(data)); });
  return result;
}

// Sends msg on c and reads the echo; true if it came back intact.
bool echo_once(net::conn& c, const std::string& msg) {
  auto w = c.write(msg);
  if (w.err || w.n != msg.size()) {
    ADD_FAILURE() << "write: n " << w.n << " of " << msg.size() << ", " << describe_code(w.err);
    return false;
  }
  std::string back(msg.size(), '\0');
  auto r = net::read_full(c, back.data(), back.size());
  if (r.err || back != msg) {
    ADD_FAILURE() << "echo of \"" << msg << "\": read_full n " << r.n << ", " << describe_code(r.err) << ", got \""
                  << back.substr(0, r.n) << "\"";
    return false;
  }
  return true;
}

// Runs op() (a read, write or accept on handles it holds by value) in its
// own goroutine, waits until it is about to start, and gives it a chance to
// block (the test's outcome does not depend on whether it did); its result
// arrives on the returned channel.
template <class F>
goro::chan<std::invoke_result_t<F&>> start_blocked(F op) {
  using R = std::invoke_result_t<F&>;
  auto started = goro::make_chan<int>(1);
  auto result = goro::make_chan<R>(1);
  goro::go([op = std::move(op), started, result]() mutable {
    started.send(1);
    result.send(op());
  });
  (void)recv_within<int>(started);
  give_a_chance();
  return result;
}

// Listens, dials, and echoes through a server goroutine on network/address;
// checks the addresses both ends and the listener report.
void round_trip(const std::string& network, const std::string& address) {
  case_label label_(network + " " + address);
  const bool is_unix = network == "unix";
  closer cl;
  auto ln = net::listen(network, address);
  ASSERT_TRUE(ln) << "listen: " << ln.error().message();
  net::listener l = cl.add(*ln);
  const std::string laddr = l.addr();
  if (is_unix) {
    EXPECT_EQ(laddr, address);
  } else {
    EXPECT_GT(port_of(laddr), 0) << "listener.addr() " << laddr << " has not the port the system chose";
    EXPECT_EQ(host_of(laddr), host_of(address));
  }

  auto accepted = goro::make_chan<net::conn>(1);
  auto served = goro::make_chan<int>(1);
  goro::go([l, accepted, served]() mutable {
    auto a = l.accept();
    if (!a) {
      ADD_FAILURE() << "accept: " << a.error().message();
      accepted.close();
      served.send(1);
      return;
    }
    net::conn s = *a;
    (void)s.set_deadline(goro::clock::now() + wait_limit);
    accepted.send(s);
    echo(s);
    served.send(1);
  });

  auto dialed = net::dial(network, laddr);
  ASSERT_TRUE(dialed) << "dial " << laddr << ": " << dialed.error().message();
  net::conn c = cl.add(*dialed);
  EXPECT_TRUE(c);
  EXPECT_GE(c.native_handle(), 0);
  EXPECT_FALSE(c.set_deadline(goro::clock::now() + wait_limit));
  auto got = recv_within<net::conn>(accepted);
  ASSERT_TRUE(got.has_value() && *got) << "no connection accepted";
  net::conn s = cl.add(*got);

  // The two ends agree.
  EXPECT_EQ(c.remote_addr(), s.local_addr());
  EXPECT_EQ(s.remote_addr(), c.local_addr());
  EXPECT_EQ(c.remote_addr(), laddr);
  if (is_unix) {
    EXPECT_EQ(c.local_addr(), "") << "the dialing end of a Unix socket is unnamed";
  } else {
    EXPECT_EQ(host_of(c.local_addr()), host_of(laddr));
    EXPECT_GT(port_of(c.local_addr()), 0);
  }

  // A short message, then one larger than the socket buffers (written from
  // another goroutine while this one reads the echo).
  EXPECT_TRUE(echo_once(c, "hello, " + network));
  const std::string big = pattern(static_cast<std::size_t>(scaled(1 << 20)));
  auto wrote = write_async(c, big);
  std::string back(big.size(), '\0');
  auto r = net::read_full(c, back.data(), back.size());
  EXPECT_FALSE(r.err) << describe_code(r.err);
  EXPECT_TRUE(same_bytes(back.substr(0, r.n), big));
  auto w = recv_within<net::io_result>(wrote);
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->n, big.size());
  EXPECT_FALSE(w->err) << describe_code(w->err);

  // close_write: the server reads EOF, closes, and so this end reads EOF.
  EXPECT_FALSE(c.close_write());
  char buf[16];
  auto eof = c.read(buf);
  EXPECT_EQ(eof.n, 0u);
  EXPECT_TRUE(is_error(eof.err, net::errc::eof));
  EXPECT_TRUE(wait_for(served, 1));
}

// Whether err says the address family (IPv6 here) is missing.
bool no_address_family(const std::error_code& err) {
  return err == std::errc::address_family_not_supported || err == std::errc::address_not_available ||
         err == std::errc::protocol_not_supported;
}

// ---- accept, dial, echo --------------------------------------------------------

TEST(NetEcho, TcpOverIPv4) {
  goro::run([] { round_trip("tcp", "127.0.0.1:0"); });
}

TEST(NetEcho, Tcp4) {
  goro::run([] { round_trip("tcp4", "127.0.0.1:0"); });
}

TEST(NetEcho, TcpOverIPv6) {
  goro::run([] {
    auto probe = net::listen("tcp6", "[::1]:0");
    if (!probe) {
      if (no_address_family(probe.error())) GTEST_SKIP() << "no IPv6 loopback: " << probe.error().message();
      FAIL() << "listen(tcp6, [::1]:0): " << probe.error().message();
    }
    EXPECT_EQ(host_of(probe->addr()), "[::1]");
    EXPECT_FALSE(probe->close());
    round_trip("tcp6", "[::1]:0");
    round_trip("tcp", "[::1]:0");
  });
}

TEST(NetEcho, UnixSocketPath) {
  goro::run([] {
    const std::string dir = make_temp_dir();
    ASSERT_FALSE(dir.empty());
    at_exit remove_dir{[dir] {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }};
    const std::string path = dir + "/echo.sock";
    round_trip("unix", path);
    std::error_code ec;
    EXPECT_FALSE(std::filesystem::exists(path, ec)) << "closing the listener did not remove " << path;
  });
}

TEST(NetEcho, UnixAbstractName) {
  goro::run([] { round_trip("unix", "@goro-test-" + std::to_string(::getpid())); });
}

// Host names are resolved (on the blocking pool); "localhost" may give ::1
// first, which refuses, and then 127.0.0.1: each address is tried in turn.
TEST(NetEcho, DialByHostName) {
  goro::run([] {
    closer cl;
    auto ln = net::listen("tcp", "127.0.0.1:0");
    ASSERT_TRUE(ln) << ln.error().message();
    net::listener l = cl.add(*ln);
    auto finished = start_echo(l);
    const std::string port = std::to_string(port_of(l.addr()));
    auto dialed = net::dial("tcp", "localhost:" + port);
    ASSERT_TRUE(dialed) << "dial localhost:" << port << ": " << dialed.error().message();
    net::conn c = cl.add(*dialed);
    (void)c.set_deadline(goro::clock::now() + wait_limit);
    EXPECT_EQ(c.remote_addr(), "127.0.0.1:" + port);
    EXPECT_TRUE(echo_once(c, "resolved"));
    EXPECT_FALSE(c.close());
    EXPECT_FALSE(l.close());
    EXPECT_TRUE(wait_for(finished, 1));
  });
}

// ---- EOF -------------------------------------------------------------------------

TEST(NetEof, CloseWriteGivesThePeerEofAndTheOtherDirectionGoesOn) {
  goro::run([] {
    closer cl;
    conn_pair p = connect_pair(cl);
    ASSERT_TRUE(p.client && p.server);
    net::conn a = p.client;
    net::conn b = p.server;
    EXPECT_FALSE(a.write("last words").err);
    EXPECT_FALSE(a.close_write());

    std::string got(10, '\0');
    auto r = net::read_full(b, got.data(), got.size());
    EXPECT_FALSE(r.err) << describe_code(r.err);
    EXPECT_EQ(got, "last words");
    char buf[64];
    auto eof = b.read(buf);
    EXPECT_EQ(eof.n, 0u);
    EXPECT_TRUE(is_error(eof.err, net::errc::eof));
    eof = b.read(buf);  // and again
    EXPECT_EQ(eof.n, 0u);
    EXPECT_TRUE(is_error(eof.err, net::errc::eof));

    // a only shut its write side: b can still send to it.
    EXPECT_TRUE(b.write("reply").n == 5);
    got.assign(5, '\0');
    r = net::read_full(a, got.data(), got.size());
    EXPECT_FALSE(r.err) << describe_code(r.err);
    EXPECT_EQ(got, "reply");

    // Reading into an empty buffer returns 0 with no error.
    auto empty = a.read(buf, 0);
    EXPECT_EQ(empty.n, 0u);
    EXPECT_FALSE(empty.err) << describe_code(empty.err);
  });
}

TEST(NetEof, ReadFull) {
  goro::run([] {
    closer cl;
    {
      case_label label_("all there, in two writes");
      conn_pair p = connect_pair(cl);
      ASSERT_TRUE(p.client && p.server);
      EXPECT_FALSE(p.client.write("abc").err);
      auto rest = write_async(p.client, "defgh");
      std::string got(8, '\0');
      auto r = net::read_full(p.server, got.data(), got.size());
      EXPECT_EQ(r.n, 8u);
      EXPECT_FALSE(r.err) << describe_code(r.err);
      EXPECT_EQ(got, "abcdefgh");
      EXPECT_TRUE(recv_within<net::io_result>(rest).has_value());
    }
    {
      case_label label_("the peer closes part way");
      conn_pair p = connect_pair(cl);
      ASSERT_TRUE(p.client && p.server);
      EXPECT_FALSE(p.client.write("abc").err);
      EXPECT_FALSE(p.client.close_write());
      std::string got(10, '\0');
      auto r = net::read_full(p.server, got.data(), got.size());
      EXPECT_EQ(r.n, 3u);
      EXPECT_TRUE(is_error(r.err, net::errc::unexpected_eof));
      EXPECT_EQ(got.substr(0, 3), "abc");
    }
    {
      case_label label_("the peer closes before any byte");
      conn_pair p = connect_pair(cl);
      ASSERT_TRUE(p.client && p.server);
      EXPECT_FALSE(p.client.close());
      std::string got(10, '\0');
      auto r = net::read_full(p.server, got.data(), got.size());
      EXPECT_EQ(r.n, 0u);
      EXPECT_TRUE(is_error(r.err, net::errc::eof));
    }
  });
}

// ---- many connections, partial writes ----------------------------------------------

// 1000 clients connected at once (each has echoed one message before any goes
// on), then each echoes a few more. Both ends live in this process, so this
// needs two descriptors per connection.
TEST(NetStress, ThousandConcurrentConnections) {
  goro::run([] {
    const int wanted = static_cast<int>(scaled(1000));
    int n = wanted;

    // The default soft limit (1024) is too low: raise it toward the hard limit
    // (only as far as needed: some libraries loop over every possible fd).
    rlimit old{};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &old), 0);
    const rlim_t needed = static_cast<rlim_t>(2 * n + 128);
    rlimit raised = old;
    if (raised.rlim_cur != RLIM_INFINITY && raised.rlim_cur < needed) {
      raised.rlim_cur = (old.rlim_max == RLIM_INFINITY || old.rlim_max > needed) ? needed : old.rlim_max;
      if (::setrlimit(RLIMIT_NOFILE, &raised) != 0) raised = old;
    }
    at_exit restore{[old] { (void)::setrlimit(RLIMIT_NOFILE, &old); }};
    if (raised.rlim_cur != RLIM_INFINITY && raised.rlim_cur < needed) {
      const long spare = static_cast<long>(raised.rlim_cur) - 128;
      n = spare > 0 ? static_cast<int>(spare / 2) : 0;
      std::printf("[   NOTE   ] RLIMIT_NOFILE is %llu (hard %llu): %d connections instead of %d\n",
                  static_cast<unsigned long long>(raised.rlim_cur), static_cast<unsigned long long>(old.rlim_max), n,
                  wanted);
      std::fflush(stdout);
      if (n < 16) GTEST_SKIP() << "too few file descriptors for this test";
    }

    closer cl;
    auto ln = net::listen("tcp", "127.0.0.1:0");
    ASSERT_TRUE(ln) << ln.error().message();
    net::listener l = cl.add(*ln);
    auto accepted = std::make_shared<std::atomic<int>>(0);
    auto finished = start_echo(l, long_limit, accepted);

    const std::string addr = l.addr();
    auto connected = goro::make_chan<int>(static_cast<std::size_t>(n));
    auto done = goro::make_chan<int>(static_cast<std::size_t>(n));
    auto release = goro::make_chan<int>();
    auto echoed = std::make_shared<std::atomic<int>>(0);
    for (int i = 0; i < n; ++i) {
      goro::go([i, addr, connected, done, release, echoed] {
        auto dialed = net::dial("tcp", addr);
        if (!dialed) {
          ADD_FAILURE() << "client " << i << ": dial: " << dialed.error().message();
          connected.send(0);
          done.send(0);
          return;
        }
        net::conn c = *dialed;
        (void)c.set_deadline(goro::clock::now() + long_limit);
        auto msg = [i](int k) { return "client " + std::to_string(i) + " message " + std::to_string(k) + "\n"; };
        if (echo_once(c, msg(0))) echoed->fetch_add(1);
        connected.send(1);
        goro::timer give_up(long_limit);
        if (goro::select(release.on_recv(), give_up.c().on_recv()) != 0) {
          ADD_FAILURE() << "client " << i << ": never released";
        }
        give_up.stop();
        for (int k = 1; k < messages_per_client; ++k) {
          if (!echo_once(c, msg(k))) break;
          echoed->fetch_add(1);
        }
        (void)c.close();
        done.send(1);
      });
    }
    ASSERT_TRUE(wait_for(connected, n, long_limit));
    EXPECT_EQ(accepted->load(), n) << "connections the server accepted while all " << n << " were open";
    release.close();
    ASSERT_TRUE(wait_for(done, n, long_limit));
    EXPECT_EQ(echoed->load(), n * messages_per_client);
    EXPECT_FALSE(l.close());
    EXPECT_TRUE(wait_for(finished, 1, long_limit)) << "the server's connection goroutines did not all end";
  });
}

// A write larger than the socket buffers goes out in many pieces, parking in
// between, while the reader takes it slowly in small chunks: every byte
// arrives, in order, and the write reports all of it. Over Unix sockets both
// buffers of both ends are small; over TCP only the send buffers: a receive
// buffer shrunk after the handshake is smaller than the window already
// offered, so Linux drops segments and the test would wait on TCP's 200 ms
// retransmissions instead of exercising goro.
TEST(NetStress, PartialWritesUnderSmallBuffersArriveInOrder) {
  goro::run([] {
    for (std::string network : {"tcp", "unix"}) {
      case_label label_(network);
      closer cl;
      const bool tcp = network == "tcp";
      conn_pair p = connect_pair(cl, network, tcp ? "127.0.0.1:0" : abstract_name("partial"));
      ASSERT_TRUE(p.client && p.server);
      shrink_buffers(p.client, 4096, tcp, !tcp);
      shrink_buffers(p.server, 4096, tcp, !tcp);
      auto deadline = goro::clock::now() + long_limit;
      (void)p.client.set_deadline(deadline);
      (void)p.server.set_deadline(deadline);

      const auto size = static_cast<std::size_t>(scaled(4 << 20));
      auto wrote = write_async(p.client, pattern(size));

      // The reader: chunks of 1 to 1000 bytes, yielding now and then.
      auto checked = goro::make_chan<std::string>(1);  // "" or what went wrong
      goro::go([b = p.server, size, checked]() mutable {
        std::vector<char> buf(1000);
        std::size_t off = 0;
        for (std::size_t i = 0; off < size; ++i) {
          std::size_t want = std::min<std::size_t>(1 + (i * 37) % buf.size(), size - off);
          auto [n, err] = b.read(buf.data(), want);
          for (std::size_t k = 0; k < n; ++k) {
            if (static_cast<std::size_t>(static_cast<unsigned char>(buf[k])) != ((off + k) * 7) % 251) {
              checked.send("wrong byte at offset " + std::to_string(off + k));
              return;
            }
          }
          off += n;
          if (err && off < size) {
            checked.send("read failed after " + std::to_string(off) + " bytes: " + describe_code(err));
            return;
          }
          if (i % 16 == 0) goro::yield();
        }
        checked.send("");
      });

      auto w = recv_within<net::io_result>(wrote, long_limit);
      ASSERT_TRUE(w.has_value());
      EXPECT_EQ(w->n, size);
      EXPECT_FALSE(w->err) << describe_code(w->err);
      auto verdict = recv_within<std::string>(checked, long_limit);
      ASSERT_TRUE(verdict.has_value());
      EXPECT_EQ(*verdict, "");
    }
  });
}

// Writes from several goroutines on one conn, each larger than the socket
// buffer (so each goes out in pieces): no write's bytes interleave with
// another's.
TEST(NetStress, ConcurrentWritesDoNotInterleave) {
  goro::run([] {
    closer cl;
    conn_pair p = connect_pair(cl);
    ASSERT_TRUE(p.client && p.server);
    shrink_buffers(p.client, 16 << 10, true);
    constexpr int writers = 4;
    const int blocks = static_cast<int>(scaled(8));
    auto done = goro::make_chan<int>(writers);
    for (int w = 0; w < writers; ++w) {
      goro::go([c = p.client, w, blocks, done]() mutable {
        for (int k = 0; k < blocks; ++k) {
          // Every byte a writer writes is its tag.
          std::string data(write_block, static_cast<char>('A' + w));
          auto r = c.write(data);
          if (r.err || r.n != write_block) {
            ADD_FAILURE() << "writer " << w << ": n " << r.n << ", " << describe_code(r.err);
            break;
          }
        }
        done.send(1);
      });
    }
    std::string buf(write_block, '\0');
    for (int i = 0; i < writers * blocks; ++i) {
      auto r = net::read_full(p.server, buf.data(), buf.size());
      ASSERT_FALSE(r.err) << "block " << i << ": " << describe_code(r.err);
      auto other = std::find_if(buf.begin(), buf.end(), [&](char ch) { return ch != buf[0]; });
      ASSERT_TRUE(other == buf.end()) << "block " << i << " mixes two writes at byte " << (other - buf.begin());
    }
    EXPECT_TRUE(wait_for(done, writers));
  });
}

// ---- deadlines -----------------------------------------------------------------

TEST(NetDeadline, ReadDeadlineFires) {
  goro::run([] {
    closer cl;
    conn_pair p = connect_pair(cl);
    ASSERT_TRUE(p.client && p.server);
    net::conn b = p.server;
    const auto deadline = goro::clock::now() + 50ms;
    EXPECT_FALSE(b.set_read_deadline(deadline));
    char buf[16];
    auto r = b.read(buf);
    EXPECT_EQ(r.n, 0u);
    EXPECT_TRUE(is_error(r.err, net::errc::timeout));
    EXPECT_TRUE(r.err == std::errc::timed_out) << "net::errc::timeout should compare equal to std::errc::timed_out";
    EXPECT_FALSE(r);
    EXPECT_GE(goro::clock::now(), deadline) << "the read timed out before its deadline";
    // Until the deadline is moved, every read fails at once, data or not.
    EXPECT_FALSE(p.client.write("x").err);
    r = b.read(buf);
    EXPECT_TRUE(is_error(r.err, net::errc::timeout));
    // The write side has no deadline of its own: it still works.
    EXPECT_FALSE(b.write("y").err);
  });
}

TEST(NetDeadline, WriteDeadlineFiresOnAFullSocket) {
  goro::run([] {
    closer cl;
    conn_pair p = connect_pair(cl);
    ASSERT_TRUE(p.client && p.server);
    net::conn a = p.client;
    shrink_buffers(a, 4096, true);
    shrink_buffers(p.server, 4096, true);  // and the peer never reads
    const std::string data = pattern(8 << 20);
    const auto deadline = goro::clock::now() + 50ms;
    EXPECT_FALSE(a.set_write_deadline(deadline));
    auto w = a.write(data);
    EXPECT_LT(w.n, data.size());
    EXPECT_TRUE(is_error(w.err, net::errc::timeout));
    EXPECT_TRUE(w.err == std::errc::timed_out);
    EXPECT_GE(goro::clock::now(), deadline) << "the write timed out before its deadline";
    // The read side has no deadline of its own.
    EXPECT_FALSE(p.server.write("z").err);
    char buf[1];
    auto r = a.read(buf);
    EXPECT_EQ(r.n, 1u);
    EXPECT_FALSE(r.err) << describe_code(r.err);
  });
}

TEST(NetDeadline, AcceptDeadline) {
  goro::run([] {
    closer cl;
    auto ln = net::listen("tcp", "127.0.0.1:0");
    ASSERT_TRUE(ln) << ln.error().message();
    net::listener l = cl.add(*ln);
    const auto deadline = goro::clock::now() + 50ms;
    EXPECT_FALSE(l.set_deadline(deadline));
    auto a = l.accept();
    ASSERT_FALSE(a);
    EXPECT_TRUE(is_error(a.error(), net::errc::timeout));
    EXPECT_TRUE(a.error() == std::errc::timed_out);
    EXPECT_GE(goro::clock::now(), deadline) << "accept timed out before its deadline";

    // A connection is waiting, but a deadline in the past fails at once ...
    auto dialed = net::dial("tcp", l.addr());
    ASSERT_TRUE(dialed) << dialed.error().message();
    net::conn c = cl.add(*dialed);
    EXPECT_FALSE(l.set_deadline(goro::clock::now() - 1s));
    a = l.accept();
    ASSERT_FALSE(a);
    EXPECT_TRUE(is_error(a.error(), net::errc::timeout));
    // ... and with no deadline the waiting connection is accepted.
    EXPECT_FALSE(l.set_deadline(goro::clock::now() + wait_limit));
    EXPECT_FALSE(l.set_deadline(net::no_deadline));
    auto accepting = start_blocked([l]() mutable { return l.accept(); });
    auto got = recv_within<goro::result<net::conn, std::error_code>>(accepting);
    ASSERT_TRUE(got.has_value());
    ASSERT_TRUE(*got) << describe_code(got->error());
    net::conn s = cl.add(**got);
    EXPECT_EQ(s.remote_addr(), c.local_addr());
  });
}

TEST(NetDeadline, PastDeadlineFailsAtOnceAndNoDeadlineRestores) {
  goro::run([] {
    closer cl;
    conn_pair p = connect_pair(cl);
    ASSERT_TRUE(p.client && p.server);
    net::conn a = p.client;
    net::conn b = p.server;
    EXPECT_FALSE(a.write("data").err);
    // Data is waiting, but the deadline has passed: reads fail at once.
    EXPECT_FALSE(b.set_read_deadline(goro::clock::now() - 1s));
    char buf[16];
    auto r = b.read(buf);
    EXPECT_EQ(r.n, 0u);
    EXPECT_TRUE(is_error(r.err, net::errc::timeout));
    r = net::read_full(b, buf, 4);
    EXPECT_EQ(r.n, 0u);
    EXPECT_TRUE(is_error(r.err, net::errc::timeout));
    // set_deadline covers writes too.
    EXPECT_FALSE(b.set_deadline(goro::clock::now() - 1s));
    auto w = b.write("no");
    EXPECT_EQ(w.n, 0u);
    EXPECT_TRUE(is_error(w.err, net::errc::timeout));

    // Moved to no deadline: the data is read, and writes go out.
    EXPECT_FALSE(b.set_deadline(net::no_deadline));
    auto reading = start_blocked([b]() mutable {
      char small[4];
      auto res = net::read_full(b, small, sizeof small);
      return std::make_pair(res, std::string(small, res.n));
    });
    auto got = recv_within<std::pair<net::io_result, std::string>>(reading);
    ASSERT_TRUE(got.has_value());
    EXPECT_FALSE(got->first.err) << describe_code(got->first.err);
    EXPECT_EQ(got->second, "data");
    EXPECT_EQ(b.write("ok").n, 2u);
  });
}

// A read blocked with no deadline returns once another goroutine gives it one.
TEST(NetDeadline, NewDeadlineWakesABlockedRead) {
  goro::run([] {
    for (bool past : {true, false}) {
      case_label label_(past ? "deadline in the past" : "deadline 20 ms away");
      closer cl;
      conn_pair p = connect_pair(cl);
      ASSERT_TRUE(p.client && p.server);
      net::conn b = p.server;
      EXPECT_FALSE(b.set_read_deadline(net::no_deadline));
      auto reading = start_blocked([b]() mutable {
        char buf[16];
        return b.read(buf);
      });
      EXPECT_FALSE(ready_now(reading)) << "a read returned with nothing to read and no deadline";
      auto setter = goro::make_chan<int>(1);
      goro::go([b, past, setter]() mutable {
        EXPECT_FALSE(b.set_read_deadline(past ? goro::clock::now() - 1s : goro::clock::now() + 20ms));
        setter.send(1);
      });
      EXPECT_TRUE(wait_for(setter, 1));
      auto r = recv_within<net::io_result>(reading);
      ASSERT_TRUE(r.has_value()) << "the new deadline did not wake the blocked read";
      EXPECT_EQ(r->n, 0u);
      EXPECT_TRUE(is_error(r->err, net::errc::timeout));
    }
  });
}

// A read blocked with a deadline 300 ms away, moved to no deadline: the old
// deadline passes and the read goes on waiting, then gets data.
TEST(NetDeadline, RemovedDeadlineKeepsABlockedReadWaiting) {
  goro::run([] {
    closer cl;
    conn_pair p = connect_pair(cl);
    ASSERT_TRUE(p.client && p.server);
    net::conn b = p.server;
    const auto first = goro::clock::now() + 300ms;
    EXPECT_FALSE(b.set_read_deadline(first));
    auto reading = start_blocked([b]() mutable {
      char buf[16];
      return b.read(buf);
    });
    EXPECT_FALSE(b.set_read_deadline(net::no_deadline));
    if (goro::clock::now() > first - 100ms) {
      GTEST_SKIP() << "the machine is too slow to move the deadline well before it passed";
    }
    goro::sleep(first + 100ms - goro::clock::now());  // let the old deadline pass: that is what is tested
    EXPECT_FALSE(ready_now(reading)) << "the read returned at the deadline it no longer had";
    EXPECT_FALSE(p.client.write("late").err);
    auto r = recv_within<net::io_result>(reading);
    ASSERT_TRUE(r.has_value());
    EXPECT_FALSE(r->err) << describe_code(r->err);
    EXPECT_GT(r->n, 0u);
  });
}

// ---- cancel through a context ------------------------------------------------------

TEST(NetCancel, DialWithADoneContextReturnsItsError) {
  goro::run([] {
    closer cl;
    auto ln = net::listen("tcp", "127.0.0.1:0");
    ASSERT_TRUE(ln) << ln.error().message();
    net::listener l = cl.add(*ln);
    {
      auto [ctx, cancel] = goro::with_cancel(goro::background());
      cancel();
      auto d = net::dial(ctx, "tcp", l.addr());
      if (d) cl.add(*d);
      EXPECT_FALSE(d) << "dial with a cancelled context connected";
      EXPECT_TRUE(is_error(d.error(), goro::errc::canceled));
      EXPECT_TRUE(d.error() == std::errc::operation_canceled);
    }
    {
      auto [ctx, cancel] = goro::with_deadline(goro::background(), goro::clock::now() - 1s);
      auto d = net::dial(ctx, "tcp", l.addr());
      if (d) cl.add(*d);
      EXPECT_FALSE(d) << "dial with an expired context connected";
      EXPECT_TRUE(is_error(d.error(), goro::errc::deadline_exceeded));
      cancel();
    }
    {  // A context that is not done does not get in the way.
      auto [ctx, cancel] = goro::with_timeout(goro::background(), wait_limit);
      auto d = net::dial(ctx, "tcp", l.addr());
      cancel();
      ASSERT_TRUE(d) << d.error().message();
      cl.add(*d);
      // Cancelling after dial returned leaves the connection alone.
      EXPECT_FALSE(d->write("still connected").err);
    }
  });
}

// Go's idiom for cancelling a blocked read: context.AfterFunc sets a deadline
// in the past (or closes the conn) when the context is cancelled.
TEST(NetCancel, AfterFuncWakesABlockedReadWhenTheContextIsCancelled) {
  goro::run([] {
    for (bool by_close : {false, true}) {
      case_label label_(by_close ? "after_func closes the conn" : "after_func sets a past read deadline");
      closer cl;
      conn_pair p = connect_pair(cl);
      ASSERT_TRUE(p.client && p.server);
      net::conn b = p.server;
      EXPECT_FALSE(b.set_read_deadline(net::no_deadline));  // only the context can end the read
      auto cancellable = goro::with_cancel(goro::background());
      goro::context ctx = cancellable.first;
      goro::cancel_func cancel = cancellable.second;
      auto stop = goro::after_func(ctx, [b, by_close]() mutable {
        if (by_close) {
          (void)b.close();
        } else {
          (void)b.set_read_deadline(goro::clock::now() - 1s);
        }
      });
      auto reading = start_blocked([b]() mutable {
        char buf[16];
        return b.read(buf);
      });
      EXPECT_FALSE(ready_now(reading));
      cancel();
      auto r = recv_within<net::io_result>(reading);
      ASSERT_TRUE(r.has_value()) << "cancelling the context did not wake the read";
      EXPECT_EQ(r->n, 0u);
      EXPECT_TRUE(is_error(r->err, by_close ? net::errc::closed : net::errc::timeout));
      EXPECT_TRUE(is_error(ctx.err(), goro::errc::canceled));
      EXPECT_FALSE(stop()) << "after_func had already started f";
    }
  });
}

// A context with a timeout ends a read the same way.
TEST(NetCancel, AfterFuncOnATimeoutContext) {
  goro::run([] {
    closer cl;
    conn_pair p = connect_pair(cl);
    ASSERT_TRUE(p.client && p.server);
    net::conn b = p.server;
    EXPECT_FALSE(b.set_read_deadline(net::no_deadline));
    auto [ctx, cancel] = goro::with_timeout(goro::background(), 30ms);
    auto stop = goro::after_func(ctx, [b]() mutable { (void)b.set_read_deadline(goro::clock::now() - 1s); });
    auto reading = start_blocked([b]() mutable {
      char buf[16];
      return b.read(buf);
    });
    auto r = recv_within<net::io_result>(reading);
    ASSERT_TRUE(r.has_value());
    EXPECT_TRUE(is_error(r->err, net::errc::timeout));
    EXPECT_TRUE(is_error(ctx.err(), goro::errc::deadline_exceeded));
    cancel();
    (void)stop();
  });
}

// ---- close -------------------------------------------------------------------------

TEST(NetClose, CloseWakesABlockedRead) {
  goro::run([] {
    closer cl;
    conn_pair p = connect_pair(cl);
    ASSERT_TRUE(p.client && p.server);
    net::conn b = p.server;
    EXPECT_FALSE(b.set_read_deadline(net::no_deadline));
    auto reading = start_blocked([b]() mutable {
      char buf[16];
      return b.read(buf);
    });
    EXPECT_FALSE(ready_now(reading));
    EXPECT_FALSE(b.close());
    auto r = recv_within<net::io_result>(reading);
    ASSERT_TRUE(r.has_value()) << "close did not wake the blocked read";
    EXPECT_EQ(r->n, 0u);
    EXPECT_TRUE(is_error(r->err, net::errc::closed));
    // The peer sees the close as EOF.
    char buf[4];
    auto eof = p.client.read(buf);
    EXPECT_TRUE(is_error(eof.err, net::errc::eof));
  });
}

TEST(NetClose, CloseWakesABlockedWrite) {
  goro::run([] {
    closer cl;
    conn_pair p = connect_pair(cl);
    ASSERT_TRUE(p.client && p.server);
    net::conn a = p.client;
    shrink_buffers(a, 4096, true);
    shrink_buffers(p.server, 4096, true);  // the peer never reads
    EXPECT_FALSE(a.set_write_deadline(net::no_deadline));
    const auto size = std::size_t{8} << 20;
    auto writing = start_blocked([a, size]() mutable { return a.write(pattern(size)); });
    EXPECT_FALSE(ready_now(writing)) << "an 8 MiB write to a peer that does not read completed";
    EXPECT_FALSE(a.close());
    auto w = recv_within<net::io_result>(writing);
    ASSERT_TRUE(w.has_value()) << "close did not wake the blocked write";
    EXPECT_LT(w->n, size);
    EXPECT_TRUE(is_error(w->err, net::errc::closed));
  });
}

TEST(NetClose, CloseWakesABlockedAccept) {
  goro::run([] {
    closer cl;
    auto ln = net::listen("tcp", "127.0.0.1:0");
    ASSERT_TRUE(ln) << ln.error().message();
    net::listener l = cl.add(*ln);
    EXPECT_TRUE(l);
    EXPECT_GE(l.native_handle(), 0);
    auto accepting = start_blocked([l]() mutable { return l.accept(); });
    EXPECT_FALSE(ready_now(accepting));
    EXPECT_FALSE(l.close());
    auto a = recv_within<goro::result<net::conn, std::error_code>>(accepting);
    ASSERT_TRUE(a.has_value()) << "close did not wake the blocked accept";
    ASSERT_FALSE(*a);
    EXPECT_TRUE(is_error(a->error(), net::errc::closed));
    // Later accepts, and a second close, report closed too.
    auto again = l.accept();
    ASSERT_FALSE(again);
    EXPECT_TRUE(is_error(again.error(), net::errc::closed));
    EXPECT_TRUE(is_error(l.close(), net::errc::closed));
  });
}

TEST(NetClose, AfterCloseEverythingFailsWithClosed) {
  goro::run([] {
    closer cl;
    conn_pair p = connect_pair(cl);
    ASSERT_TRUE(p.client && p.server);
    net::conn a = p.client;
    net::conn copy = a;  // copies share the socket
    EXPECT_FALSE(a.close());
    EXPECT_TRUE(is_error(a.close(), net::errc::closed)) << "second close";
    EXPECT_TRUE(is_error(copy.close(), net::errc::closed)) << "close through a copy";
    char buf[4];
    EXPECT_TRUE(is_error(copy.read(buf).err, net::errc::closed));
    auto w = copy.write("x");
    EXPECT_EQ(w.n, 0u);
    EXPECT_TRUE(is_error(w.err, net::errc::closed));
    EXPECT_TRUE(is_error(copy.set_deadline(goro::clock::now() + 1s), net::errc::closed));
    EXPECT_TRUE(is_error(copy.close_write(), net::errc::closed));
    EXPECT_EQ(copy.local_addr(), "");
    EXPECT_EQ(copy.remote_addr(), "");
  });
}

TEST(NetClose, DefaultConstructedHandlesFailWithClosed) {
  goro::run([] {
    net::conn c;
    EXPECT_FALSE(c);
    EXPECT_EQ(c.native_handle(), -1);
    char buf[4];
    auto r = c.read(buf);
    EXPECT_EQ(r.n, 0u);
    EXPECT_TRUE(is_error(r.err, net::errc::closed));
    auto w = c.write("x");
    EXPECT_EQ(w.n, 0u);
    EXPECT_TRUE(is_error(w.err, net::errc::closed));
    EXPECT_TRUE(is_error(net::read_full(c, buf, sizeof buf).err, net::errc::closed));
    EXPECT_TRUE(is_error(c.close(), net::errc::closed));
    EXPECT_TRUE(is_error(c.close_write(), net::errc::closed));
    EXPECT_TRUE(is_error(c.close_read(), net::errc::closed));
    EXPECT_TRUE(is_error(c.set_deadline(goro::clock::now()), net::errc::closed));
    EXPECT_TRUE(is_error(c.set_read_deadline(goro::clock::now()), net::errc::closed));
    EXPECT_TRUE(is_error(c.set_write_deadline(goro::clock::now()), net::errc::closed));
    EXPECT_EQ(c.local_addr(), "");
    EXPECT_EQ(c.remote_addr(), "");

    net::listener l;
    EXPECT_FALSE(l);
    EXPECT_EQ(l.native_handle(), -1);
    auto a = l.accept();
    ASSERT_FALSE(a);
    EXPECT_TRUE(is_error(a.error(), net::errc::closed));
    EXPECT_TRUE(is_error(l.close(), net::errc::closed));
    EXPECT_TRUE(is_error(l.set_deadline(goro::clock::now()), net::errc::closed));
    EXPECT_EQ(l.addr(), "");
  });
}

// ---- errors ------------------------------------------------------------------------

// SO_LINGER {1, 0} makes close send a RST: the peer's read fails with
// connection_reset (or, depending on timing, sees EOF), and writing to the
// reset connection returns an error; it does not kill the process with
// SIGPIPE.
TEST(NetErrors, PeerReset) {
  goro::run([] {
    closer cl;
    conn_pair p = connect_pair(cl);
    ASSERT_TRUE(p.client && p.server);
    net::conn b = p.server;
    ::linger lg{};
    lg.l_onoff = 1;
    lg.l_linger = 0;
    ASSERT_EQ(::setsockopt(p.client.native_handle(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0)
        << std::system_category().message(errno);
    EXPECT_FALSE(p.client.close());
    char buf[16];
    auto r = b.read(buf);
    EXPECT_EQ(r.n, 0u);
    EXPECT_TRUE(is_either(r.err, std::errc::connection_reset, net::errc::eof));

    net::io_result w;
    for (int i = 0; i < 100 && !w.err; ++i) w = b.write("after the reset");
    EXPECT_TRUE(is_either(w.err, std::errc::broken_pipe, std::errc::connection_reset));
  });
}

TEST(NetErrors, ListenErrors) {
  goro::run([] {
    closer cl;
    auto ln = net::listen("tcp", "127.0.0.1:0");
    ASSERT_TRUE(ln) << ln.error().message();
    net::listener l = cl.add(*ln);

    auto again = net::listen("tcp", l.addr());
    if (again) cl.add(*again);
    EXPECT_FALSE(again) << "two listeners on " << l.addr();
    EXPECT_TRUE(is_error(again.error(), std::errc::address_in_use));

    auto udp = net::listen("udp", "127.0.0.1:0");
    EXPECT_FALSE(udp);
    EXPECT_TRUE(is_error(udp.error(), net::errc::unknown_network));

    auto no_port = net::listen("tcp", "127.0.0.1");
    EXPECT_FALSE(no_port);
    EXPECT_TRUE(is_error(no_port.error(), net::errc::bad_address));

    auto bad_port = net::listen("tcp", "127.0.0.1:99999");
    EXPECT_FALSE(bad_port);
    EXPECT_TRUE(is_error(bad_port.error(), net::errc::bad_address));
  });
}

TEST(NetErrors, DialErrors) {
  goro::run([] {
    // A port nobody listens on (any more).
    auto ln = net::listen("tcp", "127.0.0.1:0");
    ASSERT_TRUE(ln) << ln.error().message();
    const std::string addr = ln->addr();
    EXPECT_FALSE(ln->close());
    auto refused = net::dial("tcp", addr);
    EXPECT_FALSE(refused);
    EXPECT_TRUE(is_error(refused.error(), std::errc::connection_refused));

    auto udp = net::dial("udp", addr);
    EXPECT_FALSE(udp);
    EXPECT_TRUE(is_error(udp.error(), net::errc::unknown_network));

    auto no_port = net::dial("tcp", "127.0.0.1");
    EXPECT_FALSE(no_port);
    EXPECT_TRUE(is_error(no_port.error(), net::errc::bad_address));

    auto no_file = net::dial("unix", "/nonexistent-goro-test-dir/sock");
    EXPECT_FALSE(no_file);
    EXPECT_TRUE(is_error(no_file.error(), std::errc::no_such_file_or_directory));

    // Asking a failed result for its value throws the error.
    try {
      (void)net::dial("tcp", addr).value();
      ADD_FAILURE() << "value() of a failed dial did not throw";
    } catch (const std::system_error& e) {
      EXPECT_TRUE(is_error(e.code(), std::errc::connection_refused));
    }
  });
}

// ---- plain OS threads ------------------------------------------------------------

// From a thread that is not a goroutine the same calls block the thread.
TEST(NetThread, PlainThreadDialsWritesAndReads) {
  goro::run([] {
    closer cl;
    auto ln = net::listen("tcp", "127.0.0.1:0");
    ASSERT_TRUE(ln) << ln.error().message();
    net::listener l = cl.add(*ln);
    auto finished = start_echo(l);
    auto got = goro::make_chan<std::string>(1);
    bounded_thread t([addr = l.addr(), got] {
      auto dialed = net::dial("tcp", addr);
      if (!dialed) {
        got.send("dial: " + dialed.error().message());
        return;
      }
      net::conn c = *dialed;
      (void)c.set_deadline(goro::clock::now() + wait_limit);
      const std::string msg = "from a plain thread";
      auto w = c.write(msg);
      std::string back(msg.size(), '\0');
      auto r = net::read_full(c, back.data(), back.size());
      (void)c.close();
      if (w.err || r.err) {
        got.send("write: " + describe_code(w.err) + ", read: " + describe_code(r.err));
        return;
      }
      got.send(back);
    });
    EXPECT_EQ(recv_within<std::string>(got), "from a plain thread");
    t.join();
    EXPECT_FALSE(l.close());
    EXPECT_TRUE(wait_for(finished, 1));
  });
}

// A thread's read times out at its deadline, and a thread blocked in read
// is woken by a goroutine's close.
TEST(NetThread, PlainThreadReadDeadlineAndClose) {
  goro::run([] {
    closer cl;
    conn_pair p = connect_pair(cl);
    ASSERT_TRUE(p.client && p.server);
    net::conn b = p.server;
    auto timed_out = goro::make_chan<net::io_result>(1);
    auto reading = goro::make_chan<int>(1);
    auto closed = goro::make_chan<net::io_result>(1);
    bounded_thread t([b, timed_out, reading, closed]() mutable {
      char buf[16];
      (void)b.set_read_deadline(goro::clock::now() + 50ms);
      timed_out.send(b.read(buf));
      (void)b.set_read_deadline(net::no_deadline);
      reading.send(1);
      closed.send(b.read(buf));
    });
    closer close_before_join;  // destroyed before t: a thread still blocked in read returns
    close_before_join.add(b);
    auto r1 = recv_within<net::io_result>(timed_out);
    ASSERT_TRUE(r1.has_value());
    EXPECT_TRUE(is_error(r1->err, net::errc::timeout));
    ASSERT_TRUE(recv_within<int>(reading).has_value());
    give_a_chance();
    EXPECT_FALSE(ready_now(closed));
    EXPECT_FALSE(b.close());
    auto r2 = recv_within<net::io_result>(closed);
    ASSERT_TRUE(r2.has_value()) << "close did not wake the thread blocked in read";
    EXPECT_TRUE(is_error(r2->err, net::errc::closed));
    t.join();
  });
}

// ---- goro::blocking ------------------------------------------------------------------

TEST(Blocking, ReturnsWhatTheFunctionReturns) {
  goro::run([] {
    EXPECT_EQ(goro::blocking([] { return 42; }), 42);
    auto p = goro::blocking([] { return std::make_unique<std::string>("move-only"); });
    ASSERT_TRUE(p);
    EXPECT_EQ(*p, "move-only");
    int x = 1;
    int& ref = goro::blocking([&x]() -> int& { return x; });
    EXPECT_EQ(&ref, &x);
    // A named (lvalue) function object with state.
    int calls = 0;
    auto counter = [&calls] { return ++calls; };
    EXPECT_EQ(goro::blocking(counter), 1);
    EXPECT_EQ(goro::blocking(counter), 2);
  });
}

TEST(Blocking, RethrowsTheException) {
  goro::run([] {
    try {
      (void)goro::blocking([]() -> int { throw std::runtime_error("from the blocking pool"); });
      ADD_FAILURE() << "no exception";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "from the blocking pool");
    }
    EXPECT_THROW(goro::blocking([] { throw 7; }), int);
    // The goroutine goes on normally afterwards.
    EXPECT_EQ(goro::blocking([] { return 3; }), 3);
  });
}

TEST(Blocking, VoidFunction) {
  goro::run([] {
    bool ran = false;
    goro::blocking([&ran] { ran = true; });
    EXPECT_TRUE(ran);
  });
}

// From a goroutine, f runs on a thread of the blocking pool, not the
// goroutine's: the goroutine parks while f runs.
TEST(Blocking, RunsOffTheGoroutinesThread) {
  goro::run([] {
    auto caller = std::this_thread::get_id();
    auto [thread, goroutine] =
        goro::blocking([] { return std::make_pair(std::this_thread::get_id(), goro::this_goroutine::id()); });
    EXPECT_NE(thread, caller);
    EXPECT_EQ(goroutine, 0u) << "f ran on a goroutine";
  });
}

// From a plain thread, blocking just calls f there.
TEST(Blocking, FromAPlainThreadRunsRightThere) {
  auto result = goro::make_chan<int>(1);
  bounded_thread t([result] {
    auto self = std::this_thread::get_id();
    bool same = goro::blocking([self] { return std::this_thread::get_id() == self; });
    int v = goro::blocking([] { return 5; });
    bool threw = false;
    try {
      goro::blocking([] { throw std::runtime_error("x"); });
    } catch (const std::runtime_error&) {
      threw = true;
    }
    result.send(same && threw ? v : -1);
  });
  EXPECT_EQ(recv_within<int>(result), 5);
  t.join();
}

// While four goroutines are in blocking calls that hold their threads, other
// goroutines keep running: a goroutine counting yields makes progress, and
// only then lets the blocking calls return. If blocking() held processors,
// at gomaxprocs 1 or 2 the counter could not run and the calls would give up
// at their time limit.
TEST(Blocking, OtherGoroutinesRunMeanwhile) {
  goro::run([] {
    auto inside = std::make_shared<std::atomic<int>>(0);
    auto released = std::make_shared<std::atomic<bool>>(false);
    auto returned = std::make_shared<std::atomic<int>>(0);
    auto done = goro::make_chan<int>(blocking_callers + 1);
    for (int i = 0; i < blocking_callers; ++i) {
      goro::go([inside, released, returned, done] {
        bool was_released = goro::blocking([inside, released] {
          inside->fetch_add(1);
          auto give_up = std::chrono::steady_clock::now() + wait_limit;
          while (!released->load() && std::chrono::steady_clock::now() < give_up) {
            std::this_thread::sleep_for(1ms);  // a thread-blocking call
          }
          return released->load();
        });
        EXPECT_TRUE(was_released) << "nothing released the blocking call: goroutines did not run meanwhile";
        returned->fetch_add(1);
        done.send(1);
      });
    }
    goro::go([inside, released, returned, done] {
      auto give_up = std::chrono::steady_clock::now() + wait_limit;
      while (inside->load() < blocking_callers && std::chrono::steady_clock::now() < give_up) goro::yield();
      EXPECT_EQ(inside->load(), blocking_callers)
          << "not all " << blocking_callers << " calls were inside blocking() at once";
      // Progress while all of them are in flight (none can return before
      // `released`): a thousand turns of this goroutine.
      for (int i = 0; i < 1000; ++i) goro::yield();
      EXPECT_EQ(returned->load(), 0) << "a blocking call returned before it was released";
      released->store(true);
      done.send(1);
    });
    EXPECT_TRUE(wait_for(done, blocking_callers + 1, 2 * wait_limit));
    EXPECT_EQ(returned->load(), blocking_callers);
  });
}

TEST(Blocking, ManyConcurrentCallsAllComplete) {
  goro::run([] {
    const int n = static_cast<int>(scaled(64, 32));
    auto sum = std::make_shared<std::atomic<long>>(0);
    auto done = goro::make_chan<int>(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
      goro::go([i, sum, done] {
        int v = goro::blocking([i] {
          std::this_thread::sleep_for(10ms);
          return i;
        });
        sum->fetch_add(v);
        done.send(1);
      });
    }
    EXPECT_TRUE(wait_for(done, n, 3 * wait_limit));
    EXPECT_EQ(sum->load(), static_cast<long>(n) * (n - 1) / 2);
  });
}

}  // namespace
