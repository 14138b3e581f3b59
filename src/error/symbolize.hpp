// src/error/symbolize.hpp: return addresses to text (error.cpp), for
// goro::error's stack traces and the goroutine dump's park stacks.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace goro::detail {

/// One line per frame, innermost first: "#i address function+offset
/// (module)", or "#i address (module+offset)" when the module is stripped
/// (addr2line turns module+offset into a line).
std::string symbolize_frames(std::span<void* const> frames);

/// In frames[0..n), from backtrace(): the index just past `marker`, the
/// return address of a capturing function into its caller, looked for among
/// the first `within` (the capturer's frame, a sanitizer interceptor's);
/// `otherwise` if it is not there. error.cpp.
int first_frame_after(void* const* frames, int n, const void* marker, int within, int otherwise) noexcept;

/// The function holding code address addr, from the symbol table (.symtab,
/// else .dynsym) of the file of the module it lies in: its mangled name and
/// addr's offset in it. False if none (a stripped file). elf_symbols.cpp.
bool elf_symbol(std::uintptr_t addr, std::string& name, std::uintptr_t& offset);

}  // namespace goro::detail
