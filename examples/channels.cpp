// Chapter 3, "Channels": unbuffered and buffered channels, receiving from a
// closed channel, range over a channel, closing to release many goroutines
// at once, and ownership: the goroutine that makes a channel writes it and
// closes it, and hands out only the receive side (the book's chanOwner).
#include <goro/goro.hpp>

#include <iostream>
#include <mutex>
#include <sstream>
#include <string>

int main() {
  goro::run([] {
    // Unbuffered: the send waits for the receive. Go's `v, ok := <-c` is recv().
    auto string_stream = goro::make_chan<std::string>();
    goro::go([string_stream] { string_stream.send("Hello channels!"); });
    std::optional<std::string> salutation = string_stream.recv();
    std::cout << "(" << std::boolalpha << salutation.has_value() << "): " << *salutation << "\n";

    // A closed channel: receives return at once, empty (Go: ok == false, zero value).
    auto int_stream = goro::make_chan<int>();
    int_stream.close();
    std::optional<int> integer = int_stream.recv();
    std::cout << "(" << integer.has_value() << "): " << integer.value_or(0) << "\n";

    // range: receives until the channel is closed and drained.
    auto numbers = goro::make_chan<int>();
    goro::go([numbers] {
      for (int i = 1; i <= 5; ++i) numbers.send(i);
      numbers.close();
    });
    std::cout << "range:";
    for (int i : numbers) std::cout << " " << i;
    std::cout << "\n";

    // Closing releases every waiting receiver at once.
    auto begin = goro::make_chan<int>();
    goro::wait_group wg;
    goro::mutex mu;
    int begun = 0;
    for (int i = 0; i < 5; ++i) {
      wg.go([&, begin] {
        begin.recv();  // blocks until begin is closed
        std::lock_guard l(mu);
        ++begun;
      });
    }
    std::cout << "Unblocking goroutines...\n";
    begin.close();
    wg.wait();
    std::cout << begun << " goroutines have begun\n";

    // Buffered: four sends complete with no receiver; the fifth waits for one.
    auto buffered = goro::make_chan<int>(4);
    for (int i = 0; i < 4; ++i) buffered.send(i);
    std::cout << "buffered: " << buffered.size() << " of " << buffered.capacity()
              << " held, try_send of a fifth: " << buffered.try_send(4) << "\n";

    // Ownership: chan_owner makes, writes and closes the channel; the
    // consumer gets a recv_chan, which cannot send or close.
    auto chan_owner = [] {
      auto result_stream = goro::make_chan<int>(5);
      goro::go([result_stream] {
        for (int i = 0; i <= 5; ++i) result_stream.send(i);
        result_stream.close();
      });
      return goro::recv_chan<int>(result_stream);
    };
    goro::recv_chan<int> results = chan_owner();
    std::ostringstream received;
    for (int result : results) received << " " << result;
    std::cout << "Received:" << received.str() << "\nDone receiving!\n";
  });
}
