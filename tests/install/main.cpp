#include <goro/goro.hpp>

#include <cstdio>

int main() {
  int sum = goro::run([] {
    auto ch = goro::make_chan<int>(4);
    goro::go([ch] {
      for (int i = 1; i <= 4; ++i) ch.send(i);
      ch.close();
    });
    int s = 0;
    for (int v : ch) s += v;
    return s;
  });
  std::printf(sum == 10 ? "consumer ok\n" : "consumer FAILED\n");
  return sum == 10 ? 0 : 1;
}
