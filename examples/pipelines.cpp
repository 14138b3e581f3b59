// Chapter 4, "Pipelines": stages that take data in, do one thing, and pass
// it on. The book's add and multiply, first as batch stages (whole slices),
// then as stream stages (one value at a time), then as goroutines joined by
// channels, each stage stopping when done closes; last, goro's ready-made
// generator and map stages, composed with `|`.
#include <goro/goro.hpp>
#include <goro/pipeline.hpp>

#include <iostream>
#include <vector>

using done_chan = goro::done_chan;

static std::vector<int> multiply_batch(std::vector<int> values, int multiplier) {
  for (int& v : values) v *= multiplier;
  return values;
}
static std::vector<int> add_batch(std::vector<int> values, int additive) {
  for (int& v : values) v += additive;
  return values;
}
static int multiply(int value, int multiplier) { return value * multiplier; }
static int add(int value, int additive) { return value + additive; }

// The same as channel stages: range over in, send each result unless done closes.
static goro::recv_chan<int> multiply(done_chan done, goro::recv_chan<int> in, int multiplier) {
  auto out = goro::make_chan<int>();
  goro::go([=] {
    for (int i : in) {
      if (goro::select(done.on_recv(), out.on_send(i * multiplier)) == 0) break;
    }
    out.close();
  });
  return out;
}
static goro::recv_chan<int> add(done_chan done, goro::recv_chan<int> in, int additive) {
  auto out = goro::make_chan<int>();
  goro::go([=] {
    for (int i : in) {
      if (goro::select(done.on_recv(), out.on_send(i + additive)) == 0) break;
    }
    out.close();
  });
  return out;
}

static void print(const char* how, auto&& values) {
  std::cout << how << ":";
  for (int v : values) std::cout << " " << v;
  std::cout << "\n";
}

int main() {
  goro::run([] {
    std::vector<int> ints{1, 2, 3, 4};
    print("batch", multiply_batch(add_batch(multiply_batch(ints, 2), 1), 2));

    std::vector<int> streamed;
    for (int v : ints) streamed.push_back(multiply(add(multiply(v, 2), 1), 2));
    print("stream", streamed);

    auto done = goro::make_done();
    auto generator = [](done_chan done, std::vector<int> integers) {
      auto int_stream = goro::make_chan<int>();
      goro::go([=] {
        for (int i : integers) {
          if (goro::select(done.on_recv(), int_stream.on_send(i)) == 0) break;
        }
        int_stream.close();
      });
      return goro::recv_chan<int>(int_stream);
    };
    auto int_stream = generator(done, ints);
    auto pipeline = multiply(done, add(done, multiply(done, int_stream, 2), 1), 2);
    print("channels", pipeline);

    auto piped = goro::generator(done, 1, 2, 3, 4) | goro::map([](int i) { return multiply(i, 2); }) |
                 goro::map([](int i) { return add(i, 1); }) | goro::map([](int i) { return multiply(i, 2); });
    print("goro |", piped);
    done.close();
  });
}
