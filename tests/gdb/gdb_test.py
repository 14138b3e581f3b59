#!/usr/bin/env python3
"""tests/gdb/gdb_test.py: checks tools/gdb/goro-gdb.py on a live process.

Runs gdb_target (tests/gdb/gdb_target.cpp) under gdb with the extension
loaded, stops it at goro_gdb_stop_here() (the main goroutine running, the
spinner running on the other worker, three goroutines parked), runs the
extension's commands and checks what they print:

  - `info goroutines` lists exactly the goroutines goro's own dump (printed
    by the program just before it stopped) lists, with the same state, wait
    reason, name and spawn site; `*` marks the main goroutine (it runs on
    the thread that hit the breakpoint); the running ones show a thread;
  - `goroutine N bt` on each parked goroutine shows the frames of the test
    function that blocked (so the registers really were switched to its
    saved context), down to goroutine_entry; `goroutine N info frame` runs
    there too; the selected thread's registers are the same afterwards;
  - `goroutine N bt` on a goroutine running on another thread (the spinner,
    and the main goroutine seen from thread 1) runs on that thread, and the
    selected thread is selected again afterwards;
  - stopped again in a signal handler on the worker's signal stack, the
    main goroutine is still shown on its thread (found by pthread_t, not by
    stack pointer) and `goroutine N bt` runs there;
  - unknown ids and commands that would resume the program are refused;
  - the extension's wait-reason words equal to_string(wait_reason)'s;
  - the program then continues, releases everything and exits normally
    (a register left wrong would crash it).

Exit status: 0 pass, 1 fail, 77 gdb cannot trace a process here (ctest
reports the test as skipped).
"""

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys

GDB_TIMEOUT = 120  # seconds, for the whole gdb session

# (section, gdb command). Each section's output is cut out of gdb's output
# by the `echo @@@ section` line run before it. `eval` builds a command with
# a literal id, as a user would type it; the plain form passes the id as an
# expression, which `goroutine` also accepts.
SECTIONS = [
    ("info", "info goroutines"),
    ("regs-before", "info registers"),
    ("sleeper-bt", 'eval "goroutine %d bt", gdb_target_ids.sleeper'),
    ("regs-after-sleeper", "info registers"),
    ("saved-context", "source {saved_context}"),
    ("locker-bt", "goroutine gdb_target_ids.locker bt"),
    ("waiter-frame", 'eval "goroutine %d info frame", gdb_target_ids.waiter'),
    ("spinner-bt", 'eval "goroutine %d bt", gdb_target_ids.spinner'),
    ("unknown", "goroutine 999999 bt"),
    ("resume-refused", 'eval "goroutine %d continue", gdb_target_ids.sleeper'),
    ("all", "goroutine all bt"),
    ("regs-after-all", "info registers"),
    ("thread-1", "thread 1"),
    ("main-from-thread-1", 'eval "goroutine %d bt", gdb_target_ids.main'),
    ("thread-after", "thread"),
    ("reasons", 'python print("WAIT_REASONS " + __import__("json").dumps(GORO_WAIT_REASONS))'),
    # The second stop: the main goroutine's thread in a signal handler, on
    # the worker's signal stack.
    ("continue-to-signal", "continue"),
    ("signal-info", "info goroutines"),
    ("signal-main-bt", 'eval "goroutine %d bt", gdb_target_ids.main'),
    ("continue", "continue"),
]

PTRACE_DENIED = ("ptrace: Operation not permitted", "Could not trace the inferior process",
                 "Couldn't get registers: Operation not permitted")


class Checker:
    def __init__(self):
        self.failures = []

    def check(self, ok, what):
        if not ok:
            self.failures.append(what)
        return ok


def run_gdb(args):
    cmd = [args.gdb, "-batch", "-nx", "-q",
           "-iex", "set debuginfod enabled off",
           "-iex", "set width 0",
           "-iex", "set height 0",
           "-x", args.script,
           "-ex", "handle SIGUSR1 nostop noprint pass",
           "-ex", "break goro_gdb_stop_here",
           "-ex", "break goro_gdb_stop_on_signal_stack",
           "-ex", "run"]
    helper = os.path.join(os.path.dirname(os.path.abspath(__file__)), "saved_context.py")
    for name, command in SECTIONS:
        cmd += ["-ex", "echo @@@ %s\\n" % name, "-ex", command.format(saved_context=helper)]
    cmd += ["-ex", "echo @@@ end\\n", args.target]
    if shutil.which("timeout"):
        cmd = ["timeout", "-k", "10", str(GDB_TIMEOUT)] + cmd
    env = dict(os.environ)
    env.pop("GORO_MAXPROCS", None)  # it would override GOMAXPROCS
    env["GOMAXPROCS"] = "2"  # the spinner needs a worker of its own
    env["LC_ALL"] = "C"
    print("$ " + " ".join(_quote(c) for c in cmd), flush=True)
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                           timeout=GDB_TIMEOUT + 30)
    except subprocess.TimeoutExpired as e:
        return None, (e.stdout or b"").decode("utf-8", "replace")
    return p.returncode, p.stdout.decode("utf-8", "replace")


def _quote(s):
    return s if re.fullmatch(r"[\w./=:-]+", s) else "'" + s.replace("'", "'\\''") + "'"


def split_sections(out):
    sections = {"prelude": []}
    current = "prelude"
    for line in out.splitlines():
        m = re.fullmatch(r"@@@ (\S+)", line)
        if m:
            current = m.group(1)
            sections[current] = []
        else:
            sections[current].append(line)
    return {k: "\n".join(v) for k, v in sections.items()}


def parse_dump(text):
    """goro::dump's entries: id -> (state, reason, name, main, started)."""
    m = re.search(r"^=== goro dump\n(.*?)^=== end of goro dump$", text, re.S | re.M)
    if not m:
        return None
    entries = {}
    header = re.compile(r'^goroutine (\d+)(?: "([^"]*)")? \[([^\]]*)\]( \(main\))?( \(deadlocked\))?:$')
    lines = m.group(1).splitlines()
    for i, line in enumerate(lines):
        h = header.match(line)
        if not h:
            continue
        started = lines[i + 1].strip()
        assert started.startswith("started "), line
        bracket = h.group(3)
        if bracket in ("running", "runnable"):
            state, reason = bracket, ""
        else:
            state, reason = "waiting", bracket.rsplit(", ", 1)[0]
        entries[int(h.group(1))] = (state, reason, h.group(2), bool(h.group(4)), started[len("started "):])
    return entries


def parse_info(text):
    """info goroutines' rows: id -> dict of its columns, and the count line."""
    lines = [l for l in text.splitlines() if l.strip()]
    count_line = next((l for l in lines if re.match(r"^\d+ goroutines?", l)), None)
    head_i = next((i for i, l in enumerate(lines) if re.search(r"\bId\s+State\s+Wait reason\s+Thread\s+Name\s+Started$", l)), None)
    if head_i is None:
        return count_line, None
    head = lines[head_i]
    cols = ["Id", "State", "Wait reason", "Thread", "Name", "Started"]
    starts = [head.index(c) for c in cols]
    rows = {}
    for line in lines[head_i + 1:]:
        if not re.match(r"^[* ] *\d", line):
            break
        cells = {}
        for k, c in enumerate(cols):
            end = starts[k + 1] if k + 1 < len(cols) else len(line)
            cells[c] = line[starts[k]:end].strip()
        cells["mark"] = line[:starts[0]].strip()
        rows[int(cells["Id"])] = cells
    return count_line, rows


def source_wait_reasons(source_dir):
    """to_string(wait_reason)'s words, from goro's source."""
    words = {}
    for path in glob.glob(os.path.join(source_dir, "src", "**", "*.cpp"), recursive=True):
        with open(path, encoding="utf-8") as f:
            for m in re.finditer(r'case wait_reason::(\w+):\s*return "([^"]*)";', f.read()):
                words[m.group(1)] = m.group(2)
    return words


def check_saved_context(c, text):
    """$sp and $pc under `goroutine <sleeper>` are those goro_context_switch
    returns with: src/switch/switch_x86_64.S pops 8 words (control words,
    r15, r14, r13, r12, rbx, rbp, return address), switch_aarch64.S frees
    176 bytes and returns to the saved x30 (the 12th word)."""
    arch = re.search(r"^ARCH (\S+)", text, re.M)
    saved = re.search(r"^SAVED (.*)$", text, re.M)
    resumed = re.search(r"^RESUMED (0x[0-9a-f]+) (0x[0-9a-f]+)$", text, re.M)
    if not c.check(arch and saved and resumed, "saved-context: incomplete output:\n" + text):
        return
    if saved.group(1) == "ucontext":
        return
    values = [int(x, 16) for x in saved.group(1).split()]
    sp, words = values[0], values[1:]
    got_sp, got_pc = int(resumed.group(1), 16), int(resumed.group(2), 16)
    if "x86-64" in arch.group(1):
        want_sp, want_pc = sp + 64, words[7]
    elif "aarch64" in arch.group(1):
        want_sp, want_pc = sp + 176, words[11]
    else:
        c.check(False, "saved-context: no layout known for " + arch.group(1))
        return
    c.check((got_sp, got_pc) == (want_sp, want_pc),
            "saved-context: goroutine <sleeper> gave sp=%#x pc=%#x; the switch resumes at sp=%#x pc=%#x"
            % (got_sp, got_pc, want_sp, want_pc))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gdb", required=True)
    ap.add_argument("--target", required=True)
    ap.add_argument("--script", required=True)
    ap.add_argument("--source-dir", required=True)
    args = ap.parse_args()

    rc, out = run_gdb(args)
    print(out)
    if any(s in out for s in PTRACE_DENIED) and "@@@ info" not in out:
        print("gdb_test: gdb cannot trace a process on this machine; skipped")
        return 77

    c = Checker()
    c.check(rc == 0, "gdb exited with status %s (None: killed after %d s)" % (rc, GDB_TIMEOUT))
    for bad in ("Traceback", "Python Exception", "Error occurred in Python"):
        c.check(bad not in out, "gdb printed %r: the extension raised an unexpected exception" % bad)
    s = split_sections(out)
    missing = [name for name, _ in SECTIONS if name not in s]
    if not c.check(not missing and "end" in s, "gdb did not reach sections %s" % missing):
        return report(c)

    m = re.search(r"gdb_target ids: main=(\d+) sleeper=(\d+) locker=(\d+) waiter=(\d+) spinner=(\d+)", s["prelude"])
    if not c.check(m is not None, "the program did not print its goroutine ids"):
        return report(c)
    main_id, sleeper, locker, waiter, spinner = (int(x) for x in m.groups())
    c.check("Breakpoint 1, goro_gdb_stop_here" in s["prelude"], "gdb did not stop at goro_gdb_stop_here")

    # ---- info goroutines against goro's own dump ----
    dump = parse_dump(s["prelude"])
    count_line, rows = parse_info(s["info"])
    if not c.check(dump is not None and rows is not None, "no goro dump or no info goroutines table"):
        return report(c)
    c.check(set(dump) == {main_id, sleeper, locker, waiter, spinner},
            "goro's dump lists %s, not the five goroutines" % sorted(dump))
    c.check(set(rows) == set(dump), "info goroutines lists ids %s, goro's dump %s" % (sorted(rows), sorted(dump)))
    c.check(count_line is not None and count_line.startswith("%d goroutines" % len(dump)),
            "count line %r, expected %d goroutines" % (count_line, len(dump)))
    for gid, (state, reason, name, is_main, started) in dump.items():
        row = rows.get(gid)
        if row is None:
            continue
        want_state = state + (" (main)" if is_main else "")
        c.check(row["State"] == want_state, "goroutine %d: state %r, goro says %r" % (gid, row["State"], want_state))
        c.check(row["Wait reason"] == reason, "goroutine %d: wait reason %r, goro says %r" % (gid, row["Wait reason"], reason))
        want_name = '"%s"' % name if name is not None else ""
        c.check(row["Name"] == want_name, "goroutine %d: name %r, goro says %r" % (gid, row["Name"], want_name))
        c.check(row["Started"] == started, "goroutine %d: started %r, goro says %r" % (gid, row["Started"], started))
        running = state == "running"
        c.check(bool(row["Thread"]) == running,
                "goroutine %d (%s): thread column %r" % (gid, state, row["Thread"]))
    # The words the driver expects, independently of the dump.
    c.check(dump.get(sleeper, (None,) * 3)[:3] == ("waiting", "chan receive", "sleeper"), "sleeper: %r" % (dump.get(sleeper),))
    c.check(dump.get(locker, (None,) * 2)[:2] == ("waiting", "mutex lock"), "locker: %r" % (dump.get(locker),))
    c.check(dump.get(waiter, (None,) * 2)[:2] == ("waiting", "wait_group wait"), "waiter: %r" % (dump.get(waiter),))
    marked = [gid for gid, r in rows.items() if r["mark"] == "*"]
    c.check(marked == [main_id], "'*' marks %s; the selected thread runs goroutine %d" % (marked, main_id))
    if main_id in rows and spinner in rows:
        c.check(rows[main_id]["Thread"] != rows[spinner]["Thread"], "main and spinner shown on the same thread")

    # ---- goroutine N <command> on parked goroutines: the saved context ----
    def check_parked_bt(section, function):
        text = s[section]
        c.check(function in text, "%s: no frame of %s:\n%s" % (section, function, text))
        c.check("goroutine_entry" in text, "%s: the backtrace does not reach goroutine_entry" % section)
        c.check("goro_gdb_stop_here" not in text, "%s: shows the selected thread's own stack" % section)
        c.check(not re.search(r"corrupt|Cannot access memory", text), "%s: broken unwind:\n%s" % (section, text))

    check_parked_bt("sleeper-bt", "sleeper_waits_on_channel")
    c.check("chan_recv" in s["sleeper-bt"], "sleeper-bt: no chan_recv frame")
    check_saved_context(c, s["saved-context"])
    check_parked_bt("locker-bt", "locker_waits_on_mutex")
    wf = s["waiter-frame"]
    c.check("Stack level 0, frame at" in wf and "goro_gdb_stop_here" not in wf,
            "waiter-frame: info frame did not run on the waiter's context:\n" + wf)
    c.check(s["regs-before"].strip() != "" and s["regs-before"] == s["regs-after-sleeper"] == s["regs-after-all"],
            "the selected thread's registers changed:\n%s\n---\n%s\n---\n%s"
            % (s["regs-before"], s["regs-after-sleeper"], s["regs-after-all"]))

    # ---- on goroutines running on a thread: that thread ----
    c.check("spinner_spins_until_released" in s["spinner-bt"], "spinner-bt: no spinner frame:\n" + s["spinner-bt"])
    mb = s["main-from-thread-1"]
    c.check("goro_gdb_stop_here" in mb and "main_goroutine_body" in mb,
            "goroutine %d bt from thread 1 did not run on the main goroutine's thread:\n%s" % (main_id, mb))
    c.check(re.search(r"Current thread is 1 ", s["thread-after"]) is not None,
            "thread 1 is not selected after `goroutine %d bt`: %s" % (main_id, s["thread-after"]))

    # ---- errors ----
    c.check("no goroutine 999999" in s["unknown"], "unknown id: " + s["unknown"])
    c.check("would resume the program" in s["resume-refused"], "continue on a parked goroutine: " + s["resume-refused"])

    # ---- goroutine all bt ----
    al = s["all"]
    for function in ("sleeper_waits_on_channel", "locker_waits_on_mutex", "waiter_waits_on_group",
                     "spinner_spins_until_released", "goro_gdb_stop_here"):
        c.check(function in al, "goroutine all bt: no frame of " + function)
    c.check('goroutine %d "sleeper" [chan receive]:' % sleeper in al, "goroutine all bt: no sleeper header")
    c.check("goroutine %d [mutex lock]:" % locker in al, "goroutine all bt: no locker header")

    # ---- the wait-reason words ----
    m = re.search(r"^WAIT_REASONS (.*)$", s["reasons"], re.M)
    if c.check(m is not None, "the extension's GORO_WAIT_REASONS not printed"):
        theirs = json.loads(m.group(1))
        ours = source_wait_reasons(args.source_dir)
        c.check(len(ours) > 10, "to_string(wait_reason) not found under %s/src" % args.source_dir)
        c.check(theirs == ours, "GORO_WAIT_REASONS in goro-gdb.py differs from to_string(wait_reason):\n"
                "  script: %s\n  source: %s" % (theirs, ours))

    # ---- on the signal stack: found by its thread's pthread_t ----
    c.check("Breakpoint 2, goro_gdb_stop_on_signal_stack" in s["continue-to-signal"],
            "gdb did not stop in the signal handler:\n" + s["continue-to-signal"])
    _, srows = parse_info(s["signal-info"])
    srow = (srows or {}).get(main_id)
    c.check(srow is not None and srow["mark"] == "*" and srow["Thread"] != "",
            "in the signal handler, the main goroutine is not shown on the selected thread: %r" % (srow,))
    sb = s["signal-main-bt"]
    c.check("goro_gdb_stop_on_signal_stack" in sb and "main_goroutine_body" in sb,
            "goroutine %d bt in the signal handler did not show its thread's stack:\n%s" % (main_id, sb))

    # ---- the program goes on unharmed ----
    c.check("gdb_target: released every goroutine" in s["continue"], "the program did not finish its work")
    c.check("exited normally" in s["continue"], "the program did not exit normally:\n" + s["continue"])
    return report(c)


def report(c):
    if c.failures:
        print("gdb_test: %d check(s) failed:" % len(c.failures))
        for f in c.failures:
            print("  - " + f)
        return 1
    print("gdb_test: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
