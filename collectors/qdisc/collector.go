package qdisc

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"netlens/collectors"
	"netlens/collectors/internal/rtnl"
	"netlens/model"
)

// Name is the name the collector reports under.
const Name = model.CollectorQdisc

// Source is the Source of every counter the collector publishes.
const Source = "rtnetlink"

// Counter groups.
const (
	GroupQdisc = "qdisc"      // per qdisc: drops, overlimits, ...
	GroupLink  = "statistics" // per interface: rtnl_link_stats64 fields
)

// Options configure a Collector.
type Options struct {
	// NetNS, when not 0, is an open file descriptor of the network
	// namespace to read (/run/netns/NAME); 0 reads the caller's.
	NetNS int
	// Links also publishes every interface's rtnl_link_stats64 (layer
	// nic), from the same link dump that names the qdiscs' devices.
	Links bool
	// Now returns the sample time; nil means time.Now.
	Now func() time.Time
}

// Collector is the "qdisc" collector: on each Collect it dumps the
// interfaces and qdiscs over one rtnetlink socket and publishes one
// model.CountersUpdate. Collect must not be called concurrently with
// itself (the Runner never does); Close may be called at any time after.
type Collector struct {
	opts Options

	sock rtnl.Socket

	names      map[int32]string
	sinceNames int  // samples since the names were dumped
	noGetStats bool // the kernel has no RTM_GETSTATS
	stats      []uint64
	linkIdx    []linkAt // this sample's link statistics
	linkVals   []uint64
	wide       map[string]*widened // 32-bit qdisc counters widened to 64, by Instance
	last       int
	// dumper receives the dumps into memory kept from one sample to the
	// next (every parse copies what it keeps out of the messages).
	dumper rtnl.Dumper
	// spare is the list of the previous update when its publisher
	// copied it (collectors.CountersCopier): the next is filled in it.
	spare []model.RawCounter
}

// widened keeps the last 32-bit values of a qdisc's wrapping counters and
// their 64-bit running values.
type widened struct {
	last [4]uint32 // drops, overlimits, requeues, packets
	wide [4]uint64
	seen bool
	gen  bool
}

// New returns a qdisc collector. It opens its socket on the first Collect.
func New(opts Options) *Collector {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Collector{opts: opts, sock: rtnl.Socket{NetNS: opts.NetNS, Who: "qdisc"}, names: map[int32]string{}, wide: map[string]*widened{}}
}

// Name implements collectors.Collector.
func (c *Collector) Name() string { return Name }

// Source implements collectors.Sourcer.
func (c *Collector) Source() string { return Source }

// Close releases the socket. It is safe to call more than once.
func (c *Collector) Close() error {
	return c.sock.Close()
}

// Collect implements collectors.Collector.
func (c *Collector) Collect(ctx context.Context, pub collectors.Publisher) error {
	buf := c.spare
	c.spare = nil
	if buf == nil {
		buf = make([]model.RawCounter, 0, c.last)
	}
	out, err := c.Sample(ctx, buf)
	if err != nil && !errors.Is(err, ErrMalformed) {
		// A dump that failed part way: publishing the part would make
		// the Store forget the rest and restart their deltas.
		return err
	}
	c.last = len(out)
	pub.Publish(model.CountersUpdate{Collector: Name, At: c.opts.Now(), Counters: out})
	if _, ok := pub.(collectors.CountersCopier); ok {
		c.spare = out[:0] // the publisher kept nothing of it
	}
	return err
}

// Sample dumps interfaces and qdiscs and appends their counters to out.
// Messages it cannot decode are skipped and reported in the error (with
// ErrMalformed) after the others are appended; a failed dump returns
// what was appended before it.
//
// Link statistics come from RTM_GETSTATS (IFLA_STATS_LINK_64), a tenth
// of the cost of a full RTM_GETLINK dump, which is done only for the
// interface names: on the first call, when a dump shows an ifindex it
// does not know, and every NamesEvery calls (so a renamed interface is
// seen within that many samples). Kernels before 4.7, which lack
// RTM_GETSTATS, get their statistics from the link dump on every call.
func (c *Collector) Sample(ctx context.Context, out []model.RawCounter) ([]model.RawCounter, error) {
	conn, err := c.sock.Get()
	if err != nil {
		return out, err
	}
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
	} else {
		_ = conn.SetDeadline(time.Time{})
	}
	var bad []error
	c.linkIdx, c.linkVals = c.linkIdx[:0], c.linkVals[:0]
	c.sinceNames++
	needNames := len(c.names) == 0 || c.sinceNames >= NamesEvery
	if c.opts.Links && !c.noGetStats {
		req := netlink.Message{Header: netlink.Header{Type: rtmGetStats, Flags: netlink.Request | netlink.Dump}, Data: make([]byte, sizeofIfStatsMsg)}
		ne.PutUint32(req.Data[8:], filterLink64)
		b, err := c.dump(conn, req, func(b []byte) error {
			idx, st, ok, err := parseStats(b, c.stats)
			c.stats = st
			if err != nil || !ok {
				return err
			}
			if _, known := c.names[idx]; !known {
				needNames = true
			}
			c.linkIdx = append(c.linkIdx, linkAt{idx, len(c.linkVals), len(st)})
			c.linkVals = append(c.linkVals, st...)
			return nil
		})
		switch {
		case errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.EINVAL):
			c.noGetStats, needNames = true, true // before 4.7: statistics from the link dump
		case err != nil:
			c.sock.Drop(conn)
			return out, fmt.Errorf("qdisc: dump link statistics: %w", err)
		}
		bad = append(bad, b)
	}
	if needNames || (c.opts.Links && c.noGetStats) {
		b, err := c.dumpLinks(conn)
		if err != nil {
			c.sock.Drop(conn)
			return out, fmt.Errorf("qdisc: dump links: %w", err)
		}
		bad = append(bad, b)
	}
	for _, l := range c.linkIdx {
		out = c.appendLink(out, c.name(l.index), c.linkVals[l.off:l.off+l.n])
	}
	if err := ctx.Err(); err != nil {
		return out, err
	}
	for _, w := range c.wide {
		w.gen = false
	}
	qmsg := netlink.Message{Header: netlink.Header{Type: rtmGetQdisc, Flags: netlink.Request | netlink.Dump}, Data: make([]byte, sizeofTcmsg)}
	b, err := c.dump(conn, qmsg, func(b []byte) error {
		q, err := parseQdisc(b)
		if err != nil {
			return err
		}
		if !q.HasStats {
			return nil
		}
		out = c.appendQdisc(out, c.name(q.Ifindex), q)
		return nil
	})
	if err != nil {
		c.sock.Drop(conn)
		return out, fmt.Errorf("qdisc: dump qdiscs: %w", err)
	}
	bad = append(bad, b)
	for k, w := range c.wide {
		if !w.gen {
			delete(c.wide, k)
		}
	}
	if err := errors.Join(bad...); err != nil {
		return out, fmt.Errorf("qdisc: skipped messages: %w", err)
	}
	return out, nil
}

// NamesEvery is how many samples the interface names are kept before
// the link dump that refreshes them is done again.
const NamesEvery = 10

// linkAt locates one interface's statistics in Collector.linkVals.
type linkAt struct {
	index int32
	off   int
	n     int
}

// dumpLinks refreshes the names and, when RTM_GETSTATS is missing, takes
// the link statistics from the same dump.
func (c *Collector) dumpLinks(conn *netlink.Conn) (bad, err error) {
	clear(c.names)
	c.sinceNames = 0
	fromLinks := c.opts.Links && c.noGetStats
	req := netlink.Message{Header: netlink.Header{Type: rtmGetLink, Flags: netlink.Request | netlink.Dump}, Data: make([]byte, sizeofIfinfomsg)}
	return c.dump(conn, req, func(b []byte) error {
		l, err := parseLink(b, c.stats)
		if err != nil {
			return err
		}
		c.stats = l.Stats
		c.names[l.Index] = l.Name
		if fromLinks && l.Stats != nil {
			c.linkIdx = append(c.linkIdx, linkAt{l.Index, len(c.linkVals), len(l.Stats)})
			c.linkVals = append(c.linkVals, l.Stats...)
		}
		return nil
	})
}

// name returns the name of interface idx, or "ifN" for one that appeared
// since the last link dump (and makes the next sample redo it).
func (c *Collector) name(idx int32) string {
	if n, ok := c.names[idx]; ok {
		return n
	}
	c.sinceNames = NamesEvery
	return "if" + strconv.Itoa(int(idx))
}

func (c *Collector) appendLink(out []model.RawCounter, dev string, stats []uint64) []model.RawCounter {
	for i, v := range stats {
		out = append(out, model.RawCounter{Layer: model.LayerNIC, Source: Source, Group: GroupLink, Instance: dev,
			Name: linkStatNames[i], Kind: model.KindCounter, Value: v})
	}
	return out
}

func (c *Collector) appendQdisc(out []model.RawCounter, dev string, q Qdisc) []model.RawCounter {
	inst := q.Instance(dev)
	w := c.wide[inst]
	if w == nil {
		w = &widened{}
		c.wide[inst] = w
	}
	w.gen = true
	cur := [4]uint32{q.Drops, q.Overlimits, q.Requeues, uint32(q.Packets)}
	for i, v := range cur {
		if !w.seen {
			w.wide[i] = uint64(v)
		} else {
			w.wide[i] += uint64(v - w.last[i]) // modulo 2^32: a wrap is not a reset
		}
	}
	w.last, w.seen = cur, true
	packets := w.wide[3]
	if q.Packets64 {
		packets = q.Packets
	}
	add := func(name string, kind model.CounterKind, v uint64) {
		out = append(out, model.RawCounter{Layer: model.LayerQdisc, Source: Source, Group: GroupQdisc, Instance: inst, Name: name, Kind: kind, Value: v})
	}
	add("drops", model.KindCounter, w.wide[0])
	add("overlimits", model.KindCounter, w.wide[1])
	add("requeues", model.KindCounter, w.wide[2])
	add("bytes", model.KindCounter, q.Bytes)
	add("packets", model.KindCounter, packets)
	add("backlog", model.KindGauge, uint64(q.Backlog))
	add("qlen", model.KindGauge, uint64(q.Qlen))
	return out
}

// dump runs a dump (rtnl.Dumper) and calls fn with each reply's
// payload, valid only during the call.
func (c *Collector) dump(conn *netlink.Conn, req netlink.Message, fn func([]byte) error) (bad, err error) {
	return c.dumper.Dump(conn, req, func(m netlink.Message) error { return fn(m.Data) })
}
