// goro/net.hpp: goroutine-aware sockets (the essentials of Go's net package)
// and blocking(), which runs a thread-blocking call off the processors.
//
//   auto ln = goro::net::listen("tcp", "127.0.0.1:0");   // result<listener, error_code>
//   if (!ln) fail(ln.error());
//   goro::go([l = *ln] {
//     for (;;) {
//       auto c = l.accept();                             // parks the goroutine
//       if (!c) return;                                  // closed listener
//       goro::go([c = *c] {
//         char buf[4096];
//         for (;;) {
//           auto [n, err] = c.read(buf);                 // Go's n, err := conn.Read(buf)
//           if (n > 0 && c.write(buf, n).err) return;
//           if (err) return;                             // net::errc::eof at the end
//         }
//       });
//     }
//   });
//
// A goroutine that waits for a socket parks; the runtime's netpoller (epoll,
// edge-triggered) readies it when the socket is ready, so a worker is never
// tied up by a connection. From a plain OS thread the same calls block the
// thread.
//
// conn and listener are cheap, copyable handles to one shared socket (as a
// Go net.Conn is a reference): pass them to goroutines by value. The socket
// is closed by close(), or when the last handle goes. close() from another
// goroutine wakes one blocked in read, write or accept with errc::closed.
//
// Errors are std::error_code values: errc below for what Go has named
// errors for (EOF, timeouts, use of a closed connection), the system's errno
// codes (std::errc::connection_refused, ...) for the rest. Compare timeouts
// with std::errc::timed_out: net::errc::timeout and a context's
// goro::errc::deadline_exceeded both equal it.
#pragma once

#include <chrono>
#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

#include "goro/context.hpp"
#include "goro/detail/config.hpp"
#include "goro/result.hpp"
#include "goro/time.hpp"

namespace goro {

namespace net {

/// goro's network errors. timeout compares equal to std::errc::timed_out.
enum class errc {
  eof = 1,         // "EOF": the peer closed its side; no more data (Go's io.EOF)
  unexpected_eof,  // "unexpected EOF": read_full got part of what it needed
  closed,          // "use of closed network connection"
  timeout,         // "i/o timeout": a deadline passed
  bad_address,     // "missing port in address", "no such host", ...: the address did not parse or resolve
  unknown_network, // "unknown network": not tcp, tcp4, tcp6 or unix
};

/// The category of net::errc ("goro.net").
GORO_API const std::error_category& net_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept { return std::error_code(static_cast<int>(e), net_category()); }

}  // namespace net
}  // namespace goro

template <>
struct std::is_error_code_enum<goro::net::errc> : std::true_type {};

namespace goro {

namespace detail {
struct net_socket;
// Runs fn(arg) on a thread of the blocking pool while the calling goroutine
// parks (on a plain thread: runs it right there).
GORO_API void blocking_call(void (*fn)(void*) noexcept, void* arg);
}  // namespace detail

/// Runs f() where it may block its thread (a file read, getaddrinfo, a
/// legacy blocking library call): on a bounded pool of threads outside the
/// processors, while the calling goroutine parks, so the processors keep
/// running goroutines. Returns what f returns; an exception f throws is
/// rethrown here. From a plain OS thread, just calls f(). The pool has at
/// most 64 threads; calls beyond that queue (so blocking calls that wait
/// for one another can deadlock past 64).
template <class F>
std::invoke_result_t<F&> blocking(F&& f) {
  using R = std::invoke_result_t<F&>;
  struct job {
    std::remove_reference_t<F>* f;
    std::conditional_t<std::is_void_v<R>, char, std::optional<std::conditional_t<std::is_reference_v<R>,
                                                                                std::reference_wrapper<std::remove_reference_t<R>>, R>>>
        value;
    std::exception_ptr error;
    static void run(void* self) noexcept {
      auto* j = static_cast<job*>(self);
      try {
        if constexpr (std::is_void_v<R>) {
          (*j->f)();
        } else {
          j->value.emplace((*j->f)());
        }
      } catch (...) {
        j->error = std::current_exception();
      }
    }
  };
  job j{std::addressof(f), {}, nullptr};
  detail::blocking_call(&job::run, &j);
  if (j.error) std::rethrow_exception(j.error);
  if constexpr (!std::is_void_v<R>) {
    if constexpr (std::is_reference_v<R>) {
      return j.value->get();
    } else {
      return std::move(*j.value);
    }
  }
}

namespace net {

class conn;
class listener;
GORO_API result<listener, std::error_code> listen(std::string_view network, std::string_view address);
GORO_API result<conn, std::error_code> dial(const context& ctx, std::string_view network, std::string_view address);

/// What a read or write did: n bytes, then err if it stopped short (Go's
/// n, err). `auto [n, err] = c.read(buf);`. True when err is empty.
struct io_result {
  std::size_t n = 0;
  std::error_code err;
  explicit operator bool() const noexcept { return !err; }
};

/// Passed to the set_*deadline functions: no deadline (Go's zero Time).
inline constexpr time_point no_deadline{};

/// A connected socket: TCP or Unix stream. Copies share the socket.
class GORO_API conn {
 public:
  /// Holds no socket: every operation fails with errc::closed.
  conn() noexcept = default;

  /// Reads what is there, at most buf's size, parking until something is:
  /// n > 0 with no error, or n == 0 with errc::eof once the peer has closed
  /// its side, errc::timeout past the read deadline, errc::closed after
  /// close(), or the system's error. Reading into an empty buffer returns 0.
  /// Concurrent reads on one conn take turns.
  io_result read(void* buf, std::size_t len) const;
  io_result read(std::span<char> buf) const { return read(buf.data(), buf.size()); }
  io_result read(std::span<std::byte> buf) const { return read(buf.data(), buf.size()); }

  /// Writes all of buf, parking while the socket's buffer is full; n < size
  /// only with an error. Concurrent writes on one conn do not interleave.
  /// Never raises SIGPIPE. A char array passed alone is taken as a C string
  /// (string_view): write(buf, n) for a buffer.
  io_result write(const void* buf, std::size_t len) const;
  io_result write(std::string_view s) const { return write(s.data(), s.size()); }
  io_result write(std::span<const std::byte> buf) const { return write(buf.data(), buf.size()); }

  /// Closes the socket: reads, writes and accepts blocked on it (from any
  /// goroutine or thread) return errc::closed, and so does every later call.
  /// Closing twice returns errc::closed.
  std::error_code close() const;
  /// Shuts down the write side (the peer reads EOF); reads go on.
  std::error_code close_write() const;
  /// Shuts down the read side: reads then return errc::eof.
  std::error_code close_read() const;

  /// Deadlines, as in Go: a read (write) that is blocked when its deadline
  /// passes, or that starts after it, fails with errc::timeout until the
  /// deadline is moved. no_deadline removes it. They apply to calls already
  /// blocked, too.
  std::error_code set_deadline(time_point t) const;
  std::error_code set_read_deadline(time_point t) const;
  std::error_code set_write_deadline(time_point t) const;

  /// "127.0.0.1:8080", "[::1]:8080", or the socket path ("" when unnamed).
  std::string local_addr() const;
  std::string remote_addr() const;

  /// The file descriptor (non-blocking), -1 when none or closed. Still owned by conn.
  int native_handle() const noexcept;
  explicit operator bool() const noexcept { return s_ != nullptr; }

 private:
  friend class listener;
  friend result<conn, std::error_code> dial(const context& ctx, std::string_view network, std::string_view address);
  explicit conn(std::shared_ptr<detail::net_socket> s) noexcept : s_(std::move(s)) {}
  std::shared_ptr<detail::net_socket> s_;
};

/// A listening socket. Copies share it.
class GORO_API listener {
 public:
  listener() noexcept = default;

  /// The next connection, parking until one comes; errc::closed once the
  /// listener is closed (also for an accept blocked in another goroutine),
  /// errc::timeout past the deadline.
  result<conn, std::error_code> accept() const;
  std::error_code close() const;
  std::error_code set_deadline(time_point t) const;
  /// The address it listens on, with the port the system chose for ":0".
  std::string addr() const;
  int native_handle() const noexcept;
  explicit operator bool() const noexcept { return s_ != nullptr; }

 private:
  friend result<listener, std::error_code> listen(std::string_view network, std::string_view address);
  explicit listener(std::shared_ptr<detail::net_socket> s) noexcept : s_(std::move(s)) {}
  std::shared_ptr<detail::net_socket> s_;
};

/// Listens on network "tcp" (IPv4 or IPv6 as the address says; "" or ":0"
/// host: all interfaces), "tcp4", "tcp6" or "unix" (a path; "@name" is
/// Linux's abstract namespace). address is "host:port", "[v6]:port", or a
/// path. A port in use fails with std::errc::address_in_use.
GORO_API result<listener, std::error_code> listen(std::string_view network, std::string_view address);

/// Connects, parking until connected. Host names are resolved with
/// getaddrinfo on the blocking pool; each address is tried in turn, and the
/// last one's error is returned if none connects. With a context: one that
/// is already done fails at once, and a cancel or deadline while connecting
/// ends the attempt; both with ctx.err() (goro::errc, which compares equal to
/// std::errc::operation_canceled or std::errc::timed_out). TCP_NODELAY is
/// set, as in Go.
GORO_API result<conn, std::error_code> dial(const context& ctx, std::string_view network, std::string_view address);
inline result<conn, std::error_code> dial(std::string_view network, std::string_view address) {
  return dial(background(), network, address);
}

/// Reads exactly len bytes (Go's io.ReadFull): errc::eof if the peer closed
/// before any, errc::unexpected_eof if it closed part way.
GORO_API io_result read_full(const conn& c, void* buf, std::size_t len);
inline io_result read_full(const conn& c, std::span<char> buf) { return read_full(c, buf.data(), buf.size()); }
inline io_result read_full(const conn& c, std::span<std::byte> buf) { return read_full(c, buf.data(), buf.size()); }

}  // namespace net
}  // namespace goro
