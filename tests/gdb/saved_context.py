# tests/gdb/saved_context.py: sourced by gdb in tests/gdb/gdb_test.py, with
# tools/gdb/goro-gdb.py loaded and gdb_target stopped at goro_gdb_stop_here.
#
# Prints the sleeper goroutine's saved context (the stack pointer
# goro_context_switch stored, and the 12 words above it) and then the $sp
# and $pc that `goroutine <sleeper>` gives the selected thread, so that the
# driver can check them against the switch's frame layout, stated there
# independently of the extension. In a Debug build a backtrace alone would
# not notice a wrong $sp: gdb unwinds -O0 frames through rbp.
import struct

import gdb

gid = int(gdb.parse_and_eval("gdb_target_ids.sleeper"))
g = next(x for x in _registry() if x.id == gid)  # noqa: F821 (defined by goro-gdb.py)
print("ARCH %s" % gdb.selected_frame().architecture().name())
if "sp" in [f.name for f in g.context.type.strip_typedefs().fields()]:
    sp = int(g.context["sp"])
    words = struct.unpack("<12Q", bytes(gdb.selected_inferior().read_memory(sp, 96)))
    print("SAVED %#x %s" % (sp, " ".join("%#x" % w for w in words)))
else:
    print("SAVED ucontext")  # GORO_CONTEXT_SWITCH=ucontext: no frame layout to check
gdb.execute('goroutine %d printf "RESUMED %%#lx %%#lx\\n", $sp, $pc' % gid)
