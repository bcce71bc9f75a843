package sockets

import (
	"context"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"netlens/model"
)

// BenchmarkDumpTCPInfo is the cost of tcp_info: the TCP dumps (IPv4 and
// IPv6) of the namespace, decoded as the collector decodes them, with
// the attributes the collector asks for (INET_DIAG_INFO, INET_DIAG_CONG,
// INET_DIAG_SKMEMINFO) and with INET_DIAG_SKMEMINFO alone, plus the rate
// tracker's pass over the result; and the same sockets with tcp_info
// through the TCP iterator (bpf/tcpiter.c), decoded into the same values,
// and through the counters-only iterator the TUI reads (queues and the
// counters rates need). It opens 2000 loopback connections
// unless $NETLENS_BENCH_SOCKETS=namespace, which benchmarks the sockets
// the namespace already holds (collectors/sockets/bench/run.sh runs it
// so, at 10k and 100k sockets).
func BenchmarkDumpTCPInfo(b *testing.B) {
	if os.Getenv("NETLENS_BENCH_SOCKETS") != "namespace" {
		loopbackConns(b, 2000)
	}
	ctx := context.Background()
	for _, bc := range []struct {
		name  string
		ext   func(ipProto) uint8
		rates bool
		iter  bool
		// counters: the counters-only iterator (Options.TCPCountersOnly)
		counters bool
	}{
		{"tcp_info=with", extensions, false, false, false},
		{"tcp_info=without", memInfoOnly, false, false, false},
		{"tcp_info=with+rates", extensions, true, false, false},
		{"tcp_info=iter", nil, false, true, false},
		{"tcp_info=iter-counters", nil, false, true, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			d, err := dialDiag(0)
			if err != nil {
				b.Skip(err)
			}
			defer d.Close()
			d.ext = bc.ext
			var it *tcpIter
			if bc.iter {
				if it, err = newTCPIter(bc.counters); err != nil {
					b.Fatal(err)
				}
				defer it.close()
			}
			var out []model.Socket
			var cnt []tcpCounters
			var r rateTracker
			var clock int64
			b.ReportAllocs()
			cpu0 := processCPU(b)
			for b.Loop() {
				out = out[:0]
				if it != nil && bc.counters {
					cnt = cnt[:0]
					if out, err = it.read(ctx, 0, d.names, nil, &cnt, false, out); err != nil {
						b.Fatal(err)
					}
					continue
				}
				if it != nil {
					if out, err = it.read(ctx, 0, d.names, nil, nil, true, out); err != nil {
						b.Fatal(err)
					}
					continue
				}
				for _, fam := range []uint8{afInet, afInet6} {
					if out, err = d.dump(ctx, fam, protoTCP, out); err != nil {
						b.Fatal(err)
					}
				}
				if bc.rates {
					clock++
					r.update(out, nil, timeOf(clock))
				}
			}
			b.ReportMetric(float64(processCPU(b)-cpu0)/1e6/float64(b.N), "cpu-ms/op")
			b.ReportMetric(float64(len(out)), "sockets")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*max(len(out), 1)), "ns/socket")
		})
	}
}

// processCPU is the user+system CPU time the process has used, in
// nanoseconds (getrusage): the kernel's part of a dump included, which
// the wall clock of a benchmark mixes with waiting for the CPU on a
// shared machine.
func processCPU(tb testing.TB) int64 {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// timeOf is the n-th second of a benchmark's clock.
func timeOf(n int64) time.Duration { return time.Duration(n) * time.Second }

// BenchmarkDecodeTCPInfoDump decodes the real tcp_info dump of
// testdata (messages of about 424 bytes: inet_diag_msg, tcp_info,
// congestion control, SKMEMINFO), per socket.
func BenchmarkDecodeTCPInfoDump(b *testing.B) {
	dg := readFixture(b, "sockdiag_tcpinfo_ipv4.bin")
	var out []model.Socket
	n := 0
	b.SetBytes(int64(len(dg)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if out, _, err = decodeDatagram(dg, fixtureSeq, model.ProtoTCP, nil, nil, out[:0]); err != nil {
			b.Fatal(err)
		}
		n = len(out)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/socket")
}
