// src/switch/context_asm.cpp: lays out a new context's first frame for the
// assembly switch (switch_x86_64.S, switch_aarch64.S).
#include <cstdint>
#include <cstring>

#include "switch/context.hpp"

extern "C" void goro_context_trampoline();

namespace goro::detail {

void context_make(machine_context* ctx, void* lo, void* hi, context_entry entry, void* arg) noexcept {
  (void)lo;
  auto top = reinterpret_cast<std::uintptr_t>(hi) & ~std::uintptr_t{15};
#if defined(__x86_64__)
  // Popped by goro_context_switch, from low to high addresses:
  //   [fp control words][r15][r14][r13][r12][rbx][rbp][return address]
  // The return address sits at an address = 8 (mod 16), so that after `ret`
  // rsp is 16-byte aligned, as the trampoline's `call` needs.
  auto* ret = reinterpret_cast<std::uint64_t*>(top - 24);
  std::uint64_t* frame = ret - 7;
  std::uint32_t control[2] = {0x1F80u /* MXCSR default */, 0x037Fu /* x87 control word default */};
  std::memcpy(&frame[0], control, sizeof control);
  frame[1] = 0;                                          // r15
  frame[2] = 0;                                          // r14
  frame[3] = reinterpret_cast<std::uint64_t>(arg);       // r13
  frame[4] = reinterpret_cast<std::uint64_t>(entry);     // r12
  frame[5] = 0;                                          // rbx
  frame[6] = 0;                                          // rbp
  *ret = reinterpret_cast<std::uint64_t>(&goro_context_trampoline);
  ret[1] = 0;  // a null "caller" above the trampoline for frame-pointer walkers
  ctx->sp = frame;
#elif defined(__aarch64__)
  // The 176-byte frame goro_context_switch restores: x19..x28, x29, x30, d8..d15.
  auto* frame = reinterpret_cast<std::uint64_t*>(top - 176);
  std::memset(frame, 0, 176);
  frame[0] = reinterpret_cast<std::uint64_t>(entry);   // x19
  frame[1] = reinterpret_cast<std::uint64_t>(arg);     // x20
  frame[11] = reinterpret_cast<std::uint64_t>(&goro_context_trampoline);  // x30 (lr)
  ctx->sp = frame;
#else
#error "context_asm.cpp: no assembly switch for this architecture"
#endif
}

}  // namespace goro::detail
