// go_echo is the Go twin of goro's examples/echo_server.cpp: one goroutine
// per connection copies back what it reads, through a 16 KiB buffer, until
// the client closes its side.
//
//	go_echo [address] [--once | --max N]
//
// address is host:port (default 127.0.0.1:7000; port 0 lets the system pick
// one) or a Unix socket: a path, or @name in Linux's abstract namespace. It
// prints the address it listens on, then serves until killed; with --max N
// it stops accepting after N connections, waits for them to end and exits.
//
// The loop is written out rather than io.Copy(c, c): on Linux io.Copy
// between TCP connections may splice(2) through a pipe, which goro's server
// does not do, and the buffer size is goro's.
package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

func main() {
	address := "127.0.0.1:7000"
	maxConns := int64(0) // 0: no limit
	args := os.Args[1:]
	for i := 0; i < len(args); i++ {
		switch {
		case args[i] == "--once":
			maxConns = 1
		case args[i] == "--max" && i+1 < len(args):
			i++
			maxConns, _ = strconv.ParseInt(args[i], 10, 64)
		default:
			address = args[i]
		}
	}
	network := "tcp"
	if strings.Contains(address, "/") || strings.HasPrefix(address, "@") {
		network = "unix"
	}

	ln, err := net.Listen(network, address)
	if err != nil {
		fmt.Fprintf(os.Stderr, "listen %s: %v\n", address, err)
		os.Exit(1)
	}
	fmt.Printf("echo server listening on %s\n", ln.Addr())

	var wg sync.WaitGroup
	var bytes atomic.Int64
	served := int64(0)
	status := 0
	for maxConns == 0 || served < maxConns {
		c, err := ln.Accept()
		if err != nil {
			fmt.Fprintf(os.Stderr, "accept: %v\n", err)
			status = 1
			break
		}
		served++
		wg.Add(1)
		go func(c net.Conn) {
			defer wg.Done()
			buf := make([]byte, 16<<10)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					if _, werr := c.Write(buf[:n]); werr != nil {
						break
					}
				}
				bytes.Add(int64(n))
				if err != nil {
					break
				}
			}
			c.Close()
		}(c)
	}
	ln.Close()
	wg.Wait()
	fmt.Printf("served %d connection(s), echoed %d bytes\n", served, bytes.Load())
	os.Exit(status)
}
