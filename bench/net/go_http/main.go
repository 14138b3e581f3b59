// go_http is the Go twin of goro's examples/http_hello.cpp, on net/http:
// GET (or HEAD) / answers "Hello, World!\n", any other path 404, with the
// same headers as goro's server (Content-Type: text/plain; charset=utf-8 and
// Content-Length; the Date header net/http adds is suppressed, since goro's
// server sends none). Connections are kept alive, as net/http does.
//
//	go_http [address] [--serve-for-ms N]
//
// address defaults to 127.0.0.1:8080 (port 0: the system picks one; the
// address is printed). With --serve-for-ms N it stops after N ms, prints how
// many requests it answered and exits 0.
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"
)

const hello = "Hello, World!\n"

var helloLength = []string{strconv.Itoa(len(hello))}
var textPlain = []string{"text/plain; charset=utf-8"}
var allow = []string{"GET, HEAD"}

func main() {
	address := "127.0.0.1:8080"
	serveMs := int64(-1) // < 0: until killed
	args := os.Args[1:]
	for i := 0; i < len(args); i++ {
		if args[i] == "--serve-for-ms" && i+1 < len(args) {
			i++
			serveMs, _ = strconv.ParseInt(args[i], 10, 64)
		} else {
			address = args[i]
		}
	}

	var requests, accepted atomic.Int64
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		status, body := http.StatusOK, hello
		h := w.Header()
		switch {
		case r.URL.Path != "/":
			status, body = http.StatusNotFound, "404 page not found\n"
		case r.Method != http.MethodGet && r.Method != http.MethodHead:
			status, body = http.StatusMethodNotAllowed, "method not allowed\n"
			h["Allow"] = allow
		}
		h["Date"] = nil // suppressed: goro's server sends no Date
		h["Content-Type"] = textPlain
		if status == http.StatusOK {
			h["Content-Length"] = helloLength
		} else {
			h["Content-Length"] = []string{strconv.Itoa(len(body))}
		}
		w.WriteHeader(status)
		if r.Method != http.MethodHead {
			io.WriteString(w, body)
		}
	})
	srv := &http.Server{
		Handler: handler,
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				accepted.Add(1)
			}
		},
	}

	ln, err := net.Listen("tcp", address)
	if err != nil {
		fmt.Fprintf(os.Stderr, "listen %s: %v\n", address, err)
		os.Exit(1)
	}
	fmt.Printf("serving http://%s/\n", ln.Addr())
	if serveMs >= 0 {
		go func() {
			time.Sleep(time.Duration(serveMs) * time.Millisecond)
			srv.Close() // closes the listener and every connection
		}()
	}
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		fmt.Fprintf(os.Stderr, "serve: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("answered %d requests on %d connections\n", requests.Load(), accepted.Load())
}
