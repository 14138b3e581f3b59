// park_mem: park 100,000 goroutines on a channel receive and report the RSS
// growth per goroutine.
//
// Go keeps dead goroutines (and their stacks, until the next GC) on a free
// list and reuses them, so a second measurement in the same process would
// see almost no growth. Each measurement therefore runs in a fresh child
// process: the benchmark re-executes this test binary with
// -test.run=^TestParkMemChild$ (and the parent's GOMAXPROCS), and the child
// does the measurement on itself and prints the result.
package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	parkMemChildEnv = "GORO_BENCH_PARKMEM_CHILD"
	parkMemPrefix   = "parkmem_bytes_per_goroutine="
)

// rssBytes returns the resident set size from /proc/self/statm (resident
// pages × page size).
func rssBytes() (int64, error) {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, err
	}
	fields := strings.Fields(string(data))
	if len(fields) < 2 {
		return 0, fmt.Errorf("unexpected /proc/self/statm: %q", data)
	}
	pages, err := strconv.ParseInt(fields[1], 10, 64)
	if err != nil {
		return 0, err
	}
	return pages * int64(os.Getpagesize()), nil
}

// parkMem parks n goroutines on a receive from one channel and returns the
// RSS growth divided by n; then it releases them and waits until all exited.
func parkMem(n int) (float64, error) {
	runtime.GC()
	debug.FreeOSMemory()
	base := runtime.NumGoroutine()
	before, err := rssBytes()
	if err != nil {
		return 0, err
	}

	release := make(chan struct{})
	var started, exited sync.WaitGroup
	started.Add(n)
	exited.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			started.Done()
			<-release // parks here
			exited.Done()
		}()
	}
	started.Wait()
	// Every goroutine has started and is about to block (or blocked).
	for runtime.NumGoroutine() < base+n {
		runtime.Gosched()
	}
	for i := 0; i < 10; i++ {
		runtime.Gosched()
	}
	time.Sleep(10 * time.Millisecond)

	after, err := rssBytes()
	if err != nil {
		return 0, err
	}
	close(release)
	exited.Wait()
	return float64(after-before) / float64(n), nil
}

// TestParkMemChild is the measurement run in the child process; it is
// skipped unless GORO_BENCH_PARKMEM_CHILD=1.
func TestParkMemChild(t *testing.T) {
	if os.Getenv(parkMemChildEnv) != "1" {
		t.Skip("only run as BenchmarkParkMem's child process")
	}
	per, err := parkMem(count(100_000))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("%s%g\n", parkMemPrefix, per)
}

// peakRSSBytes returns VmHWM (the peak resident set) from /proc/self/status.
func peakRSSBytes() (int64, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "VmHWM:" {
			kib, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				return 0, err
			}
			return kib * 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/self/status")
}

// TestMillionChild parks a million goroutines at once (10,000 in quick mode)
// and prints the peak RSS of the process in MB; it is skipped unless
// GORO_BENCH_PARKMEM_CHILD=1.
func TestMillionChild(t *testing.T) {
	if os.Getenv(parkMemChildEnv) != "1" {
		t.Skip("only run as BenchmarkMillion's child process")
	}
	if _, err := parkMem(count(1_000_000)); err != nil {
		t.Fatal(err)
	}
	peak, err := peakRSSBytes()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("%s%g\n", millionPrefix, float64(peak)/(1<<20))
}

const millionPrefix = "million_peak_rss_mb="

// childMean runs the test binary's child test b.N times, each in a fresh
// process at the parent's GOMAXPROCS, and returns the mean of the values it
// prints after prefix.
func childMean(b *testing.B, test, prefix string) float64 {
	total := 0.0
	for i := 0; i < b.N; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
		cmd.Env = append(os.Environ(),
			parkMemChildEnv+"=1",
			fmt.Sprintf("GOMAXPROCS=%d", runtime.GOMAXPROCS(0)))
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("%s: %v\n%s", test, err, out)
		}
		found := false
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			if line := sc.Text(); strings.HasPrefix(line, prefix) {
				v, err := strconv.ParseFloat(strings.TrimPrefix(line, prefix), 64)
				if err != nil {
					b.Fatalf("%s: bad output %q", test, sc.Text())
				}
				total += v
				found = true
			}
		}
		if !found {
			b.Fatalf("%s printed no result:\n%s", test, out)
		}
	}
	return total / float64(b.N)
}

func BenchmarkParkMem(b *testing.B) {
	b.ReportMetric(childMean(b, "TestParkMemChild", parkMemPrefix), "bytes/goroutine")
}

// BenchmarkMillion: a million goroutines parked at once; the figure is the
// child's peak RSS.
func BenchmarkMillion(b *testing.B) {
	b.ReportMetric(childMean(b, "TestMillionChild", millionPrefix), "MB-peak-rss")
}
