// Command uidemo runs the netlens TUI on a synthetic, changing Store, with
// no collectors: for trying the UI, for end-to-end tests in tmux, and for
// measuring what a redraw costs on the wire (see -churn).
//
//	go run ./ui/internal/uidemo -sockets 1000 -churn 0.05 -refresh 1s
//
// With -flows N it has a conntrack table as well: one flow per socket (up
// to N, a seventh of them port-forwarded: DNAT) plus forwarded,
// masqueraded flows (SNAT); -table-full fills the table and drops.
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"netlens/model"
	"netlens/ui"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "uidemo:", err)
		os.Exit(1)
	}
}

func run() error {
	n := flag.Int("sockets", 1000, "number of sockets")
	churn := flag.Float64("churn", 0.05, "fraction of sockets whose queues change per refresh")
	refresh := flag.Duration("refresh", time.Second, "redraw interval")
	publish := flag.Duration("publish", 0, "publish interval (default: -refresh)")
	dir := flag.String("snapshot-dir", ".", "where s writes snapshots")
	noMouse := flag.Bool("no-mouse", false, "leave the mouse to the terminal")
	nflows := flag.Int("flows", 0, "conntrack flows (0: conntrack needs CAP_NET_ADMIN)")
	full := flag.Bool("table-full", false, "the conntrack table is full and dropping")
	flag.Parse()
	if *publish <= 0 {
		*publish = *refresh
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()

	store := model.NewStore("demo-host", "6.12.48-demo", time.Now())
	for _, st := range []model.CollectorStatus{
		{Name: model.CollectorCounters, State: model.StateOK},
		{Name: model.CollectorSockets, State: model.StateOK, Source: "synthetic"},
		{Name: model.CollectorSysctl, State: model.StateOK},
	} {
		store.Publish(model.StatusUpdate{Status: st})
	}
	socks := sockets(*n)
	store.Publish(model.SocketsUpdate{At: time.Now(), Sockets: socks})
	ct := model.CollectorStatus{Name: model.CollectorConntrack, State: model.StateNoPermission, Reason: "needs CAP_NET_ADMIN"}
	var drops uint64
	publishCT := func() {}
	if *nflows > 0 {
		ct = model.CollectorStatus{Name: model.CollectorConntrack, State: model.StateOK, Source: "ctnetlink"}
		fs := flows(socks, *nflows)
		store.Publish(model.FlowsUpdate{At: time.Now(), Flows: fs})
		publishCT = func() {
			st := model.ConntrackStats{At: time.Now(), Count: uint64(len(fs)), Max: 262144, Buckets: 65536,
				Accounting: true, Timestamps: true, Events: true, FlowsHeld: len(fs), FlowsLimit: 65536, Listening: true}
			if *full {
				st.Count, st.Max = 262144, 262144
				drops += 150
			}
			store.Publish(model.ConntrackStatsUpdate{Stats: st})
			var cs []model.RawCounter
			for _, c := range []struct {
				name string
				v    uint64
			}{{"drop", drops}, {"early_drop", drops / 3}, {"insert_failed", 0}, {"invalid", 4}} {
				cs = append(cs, model.RawCounter{Layer: model.LayerNetfilter, Source: "ctnetlink", Group: "conntrack", Name: c.name, Kind: model.KindCounter, Value: c.v})
			}
			store.Publish(model.CountersUpdate{Collector: model.CollectorConntrack, At: time.Now(), Counters: cs})
		}
	}
	store.Publish(model.StatusUpdate{Status: ct})
	publishCT()
	store.Publish(model.SysctlsUpdate{At: time.Now(), Sysctls: []model.Sysctl{
		{Name: "net.core.somaxconn", Value: "4096", Watched: true, Why: "Upper bound on a listen() backlog."},
		{Name: "net.core.netdev_max_backlog", Value: "1000", Watched: true, Why: "Per-CPU input queue length."},
		{Name: "net.ipv4.tcp_syncookies", Value: "1"},
	}})
	var udpErrs uint64
	publishCounters := func() {
		store.Publish(model.CountersUpdate{Collector: model.CollectorCounters, At: time.Now(), Counters: []model.RawCounter{
			{Layer: model.LayerTransport, Source: "/proc/net/snmp", Group: "Udp", Name: "RcvbufErrors", Kind: model.KindCounter, Value: udpErrs},
			{Layer: model.LayerTransport, Source: "/proc/net/snmp", Group: "Udp", Name: "NoPorts", Kind: model.KindCounter, Value: 7},
		}})
	}
	publishCounters()

	go func() {
		r := rand.New(rand.NewPCG(1, 2))
		t := time.NewTicker(*publish)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			next := make([]model.Socket, len(socks))
			copy(next, socks)
			for range int(float64(len(next)) * *churn) {
				i := r.IntN(len(next))
				next[i].RecvQ = uint32(r.IntN(5000))
				next[i].SendQ = uint32(r.IntN(5000))
			}
			socks = next
			store.Publish(model.SocketsUpdate{At: time.Now(), Sockets: next})
			udpErrs += 1 + uint64(r.IntN(3)) // always moves: the e2e test looks for its sparkline
			publishCounters()
			publishCT()
		}
	}()

	return ui.Run(ctx, store, ui.Options{
		Refresh: *refresh,
		Version: "demo",
		NoMouse: *noMouse,
		SaveSnapshot: func(s model.Snapshot) (string, error) {
			path := filepath.Join(*dir, "netlens-demo-"+s.TakenAt.UTC().Format("20060102T150405Z")+".json")
			return path, os.WriteFile(path, []byte(fmt.Sprintf("{\"seq\":%d}\n", s.Seq)), 0o644)
		},
	})
}

func sockets(n int) []model.Socket {
	out := make([]model.Socket, n)
	for i := range out {
		out[i] = model.Socket{
			Proto: model.ProtoTCP, Family: model.FamilyIPv4,
			Local:  netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, 1}), 443),
			Remote: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), uint16(20000+i%40000)),
			State:  model.StateEstablished,
			Inode:  uint64(1000 + i),
			Procs:  []model.Proc{{PID: 4242, Comm: "nginx", FD: 10 + i}},
		}
	}
	return out
}

// flows returns the conntrack flows of the first n sockets (a seventh of
// them port-forwarded to the socket: DNAT), and a forwarded, masqueraded
// flow (SNAT) for every tenth.
func flows(socks []model.Socket, n int) []model.Flow {
	now := time.Now()
	public := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, 1}), 443)
	var out []model.Flow
	for i, s := range socks[:min(n, len(socks))] {
		f := model.Flow{
			ID: uint32(i + 1), Family: model.FamilyIPv4, Proto: model.ProtoTCP, ProtoNum: 6,
			Orig:     model.FlowTuple{Src: s.Remote, Dst: s.Local},
			Reply:    model.FlowTuple{Src: s.Local, Dst: s.Remote},
			TCPState: model.TCPEstablished, Status: model.StatusSeenReply | model.StatusAssured | model.StatusConfirmed,
			Timeout: 432000 * time.Second, CountersKnown: true,
			OrigPackets: uint64(10 + i%90), ReplyPackets: uint64(12 + i%70), OrigBytes: uint64(1400 * (10 + i%90)), ReplyBytes: uint64(9000 * (12 + i%70)),
			Start: now.Add(-time.Duration(i%3600) * time.Second), FirstSeen: now, Updated: now,
		}
		if i%7 == 0 {
			f.Orig.Dst = public
			f.Status |= model.StatusDstNAT
		}
		f.SetNAT()
		out = append(out, f)
		if i%10 == 0 {
			g := f
			g.ID += 1 << 20
			g.Orig = model.FlowTuple{Src: netip.AddrPortFrom(netip.AddrFrom4([4]byte{172, 17, 0, byte(2 + i%200)}), uint16(40000+i%20000)), Dst: public}
			g.Reply = model.FlowTuple{Src: public, Dst: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, 1}), uint16(40000+i%20000))}
			g.Status |= model.StatusSrcNAT
			g.SetNAT()
			out = append(out, g)
		}
	}
	return out
}
