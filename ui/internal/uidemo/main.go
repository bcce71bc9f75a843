// Command uidemo runs the netlens TUI on a synthetic, changing Store, with
// no collectors: for trying the UI, for end-to-end tests in tmux, and for
// measuring what a redraw costs on the wire (see -churn).
//
//	go run ./ui/internal/uidemo -sockets 1000 -churn 0.05 -refresh 1s
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
	flag.Parse()
	if *publish <= 0 {
		*publish = *refresh
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()

	store := model.NewStore("demo-host", "6.12.48-demo", time.Now())
	for _, st := range []model.CollectorStatus{
		{Name: "counters", State: model.StateOK},
		{Name: "sockets", State: model.StateOK, Source: "synthetic"},
		{Name: "sysctl", State: model.StateOK},
		{Name: "conntrack", State: model.StateNoPermission, Reason: "needs CAP_NET_ADMIN"},
	} {
		store.Publish(model.StatusUpdate{Status: st})
	}
	socks := sockets(*n)
	store.Publish(model.SocketsUpdate{At: time.Now(), Sockets: socks})
	store.Publish(model.SysctlsUpdate{At: time.Now(), Sysctls: []model.Sysctl{
		{Name: "net.core.somaxconn", Value: "4096", Watched: true, Why: "Upper bound on a listen() backlog."},
		{Name: "net.core.netdev_max_backlog", Value: "1000", Watched: true, Why: "Per-CPU input queue length."},
		{Name: "net.ipv4.tcp_syncookies", Value: "1"},
	}})
	var udpErrs uint64
	publishCounters := func() {
		store.Publish(model.CountersUpdate{Collector: "counters", At: time.Now(), Counters: []model.RawCounter{
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
			udpErrs += uint64(r.IntN(3))
			publishCounters()
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
