// Chapter 4, "The or-done channel", "The tee-channel", "The bridge-channel".
//  - or_done: range over a channel someone else owns and still stop on done.
//  - tee: every value of one stream to two readers (the slower sets the pace).
//  - bridge: a stream of streams read as one stream, in order.
#include <goro/goro.hpp>
#include <goro/pipeline.hpp>

#include <chrono>
#include <iostream>

using namespace std::chrono_literals;

int main() {
  goro::run([] {
    {  // or_done: my_chan never closes (its owner ticks forever); done ends the loop.
      auto owner_quit = goro::make_done();
      auto my_chan = goro::make_chan<int>();
      goro::go([my_chan, owner_quit] {
        for (int i = 0; goro::select(my_chan.on_send(i), owner_quit.on_recv()) == 0; ++i) goro::sleep(1ms);
      });
      auto done = goro::make_done();
      goro::after_func(10ms, [done] { done.close(); });
      int n = 0;
      for ([[maybe_unused]] int val : goro::or_done(done, my_chan)) ++n;  // do something with val
      std::cout << "or_done: loop ended when done closed (" << (n > 0 ? "after some values" : "at once") << ")\n";
      owner_quit.close();
    }
    {  // tee: out1 and out2 each get 1 2 1 2.
      auto done = goro::make_done();
      auto [out1, out2] = goro::tee(done, goro::take(done, goro::repeat(done, 1, 2), 4));
      for (int val1 : out1) std::cout << "out1: " << val1 << ", out2: " << *out2.recv() << "\n";
      done.close();
    }
    {  // bridge: gen_vals sends ten channels, each holding one value.
      auto gen_vals = [] {
        auto chan_stream = goro::make_chan<goro::recv_chan<int>>();
        goro::go([chan_stream] {
          for (int i = 0; i < 10; ++i) {
            auto stream = goro::make_chan<int>(1);
            stream.send(i);
            stream.close();
            chan_stream.send(stream);
          }
          chan_stream.close();
        });
        return goro::recv_chan<goro::recv_chan<int>>(chan_stream);
      };
      auto done = goro::make_done();
      std::cout << "bridge:";
      for (int v : goro::bridge(done, gen_vals())) std::cout << " " << v;
      std::cout << "\n";
      done.close();
    }
  });
}
