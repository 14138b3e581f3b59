// src/runtime/stack.hpp: goroutine stacks.
//
// A stack is a fixed-size slot carved from a large anonymous region mapped
// with MAP_NORESERVE: only the pages a goroutine touches cost memory. Slots
// are never unmapped; they are pooled (per processor, then globally) and
// reused warm, because a first touch of a fresh page costs microseconds.
//
// Overflow protection, best first:
//   1. MADV_GUARD_INSTALL (Linux >= 6.13): a guard page at the bottom of every
//      slot without splitting the region's mapping, so a million stacks fit
//      under vm.max_map_count.
//   2. mprotect(PROT_NONE) on the bottom page, for at most guarded_limit
//      slots (each one splits the mapping in two).
//   3. Beyond that, a canary word at the bottom, checked at every switch.
// A fault in a guard page is reported by the SIGSEGV handler (stack.cpp),
// which names the goroutine and where it was started, then aborts.
#pragma once

#include <cstddef>
#include <cstdint>

namespace goro::detail {

struct stack_slot {
  char* base = nullptr;  // lowest address of the slot: the guard page, then the stack
  bool canary = false;   // no guard page: a canary word sits at lo()

  explicit operator bool() const noexcept { return base != nullptr; }
  char* lo() const noexcept;  // lowest usable address
  char* hi() const noexcept;  // one past the highest usable address (16-byte aligned)
  bool canary_intact() const noexcept;
};

/// Bytes per stack slot, guard page included. Fixed at runtime start from
/// GORO_STACK_SIZE (bytes, default 256 KiB; 1 MiB under sanitizers).
std::size_t stack_slot_size() noexcept;
std::size_t stack_guard_size() noexcept;

/// Takes a slot from the global pool, or carves a new one. Thread-safe.
stack_slot stack_allocate();
/// Returns slots to the global pool (which releases the memory of cold ones).
/// Thread-safe.
void stack_free(stack_slot* slots, std::size_t n) noexcept;

/// Releases the memory of pooled stacks that went unused for a while.
/// Cheap when there is nothing to do; idle workers call it.
void stack_scavenge() noexcept;
/// Under AddressSanitizer: lets LeakSanitizer see what goroutines still
/// alive at exit hold (called at exit). A no-op otherwise.
void stack_register_for_leak_check() noexcept;
/// Installs the SIGSEGV/SIGBUS handler (once) that reports stack overflows.
void stack_install_overflow_handler() noexcept;
/// Gives the calling thread the alternate signal stack the handler runs on.
void stack_install_signal_stack() noexcept;
/// Reports a stack overflow of the running goroutine and aborts (used when a
/// canary is found broken).
[[noreturn]] void stack_overflow_abort(std::uint64_t goroutine_id, const char* file,
                                       std::uint32_t line) noexcept;

}  // namespace goro::detail
