# tools/gdb/goro-gdb.py: gdb support for goro's goroutines, after Go's
# runtime-gdb.py.
#
#   (gdb) source /path/to/goro/tools/gdb/goro-gdb.py
#   (gdb) info goroutines            every goroutine: id, state, wait reason,
#                                    thread, name, where it was started
#   (gdb) goroutine 7 bt             any gdb command, run on goroutine 7's stack
#   (gdb) goroutine all bt           ... on every goroutine's stack in turn
#
# How it works. goro keeps every goroutine that has started and not returned
# in a registry (src/runtime/registry.cpp: g_shards, one linked list per
# processor, through goroutine::all_next), except one that has not yet
# switched away since it started: that one is its processor's `fresh`
# goroutine (src/runtime/registry.hpp), and is read from there. A goroutine
# that is not running has its callee-saved registers pushed on its own stack
# by goro_context_switch, and the stack pointer saved in goroutine::context.
# `goroutine N cmd` on such a goroutine points the selected thread's
# registers at that saved frame, runs cmd, and puts the thread's registers
# back as they were; on a goroutine running on a worker thread, it runs cmd
# on that thread.
#
# Everything is read from goro's debug info (struct layouts, enumerator
# names), so the script follows field moves; what it knows by heart is the
# register frame the context switch saves (src/switch/switch_*.S) and the
# words of to_string(wait_reason) (src/runtime/scheduler.cpp), which
# tests/gdb/gdb_test.py compares with that source.
#
# Reads only: no function of the program is called, so it works on a
# process stopped anywhere. The registry may be mid-update when the process
# stopped (its locks are not taken); a list that loops or runs into
# unreadable memory is cut short with a warning.
#
# See docs/debugging.md, section "gdb".

import struct

import gdb

# to_string(wait_reason) in src/runtime/scheduler.cpp, keyed by enumerator
# name (so a reordered enum needs no change here). tests/gdb/gdb_test.py
# fails if the two differ.
GORO_WAIT_REASONS = {
    "none": "",
    "chan_receive": "chan receive",
    "chan_send": "chan send",
    "chan_receive_nil": "chan receive (nil chan)",
    "chan_send_nil": "chan send (nil chan)",
    "select": "select",
    "select_no_cases": "select (no cases)",
    "sleep": "sleep",
    "sync": "sync",
    "mutex_lock": "mutex lock",
    "rw_mutex_rlock": "rw_mutex rlock",
    "rw_mutex_lock": "rw_mutex lock",
    "cond_wait": "cond wait",
    "wait_group_wait": "wait_group wait",
    "once_wait": "once wait",
    "semaphore_acquire": "semaphore acquire",
    "io_wait": "IO wait",
    "blocking": "blocking call",
    "forever": "forever",
    "bubble": "bubble",
    "bubble_wait": "bubble wait",
}

# gstatus (src/runtime/goroutine.hpp) -> the state goro's dump shows
# (info_of() in src/runtime/registry.cpp).
_STATE_OF_STATUS = {
    "pending": "runnable",
    "runnable": "runnable",
    "yielding": "runnable",
    "woken": "runnable",
    "running": "running",
    "dead": "running",  # returning right now
    "parking": "waiting",
    "waiting": "waiting",
}

# Statuses in which a goroutine may be executing on a worker (mid-switch for
# all but running). A thread whose stack pointer is in no goroutine stack is
# given its processor's current goroutine only in one of these.
_MAY_BE_ON_A_THREAD = ("running", "dead", "parking", "yielding", "woken")

_SCOPE = "goro::detail::(anonymous namespace)::"

# Commands that would resume the program. Run on a parked goroutine they
# would execute the borrowed thread on the goroutine's stack, and the
# registers put back afterwards would no longer match memory.
_RESUMING = {
    "c", "cont", "continue", "fg", "n", "next", "ni", "nexti", "s", "step", "si",
    "stepi", "finish", "fin", "u", "until", "advance", "jump", "j", "return",
    "run", "r", "start", "starti", "kill", "signal", "queue-signal", "detach",
    "reverse-continue", "rc", "reverse-step", "reverse-next", "reverse-finish",
}

# Longest list the registry walk follows per shard before calling it corrupt.
_MAX_PER_SHARD = 10_000_000


def _lookup(name):
    """The program's variable goro::detail::(anonymous namespace)::name."""
    full = _SCOPE + name
    try:
        return gdb.parse_and_eval("'%s'" % full)
    except gdb.error:
        pass
    sym = None
    if hasattr(gdb, "lookup_static_symbol"):
        sym = gdb.lookup_static_symbol(full)
    if sym is None:
        sym = gdb.lookup_global_symbol(full)
    if sym is None:
        raise gdb.GdbError(
            "goro: %s not found: is goro linked into this program, with debug info (-g)?" % full)
    return sym.value()


def _atomic(v):
    """The value a std::atomic<T> holds, read through T (libstdc++ names the
    member _M_i or _M_b._M_p, libc++ __a_; a std::atomic<T> has T's size and
    representation, so a cast of its address works for all)."""
    t = v.type.strip_typedefs()
    try:
        inner = t.template_argument(0)
    except (gdb.error, RuntimeError, TypeError):
        inner = None
    if inner is not None:
        return v.address.cast(inner.pointer()).dereference()
    # No template arguments in the debug info: descend to the first scalar.
    while t.code in (gdb.TYPE_CODE_STRUCT, gdb.TYPE_CODE_UNION):
        # Static members (is_always_lock_free, ...) have no bit position.
        fields = [f for f in t.fields() if hasattr(f, "bitpos")]
        if not fields:
            break
        v = v[fields[0]]
        t = v.type.strip_typedefs()
    return v


def _enumerator(v):
    """The name of enum value v, without its scope ('waiting')."""
    n = int(v)
    for f in v.type.strip_typedefs().fields():
        if f.enumval == n:
            return f.name.split("::")[-1]
    return str(n)


def _string(v, limit=4096):
    """A NUL-terminated char* as a str (at most `limit` bytes); None if null.
    Read in pieces that stop at page boundaries, so that a string near the
    end of a mapping is read without touching the next page."""
    addr = int(v)
    if addr == 0:
        return None
    mem = gdb.selected_inferior()
    out = bytearray()
    try:
        while len(out) < limit:
            n = min(256, 4096 - addr % 4096, limit - len(out))
            chunk = bytes(mem.read_memory(addr, n))
            end = chunk.find(b"\0")
            if end >= 0:
                out += chunk[:end]
                break
            out += chunk
            addr += n
    except gdb.MemoryError:
        return "<unreadable>"
    return out.decode("utf-8", errors="replace")


class Goroutine:
    """What info goroutines shows about one goroutine, read from its record."""

    def __init__(self, g):
        self.ptr = g  # goro::detail::goroutine*
        rec = g.dereference()
        self.address = int(g)
        self.id = int(rec["id"])
        self.parent = int(rec["parent"])
        self.status = _enumerator(_atomic(rec["status"]))
        self.state = _STATE_OF_STATUS.get(self.status, self.status)
        self.reason = ""
        if self.state == "waiting":
            r = _enumerator(_atomic(rec["reason"]))
            self.reason = GORO_WAIT_REASONS.get(r, r) or "parking"
        self.name = _string(rec["name"])
        self.main = bool(rec["main"])
        self.deadlocked = bool(rec["abandoned"])
        site = rec["spawn_site"]
        self.file = _string(site["file"]) or ""
        self.function = _string(site["function"]) or ""
        self.line = int(site["line"])
        # Its stack: from the slot's base up to the record, which sits at the
        # top of it (materialize() in scheduler.cpp).
        self.stack_lo = int(rec["stack"]["base"])
        self.stack_hi = self.address
        self.context = rec["context"]
        self.thread = None  # the gdb thread running it, if any (see _attach_threads)

    def on_stack(self, sp):
        return self.stack_lo != 0 and self.stack_lo <= sp < self.stack_hi

    def started(self):
        if self.main:
            by = "by run()"
        elif self.parent != 0:
            by = "by goroutine %d" % self.parent
        else:
            by = "by a thread"
        where = "%s:%d" % (self.file, self.line)
        if self.function:
            where += " in " + self.function
        return "%s at %s" % (by, where)


def _registry():
    """Every goroutine in the registry and every processor's fresh one,
    ordered by id."""
    shards = _lookup("g_shards")
    lo, hi = shards.type.strip_typedefs().range()
    out = []
    for i in range(lo, hi + 1):
        g = shards[i]["head"]
        seen = set()
        while int(g) != 0:
            if int(g) in seen or len(seen) >= _MAX_PER_SHARD:
                gdb.write("warning: goro: registry shard %d loops (the process stopped mid-update?)\n" % i)
                break
            seen.add(int(g))
            try:
                rec = Goroutine(g)
                g = g.dereference()["all_next"]
            except gdb.error:  # gdb.MemoryError included
                gdb.write("warning: goro: registry shard %d: unreadable record at 0x%x\n" % (i, int(g)))
                break
            if rec.id == 0:
                # Ids start at 1: this memory is not a record. In a core file
                # it is memory the core lacks (gdb reads it as zeros).
                gdb.write("warning: goro: registry shard %d: no goroutine record at 0x%x "
                          "(memory missing from a core file?)\n" % (i, rec.address))
                break
            out.append(rec)
    # Goroutines that have not joined a shard yet: each processor's fresh one.
    listed = {g.address for g in out}
    for p in _each_processor():
        g = _atomic(p["fresh"])
        if int(g) == 0 or int(g) in listed:
            continue
        try:
            rec = Goroutine(g)
        except gdb.error:
            gdb.write("warning: goro: processor %d: unreadable fresh goroutine at 0x%x\n" % (int(p["id"]), int(g)))
            continue
        out.append(rec)
    out.sort(key=lambda x: x.id)
    return out


def _each_processor():
    """The processor records created so far (g_sched.procs[0..nprocs))."""
    sched = _lookup("g_sched")
    for i in range(int(_atomic(sched["nprocs"]))):
        p = _atomic(sched["procs"][i])
        if int(p) != 0:
            yield p.dereference()


def _num_goroutine():
    """detail::num_goroutine(), read from memory: go() calls counted on each
    processor and on plain threads, less the returns counted on each."""
    count = int(_atomic(_lookup("g_sched")["nspawn_outside"]))
    for p in _each_processor():
        count += int(_atomic(p["nspawn"])) - int(_atomic(p["nexit"]))
    return max(count, 0)


def _processors():
    """(pthread_t, running goroutine address or 0) of every processor."""
    return [(int(p["thread"]), int(_atomic(p["current"]))) for p in _each_processor()]


class _Selection:
    """Saves the selected thread and frame; restore() selects them again."""

    def __init__(self):
        self.thread = gdb.selected_thread()
        try:
            self.frame = gdb.selected_frame()
        except gdb.error:
            self.frame = None

    def restore(self):
        if self.thread is not None and self.thread.is_valid():
            self.thread.switch()
            if self.frame is not None:
                try:
                    self.frame.select()
                except (gdb.error, RuntimeError):
                    pass  # the frame is gone (the command resumed the thread)


def _thread_sps():
    """(thread, stack pointer of its innermost frame) for every thread of the
    selected inferior. Switches threads to read them; the caller restores."""
    out = []
    for t in gdb.selected_inferior().threads():
        if not t.is_valid() or t.is_exited():
            continue
        try:
            t.switch()
            sp = int(gdb.newest_frame().read_register("sp"))
        except gdb.error:
            continue
        out.append((t, sp))
    return out


def _attach_threads(goroutines):
    """Sets .thread of every goroutine executing on a thread now.

    A goroutine is on the thread whose stack pointer lies in its stack: that
    holds mid-switch too, when the processor's `current` already names the
    next goroutine. A thread whose stack pointer is in no goroutine stack
    (its worker's own stack, or the signal stack in the fault handler) is
    matched by its pthread_t to a processor, whose running goroutine is then
    on it."""
    if not gdb.selected_inferior().threads():
        return
    saved = _Selection()
    try:
        thread_sps = _thread_sps()
    finally:
        saved.restore()
    by_addr = {g.address: g for g in goroutines}
    unmatched = []
    for t, sp in thread_sps:
        hit = next((g for g in goroutines if g.on_stack(sp)), None)
        if hit is not None:
            hit.thread = t
        else:
            unmatched.append(t)
    if not unmatched:
        return
    try:
        procs = _processors()
    except gdb.GdbError:
        return
    for t in unmatched:
        try:
            handle = int.from_bytes(t.handle(), "little")
        except (AttributeError, gdb.error, TypeError, ValueError):
            continue
        for pthread, current in procs:
            g = by_addr.get(current)
            if pthread == handle and g is not None and g.thread is None and g.status in _MAY_BE_ON_A_THREAD:
                g.thread = t


def _goroutines():
    try:
        gs = _registry()
        _attach_threads(gs)
    except gdb.MemoryError as e:
        raise gdb.GdbError("goro: cannot read the goroutine registry: %s (a core file without "
                           "that memory, or a program other than the one that made it?)" % e)
    return gs


# ---- the saved register frame ---------------------------------------------------


def _arch():
    try:
        return gdb.selected_frame().architecture().name()
    except gdb.error:
        return gdb.selected_inferior().architecture().name()


def _saved_registers(g):
    """{register: value} that resume goroutine g where it parked: the frame
    goro_context_switch pushed (src/switch/switch_*.S), as it is after that
    function returns; or, in a build with GORO_CONTEXT_SWITCH=ucontext, the
    ucontext_t swapcontext filled in."""
    arch = _arch()
    ctx = g.context
    names = [f.name for f in ctx.type.strip_typedefs().fields()]
    mem = gdb.selected_inferior()
    if "sp" in names:
        sp = int(ctx["sp"])
        if sp == 0:
            raise gdb.GdbError("goroutine %d has no saved context" % g.id)
        if "x86-64" in arch:
            # From sp up: MXCSR and x87 control words (8 bytes), r15, r14,
            # r13, r12, rbx, rbp, return address. `ret` leaves rsp = sp + 64.
            words = struct.unpack("<8Q", bytes(mem.read_memory(sp, 64)))
            return {
                "r15": words[1], "r14": words[2], "r13": words[3], "r12": words[4],
                "rbx": words[5], "rbp": words[6], "rip": words[7], "rsp": sp + 64,
            }
        if "aarch64" in arch:
            # From sp up: x19..x28, x29 (fp), x30 (lr), d8..d15; 176 bytes.
            # The return goes to lr with sp = sp + 176. d8-d15 are not
            # restored here: they only hold floating-point variables.
            words = struct.unpack("<12Q", bytes(mem.read_memory(sp, 96)))
            regs = {"x%d" % (19 + i): words[i] for i in range(10)}
            regs.update({"x29": words[10], "x30": words[11], "sp": sp + 176, "pc": words[11]})
            return regs
        raise gdb.GdbError("goro: no saved-context layout for architecture %s" % arch)
    if "uc" in names:
        mc = ctx["uc"]["uc_mcontext"]
        if "x86-64" in arch:
            gr = mc["gregs"]
            # REG_* indices of <sys/ucontext.h> on x86-64.
            idx = {"r12": 4, "r13": 5, "r14": 6, "r15": 7, "rbp": 10, "rbx": 11, "rsp": 15, "rip": 16}
            return {r: int(gr[i]) & 0xFFFFFFFFFFFFFFFF for r, i in idx.items()}
        if "aarch64" in arch:
            regs = {"x%d" % i: int(mc["regs"][i]) for i in range(19, 31)}
            regs.update({"sp": int(mc["sp"]), "pc": int(mc["pc"])})
            return regs
        raise gdb.GdbError("goro: no ucontext layout for architecture %s" % arch)
    raise gdb.GdbError("goro: unknown machine_context layout (fields: %s)" % ", ".join(names))


def _set_register(name, value):
    gdb.parse_and_eval("$%s = 0x%x" % (name, value & 0xFFFFFFFFFFFFFFFF))


def _on_saved_context(g, command, from_tty):
    """Runs command with the selected thread's registers set to g's saved
    context, then puts the registers back.

    The writes go to the thread itself (gdb has no way to unwind from
    registers it does not hold), so they must all be undone before the
    thread runs again: restored in `finally`, and commands that would resume
    the thread are refused beforehand. Writes are made with frame 0
    selected, so that they change the thread's registers and not the
    register slots of a caller's frame in memory."""
    if gdb.selected_thread() is None:
        raise gdb.GdbError("goroutine %d: no thread to borrow (is the program running?)" % g.id)
    regs = _saved_registers(g)
    saved = _Selection()
    newest = gdb.newest_frame()
    newest.select()
    old = {r: int(newest.read_register(r)) & 0xFFFFFFFFFFFFFFFF for r in regs}
    try:
        try:
            for r, v in regs.items():
                _set_register(r, v)
        except gdb.error as e:
            # The first write fails where none can succeed: in a core file.
            raise gdb.GdbError(
                "goroutine %d is parked, and gdb cannot set the registers of a thread here (%s). "
                "In a core file only goroutines running on a thread (info goroutines' Thread "
                "column) can be inspected with `goroutine`." % (g.id, e))
        gdb.execute(command, from_tty)
    finally:
        gdb.newest_frame().select()
        lost = []
        for r, v in old.items():
            try:
                _set_register(r, v)  # a no-op for a register never changed
            except gdb.error:
                lost.append(r)
        saved.restore()
        if lost:
            gdb.write("warning: goro: could not restore %s of thread %d: do not resume the program\n"
                      % (", ".join(lost), saved.thread.num))


def _on_thread(g, command, from_tty):
    """Runs command on the thread g is executing on, then selects the
    previously selected thread and frame again."""
    saved = _Selection()
    g.thread.switch()
    try:
        gdb.execute(command, from_tty)
    finally:
        saved.restore()


def _run_on(g, command, from_tty):
    if g.thread is not None:
        _on_thread(g, command, from_tty)
        return
    if g.status == "running":
        # Its saved context is from its last switch, long overwritten.
        raise gdb.GdbError("goroutine %d is running, but on no thread gdb can see" % g.id)
    words = command.split()
    if words and words[0] in _RESUMING:
        raise gdb.GdbError(
            "goroutine %d is not running: '%s' would resume the program on its stack; "
            "select a thread instead" % (g.id, words[0]))
    _on_saved_context(g, command, from_tty)


# ---- commands --------------------------------------------------------------------


class InfoGoroutines(gdb.Command):
    """List goro's goroutines.

Usage: info goroutines

One line per goroutine that has started and not returned, ordered by id:
its id; its state (running, runnable or waiting), with what it waits on;
the gdb thread running it; its name (this_goroutine::set_name); and who
started it where. `*` marks the goroutine running on the selected thread.
Goroutines made by go() that have not run yet are counted, not listed."""

    def __init__(self):
        super().__init__("info goroutines", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        if arg.strip():
            raise gdb.GdbError("info goroutines takes no argument")
        gs = _goroutines()
        selected = gdb.selected_thread()
        try:
            alive = _num_goroutine()
        except (gdb.GdbError, gdb.MemoryError):
            alive = len(gs)
        header = "%d goroutine%s" % (len(gs), "" if len(gs) == 1 else "s")
        if alive > len(gs):
            header += " (and %d not yet started)" % (alive - len(gs))
        gdb.write(header + "\n")
        if not gs:
            return
        rows = [("", "Id", "State", "Wait reason", "Thread", "Name", "Started")]
        for g in gs:
            state = g.state
            if g.main:
                state += " (main)"
            if g.deadlocked:
                state += " (deadlocked)"
            mark = "*" if g.thread is not None and selected is not None and g.thread.ptid == selected.ptid else ""
            rows.append((
                mark, str(g.id), state, g.reason,
                str(g.thread.num) if g.thread is not None else "",
                '"%s"' % g.name if g.name is not None else "",
                g.started(),
            ))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
        for r in rows:
            cells = [r[i].ljust(widths[i]) for i in range(len(widths))] + [r[-1]]
            gdb.write("  ".join(cells).rstrip() + "\n")


class GoroutineCommand(gdb.Command):
    """Run a gdb command on a goroutine's stack.

Usage: goroutine ID COMMAND
       goroutine all COMMAND

ID is a goroutine id, as info goroutines lists them (any expression).
For a parked or runnable goroutine, the selected thread's registers are
pointed at the goroutine's saved context while COMMAND runs, and put back
after it; commands that would resume the program are refused. For a
goroutine running on a thread, COMMAND runs on that thread.
Examples: goroutine 7 bt, goroutine 7 info frame, goroutine all bt 5."""

    def __init__(self):
        super().__init__("goroutine", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        parts = arg.split(None, 1)
        if len(parts) < 2:
            raise gdb.GdbError("usage: goroutine ID COMMAND (for example: goroutine 7 bt), or goroutine all COMMAND")
        which, command = parts
        gs = _goroutines()
        if which == "all":
            for g in gs:
                # goro's dump header: goroutine 7 "name" [chan receive]:
                gdb.write("\ngoroutine %d%s [%s]%s:\n" % (
                    g.id, ' "%s"' % g.name if g.name is not None else "", g.reason or g.state,
                    " (main)" if g.main else ""))
                try:
                    _run_on(g, command, from_tty)
                except gdb.error as e:
                    gdb.write("error: %s\n" % e)
            return
        try:
            goid = int(gdb.parse_and_eval(which))
        except (gdb.error, ValueError):
            raise gdb.GdbError("goroutine: '%s' is not a goroutine id" % which)
        g = next((x for x in gs if x.id == goid), None)
        if g is None:
            raise gdb.GdbError(
                "no goroutine %d (info goroutines lists them; goroutines that have not run yet "
                "are not listed)" % goid)
        _run_on(g, command, from_tty)


InfoGoroutines()
GoroutineCommand()
