// A minimal HTTP/1.1 server on goro::net: GET (or HEAD) / answers
// "Hello, World!\n", any other path 404. One goroutine per connection.
// Connections are kept alive unless the client sends "Connection: close" (or
// speaks HTTP/1.0 without "Connection: keep-alive"); pipelined requests are
// answered in order: each read appends to a buffer, every complete request
// in the buffer is answered, and the answers go out in one write. Good
// enough for a load generator:
//
//   http_hello 127.0.0.1:8080 &
//   wrk -t2 -c100 -d10s http://127.0.0.1:8080/
//
//   http_hello [address] [--serve-for-ms N]
//
// address defaults to 127.0.0.1:8080 (port 0: the system picks one; the
// address is printed). With --serve-for-ms N it stops after N ms: it closes
// the listener and the open connections, waits for their goroutines, prints
// how many requests it answered and exits 0 (for a CI smoke test).
// Not handled: chunked request bodies (501), Expect: 100-continue, Date.
#include <goro/goro.hpp>
#include <goro/net.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

using namespace std::chrono_literals;
namespace net = goro::net;

namespace {

constexpr std::size_t max_head = 64 << 10;  // request line and headers
constexpr std::size_t max_body = 1 << 20;   // a request body, read and ignored
constexpr std::string_view hello = "Hello, World!\n";

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Whether a comma-separated header value ("keep-alive, Upgrade") has token.
bool has_token(std::string_view value, std::string_view token) {
  for (;;) {
    auto comma = value.find(',');
    if (iequals(trim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) return false;
    value.remove_prefix(comma + 1);
  }
}

struct request {
  std::string_view method, target;  // point into the connection's buffer
  bool http10 = false;
  bool close = false;    // the connection ends after the answer
  std::size_t body = 0;  // Content-Length: bytes after the head to skip
  int error = 0;         // a status to answer instead (400, 413, 501, 505)
};

// Parses a request head: the request line and the headers, without the
// blank line that ends them.
request parse(std::string_view head) {
  request r;
  auto fail = [&r](int status) {
    r.error = status;
    r.close = true;
    return r;
  };
  auto eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  head = eol == std::string_view::npos ? std::string_view() : head.substr(eol + 2);
  auto sp1 = line.find(' ');
  auto sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) return fail(400);
  r.method = line.substr(0, sp1);
  r.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (version == "HTTP/1.0") {
    r.http10 = true;
  } else if (version != "HTTP/1.1") {
    return fail(505);
  }
  bool close = false, keep_alive = false;
  while (!head.empty()) {
    eol = head.find("\r\n");
    std::string_view h = head.substr(0, eol);
    head = eol == std::string_view::npos ? std::string_view() : head.substr(eol + 2);
    auto colon = h.find(':');
    if (colon == std::string_view::npos) return fail(400);
    std::string_view name = h.substr(0, colon), value = trim(h.substr(colon + 1));
    if (iequals(name, "Connection")) {
      close = close || has_token(value, "close");
      keep_alive = keep_alive || has_token(value, "keep-alive");
    } else if (iequals(name, "Content-Length")) {
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), r.body);
      if (ec != std::errc() || end != value.data() + value.size()) return fail(400);
      if (r.body > max_body) return fail(413);
    } else if (iequals(name, "Transfer-Encoding")) {
      return fail(501);  // no chunked bodies here
    }
  }
  r.close = close || (r.http10 && !keep_alive);
  return r;
}

// Appends the answer to r to out.
void answer(const request& r, std::string& out) {
  int status = r.error;
  if (status == 0) status = r.target != "/" ? 404 : (r.method == "GET" || r.method == "HEAD") ? 200 : 405;
  std::string_view reason, body;
  switch (status) {
    case 200:
      reason = "OK";
      body = hello;
      break;
    case 404:
      reason = "Not Found";
      body = "404 page not found\n";
      break;
    case 405:
      reason = "Method Not Allowed";
      body = "method not allowed\n";
      break;
    case 413:
      reason = "Content Too Large";
      body = "request body too large\n";
      break;
    case 431:
      reason = "Request Header Fields Too Large";
      body = "request header too large\n";
      break;
    case 501:
      reason = "Not Implemented";
      body = "chunked requests are not supported\n";
      break;
    case 505:
      reason = "HTTP Version Not Supported";
      body = "HTTP/1.0 or HTTP/1.1 only\n";
      break;
    default:
      reason = "Bad Request";
      body = "bad request\n";
      break;
  }
  out += "HTTP/1.1 ";
  out += std::to_string(status);
  out += ' ';
  out += reason;
  out += "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ";
  out += std::to_string(body.size());
  out += "\r\n";
  if (status == 405) out += "Allow: GET, HEAD\r\n";
  if (r.close) {
    out += "Connection: close\r\n";
  } else if (r.http10) {
    out += "Connection: keep-alive\r\n";
  }
  out += "\r\n";
  if (r.method != "HEAD") out += body;
}

// Serves one connection until the client closes it or asks to, or an error
// (errc::closed when the server shuts down).
void serve(net::conn c, std::atomic<long>& requests) {
  std::string in, out;
  char buf[16 << 10];
  for (;;) {
    // Answer every complete request in the buffer, in order.
    std::size_t pos = 0;
    bool close = false;
    while (!close) {
      auto end = in.find("\r\n\r\n", pos);
      if (end == std::string::npos) break;
      request r = parse(std::string_view(in).substr(pos, end - pos));
      std::size_t next = end + 4 + r.body;
      if (r.error == 0 && next > in.size()) break;  // its body is not all here yet
      answer(r, out);
      requests.fetch_add(1, std::memory_order_relaxed);
      pos = r.error != 0 ? in.size() : next;
      close = r.close;
    }
    in.erase(0, pos);
    if (!close && in.size() > max_head && in.find("\r\n\r\n") == std::string::npos) {
      request too_big;
      too_big.error = 431;
      too_big.close = close = true;
      answer(too_big, out);
    }
    if (!out.empty()) {
      if (c.write(out).err) break;
      out.clear();
    }
    if (close) break;
    auto [n, err] = c.read(buf);  // parks until the client sends more
    in.append(buf, n);
    if (err) break;  // EOF: the client is done
  }
  c.close();
}

}  // namespace

int main(int argc, char** argv) {
  std::string address = "127.0.0.1:8080";
  long serve_ms = -1;  // < 0: until killed
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--serve-for-ms" && i + 1 < argc) {
      serve_ms = std::atol(argv[++i]);
    } else {
      address = arg;
    }
  }

  return goro::run([&]() -> int {
    auto ln = net::listen("tcp", address);
    if (!ln) {
      std::cerr << "listen " << address << ": " << ln.error().message() << "\n";
      return 1;
    }
    net::listener l = *ln;
    std::cout << "serving http://" << l.addr() << "/" << std::endl;
    if (serve_ms >= 0) {
      goro::go([l, serve_ms]() mutable {
        goro::sleep(std::chrono::milliseconds(serve_ms));
        l.close();  // the accept loop below ends with errc::closed
      });
    }

    // The open connections, so that the shutdown can close them.
    goro::mutex mu;
    std::unordered_map<std::uint64_t, net::conn> open;
    goro::wait_group wg;
    std::atomic<long> requests{0};
    std::uint64_t accepted = 0;
    for (;;) {
      auto c = l.accept();
      if (!c) {
        if (c.error() == net::errc::closed) break;
        std::cerr << "accept: " << c.error().message() << "\n";  // out of file descriptors, say
        goro::sleep(10ms);                                       // and try again
        continue;
      }
      std::uint64_t id = accepted++;
      {
        std::lock_guard lock(mu);
        open.emplace(id, *c);
      }
      wg.go([&, c = *c, id] {
        serve(c, requests);
        std::lock_guard lock(mu);
        open.erase(id);
      });
    }
    {  // Shutdown: a goroutine waiting in read returns errc::closed.
      std::lock_guard lock(mu);
      for (auto& entry : open) entry.second.close();
    }
    wg.wait();
    std::cout << "answered " << requests.load() << " requests on " << accepted << " connections" << std::endl;
    return 0;
  });
}
