package ruleset

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// The expressions google/nftables v0.3.0 does not decode (exprs.go decodes
// them), rendered as nft(8) 1.0.6 lists them; inner and tunnel, which this
// nft cannot write, as its later versions do.

// NFPROTO_* of the statements that name a family (tproxy, fwd).
const (
	nfprotoIPv4 = 2  // NFPROTO_IPV4
	nfprotoIPv6 = 10 // NFPROTO_IPV6
)

// rtKeys are the rt keys (NFT_RT_*) as nft loads them.
var rtKeys = map[expr.RtKey]loadKey{
	expr.RtClassid:  {"rt classid", kindHostInt, 4},
	expr.RtNexthop4: {"rt ip nexthop", kindIPv4, 4},
	expr.RtNexthop6: {"rt ip6 nexthop", kindIPv6, 16},
	expr.RtTCPMSS:   {"rt mtu", kindHostInt, 2},
	4:               {"rt ipsec", kindPresent, 1}, // NFT_RT_XFRM
}

// rt loads a route's property: rt classid, rt ip nexthop, rt mtu.
func (f *formatter) rt(e *expr.Rt) {
	k, ok := rtKeys[e.Key]
	if !ok {
		f.unknownLoad(e, e.Register)
		return
	}
	f.load(e.Register, k.name, k.kind, k.size)
}

// socketKeys are the socket keys (NFT_SOCKET_*) as nft loads them; cgroupv2
// takes its level.
var socketKeys = map[expr.SocketKey]loadKey{
	expr.SocketKeyTransparent: {"socket transparent", kindHostInt, 1},
	expr.SocketKeyMark:        {"socket mark", kindMark, 4},
	expr.SocketKeyWildcard:    {"socket wildcard", kindHostInt, 1},
	expr.SocketKeyCgroupv2:    {"socket cgroupv2", kindHostInt, 8},
}

// socket loads a property of the packet's socket: socket transparent 1,
// socket cgroupv2 level 1 5 (the cgroup's id: nft names it by its path
// where it can).
func (f *formatter) socket(e *expr.Socket) {
	k, ok := socketKeys[e.Key]
	if !ok {
		f.unknownLoad(e, e.Register)
		return
	}
	if e.Key == expr.SocketKeyCgroupv2 {
		k.name += " level " + strconv.FormatUint(uint64(e.Level), 10)
	}
	f.load(e.Register, k.name, k.kind, k.size)
}

// xfrmKeys are the ipsec keys (NFT_XFRM_KEY_*) as nft loads them.
var xfrmKeys = map[uint32]loadKey{
	1: {"ip daddr", kindIPv4, 4},   // NFT_XFRM_KEY_DADDR_IP4
	2: {"ip6 daddr", kindIPv6, 16}, // NFT_XFRM_KEY_DADDR_IP6
	3: {"ip saddr", kindIPv4, 4},   // NFT_XFRM_KEY_SADDR_IP4
	4: {"ip6 saddr", kindIPv6, 16}, // NFT_XFRM_KEY_SADDR_IP6
	5: {"reqid", kindHostInt, 4},   // NFT_XFRM_KEY_REQID
	6: {"spi", kindBEInt, 4},       // NFT_XFRM_KEY_SPI
}

// xfrm loads an IPsec state's field: ipsec in ip saddr, ipsec out spnum 1 reqid.
func (f *formatter) xfrm(e *Xfrm) {
	k, ok := xfrmKeys[e.Key]
	if !ok || e.Dir > 1 {
		f.unknownLoad(e, e.Register)
		return
	}
	lhs := "ipsec in "
	if e.Dir == 1 {
		lhs = "ipsec out "
	}
	if e.Spnum > 0 {
		lhs += "spnum " + strconv.FormatUint(uint64(e.Spnum), 10) + " "
	}
	f.load(e.Register, lhs+k.name, k.kind, k.size)
}

// osf loads the passive OS fingerprint: osf ttl loose version "Linux:3.0".
func (f *formatter) osf(e *Osf) {
	lhs := "osf "
	switch e.TTL {
	case 0: // NF_OSF_TTL_TRUE, nft's default
	case 1:
		lhs += "ttl loose "
	case 2:
		lhs += "ttl skip "
	default:
		f.unknownLoad(e, e.Register)
		return
	}
	if e.Flags&1 != 0 { // NFT_OSF_F_VERSION
		lhs += "version"
	} else {
		lhs += "name"
	}
	f.load(e.Register, lhs, kindString, 16) // NFT_OSF_MAXGENRELEN
}

// tunnel loads the packet's tunnel metadata: tunnel path, tunnel id.
func (f *formatter) tunnel(e *Tunnel) {
	var k loadKey
	switch e.Key {
	case 0: // NFT_TUNNEL_PATH
		k = loadKey{"tunnel path", kindPresent, 1}
	case 1: // NFT_TUNNEL_ID
		k = loadKey{"tunnel id", kindHostInt, 4}
	default:
		f.unknownLoad(e, e.Register)
		return
	}
	if e.Mode != 0 {
		// Only a hand-made rule sets a mode: shown, not hidden.
		k.name += " [mode " + strconv.FormatUint(uint64(e.Mode), 10) + "]"
	}
	f.load(e.Register, k.name, k.kind, k.size)
}

// innerTypes are the tunnels inner expressions look into (NFT_INNER_*).
var innerTypes = map[uint32]string{1: "vxlan", 2: "geneve"}

// inner loads a field of a tunnel's inner headers: vxlan ip saddr. The
// inner load is rendered by a formatter of its own (the inner headers
// are not the outer's), its left-hand side prefixed by the tunnel's name.
func (f *formatter) inner(e *Inner) {
	tun, ok := innerTypes[e.Type]
	if !ok || isNil(e.Expr) {
		f.emit(kindName(e))
		f.forgetLoad(e.Expr)
		return
	}
	sub := newFormatter(f.family, f.depth, f.env)
	// loaded takes the inner load sub made into reg, prefixed with the
	// tunnel's name; false when sub could not name it.
	loaded := func(reg uint32) bool {
		g := sub.get(reg)
		if g == nil || g.lhs == "" {
			return false
		}
		c := *g
		c.lhs, c.stmt, c.dep = tun+" "+g.lhs, len(f.out), depNone
		f.regs[slot(reg)] = &c
		return true
	}
	switch x := e.Expr.(type) {
	case *expr.Payload:
		if x.OperationType == expr.PayloadLoad {
			sub.payload(x)
			if loaded(x.DestRegister) {
				return
			}
		}
	case *expr.Meta:
		if !x.SourceRegister {
			sub.meta(x)
			if loaded(x.Register) {
				return
			}
		}
	}
	f.emit("[inner " + tun + " " + strings.Trim(kindName(e.Expr), "[]") + "]")
	f.forgetLoad(e.Expr)
}

// dupText is the dup statement: dup to 10.0.0.2 device "eth0"; in the
// netdev family, dup to "eth0".
func (f *formatter) dupText(e *expr.Dup) string {
	if e.RegAddr == 0 {
		if f.family == nftables.TableFamilyNetdev || e.IsRegDevSet {
			return "dup to " + f.regText(e.RegDev, kindIfindex)
		}
		return kindName(e)
	}
	s := "dup to " + f.regText(e.RegAddr, kindAddr)
	if e.IsRegDevSet {
		s += " device " + f.regText(e.RegDev, kindIfindex)
	}
	return s
}

// fwdText is the netdev family's fwd statement: fwd to "eth0", fwd ip to
// 10.0.0.9 device "eth0".
func (f *formatter) fwdText(e *Fwd) string {
	if e.RegDev == 0 {
		return kindName(e)
	}
	dev := f.regText(e.RegDev, kindIfindex)
	if e.RegAddr == 0 {
		return "fwd to " + dev
	}
	switch e.NFProto {
	case nfprotoIPv4:
		return "fwd ip to " + f.regText(e.RegAddr, kindIPv4) + " device " + dev
	case nfprotoIPv6:
		return "fwd ip6 to " + f.regText(e.RegAddr, kindIPv6) + " device " + dev
	}
	return kindName(e)
}

// tproxyText is the tproxy statement: tproxy to 127.0.0.1:1234, tproxy to
// :1234, and in the inet family tproxy ip to 127.0.0.1:80, tproxy ip6 to
// [::1]:80.
func (f *formatter) tproxyText(e *expr.TProxy) string {
	s := "tproxy"
	k := kindAddr
	switch e.Family {
	case nfprotoIPv4:
		k = kindIPv4
		if f.family == nftables.TableFamilyINet {
			s += " ip"
		}
	case nfprotoIPv6:
		k = kindIPv6
		if f.family == nftables.TableFamilyINet {
			s += " ip6"
		}
	}
	addr, port := "", ""
	if e.RegAddr != 0 {
		addr = f.regText(e.RegAddr, k)
	}
	if e.RegPort != 0 {
		port = ":" + f.regText(e.RegPort, kindBEInt)
		if strings.Contains(addr, ":") {
			addr = "[" + addr + "]"
		}
	}
	if addr == "" && port == "" {
		return kindName(e)
	}
	return s + " to " + addr + port
}

// synproxyText is the synproxy statement with its options in nft's order.
func synproxyText(e *expr.SynProxy) string {
	s := "synproxy"
	if e.MssValueSet {
		s += " mss " + strconv.FormatUint(uint64(e.Mss), 10)
	}
	if e.WscaleValueSet {
		s += " wscale " + strconv.FormatUint(uint64(e.Wscale), 10)
	}
	if e.Timestamp {
		s += " timestamp"
	}
	if e.SackPerm {
		s += " sack-perm"
	}
	return s
}

// lastText is the last statement: last used never, last used 1s.
func lastText(e *Last) string {
	if !e.Set {
		return "last used never"
	}
	return "last used " + durationText(msDuration(e.Msecs))
}

// unknownText and undecodedText are the visible placeholders of
// expressions exprs.go could not decode: nft has nothing of the sort, but
// a rule must never look like less than it is.
func unknownText(e *Unknown) string {
	return "[unknown expression " + strconv.Quote(e.Name) + "]"
}

func undecodedText(e *Undecoded) string {
	s := "[undecoded expression"
	if e.Name != "" {
		s += " " + strconv.Quote(e.Name)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s + "]"
}

// msDuration is ms milliseconds, at most the longest time.Duration.
func msDuration(ms uint64) time.Duration {
	if ms > math.MaxInt64/uint64(time.Millisecond) {
		return math.MaxInt64
	}
	return time.Duration(ms) * time.Millisecond
}

// days are the days of the week as meta day has them (0 is Sunday).
var days = []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}

// timeText prints the time kinds as nft does: meta time in local time,
// meta hour moved from UTC to the local zone as nft moves it, tc handles,
// ct expiration as a duration.
func timeText(k kind, data []byte) (string, bool) {
	n, ok := uintHost(data)
	if !ok {
		return "", false
	}
	switch {
	case k == kindTime && len(data) == 8:
		return strconv.Quote(time.Unix(0, int64(n)).Format("2006-01-02 15:04:05")), true
	case k == kindDay && len(data) == 1 && n < uint64(len(days)):
		return strconv.Quote(days[n]), true
	case k == kindHour && len(data) == 4 && n < 86400:
		_, off := time.Now().Zone()
		sec := (int64(n) + int64(off)) % 86400
		if sec < 0 {
			sec += 86400
		}
		s := fmt.Sprintf("%02d:%02d", sec/3600, sec/60%60)
		if sec%60 != 0 {
			s += fmt.Sprintf(":%02d", sec%60)
		}
		return strconv.Quote(s), true
	case k == kindTCHandle && len(data) == 4:
		switch n {
		case 0:
			return "none", true
		case 0xffffffff:
			return "root", true
		}
		return fmt.Sprintf("%x:%x", n>>16, n&0xffff), true
	case k == kindMillis && len(data) == 4:
		return durationText(time.Duration(n) * time.Millisecond), true
	}
	return "", false
}

// hash loads a hash of registers: jhash ip saddr . tcp dport mod 10 seed
// 0xdeadbeef, symhash mod 2 offset 100.
func (f *formatter) hash(e *expr.Hash) {
	var lhs string
	switch e.Type {
	case expr.HashTypeJenkins:
		in := f.concat(e.SourceRegister)
		if in == "" {
			f.unknownLoad(e, e.DestRegister)
			return
		}
		lhs = "jhash " + in
	case expr.HashTypeSym:
		lhs = "symhash"
	default:
		f.unknownLoad(e, e.DestRegister)
		return
	}
	lhs += " mod " + strconv.FormatUint(uint64(e.Modulus), 10)
	if e.Seed != 0 {
		lhs += fmt.Sprintf(" seed 0x%x", e.Seed)
	}
	if e.Offset != 0 {
		lhs += " offset " + strconv.FormatUint(uint64(e.Offset), 10)
	}
	f.load(e.DestRegister, lhs, kindHostInt, 4)
}

// unknownLoad shows a load it cannot render as [kind] and forgets what
// register r held: what reads it next shows as unknown too, not as the
// register's earlier value.
func (f *formatter) unknownLoad(e expr.Any, r uint32) {
	f.emit(kindName(e))
	delete(f.regs, slot(r))
}

// forgetLoad forgets the register a load inside an inner expression
// would have written.
func (f *formatter) forgetLoad(x expr.Any) {
	switch x := x.(type) {
	case *expr.Payload:
		if x != nil {
			delete(f.regs, slot(x.DestRegister))
		}
	case *expr.Meta:
		if x != nil && !x.SourceRegister {
			delete(f.regs, slot(x.Register))
		}
	}
}

// CtDir is a ct load of a key whose direction is optional (packets,
// bytes, avgpkt, zone) given one: ct original bytes. expr.Ct cannot say
// whether its Direction was given for those keys (google/nftables sends
// it only for the keys that need one).
type CtDir struct {
	decodeOnly
	Ct expr.Ct
}

// ctDirOptional are the ct keys that take a direction or none.
var ctDirOptional = map[expr.CtKey]bool{expr.CtKeyPKTS: true, expr.CtKeyBYTES: true, expr.CtKeyAVGPKT: true, expr.CtKeyZONE: true}

// ctDir renders a ct load or set with its direction: ct original zone 5,
// ct reply packets 5.
func (f *formatter) ctDir(e *CtDir) {
	c, ok := ctKeys[e.Ct.Key]
	if !ok || !ctDirOptional[e.Ct.Key] || e.Ct.Direction > 1 {
		f.emit(kindName(e))
		return
	}
	dir := "original "
	if e.Ct.Direction == 1 {
		dir = "reply "
	}
	if e.Ct.SourceRegister {
		if v, known := f.setValue(e.Ct.Register, c.kind); known {
			f.emit("ct " + dir + c.name + " set " + v)
		} else {
			f.emit(kindName(e))
		}
		return
	}
	f.load(e.Ct.Register, "ct "+dir+c.name, c.kind, c.size)
}
