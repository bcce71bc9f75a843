// Command pacer sends paced traffic for the live-capture benchmark
// (bench/whole/run.sh, part "live"), or sinks it:
//
//	pacer sink -listen 10.99.0.1:9000            read and discard UDP and TCP
//	pacer udp -dst 10.99.0.1:9000 -rate 100000 -for 5s   64-byte frames
//	pacer tcp -dst 10.99.0.1:9000 -rate 50000 -for 5s    1,514-byte frames
//
// Rates are frames per second, sent in 1 ms steps; it prints what it
// sent and the rate it reached (sent=N seconds=S rate=R), which is lower
// than asked when the machine cannot go faster.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: pacer sink|udp|tcp [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	listen := fs.String("listen", "", "sink: address to listen on (UDP and TCP)")
	dst := fs.String("dst", "", "udp/tcp: where to send")
	rate := fs.Int("rate", 10000, "frames per second")
	dur := fs.Duration("for", 5*time.Second, "how long to send (the sink stops after 10x this)")
	fs.Parse(os.Args[2:])
	var err error
	switch os.Args[1] {
	case "sink":
		err = sink(*listen, 10**dur)
	case "udp":
		err = send("udp", *dst, *rate, *dur, 64-14-20-8) // a 64-byte frame
	case "tcp":
		err = send("tcp", *dst, *rate, *dur, 1500-20-32) // a 1,514-byte frame (TCP with timestamps)
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pacer:", err)
		os.Exit(1)
	}
}

func sink(addr string, d time.Duration) error {
	u, err := net.ListenPacket("udp", addr)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	go func() {
		buf := make([]byte, 65536)
		for {
			if _, _, err := u.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go io.Copy(io.Discard, c)
		}
	}()
	fmt.Println("READY")
	time.Sleep(d)
	return nil
}

func send(network, dst string, rate int, d time.Duration, payload int) error {
	c, err := net.Dial(network, dst)
	if err != nil {
		return err
	}
	defer c.Close()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
		raw, _ := tc.SyscallConn()
		raw.Control(func(fd uintptr) { _ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_MAXSEG, payload) })
	}
	buf := make([]byte, payload)
	start := time.Now()
	next := start
	sent := 0
	for time.Since(start) < d {
		next = next.Add(time.Millisecond)
		// Frames due by the end of this step.
		due := int(float64(rate)*next.Sub(start).Seconds()) - sent
		for range due {
			if _, err := c.Write(buf); err != nil {
				return err
			}
			sent++
		}
		time.Sleep(time.Until(next))
	}
	el := time.Since(start).Seconds()
	fmt.Printf("sent=%d seconds=%.2f rate=%.0f\n", sent, el, float64(sent)/el)
	return nil
}
