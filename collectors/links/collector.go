package links

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"netlens/collectors"
	"netlens/collectors/internal/rtnl"
	"netlens/collectors/qdisc"
	"netlens/model"
)

// Name is the name the collector reports under.
const Name = model.CollectorLinks

// Source is the Source the collector reports.
const Source = "rtnetlink+ethtool"

// NamesEvery is how many samples an interface's ethtool statistic names
// are kept before they are read again (a driver may change them without
// changing their count).
const NamesEvery = 30

// Options configure a Collector.
type Options struct {
	// NetNS, when not 0, is an open file descriptor of the network
	// namespace to read (/run/netns/NAME); 0 reads the caller's.
	NetNS int
	// NoEthtool leaves the drivers' statistics out.
	NoEthtool bool
	// Now returns the sample time; nil means time.Now.
	Now func() time.Time
}

// Collector is the "links" collector: on each Collect it reads every
// interface and publishes one model.InterfacesUpdate. Collect must not
// be called concurrently with itself (the Runner never does); Close may
// be called at any time after.
type Collector struct {
	opts Options

	sock rtnl.Socket
	mu   sync.Mutex // guards eth against Close during Collect, and note
	eth  *ethtoolSock
	note string // what the last sample could only partly read

	prev    map[int32]prevSample
	samples int
	// dumper receives the dumps into memory kept from one sample to the
	// next (every parse copies what it keeps out of the messages).
	dumper rtnl.Dumper
}

// prevSample is an interface's counters at the previous sample.
type prevSample struct {
	name  string
	at    time.Time
	stats model.LinkStats
}

// New returns a links collector. It opens its sockets on the first
// Collect.
func New(opts Options) *Collector {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Collector{opts: opts, sock: rtnl.Socket{NetNS: opts.NetNS, Who: "links"}, prev: map[int32]prevSample{}}
}

// Name implements collectors.Collector.
func (c *Collector) Name() string { return Name }

// Source implements collectors.Sourcer.
func (c *Collector) Source() string { return Source }

// Close releases the sockets. It is safe to call more than once.
func (c *Collector) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	errs = append(errs, c.sock.Close())
	if c.eth != nil {
		errs = append(errs, c.eth.close())
		c.eth = nil
	}
	return errors.Join(errs...)
}

// Collect implements collectors.Collector.
func (c *Collector) Collect(ctx context.Context, pub collectors.Publisher) error {
	ifs, err := c.Sample(ctx)
	if err != nil && !errors.Is(err, ErrMalformed) {
		return err
	}
	pub.Publish(model.InterfacesUpdate{At: c.opts.Now(), Interfaces: ifs})
	return err
}

// Sample reads every interface, sorted by index, with rates against the
// previous call. Messages it cannot decode are skipped and reported in
// the error (with ErrMalformed) after the others are read; a failed
// dump returns the error alone.
func (c *Collector) Sample(ctx context.Context) ([]model.Interface, error) {
	conn, err := c.sock.Get()
	if err != nil {
		return nil, err
	}
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
	} else {
		_ = conn.SetDeadline(time.Time{})
	}
	var bad []error
	var ifs []model.Interface
	byIndex := map[int32]int{}
	// Links.
	b, err := c.dumper.Dump(conn, netlink.Message{Header: netlink.Header{Type: rtmGetLink, Flags: netlink.Request | netlink.Dump}, Data: make([]byte, sizeofIfinfomsg)},
		func(m netlink.Message) error {
			if m.Header.Type != rtmNewLink {
				return nil
			}
			l, err := parseLink(m.Data)
			if err != nil {
				return err
			}
			l.Addresses, l.Ethtool, l.TC = []model.InterfaceAddr{}, []model.EthtoolStat{}, []model.TCObject{}
			byIndex[l.Index] = len(ifs)
			ifs = append(ifs, l)
			return nil
		})
	if err != nil {
		c.sock.Drop(conn)
		return nil, fmt.Errorf("links: dump links: %w", err)
	}
	at := c.opts.Now()
	bad = append(bad, b)
	// Addresses (both families: AF_UNSPEC).
	b, err = c.dumper.Dump(conn, netlink.Message{Header: netlink.Header{Type: rtmGetAddr, Flags: netlink.Request | netlink.Dump}, Data: make([]byte, sizeofIfaddrmsg)},
		func(m netlink.Message) error {
			if m.Header.Type != rtmNewAddr {
				return nil
			}
			a, ok, err := parseAddr(m.Data)
			if err != nil || !ok {
				return err
			}
			if i, known := byIndex[a.index]; known {
				ifs[i].Addresses = append(ifs[i].Addresses, a.addr)
			}
			return nil
		})
	if err != nil {
		c.sock.Drop(conn)
		return nil, fmt.Errorf("links: dump addresses: %w", err)
	}
	bad = append(bad, b)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Qdiscs, then each interface's classes.
	b, err = c.dumper.Dump(conn, netlink.Message{Header: netlink.Header{Type: rtmGetQdisc, Flags: netlink.Request | netlink.Dump}, Data: make([]byte, sizeofTcmsg)},
		func(m netlink.Message) error {
			if m.Header.Type != rtmNewQdisc {
				return nil
			}
			q, err := qdisc.ParseTC(m.Data)
			if err != nil {
				return err
			}
			if i, known := byIndex[q.Ifindex]; known {
				ifs[i].TC = append(ifs[i].TC, tcObject(q, false))
			}
			return nil
		})
	if err != nil {
		c.sock.Drop(conn)
		return nil, fmt.Errorf("links: dump qdiscs: %w", err)
	}
	bad = append(bad, b)
	for i := range ifs {
		if !classful(ifs[i].TC) {
			continue
		}
		req := netlink.Message{Header: netlink.Header{Type: rtmGetTclass, Flags: netlink.Request | netlink.Dump}, Data: make([]byte, sizeofTcmsg)}
		ne.PutUint32(req.Data[4:], uint32(ifs[i].Index))
		b, err := c.dumper.Dump(conn, req, func(m netlink.Message) error {
			if m.Header.Type != rtmNewTclass {
				return nil
			}
			q, err := qdisc.ParseTC(m.Data)
			if err != nil {
				return err
			}
			if q.Ifindex == ifs[i].Index {
				ifs[i].TC = append(ifs[i].TC, tcObject(q, true))
			}
			return nil
		})
		if errors.Is(err, unix.ENODEV) {
			continue // gone since the link dump
		}
		if err != nil {
			c.sock.Drop(conn)
			return nil, fmt.Errorf("links: dump classes of %s: %w", ifs[i].Name, err)
		}
		bad = append(bad, b)
	}
	// Masters by name, rates, drivers' statistics.
	c.samples++
	eth := c.ethtool()
	next := make(map[int32]prevSample, len(ifs))
	for i := range ifs {
		l := &ifs[i]
		if j, ok := byIndex[l.MasterIndex]; ok && l.MasterIndex != 0 {
			l.Master = ifs[j].Name
		}
		l.Rate = rate(c.prev[l.Index], l, at)
		next[l.Index] = prevSample{name: l.Name, at: at, stats: l.Stats}
		switch {
		case c.opts.NoEthtool || c.sock.Dialer != nil: // a fake kernel has no drivers
		case eth == nil:
			l.EthtoolNote = "ethtool: no socket in the namespace"
		default:
			st, note := eth.stats(l.Index, l.Name, c.samples%NamesEvery == 0)
			if st != nil {
				l.Ethtool = st
			}
			l.EthtoolNote = note
		}
	}
	c.prev = next
	c.setNote(ifs)
	if eth != nil {
		for idx := range eth.names {
			if _, ok := byIndex[idx]; !ok {
				delete(eth.names, idx)
			}
		}
	}
	slices.SortFunc(ifs, func(a, b model.Interface) int { return int(a.Index) - int(b.Index) })
	if err := errors.Join(bad...); err != nil {
		return ifs, fmt.Errorf("links: skipped messages: %w", err)
	}
	return ifs, nil
}

// setNote records which interfaces' driver statistics could not be
// read (an error, not a driver without any), for Note.
func (c *Collector) setNote(ifs []model.Interface) {
	n, first := 0, ""
	for i := range ifs {
		if strings.HasPrefix(ifs[i].EthtoolNote, "ethtool:") {
			if n == 0 {
				first = ifs[i].Name + ": " + strings.TrimPrefix(ifs[i].EthtoolNote, "ethtool: ")
			}
			n++
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.note = ""
	if n > 0 {
		c.note = fmt.Sprintf("driver statistics of %d of %d interfaces unreadable (%s)", n, len(ifs), first)
	}
}

// Note implements collectors.Noter: the interfaces whose driver
// statistics the last sample could not read, and why.
func (c *Collector) Note() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.note
}

// rate is an interface's rate since p, its previous sample: unknown on
// its first sample (p has another name or none) and when a counter went
// backwards (a reset, or another interface that took the index).
func rate(p prevSample, l *model.Interface, at time.Time) model.InterfaceRate {
	dt := at.Sub(p.at)
	if p.name != l.Name || p.at.IsZero() || dt <= 0 {
		return model.InterfaceRate{}
	}
	s, o := &l.Stats, &p.stats
	if s.RxBytes < o.RxBytes || s.TxBytes < o.TxBytes || s.RxPackets < o.RxPackets || s.TxPackets < o.TxPackets {
		return model.InterfaceRate{}
	}
	sec := dt.Seconds()
	return model.InterfaceRate{
		Known:           true,
		Interval:        dt,
		RxBitsPerSec:    float64(s.RxBytes-o.RxBytes) * 8 / sec,
		TxBitsPerSec:    float64(s.TxBytes-o.TxBytes) * 8 / sec,
		RxPacketsPerSec: float64(s.RxPackets-o.RxPackets) / sec,
		TxPacketsPerSec: float64(s.TxPackets-o.TxPackets) / sec,
	}
}

// classful reports whether an interface's qdiscs may have classes to
// dump: any but the classless noqueue (veth, bridge, lo by default) and
// noop.
func classful(tc []model.TCObject) bool {
	for _, t := range tc {
		if t.Kind != "noqueue" && t.Kind != "noop" {
			return true
		}
	}
	return false
}

func tcObject(q qdisc.Qdisc, class bool) model.TCObject {
	parent := "root"
	if q.Parent != tcHRoot {
		parent = qdisc.HandleString(q.Parent)
	}
	return model.TCObject{
		Class: class, Kind: q.Kind, Handle: qdisc.HandleString(q.Handle), Parent: parent,
		Bytes: q.Bytes, Packets: q.Packets, Drops: uint64(q.Drops), Overlimits: uint64(q.Overlimits),
		Requeues: uint64(q.Requeues), Backlog: uint64(q.Backlog), Qlen: uint64(q.Qlen),
	}
}

// ethtool returns the ioctl socket, opened in the namespace on first
// use; nil when it cannot be opened (each interface's note says so).
func (c *Collector) ethtool() *ethtoolSock {
	if c.opts.NoEthtool || c.sock.Dialer != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.eth != nil {
		return c.eth
	}
	open := func() (int, error) {
		return unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	}
	fd, err := -1, error(nil)
	if c.opts.NetNS != 0 {
		if nerr := collectors.InNetNS(c.opts.NetNS, func() { fd, err = open() }); nerr != nil {
			err = nerr
		}
	} else {
		fd, err = open()
	}
	if err != nil {
		return nil
	}
	c.eth = &ethtoolSock{fd: fd, names: map[int32]ethNames{}}
	return c.eth
}
