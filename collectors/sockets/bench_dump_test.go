package sockets

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/mdlayher/netlink"

	"netlens/model"
)

// loopbackConns opens n TCP connections on loopback (2n sockets) for the
// length of the benchmark.
func loopbackConns(b *testing.B, n int) {
	b.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var conns []net.Conn
	b.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
		l.Close()
	})
	accepted := make(chan net.Conn, n)
	go func() {
		for range n {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	for range n {
		c, err := net.DialTimeout("tcp4", l.Addr().String(), 2*time.Second)
		if err != nil {
			b.Fatalf("opening %d loopback connections: %v", n, err)
		}
		conns = append(conns, c)
		conns = append(conns, <-accepted)
	}
}

// BenchmarkDumpTCP compares reading a real TCP dump (2000 connections on
// loopback, plus whatever else the namespace holds) with recvfrom into a
// reused buffer, as the collector does, against mdlayher/netlink's
// Conn.Execute, which gathers every message of the dump into freshly
// allocated buffers first.
func BenchmarkDumpTCP(b *testing.B) {
	loopbackConns(b, 2000)
	ctx := context.Background()
	b.Run("recvfrom", func(b *testing.B) {
		d, err := dialDiag(0)
		if err != nil {
			b.Fatal(err)
		}
		defer d.Close()
		var out []model.Socket
		b.ReportAllocs()
		for b.Loop() {
			if out, err = d.dump(ctx, afInet, protoTCP, out[:0]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(out)), "ns/socket")
	})
	b.Run("Execute", func(b *testing.B) {
		c, err := netlink.Dial(familySockDiag, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		req := netlink.Message{
			Header: netlink.Header{Type: msgSockDiagByFamily, Flags: netlink.Request | netlink.Dump},
			Data:   appendDumpRequest(nil, 0, afInet, protoTCP)[nlmsgHdrLen:],
		}
		var out []model.Socket
		b.ReportAllocs()
		for b.Loop() {
			msgs, err := c.Execute(req)
			if err != nil {
				b.Fatal(err)
			}
			out = out[:0]
			for _, m := range msgs {
				s := model.Socket{Proto: model.ProtoTCP}
				if err := decodeDiagMsg(m.Data, nil, nil, &s); err != nil {
					b.Fatal(err)
				}
				out = append(out, s)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(out)), "ns/socket")
	})
}
