// Command flood sends UDP datagrams as fast as one thread can (sendmmsg
// in batches of 64) for a time and prints what it sent and the CPU it
// used, as JSON. With -flows N it cycles the destination port over N
// ports from -port on. It is the load of the drop tracer's benchmark
// (collectors/droptrace/bench/run.sh); run it inside a namespace.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
)

func main() {
	dst := flag.String("dst", "127.0.0.1", "destination address")
	port := flag.Int("port", 9, "first destination port")
	flows := flag.Int("flows", 1, "distinct destination ports")
	size := flag.Int("size", 64, "payload bytes")
	dur := flag.Duration("duration", 5*time.Second, "how long to send")
	count := flag.Int("count", 0, "stop after this many datagrams (0: -duration)")
	sport := flag.Int("sport", 0, "source port (0: any; pick one outside the destination ports)")
	flag.Parse()
	runtime.LockOSThread()
	c, err := net.ListenPacket("udp4", fmt.Sprintf("127.0.0.1:%d", *sport))
	if err != nil {
		fmt.Fprintln(os.Stderr, "flood:", err)
		os.Exit(1)
	}
	pc := ipv4.NewPacketConn(c)
	payload := make([]byte, *size)
	msgs := make([]ipv4.Message, 64)
	ip := net.ParseIP(*dst)
	next := 0
	var sent uint64
	start := time.Now()
	var ru0 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	for {
		if *count > 0 && sent >= uint64(*count) {
			break
		}
		if *count == 0 && time.Since(start) >= *dur {
			break
		}
		n := len(msgs)
		if *count > 0 && uint64(*count)-sent < uint64(n) {
			n = int(uint64(*count) - sent)
		}
		for i := range n {
			msgs[i] = ipv4.Message{Buffers: [][]byte{payload}, Addr: &net.UDPAddr{IP: ip, Port: *port + next}}
			next = (next + 1) % *flows
		}
		k, err := pc.WriteBatch(msgs[:n], 0)
		if err != nil {
			fmt.Fprintln(os.Stderr, "flood:", err)
			os.Exit(1)
		}
		sent += uint64(k)
	}
	secs := time.Since(start).Seconds()
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpu := tv(ru.Utime) + tv(ru.Stime) - tv(ru0.Utime) - tv(ru0.Stime)
	_ = json.NewEncoder(os.Stdout).Encode(map[string]any{
		"packets": sent, "seconds": secs, "pps": float64(sent) / secs, "cpu_s": cpu,
		"user_s": tv(ru.Utime) - tv(ru0.Utime), "sys_s": tv(ru.Stime) - tv(ru0.Stime),
	})
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
