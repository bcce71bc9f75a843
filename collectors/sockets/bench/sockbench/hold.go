package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// hold opens n loopback TCP connections (2n sockets: both ends are held
// here), prints READY and holds them until stdin is closed. The open-files
// limit bounds n per process (2n+ fds); run.sh starts several holders for
// more. Connections
// are spread over several listening ports and 127.0.0.x source addresses
// so that no 4-tuple space runs out. It gives up after -timeout.
func hold(args []string) error {
	fs := flag.NewFlagSet("hold", flag.ExitOnError)
	n := fs.Int("n", 10000, "connections to open")
	ports := fs.Int("ports", 4, "listening ports")
	base := fs.Int("base", 17000, "first listening port")
	timeout := fs.Duration("timeout", 3*time.Minute, "give up after this long")
	_ = fs.Parse(args)
	if *n <= 0 || *n > 200000 {
		return fmt.Errorf("-n %d out of range 1..200000", *n)
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < uint64(2**n+1000) {
		lim.Cur = min(lim.Max, uint64(2**n+1000))
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	deadline := time.Now().Add(*timeout)

	var mu sync.Mutex
	var held []net.Conn
	var accepted atomic.Int64
	var lns []net.Listener
	for p := range *ports {
		// No keepalive on either end (Go's default is a probe every 15 s):
		// at 100,000 connections the probes come at once, overflow the
		// loopback's backlog and abort tens of thousands of connections
		// in the middle of a benchmark.
		lc := net.ListenConfig{KeepAlive: -1}
		l, err := lc.Listen(context.Background(), "tcp4", fmt.Sprintf("127.0.0.1:%d", *base+p))
		if err != nil {
			return err
		}
		lns = append(lns, l)
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				mu.Lock()
				held = append(held, c)
				mu.Unlock()
				accepted.Add(1)
			}
		}()
	}
	// Dial from several goroutines, each with its own source address.
	const workers = 8
	var wg sync.WaitGroup
	var dialErr atomic.Value
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(w+1))}, Timeout: 5 * time.Second, KeepAlive: -1}
			for i := w; i < *n; i += workers {
				if time.Now().After(deadline) {
					dialErr.Store(errors.New("timed out opening connections"))
					return
				}
				c, err := d.Dial("tcp4", lns[i%len(lns)].Addr().String())
				if err != nil {
					dialErr.Store(err)
					return
				}
				mu.Lock()
				held = append(held, c)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err, _ := dialErr.Load().(error); err != nil {
		return fmt.Errorf("after %d connections: %w", accepted.Load(), err)
	}
	for accepted.Load() < int64(*n) {
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d connections accepted", accepted.Load(), *n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Println("READY")
	_, _ = io.Copy(io.Discard, os.Stdin)
	mu.Lock()
	defer mu.Unlock()
	fmt.Fprintf(os.Stderr, "sockbench hold: releasing %d sockets\n", len(held))
	return nil
}
