// src/error/elf_symbols.cpp: names for code addresses that dladdr cannot
// name. dladdr reads only a module's dynamic symbol table, which holds its
// exported symbols: in a program linked without -rdynamic (and in goro
// itself, built with hidden visibility) that leaves most functions nameless.
// The full symbol table (.symtab) is still in the file unless it was
// stripped; this reads it once per module, at the first lookup in it.
//
// Thread safety: the cache is guarded by cache_mutex; a module's table is
// built under it and never changed after, so lookups copy the name out
// under the lock.
#include "error/symbolize.hpp"

#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace goro::detail {
namespace {

struct function_symbol {
  std::uintptr_t start;  // in the file's address space (before the load bias)
  std::uintptr_t size;
  std::string name;  // mangled
};

struct module_symbols {
  std::vector<function_symbol> functions;  // sorted by start
};

std::mutex cache_mutex;
std::map<std::string, module_symbols>* cache = nullptr;  // guarded by cache_mutex; never freed

// The functions of the ELF file at path (64-bit, native byte order), from
// .symtab, or else .dynsym. Empty if the file cannot be read.
module_symbols read_symbols(const char* path) {
  module_symbols out;
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_size < static_cast<off_t>(sizeof(Elf64_Ehdr))) {
    ::close(fd);
    return out;
  }
  auto size = static_cast<std::size_t>(st.st_size);
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) return out;
  const auto* base = static_cast<const unsigned char*>(map);
  auto in_file = [size](std::uint64_t off, std::uint64_t len) { return off <= size && len <= size - off; };
  const auto* eh = reinterpret_cast<const Elf64_Ehdr*>(base);
  if (std::memcmp(eh->e_ident, ELFMAG, SELFMAG) == 0 && eh->e_ident[EI_CLASS] == ELFCLASS64 &&
      eh->e_shentsize == sizeof(Elf64_Shdr) && in_file(eh->e_shoff, std::uint64_t{eh->e_shnum} * sizeof(Elf64_Shdr))) {
    const auto* sh = reinterpret_cast<const Elf64_Shdr*>(base + eh->e_shoff);
    for (std::uint32_t want : {std::uint32_t{SHT_SYMTAB}, std::uint32_t{SHT_DYNSYM}}) {
      for (int i = 0; i < eh->e_shnum && out.functions.empty(); ++i) {
        if (sh[i].sh_type != want || sh[i].sh_link >= eh->e_shnum) continue;
        const Elf64_Shdr& strtab = sh[sh[i].sh_link];
        if (!in_file(sh[i].sh_offset, sh[i].sh_size) || !in_file(strtab.sh_offset, strtab.sh_size)) continue;
        const auto* syms = reinterpret_cast<const Elf64_Sym*>(base + sh[i].sh_offset);
        std::size_t n = sh[i].sh_size / sizeof(Elf64_Sym);
        const char* names = reinterpret_cast<const char*>(base + strtab.sh_offset);
        for (std::size_t k = 0; k < n; ++k) {
          const Elf64_Sym& s = syms[k];
          if (ELF64_ST_TYPE(s.st_info) != STT_FUNC || s.st_value == 0 || s.st_name >= strtab.sh_size) continue;
          const char* name = names + s.st_name;
          std::size_t len = strnlen(name, strtab.sh_size - s.st_name);
          out.functions.push_back({s.st_value, s.st_size, std::string(name, len)});
        }
      }
      if (!out.functions.empty()) break;
    }
  }
  ::munmap(map, size);
  std::sort(out.functions.begin(), out.functions.end(),
            [](const function_symbol& a, const function_symbol& b) { return a.start < b.start; });
  return out;
}

struct module_of {
  std::uintptr_t addr;
  std::uintptr_t bias = 0;
  std::string path;
  bool found = false;
};

int find_module(dl_phdr_info* info, std::size_t, void* arg) {
  auto* m = static_cast<module_of*>(arg);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD) continue;
    std::uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
    if (m->addr >= lo && m->addr < lo + ph.p_memsz) {
      m->bias = info->dlpi_addr;
      // The main program has an empty name here.
      m->path = (info->dlpi_name != nullptr && info->dlpi_name[0] != '\0') ? info->dlpi_name : "/proc/self/exe";
      m->found = true;
      return 1;
    }
  }
  return 0;
}

}  // namespace

bool elf_symbol(std::uintptr_t addr, std::string& name, std::uintptr_t& offset) {
  module_of m{addr};
  dl_iterate_phdr(&find_module, &m);
  if (!m.found) return false;
  std::lock_guard lock(cache_mutex);
  if (cache == nullptr) cache = new std::map<std::string, module_symbols>;
  auto it = cache->find(m.path);
  if (it == cache->end()) it = cache->emplace(m.path, read_symbols(m.path.c_str())).first;
  const std::vector<function_symbol>& fs = it->second.functions;
  std::uintptr_t at = addr - m.bias;
  auto after = std::upper_bound(fs.begin(), fs.end(), at,
                                [](std::uintptr_t a, const function_symbol& f) { return a < f.start; });
  if (after == fs.begin()) return false;
  const function_symbol& f = *std::prev(after);
  if (at >= f.start + std::max<std::uintptr_t>(f.size, 1)) return false;
  name = f.name;
  offset = at - f.start;
  return true;
}

}  // namespace goro::detail
