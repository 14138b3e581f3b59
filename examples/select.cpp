// Chapter 3, "The select statement" and chapter 4, "The for-select loop":
// select waits for whichever case is ready first, picks uniformly among
// ready ones, times out with after(), never blocks with a default, and in a
// loop with a default does work until told to stop.
#include <goro/goro.hpp>

#include <chrono>
#include <iostream>
#include <string>

using namespace std::chrono_literals;

static long long ms_since(goro::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(goro::clock::now() - start).count();
}

int main() {
  goro::run([] {
    {  // Waits until c is closed.
      auto start = goro::clock::now();
      auto c = goro::make_chan<int>();
      goro::go([c] {
        goro::sleep(50ms);
        c.close();
      });
      goro::select(c.on_recv());
      std::cout << "Unblocked " << ms_since(start) << " ms later.\n";
    }
    {  // Both ready: each case is picked about half the time.
      auto c1 = goro::make_chan<int>();
      auto c2 = goro::make_chan<int>();
      c1.close();
      c2.close();
      int c1_count = 0, c2_count = 0;
      for (int i = 0; i < 1000; ++i) {
        goro::select(c1.on_recv([&] { ++c1_count; }), c2.on_recv([&] { ++c2_count; }));
      }
      std::cout << "c1Count: " << c1_count << "\nc2Count: " << c2_count << "\n";
      std::cout << "both picked: " << (c1_count > 100 && c2_count > 100 ? "yes" : "no") << "\n";
    }
    {  // A timeout: the nil channel never delivers, after() does.
      goro::recv_chan<int> c;  // nil
      if (goro::select(c.on_recv(), goro::after(20ms).on_recv()) == 1) std::cout << "Timed out.\n";
    }
    {  // A default: nothing is ready, so select does not block.
      auto start = goro::clock::now();
      auto c1 = goro::make_chan<int>();
      auto c2 = goro::make_chan<int>();
      goro::select(c1.on_recv(), c2.on_recv(), goro::on_default([&] {
                     std::cout << "In default after " << ms_since(start) << " ms\n";
                   }));
    }
    {  // for-select: do a cycle of work, checking done (without blocking) between cycles.
      auto done = goro::make_chan<int>();
      goro::go([done] {
        goro::sleep(50ms);
        done.close();
      });
      int work_counter = 0;
      for (;;) {
        if (goro::select(done.on_recv(), goro::on_default()) == 0) break;
        ++work_counter;
        goro::sleep(10ms);  // the work
      }
      std::cout << "Achieved " << work_counter << " cycles of work before signalled to stop.\n";
    }
    {  // for-select over values: send each one unless done fires first.
      auto done = goro::make_chan<int>();
      auto string_stream = goro::make_chan<std::string>(3);
      for (std::string s : {"a", "b", "c"}) {
        if (goro::select(done.on_recv(), string_stream.on_send(s)) == 0) return;
      }
      string_stream.close();
      std::cout << "sent:";
      for (const auto& s : string_stream) std::cout << " " << s;
      std::cout << "\n";
    }
  });
}
