package nft

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"netlens/collectors"
	"netlens/collectors/nflog"
	"netlens/internal/logloop"
	"netlens/internal/proto"
	"netlens/model"
	"netlens/model/rules"
)

// LogGroup is the nfnetlink_log group the packet log of netlens's rules
// goes to ("log group 20044", "NL" in ASCII); the group is per network
// namespace.
const LogGroup = 20044

// defaultLogRate is a rule's log rate when it sets none (model.Rule.LogRate).
const defaultLogRate = 10

// logPrefix is the log statement's prefix of rule id: "netlens 7 drop".
// The packet log maps a packet back to its rule by it.
func logPrefix(r model.Rule) string {
	return "netlens " + strconv.FormatUint(uint64(r.ID), 10) + " " + string(r.Action)
}

// parseLogPrefix reads a prefix logPrefix wrote.
func parseLogPrefix(s string) (id uint32, action model.RuleAction, ok bool) {
	f := strings.Fields(s)
	if len(f) != 3 || f[0] != "netlens" {
		return 0, "", false
	}
	n, err := strconv.ParseUint(f[1], 10, 32)
	if err != nil || n == 0 {
		return 0, "", false
	}
	return uint32(n), model.RuleAction(f[2]), true
}

// A rule with Log has, before each of its copies, a log copy with the
// same matches: "... counter limit rate N/second burst N packets counter
// log prefix "netlens ID ACTION" group 20044" and no verdict. A limit in
// the rule itself would be a match: over the rate the rule would stop
// matching, and a drop rule stop dropping. The first counter is every
// packet the rule matched, the second the packets the limit let through
// to the log; their difference is Rule.LogDropped (over the rate). The
// burst is the rate, as the kernel module's token bucket: the first N
// packets of a quiet rule are logged at once.
func logCopyExprs(r model.Rule) ([]expr.Any, error) {
	ex, err := encodeMatches(r)
	if err != nil {
		return nil, err
	}
	rate := r.LogRate
	if rate == 0 {
		rate = defaultLogRate
	}
	return append(ex,
		&expr.Counter{},
		&expr.Limit{Type: expr.LimitTypePkts, Rate: uint64(rate), Unit: expr.LimitTimeSecond, Burst: rate},
		&expr.Counter{},
		&expr.Log{Key: 1<<unix.NFTA_LOG_GROUP | 1<<unix.NFTA_LOG_PREFIX, Group: LogGroup, Data: []byte(logPrefix(r))},
	), nil
}

// logCounts is what decodeLogCopy reads off the end of a log copy.
type logCounts struct {
	matched, sent uint64
	rate          uint32
}

// decodeLogCopy checks the tail of a log copy (counter, limit, counter,
// log) and returns its counters and rate; the matches before it are the
// rule's own.
func decodeLogCopy(ex []expr.Any) (logCounts, error) {
	n := len(ex)
	if n < 4 {
		return logCounts{}, fmt.Errorf("log copy of %d expressions: %w", n, errForeign)
	}
	c1, ok1 := ex[n-4].(*expr.Counter)
	lim, ok2 := ex[n-3].(*expr.Limit)
	c2, ok3 := ex[n-2].(*expr.Counter)
	lg, ok4 := ex[n-1].(*expr.Log)
	if !ok1 || !ok2 || !ok3 || !ok4 || lim.Type != expr.LimitTypePkts || lim.Unit != expr.LimitTimeSecond || lim.Over ||
		lg.Group != LogGroup || lim.Rate > 1<<32-1 {
		return logCounts{}, fmt.Errorf("log copy tail: %w", errForeign)
	}
	return logCounts{matched: c1.Packets, sent: c2.Packets, rate: uint32(lim.Rate)}, nil
}

// PacketLog streams the packet log of rule id (0: of every rule) from the
// nfnetlink_log group LogGroup of the backend's namespace, until ctx is
// done. A receive-buffer overrun (the reader was too slow) is reported to
// lost and the stream goes on. nfnetlink_log has one reader per group: a
// second PacketLog in the same namespace fails with nflog.ErrBusy.
func (b *Backend) PacketLog(ctx context.Context, id uint32, fn func(model.LoggedPacket), lost func()) error {
	c, err := nflog.Dial(LogGroup, nflog.Options{NetNS: b.opt.NetNS, Conntrack: true})
	if err != nil {
		return err
	}
	defer c.Close()
	names := b.ifnames()
	recv := func() ([]nflog.Packet, error) { ps, _, err := c.Receive(); return ps, err }
	err = logloop.Run(ctx, c.SetReadDeadline, recv, nflog.ErrLost, lost, func(p nflog.Packet) {
		if rid, action, ok := parseLogPrefix(p.Prefix); ok && (id == 0 || rid == id) {
			fn(loggedPacket(p, rid, action, names))
		}
	})
	if err != nil {
		return fmt.Errorf("nft packet log: %w", err)
	}
	return nil
}

// ifnames returns a cached lookup of interface names by index in the
// backend's namespace ("if7" when it cannot tell).
func (b *Backend) ifnames() func(uint32) string {
	var mu sync.Mutex
	cache := map[uint32]string{}
	return func(i uint32) string {
		mu.Lock()
		defer mu.Unlock()
		if n, ok := cache[i]; ok {
			return n
		}
		name := "if" + strconv.FormatUint(uint64(i), 10)
		lookup := func() {
			if ifi, err := net.InterfaceByIndex(int(i)); err == nil {
				name = ifi.Name
			}
		}
		if b.opt.NetNS > 0 {
			_ = collectors.InNetNS(b.opt.NetNS, lookup)
		} else {
			lookup()
		}
		cache[i] = name
		return name
	}
}

// loggedPacket converts one nflog packet of rule id.
func loggedPacket(p nflog.Packet, id uint32, action model.RuleAction, name func(uint32) string) model.LoggedPacket {
	t := p.Tuple
	lp := model.LoggedPacket{At: p.Time, RuleID: id, Verdict: action, Src: t.Src, Dst: t.Dst, Len: t.Len, CTState: p.CTState}
	if lp.At.IsZero() {
		lp.At = time.Now()
	}
	if int(p.Hook) < len(hookChains) {
		lp.Hook = hookChains[p.Hook]
	}
	switch t.Family {
	case 4:
		lp.Family = model.FamilyIPv4
	case 6:
		lp.Family = model.FamilyIPv6
	}
	lp.Proto = proto.Name(t.Proto)
	if lp.Proto == "" {
		lp.Proto = strconv.Itoa(int(t.Proto))
	}
	if p.InIf != 0 {
		lp.InIface = name(p.InIf)
	}
	if p.OutIf != 0 {
		lp.OutIface = name(p.OutIf)
	}
	if t.HasPorts {
		lp.SrcPort, lp.DstPort = t.SrcPort, t.DstPort
	}
	if t.Proto == 6 && t.HasPorts {
		lp.TCPFlags = rules.PacketTCPFlags(t.TCPFlags)
	}
	if t.HasICMP {
		lp.ICMP = strconv.Itoa(int(t.ICMPType)) + "/" + strconv.Itoa(int(t.ICMPCode))
	}
	return lp
}
