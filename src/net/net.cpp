// src/net/net.cpp: goro::net's sockets, on the netpoller (runtime/netpoll.hpp).
//
// A net_socket is shared by every conn or listener handle that names it.
// Closing races with I/O calls in other goroutines and threads, as in Go's
// fdMutex, through one atomic word `state`: bit 31 closing, bits 0..30 the
// number of I/O calls in progress. A call increments the count unless
// closing is set; close() sets closing, evicts the poll descriptor (waking
// every blocked call with `closed`), and waits until the count drops to zero
// before it closes the fd, so no call can use an fd number that was closed
// and reused. The poll descriptor is recycled only when the last handle
// goes: a dial's context callback may still name it after close().
//
// read_mu and write_mu (goro::mutex) make concurrent reads, and concurrent
// writes, on one socket take turns: a write is never interleaved with
// another, and each side of the poll descriptor has at most one waiter.
#include "goro/net.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "goro/detail/sync_core.hpp"
#include "goro/sync.hpp"
#include "runtime/netpoll.hpp"
#include "runtime/park.hpp"

namespace goro {

namespace net {

namespace {

class net_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "goro.net"; }
  std::string message(int c) const override {
    switch (static_cast<errc>(c)) {
      case errc::eof: return "EOF";
      case errc::unexpected_eof: return "unexpected EOF";
      case errc::closed: return "use of closed network connection";
      case errc::timeout: return "i/o timeout";
      case errc::bad_address: return "bad address";
      case errc::unknown_network: return "unknown network";
    }
    return "goro.net error";
  }
  std::error_condition default_error_condition(int c) const noexcept override {
    if (static_cast<errc>(c) == errc::timeout) return std::make_error_condition(std::errc::timed_out);
    return std::error_condition(c, *this);
  }
};

}  // namespace

const std::error_category& net_category() noexcept {
  static const net_category_impl c;
  return c;
}

}  // namespace net

namespace detail {

using net::errc;

namespace {

std::error_code sys_error(int e) noexcept { return std::error_code(e, std::system_category()); }

std::error_code poll_error(poll_result r) noexcept {
  return r == poll_result::closed ? make_error_code(errc::closed) : make_error_code(errc::timeout);
}

}  // namespace

struct net_socket {
  static constexpr std::uint32_t closing = 1u << 31;

  int fd;
  poll_desc* pd;
  std::string unlink_path;  // a unix listener's socket file, removed on close
  std::atomic<std::uint32_t> state{0};
  sema close_sema;  // the last call to finish after close() releases the closer
  mutex read_mu, write_mu;

  net_socket(int f, poll_desc* p) noexcept : fd(f), pd(p) {}
  net_socket(const net_socket&) = delete;
  net_socket& operator=(const net_socket&) = delete;
  ~net_socket() {
    if ((state.load(std::memory_order_acquire) & closing) == 0) close_fd();
    netpoll_free(pd);
  }

  // Starts an I/O call; false once closing.
  bool enter() noexcept {
    std::uint32_t s = state.load(std::memory_order_relaxed);
    do {
      if (s & closing) return false;
    } while (!state.compare_exchange_weak(s, s + 1, std::memory_order_acquire, std::memory_order_relaxed));
    return true;
  }
  void leave() noexcept {
    if (state.fetch_sub(1, std::memory_order_acq_rel) - 1 == closing) sema_release(&close_sema, false);
  }

  std::error_code close() noexcept {
    std::uint32_t s = state.fetch_or(closing, std::memory_order_acq_rel);
    if (s & closing) return make_error_code(errc::closed);
    netpoll_evict(pd);                                // blocked calls return `closed`
    if (s != 0) sema_acquire(&close_sema, false, wait_reason::io_wait);  // and leave; the last one lets us go on
    return close_fd();
  }

  std::error_code close_fd() noexcept {
    netpoll_close(pd);
    std::error_code ec;
    if (::close(fd) != 0 && errno_now() != EINTR) ec = sys_error(errno_now());
    fd = -1;
    if (!unlink_path.empty()) ::unlink(unlink_path.c_str());
    return ec;
  }
};

namespace {

// An I/O call's hold on a socket (enter/leave).
class call_guard {
 public:
  explicit call_guard(net_socket* s) noexcept : s_(s != nullptr && s->enter() ? s : nullptr) {}
  ~call_guard() {
    if (s_ != nullptr) s_->leave();
  }
  call_guard(const call_guard&) = delete;
  call_guard& operator=(const call_guard&) = delete;
  explicit operator bool() const noexcept { return s_ != nullptr; }

 private:
  net_socket* s_;
};

std::int64_t to_nanotime(time_point t) noexcept {
  if (t == net::no_deadline) return 0;
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  return ns <= 0 ? 1 : ns;  // a deadline at or before the clock's start has passed
}

std::error_code set_deadline(net_socket* s, time_point t, poll_mode mode) noexcept {
  call_guard g(s);
  if (!g) return make_error_code(errc::closed);
  netpoll_set_deadline(s->pd, to_nanotime(t), mode);
  return {};
}

// Wraps fd in a socket registered with the poller; closes fd on failure.
result<std::shared_ptr<net_socket>, std::error_code> make_socket(int fd) {
  poll_desc* pd = netpoll_open(fd);
  if (pd == nullptr) {
    int e = errno_now();
    ::close(fd);
    return result<std::shared_ptr<net_socket>, std::error_code>::fail(sys_error(e));
  }
  try {
    return result<std::shared_ptr<net_socket>, std::error_code>::ok(std::make_shared<net_socket>(fd, pd));
  } catch (...) {
    netpoll_evict(pd);
    netpoll_close(pd);
    netpoll_free(pd);
    ::close(fd);
    throw;
  }
}

// ---- addresses -----------------------------------------------------------------

enum class net_kind { tcp, tcp4, tcp6, unix_stream };

bool parse_network(std::string_view n, net_kind& k) noexcept {
  if (n == "tcp") {
    k = net_kind::tcp;
  } else if (n == "tcp4") {
    k = net_kind::tcp4;
  } else if (n == "tcp6") {
    k = net_kind::tcp6;
  } else if (n == "unix") {
    k = net_kind::unix_stream;
  } else {
    return false;
  }
  return true;
}

struct sock_addr {
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family() const noexcept { return ss.ss_family; }
};

std::string format_addr(const sockaddr_storage& ss, socklen_t len) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    const auto& a = reinterpret_cast<const sockaddr_in&>(ss);
    inet_ntop(AF_INET, &a.sin_addr, buf, sizeof buf);
    return std::string(buf) + ":" + std::to_string(ntohs(a.sin_port));
  }
  if (ss.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(ss);
    inet_ntop(AF_INET6, &a.sin6_addr, buf, sizeof buf);
    // Appended, not "[" + ...: g++ 12's -Wrestrict misfires on operator+(const char*, string&&).
    std::string out = "[";
    out.append(buf).append("]:").append(std::to_string(ntohs(a.sin6_port)));
    return out;
  }
  if (ss.ss_family == AF_UNIX) {
    const auto& a = reinterpret_cast<const sockaddr_un&>(ss);
    std::size_t n = len > offsetof(sockaddr_un, sun_path) ? len - offsetof(sockaddr_un, sun_path) : 0;
    if (n == 0) return "";
    if (a.sun_path[0] == '\0') return std::string("@").append(a.sun_path + 1, n - 1);  // abstract
    return std::string(a.sun_path, strnlen(a.sun_path, n));
  }
  return "";
}

bool unix_addr(std::string_view path, sock_addr& out) noexcept {
  auto& a = reinterpret_cast<sockaddr_un&>(out.ss);
  a.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof a.sun_path) return false;
  std::memcpy(a.sun_path, path.data(), path.size());
  if (path[0] == '@') {
    a.sun_path[0] = '\0';  // Linux's abstract namespace: no file, no terminating NUL
    out.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
  } else {
    a.sun_path[path.size()] = '\0';
    out.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  }
  return true;
}

// Splits "host:port" / "[v6]:port"; false if malformed.
bool split_host_port(std::string_view a, std::string& host, std::uint16_t& port) {
  std::size_t colon = a.rfind(':');
  if (colon == std::string_view::npos) return false;
  std::string_view h = a.substr(0, colon);
  std::string_view p = a.substr(colon + 1);
  if (!h.empty() && h.front() == '[') {
    if (h.back() != ']') return false;
    h = h.substr(1, h.size() - 2);
  } else if (h.find(':') != std::string_view::npos) {
    return false;  // an IPv6 literal needs brackets
  }
  unsigned v = 0;
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
  if (p.empty() || ec != std::errc{} || end != p.data() + p.size() || v > 65535) return false;
  host.assign(h);
  port = static_cast<std::uint16_t>(v);
  return true;
}

bool family_ok(net_kind k, int family) noexcept {
  return (k == net_kind::tcp) || (k == net_kind::tcp4 && family == AF_INET) || (k == net_kind::tcp6 && family == AF_INET6);
}

// The addresses host:port stands for, in the order to try them. An empty
// host: the wildcard (listen) or the loopback (dial), as in Go.
result<std::vector<sock_addr>, std::error_code> resolve(net_kind k, std::string_view address, bool passive) {
  using R = result<std::vector<sock_addr>, std::error_code>;
  std::string host;
  std::uint16_t port = 0;
  if (!split_host_port(address, host, port)) return R::fail(make_error_code(errc::bad_address));
  std::vector<sock_addr> out;
  auto add_v4 = [&](const in_addr& ip) {
    sock_addr sa;
    auto& a = reinterpret_cast<sockaddr_in&>(sa.ss);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr = ip;
    sa.len = sizeof(sockaddr_in);
    out.push_back(sa);
  };
  auto add_v6 = [&](const in6_addr& ip) {
    sock_addr sa;
    auto& a = reinterpret_cast<sockaddr_in6&>(sa.ss);
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    a.sin6_addr = ip;
    sa.len = sizeof(sockaddr_in6);
    out.push_back(sa);
  };
  in_addr v4{};
  in6_addr v6{};
  if (host.empty()) {
    if (k != net_kind::tcp4) add_v6(passive ? in6addr_any : in6addr_loopback);
    if (k != net_kind::tcp6) {
      v4.s_addr = htonl(passive ? INADDR_ANY : INADDR_LOOPBACK);
      add_v4(v4);
    }
  } else if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    if (k == net_kind::tcp6) return R::fail(make_error_code(errc::bad_address));
    add_v4(v4);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    if (k == net_kind::tcp4) return R::fail(make_error_code(errc::bad_address));
    add_v6(v6);
  } else {
    // A name: getaddrinfo may block its thread, so it runs on the blocking pool.
    addrinfo hints{};
    hints.ai_family = k == net_kind::tcp4 ? AF_INET : k == net_kind::tcp6 ? AF_INET6 : AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    std::string service = std::to_string(port);
    addrinfo* list = nullptr;
    int sys_err = 0;  // errno of the pool thread that ran getaddrinfo
    int rc = goro::blocking([&] {
      int r = getaddrinfo(host.c_str(), service.c_str(), &hints, &list);
      if (r == EAI_SYSTEM) sys_err = errno;
      return r;
    });
    if (rc != 0) {
      if (rc == EAI_SYSTEM) return R::fail(sys_error(sys_err));
      return R::fail(make_error_code(errc::bad_address));
    }
    for (addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
      if (ai->ai_addrlen > sizeof(sockaddr_storage) || !family_ok(k, ai->ai_family)) continue;
      sock_addr sa;
      std::memcpy(&sa.ss, ai->ai_addr, ai->ai_addrlen);
      sa.len = ai->ai_addrlen;
      out.push_back(sa);
    }
    freeaddrinfo(list);
    if (out.empty()) return R::fail(make_error_code(errc::bad_address));
  }
  return R::ok(std::move(out));
}

// What listen and dial use: the network's kind (out) and the addresses to
// try, a Unix path or what resolve() finds.
result<std::vector<sock_addr>, std::error_code> addresses_of(std::string_view network, std::string_view address,
                                                            bool passive, net_kind& k) {
  using R = result<std::vector<sock_addr>, std::error_code>;
  if (!parse_network(network, k)) return R::fail(make_error_code(errc::unknown_network));
  if (k != net_kind::unix_stream) return resolve(k, address, passive);
  sock_addr sa;
  if (!unix_addr(address, sa)) return R::fail(make_error_code(errc::bad_address));
  return R::ok(std::vector<sock_addr>{sa});
}

int new_socket(int family) noexcept { return ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0); }

}  // namespace
}  // namespace detail

// ---- conn ------------------------------------------------------------------------------

namespace net {

using detail::call_guard;
using detail::errno_now;
using detail::net_socket;
using detail::poll_mode;
using detail::poll_result;

io_result conn::read(void* buf, std::size_t len) const {
  net_socket* s = s_.get();
  if (s == nullptr) return {0, make_error_code(errc::closed)};
  std::lock_guard turn(s->read_mu);
  call_guard g(s);
  if (!g) return {0, make_error_code(errc::closed)};
  if (len == 0) return {0, {}};
  for (;;) {
    if (poll_result r = detail::netpoll_prepare(s->pd, poll_mode::read); r != poll_result::ready) {
      return {0, detail::poll_error(r)};
    }
    ssize_t n = ::recv(s->fd, buf, len, 0);
    if (n > 0) return {static_cast<std::size_t>(n), {}};
    if (n == 0) return {0, make_error_code(errc::eof)};
    if (errno_now() == EINTR) continue;
    if (errno_now() != EAGAIN && errno_now() != EWOULDBLOCK) return {0, detail::sys_error(errno_now())};
    if (poll_result r = detail::netpoll_wait(s->pd, poll_mode::read); r != poll_result::ready) {
      return {0, detail::poll_error(r)};
    }
  }
}

io_result conn::write(const void* buf, std::size_t len) const {
  net_socket* s = s_.get();
  if (s == nullptr) return {0, make_error_code(errc::closed)};
  std::lock_guard turn(s->write_mu);
  call_guard g(s);
  if (!g) return {0, make_error_code(errc::closed)};
  const char* p = static_cast<const char*>(buf);
  std::size_t done = 0;
  while (done < len) {
    if (poll_result r = detail::netpoll_prepare(s->pd, poll_mode::write); r != poll_result::ready) {
      return {done, detail::poll_error(r)};
    }
    ssize_t n = ::send(s->fd, p + done, len - done, MSG_NOSIGNAL);
    if (n >= 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (errno_now() == EINTR) continue;
    if (errno_now() != EAGAIN && errno_now() != EWOULDBLOCK) return {done, detail::sys_error(errno_now())};
    if (poll_result r = detail::netpoll_wait(s->pd, poll_mode::write); r != poll_result::ready) {
      return {done, detail::poll_error(r)};
    }
  }
  return {done, {}};
}

std::error_code conn::close() const {
  if (s_ == nullptr) return make_error_code(errc::closed);
  return s_->close();
}

namespace {
std::error_code shut(net_socket* s, int how) {
  call_guard g(s);
  if (!g) return make_error_code(errc::closed);
  if (::shutdown(s->fd, how) != 0) return detail::sys_error(errno_now());
  return {};
}
}  // namespace

std::error_code conn::close_write() const { return shut(s_.get(), SHUT_WR); }
std::error_code conn::close_read() const { return shut(s_.get(), SHUT_RD); }

std::error_code conn::set_deadline(time_point t) const { return detail::set_deadline(s_.get(), t, poll_mode::both); }
std::error_code conn::set_read_deadline(time_point t) const { return detail::set_deadline(s_.get(), t, poll_mode::read); }
std::error_code conn::set_write_deadline(time_point t) const {
  return detail::set_deadline(s_.get(), t, poll_mode::write);
}

namespace {
std::string name_of(net_socket* s, bool peer) {
  call_guard g(s);
  if (!g) return "";
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  int rc = peer ? ::getpeername(s->fd, reinterpret_cast<sockaddr*>(&ss), &len)
                : ::getsockname(s->fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (rc != 0) return "";
  return detail::format_addr(ss, len);
}
}  // namespace

std::string conn::local_addr() const { return name_of(s_.get(), false); }
std::string conn::remote_addr() const { return name_of(s_.get(), true); }

int conn::native_handle() const noexcept {
  if (s_ == nullptr || (s_->state.load(std::memory_order_acquire) & net_socket::closing) != 0) return -1;
  return s_->fd;
}

// ---- listener -------------------------------------------------------------------------

result<conn, std::error_code> listener::accept() const {
  using R = result<conn, std::error_code>;
  net_socket* s = s_.get();
  if (s == nullptr) return R::fail(make_error_code(errc::closed));
  std::lock_guard turn(s->read_mu);
  call_guard g(s);
  if (!g) return R::fail(make_error_code(errc::closed));
  for (;;) {
    if (poll_result r = detail::netpoll_prepare(s->pd, poll_mode::read); r != poll_result::ready) {
      return R::fail(detail::poll_error(r));
    }
    int fd = ::accept4(s->fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      if (s->unlink_path.empty()) {
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // Go's default; fails harmlessly on unix
      }
      auto made = detail::make_socket(fd);
      if (!made) return R::fail(made.error());
      return R::ok(conn(std::move(*made)));
    }
    if (errno_now() == EINTR || errno_now() == ECONNABORTED) continue;
    if (errno_now() != EAGAIN && errno_now() != EWOULDBLOCK) return R::fail(detail::sys_error(errno_now()));
    if (poll_result r = detail::netpoll_wait(s->pd, poll_mode::read); r != poll_result::ready) {
      return R::fail(detail::poll_error(r));
    }
  }
}

std::error_code listener::close() const {
  if (s_ == nullptr) return make_error_code(errc::closed);
  return s_->close();
}

std::error_code listener::set_deadline(time_point t) const { return detail::set_deadline(s_.get(), t, poll_mode::read); }
std::string listener::addr() const { return name_of(s_.get(), false); }
int listener::native_handle() const noexcept {
  if (s_ == nullptr || (s_->state.load(std::memory_order_acquire) & net_socket::closing) != 0) return -1;
  return s_->fd;
}

result<listener, std::error_code> listen(std::string_view network, std::string_view address) {
  using R = result<listener, std::error_code>;
  detail::net_kind k;
  auto resolved = detail::addresses_of(network, address, true, k);
  if (!resolved) return R::fail(resolved.error());
  std::vector<detail::sock_addr> addrs = std::move(*resolved);
  std::error_code last;
  for (const detail::sock_addr& sa : addrs) {
    int fd = detail::new_socket(sa.family());
    if (fd < 0) {
      last = detail::sys_error(errno_now());
      continue;
    }
    int one = 1;
    int zero = 0;
    if (sa.family() != AF_UNIX) ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    // "tcp" on the wildcard takes IPv4 too (Go's dual-stack listener).
    if (sa.family() == AF_INET6) {
      ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, k == detail::net_kind::tcp6 ? &one : &zero, sizeof one);
    }
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&sa.ss), sa.len) != 0 || ::listen(fd, SOMAXCONN) != 0) {
      last = detail::sys_error(errno_now());
      ::close(fd);
      // An address in use is the answer; other failures (no IPv6) try the next address.
      if (last == std::errc::address_in_use) break;
      continue;
    }
    auto made = detail::make_socket(fd);
    if (!made) return R::fail(made.error());
    if (sa.family() == AF_UNIX && address.front() != '@') (*made)->unlink_path.assign(address);
    return R::ok(listener(std::move(*made)));
  }
  return R::fail(last ? last : make_error_code(errc::bad_address));
}

// ---- dial ------------------------------------------------------------------------------

namespace {

// Connects fd (registered as s) to sa, parking until done or ctx ends.
std::error_code connect_one(const std::shared_ptr<net_socket>& s, const detail::sock_addr& sa, const context& ctx) {
  if (::connect(s->fd, reinterpret_cast<const sockaddr*>(&sa.ss), sa.len) == 0) return {};
  if (errno_now() != EINPROGRESS && errno_now() != EINTR) return detail::sys_error(errno_now());
  // ctx's end makes the wait time out, as Go does (it sets a deadline in the past).
  std::function<bool()> stop;
  if (ctx.done()) {
    stop = after_func(ctx, [s] { detail::netpoll_set_deadline(s->pd, 1, poll_mode::write); });
  }
  std::error_code ec;
  {
    call_guard g(s.get());
    for (;;) {
      poll_result r = detail::netpoll_wait(s->pd, poll_mode::write);
      if (r != poll_result::ready) {
        ec = detail::poll_error(r);
        break;
      }
      int err = 0;
      socklen_t len = sizeof err;
      if (::getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno_now();
      if (err == EINPROGRESS || err == EALREADY || err == EINTR) continue;
      if (err != 0) ec = detail::sys_error(err);
      break;
    }
  }
  // Once the callback has run (or is running), the socket's write deadline
  // is not ours to keep: give up on it and report the context's end.
  if (stop && !stop()) return ctx.err() ? ctx.err() : make_error_code(goro::errc::canceled);
  return ec;
}

}  // namespace

result<conn, std::error_code> dial(const context& ctx, std::string_view network, std::string_view address) {
  using R = result<conn, std::error_code>;
  if (auto e = ctx.err()) return R::fail(e);
  detail::net_kind k;
  auto resolved = detail::addresses_of(network, address, false, k);
  if (!resolved) return R::fail(resolved.error());
  std::vector<detail::sock_addr> addrs = std::move(*resolved);
  std::error_code last = make_error_code(errc::bad_address);
  for (const detail::sock_addr& sa : addrs) {
    if (auto e = ctx.err()) return R::fail(e);
    int fd = detail::new_socket(sa.family());
    if (fd < 0) {
      last = detail::sys_error(errno_now());
      continue;
    }
    if (sa.family() != AF_UNIX) {
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // Go's default
    }
    auto made = detail::make_socket(fd);
    if (!made) return R::fail(made.error());
    std::shared_ptr<net_socket> s = std::move(*made);
    last = connect_one(s, sa, ctx);
    if (!last) return R::ok(conn(std::move(s)));
    s->close();
    if (ctx.err()) return R::fail(last);
  }
  return R::fail(last);
}

io_result read_full(const conn& c, void* buf, std::size_t len) {
  char* p = static_cast<char*>(buf);
  std::size_t got = 0;
  while (got < len) {
    auto [n, err] = c.read(p + got, len - got);
    got += n;
    if (err) {
      if (err == errc::eof && got > 0) err = make_error_code(errc::unexpected_eof);
      return {got, err};
    }
  }
  return {got, {}};
}

}  // namespace net
}  // namespace goro
