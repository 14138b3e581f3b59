// Chapter 4, "The context package": the book's greeting/farewell program.
// main cancels everything when printing the greeting fails; gen_greeting
// gives locale() a 10 ms timeout (the book: 1 s), and locale(), which takes
// 100 ms (the book: 1 min), gives up at once when the deadline is too close.
// Then request-scoped values with typed keys (the book's ProcessRequest).
#include <goro/goro.hpp>

#include <iostream>
#include <string>
#include <system_error>
#include <utility>

using namespace std::chrono_literals;
using answer = std::pair<std::string, std::error_code>;  // Go's (string, error)

static answer locale(const goro::context& ctx) {
  if (auto deadline = ctx.deadline(); deadline && *deadline - goro::clock::now() < 100ms) {
    return {"", goro::errc::deadline_exceeded};  // it could not finish in time anyway
  }
  if (goro::select(ctx.done().on_recv(), goro::after(100ms).on_recv()) == 0) return {"", ctx.err()};
  return {"EN/US", {}};
}

static answer gen_greeting(const goro::context& parent) {
  auto [ctx, cancel] = goro::with_timeout(parent, 10ms);
  auto [loc, err] = locale(ctx);
  cancel();
  if (err) return {"", err};
  if (loc == "EN/US") return {"hello", {}};
  return {"", std::make_error_code(std::errc::not_supported)};
}

static answer gen_farewell(const goro::context& ctx) {
  auto [loc, err] = locale(ctx);
  if (err) return {"", err};
  if (loc == "EN/US") return {"goodbye", {}};
  return {"", std::make_error_code(std::errc::not_supported)};
}

inline const goro::context_key<std::string> user_id;
inline const goro::context_key<std::string> auth_token;

static void handle_response(const goro::context& ctx) {
  std::cout << "handling response for " << *ctx.value(user_id) << " (auth: " << *ctx.value(auth_token) << ")\n";
}

int main() {
  goro::run([] {
    auto [ctx, cancel] = goro::with_cancel(goro::background());
    goro::wait_group wg;
    goro::mutex out;
    wg.go([&, ctx = ctx, cancel = cancel] {
      auto [greeting, err] = gen_greeting(ctx);
      std::lock_guard l(out);
      if (err) {
        std::cout << "cannot print greeting: " << err.message() << "\n";
        cancel();  // the farewell is not wanted either now
        return;
      }
      std::cout << greeting << " world!\n";
    });
    wg.go([&, ctx = ctx] {
      auto [farewell, err] = gen_farewell(ctx);
      std::lock_guard l(out);
      if (err) {
        std::cout << "cannot print farewell: " << err.message() << "\n";
        return;
      }
      std::cout << farewell << " world!\n";
    });
    wg.wait();
    cancel();

    // Values: set once where the request starts, read deep in the call graph.
    auto request = goro::with_value(goro::background(), user_id, "jane");
    request = goro::with_value(request, auth_token, "abc123");
    handle_response(request);
  });
}
