// Chapter 4, "Error handling": a goroutine that can fail sends its errors
// along with its results, to the part of the program that knows what to do
// with them (the book's checkStatus and its Result{Error, Response}). Here
// the result type is goro::result<T>, and goro::try_map is the stage that
// turns an exception thrown for one value into that value's error.
#include <goro/goro.hpp>
#include <goro/pipeline.hpp>

#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

struct response { std::string status; };

// A stand-in for http.Get: fails for a host it cannot resolve or a bad URL.
static response http_get(const std::string& url) {
  if (url.find("badhost") != std::string::npos) throw std::runtime_error("Get " + url + ": no such host");
  if (url.find("://") == std::string::npos) throw std::runtime_error("Get " + url + ": unsupported protocol scheme");
  return {"200 OK"};
}

static std::string message(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "unknown error";
  }
}

using result = goro::result<response>;

// The book's checkStatus, by hand: the result carries the response or the error.
static goro::recv_chan<result> check_status(goro::done_chan done, std::vector<std::string> urls) {
  auto results = goro::make_chan<result>();
  goro::go([=] {
    for (const auto& url : urls) {
      result r = [&] {
        try {
          return result::ok(http_get(url));
        } catch (...) {
          return result::from_current_exception();
        }
      }();
      if (goro::select(done.on_recv(), results.on_send(std::move(r))) == 0) break;
    }
    results.close();
  });
  return results;
}

int main() {
  goro::run([] {
    auto done = goro::make_done();
    for (const result& r : check_status(done, {"https://www.google.com", "https://badhost"})) {
      if (!r) {
        std::cout << "error: " << message(r.error()) << "\n";
        continue;
      }
      std::cout << "Response: " << r->status << "\n";
    }
    // The same with try_map, and the reader deciding to stop after 3 errors.
    std::vector<std::string> urls{"a", "https://www.google.com", "b", "c", "d"};
    int err_count = 0;
    for (const auto& r : goro::try_map(done, goro::from(done, urls), http_get)) {
      if (!r) {
        std::cout << "error: " << message(r.error()) << "\n";
        if (++err_count >= 3) {
          std::cout << "Too many errors, breaking!\n";
          break;
        }
        continue;
      }
      std::cout << "Response: " << r->status << "\n";
    }
    done.close();  // stops the stages still running (the book's defer close(done))
  });
}
