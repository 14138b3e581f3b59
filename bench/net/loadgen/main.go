// loadgen drives an echo server (goro's examples/echo_server.cpp or its Go
// twin, bench/net/go_echo) with N concurrent connections, each a loop of
// "write a message, read its echo in full", and prints one JSON line:
//
//	{"conns":64,"size":64,"seconds":3.0002,"roundtrips":412345,
//	 "rps":137436.2,"p50_us":452.1,"p99_us":905.3,"p999_us":1203.9,
//	 "client_cpu":0.99,"server_cpu_us_per_rt":6.1}
//
// Usage:
//
//	loadgen -addr 127.0.0.1:7000 [-conns 64] [-size 64] [-warmup 500ms]
//	        [-duration 3s] [-server-pid PID]
//
// All connections are dialled first; they then run for -warmup without
// being counted, and for -duration counted: rps is the round trips completed
// in that window over its length, and the latencies (write start to the last
// byte of the echo read) are those of round trips started in it. client_cpu
// is this process's CPU time (user + system) over the window's wall time, so
// 1.0 means the load generator kept one core busy and was probably what
// limited rps. With -server-pid, the server's CPU time over the window
// (/proc/PID/stat, all its threads) divided by the round trips is reported
// too: the server's cost per round trip, whoever limited the rate.
//
// An address with '/' or starting with '@' is a Unix socket. It raises its
// own RLIMIT_NOFILE soft limit to the hard limit. It exits 1 with a message
// on stderr if a connection fails or an echo differs from what was sent.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/bits"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// A log-linear latency histogram in nanoseconds: exact below 128 ns, then
// 64 sub-buckets per power of two (under 1.6% error), up to about 2^40 ns.
const (
	subBits    = 6
	subCount   = 1 << subBits
	maxExp     = 40
	numBuckets = (maxExp-subBits)*subCount + 2*subCount
)

type histogram [numBuckets]atomic.Uint64

func bucketOf(ns uint64) int {
	e := bits.Len64(ns) // ns < 2^e
	if e <= subBits+1 {
		return int(ns) // 0 .. 127
	}
	if e > maxExp {
		return numBuckets - 1
	}
	shift := e - subBits - 1
	return (shift+1)*subCount + int((ns>>shift)&(subCount-1))
}

// lowOf is the smallest value of bucket i; midOf its middle.
func lowOf(i int) uint64 {
	if i < 2*subCount {
		return uint64(i)
	}
	shift := i/subCount - 1
	return (uint64(subCount) | uint64(i%subCount)) << shift
}

func midOf(i int) float64 {
	if i < 2*subCount {
		return float64(i)
	}
	return float64(lowOf(i)) + float64(uint64(1)<<(i/subCount-1))/2
}

func (h *histogram) quantile(q float64, total uint64) float64 {
	if total == 0 {
		return 0
	}
	rank := uint64(q*float64(total-1)) + 1
	var seen uint64
	for i := range h {
		seen += h[i].Load()
		if seen >= rank {
			return midOf(i)
		}
	}
	return midOf(numBuckets - 1)
}

// cpuNow is this process's user + system CPU time.
func cpuNow() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times; 100 on every
// Linux architecture Go runs on.
const clockTicks = 100

// procCPU is process pid's user + system CPU time from /proc/PID/stat.
func procCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	s := string(data)
	end := strings.LastIndexByte(s, ')') // the command name may hold spaces
	if end < 0 {
		return 0, fmt.Errorf("cannot parse /proc/%d/stat", pid)
	}
	f := strings.Fields(s[end+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("cannot parse /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("cannot parse /proc/%d/stat", pid)
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

func raiseNofile() {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil && lim.Cur < lim.Max {
		lim.Cur = lim.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "loadgen: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:7000", "the echo server: host:port, a socket path or @name")
	conns := flag.Int("conns", 64, "concurrent connections")
	size := flag.Int("size", 64, "bytes per message")
	warmup := flag.Duration("warmup", 500*time.Millisecond, "time run before counting")
	duration := flag.Duration("duration", 3*time.Second, "time counted")
	serverPid := flag.Int("server-pid", 0, "report this process's CPU time per round trip")
	flag.Parse()
	if *conns < 1 || *size < 1 || *duration <= 0 {
		fail("-conns, -size and -duration must be positive")
	}
	raiseNofile()
	network := "tcp"
	if strings.Contains(*addr, "/") || strings.HasPrefix(*addr, "@") {
		network = "unix"
	}

	// Dial everything first, one after another, so that the server's
	// accept backlog never overflows (which would cost SYN retries).
	cs := make([]net.Conn, *conns)
	for i := range cs {
		c, err := net.Dial(network, *addr)
		if err != nil {
			fail("connection %d of %d: %v", i+1, *conns, err)
		}
		cs[i] = c
	}

	const (
		warming = iota
		measuring
		stopping
	)
	var phase atomic.Int32
	var done atomic.Uint64 // round trips completed, all phases
	var hist histogram
	var failed atomic.Bool
	var firstErr error
	var errOnce sync.Once
	// A server that stops answering fails the run instead of hanging it.
	deadline := time.Now().Add(*warmup + *duration + 10*time.Second)

	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func(i int, c net.Conn) {
			defer wg.Done()
			c.SetDeadline(deadline)
			msg := make([]byte, *size)
			for j := range msg {
				msg[j] = byte('a' + (i+j)%26)
			}
			got := make([]byte, *size)
			for {
				p := phase.Load()
				if p == stopping || failed.Load() {
					return
				}
				start := time.Now()
				if _, err := c.Write(msg); err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("write: %v", err) })
					failed.Store(true)
					return
				}
				if _, err := io.ReadFull(c, got); err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("read: %v", err) })
					failed.Store(true)
					return
				}
				if p == measuring {
					hist[bucketOf(uint64(time.Since(start)))].Add(1)
				}
				done.Add(1)
				if !bytes.Equal(got, msg) {
					errOnce.Do(func() { firstErr = fmt.Errorf("the echo differs from what was sent") })
					failed.Store(true)
					return
				}
			}
		}(i, c)
	}

	time.Sleep(*warmup)
	n0, t0, cpu0 := done.Load(), time.Now(), cpuNow()
	var srv0 time.Duration
	if *serverPid > 0 {
		var err error
		if srv0, err = procCPU(*serverPid); err != nil {
			fail("server CPU time: %v", err)
		}
	}
	phase.Store(measuring)
	time.Sleep(*duration)
	phase.Store(stopping)
	n1, t1, cpu1 := done.Load(), time.Now(), cpuNow()
	var srv1 time.Duration
	if *serverPid > 0 {
		var err error
		if srv1, err = procCPU(*serverPid); err != nil {
			fail("server CPU time: %v", err)
		}
	}
	wg.Wait()
	for _, c := range cs {
		c.Close()
	}
	if failed.Load() {
		fail("%v", firstErr)
	}

	var total uint64
	for i := range hist {
		total += hist[i].Load()
	}
	secs := t1.Sub(t0).Seconds()
	rts := n1 - n0
	if rts == 0 || total == 0 {
		fail("no round trip completed in %v", *duration)
	}
	out := map[string]any{
		"conns":      *conns,
		"size":       *size,
		"seconds":    secs,
		"roundtrips": rts,
		"rps":        float64(rts) / secs,
		"p50_us":     hist.quantile(0.50, total) / 1e3,
		"p99_us":     hist.quantile(0.99, total) / 1e3,
		"p999_us":    hist.quantile(0.999, total) / 1e3,
		"client_cpu": (cpu1 - cpu0).Seconds() / secs,
	}
	if *serverPid > 0 {
		out["server_cpu"] = (srv1 - srv0).Seconds() / secs
		out["server_cpu_us_per_rt"] = float64((srv1 - srv0).Microseconds()) / float64(rts)
	}
	line, _ := json.Marshal(out)
	fmt.Println(string(line))
}
