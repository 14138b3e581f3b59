// Chapter 4, "Confinement": data only one goroutine can reach needs no lock.
// Ad hoc confinement is a convention (only loop_data reads `data`); lexical
// confinement makes the wrong thing impossible: chan_owner exposes only a
// recv_chan, and each print_data goroutine gets a std::span of its own part
// of the bytes (the book's data[:3] and data[3:]) and its own output slot.
#include <goro/goro.hpp>

#include <array>
#include <iostream>
#include <span>
#include <string>
#include <vector>

int main() {
  goro::run([] {
    {  // Ad hoc: by convention, only loop_data touches data.
      std::vector<int> data{0, 0, 0, 0};
      auto loop_data = [&data](goro::send_chan<int> handle_data) {
        for (int d : data) handle_data.send(d);
        handle_data.close();
      };
      auto handle_data = goro::make_chan<int>();
      goro::go([=] { loop_data(handle_data); });
      std::cout << "ad hoc:";
      for (int num : handle_data) std::cout << " " << num;
      std::cout << "\n";
    }
    {  // Lexical: the channel is made, written and closed inside chan_owner;
       // the consumer can only receive (recv_chan has no send or close).
      auto chan_owner = [] {
        auto results = goro::make_chan<int>(5);
        goro::go([results] {
          for (int i = 0; i <= 5; ++i) results.send(i);
          results.close();
        });
        return goro::recv_chan<int>(results);
      };
      auto consumer = [](goro::recv_chan<int> results) {
        std::cout << "lexical:";
        for (int result : results) std::cout << " " << result;
        std::cout << "\nDone receiving!\n";
      };
      consumer(chan_owner());
    }
    {  // Lexical, over memory: two goroutines, two disjoint spans, no lock.
      std::string data = "golang";
      std::array<std::string, 2> printed;  // slot i is written only by goroutine i
      auto print_data = [](std::span<const char> part, std::string& out) {
        for (char b : part) out += b;
      };
      std::span<const char> bytes(data);
      goro::wait_group wg;
      wg.go([&] { print_data(bytes.first(3), printed[0]); });
      wg.go([&] { print_data(bytes.subspan(3), printed[1]); });
      wg.wait();
      std::cout << "printData: " << printed[0] << " " << printed[1] << "\n";
    }
  });
}
