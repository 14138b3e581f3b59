// src/switch/switch_ucontext.cpp: the portable fallback switch (swapcontext).
// Slower than the assembly switch (it saves the signal mask with a syscall),
// used where goro has no assembly for the architecture or when configured with
// -DGORO_CONTEXT_SWITCH=ucontext.
#include <cstdint>

#include "switch/context.hpp"

namespace goro::detail {
namespace {

// makecontext passes int arguments only: split the pointers in halves.
void ucontext_entry(unsigned entry_hi, unsigned entry_lo, unsigned arg_hi, unsigned arg_lo) {
  auto entry = reinterpret_cast<context_entry>((std::uintptr_t{entry_hi} << 32) | entry_lo);
  auto* arg = reinterpret_cast<void*>((std::uintptr_t{arg_hi} << 32) | arg_lo);
  entry(arg);
  __builtin_trap();
}

}  // namespace

void context_make(machine_context* ctx, void* lo, void* hi, context_entry entry, void* arg) noexcept {
  getcontext(&ctx->uc);
  ctx->uc.uc_stack.ss_sp = lo;
  ctx->uc.uc_stack.ss_size = static_cast<char*>(hi) - static_cast<char*>(lo);
  ctx->uc.uc_link = nullptr;
  auto e = reinterpret_cast<std::uintptr_t>(entry);
  auto a = reinterpret_cast<std::uintptr_t>(arg);
  makecontext(&ctx->uc, reinterpret_cast<void (*)()>(&ucontext_entry), 4,
              static_cast<unsigned>(e >> 32), static_cast<unsigned>(e),
              static_cast<unsigned>(a >> 32), static_cast<unsigned>(a));
}

void context_switch(machine_context* from, machine_context* to) noexcept {
  swapcontext(&from->uc, &to->uc);
}

}  // namespace goro::detail
