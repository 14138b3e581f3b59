// The "local work" of Go's benchmarkMutex (sync/mutex_test.go), shared by
// goro's and Boost.Fiber's twins.
#pragma once

namespace bench_common {

/// Go's benchmarkMutex "models some local work" with `foo *= 2; foo /= 2`
/// 100 times, but never reads foo (`_ = foo` is no use), so Go's compiler
/// drops the arithmetic as dead code and keeps only the counted loop
/// (`go tool objdump -s benchmarkMutex.func1`: INCQ AX; CMPQ $0x64, AX; JL).
/// This is that loop, instruction for instruction. It is written in
/// assembly, with its head on a 32-byte boundary, because a C++ loop's speed
/// here moved with where the compiler happened to place it (21 to 48 ns for
/// the same source), which made the row measure code placement.
inline void go_local_work_100() {
  long i = 0;
  asm volatile(
      "jmp 2f\n"
      ".p2align 5\n"
      "1: incq %0\n"
      "2: cmpq $100, %0\n"
      "jl 1b\n"
      : "+r"(i));
}

}  // namespace bench_common
