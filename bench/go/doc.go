// Package bench holds the Go twins of goro's benchmarks (see README.md).
// Everything lives in the _test.go files; run them with `go test -bench .`.
// This file exists only so that `go build ./...` and `go vet ./...` see a
// package here.
package bench
