package ui

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"netlens/model"
)

// tcpShort names conntrack TCP states as ss names socket states, to fit a
// column ("ESTAB", "TIME-WAIT").
var tcpShort = [...]string{"NONE", "SYN-SENT", "SYN-RECV", "ESTAB", "FIN-WAIT", "CLOSE-WAIT", "LAST-ACK", "TIME-WAIT", "CLOSE", "SYN-SENT2"}

// tcpCells are the state cells of TCP flows, by state and flag (none,
// A, U), built once so that sorting by state allocates nothing.
var tcpCells = func() (c [len(tcpShort)][3]string) {
	for i, st := range tcpShort {
		c[i] = [3]string{st, st + " A", st + " U"}
	}
	return c
}()

// flowStateCell is a flow's state in a column: the TCP state, short, with
// A when conntrack has assured the flow or U when no reply was seen
// ("ESTAB A", "SYN-SENT U"); for other protocols ASSURED, UNREPLIED or
// REPLIED.
func flowStateCell(f *model.Flow) string {
	flag := 0
	switch {
	case f.Status&model.StatusAssured != 0:
		flag = 1
	case f.Status&model.StatusSeenReply == 0:
		flag = 2
	}
	if f.ProtoNum == 6 {
		if int(f.TCPState) < len(tcpCells) {
			return tcpCells[f.TCPState][flag]
		}
		return "UNKNOWN"
	}
	return [...]string{"REPLIED", "ASSURED", "UNREPLIED"}[flag]
}

// flowStateLong is a flow's state as conntrack(8) prints it:
// "ESTABLISHED [ASSURED]".
func flowStateLong(f *model.Flow) string {
	return strings.TrimSpace(tcpState(f) + " " + f.Status.Brackets())
}

// tcpState is model.Flow.State without copying the flow (the methods of
// model.Flow take it by value, and filters call this for every flow).
func tcpState(f *model.Flow) string {
	if f.ProtoNum == 6 {
		return f.TCPState.String()
	}
	return ""
}

// protoCell is a protocol in a narrow column.
func protoCell(p model.Proto, num uint8) string {
	switch p {
	case model.ProtoICMPv6:
		return "icmp6"
	case model.ProtoUDPLite:
		return "udpl"
	case model.ProtoUnknown:
		return strconv.Itoa(int(num))
	}
	return p.String()
}

// natCell is a flow's NAT kind: "snat", "dnat", "both" or "".
func natCell(f *model.Flow) string { return f.NAT.String() }

// natAddr is the translated address of a flow: the new source for SNAT,
// the new destination for DNAT and for both (the detail pane shows the
// two).
func natAddr(f *model.Flow) string {
	src, dst := f.NATAddrs()
	switch f.NAT {
	case model.NATSrc:
		return fmtAddr(src)
	case model.NATDst, model.NATBoth:
		return fmtAddr(dst)
	}
	return ""
}

// natDetail explains a flow's NAT in words: "SNAT 10.0.0.1:5000 leaves as
// 198.51.100.1:5000; DNAT 198.51.100.1:80 goes to 10.0.0.5:8080".
func natDetail(f *model.Flow) string {
	var parts []string
	src, dst := f.NATAddrs()
	if f.NAT == model.NATSrc || f.NAT == model.NATBoth {
		parts = append(parts, "SNAT: source "+fmtAddr(f.Orig.Src)+" leaves as "+fmtAddr(src))
	}
	if f.NAT == model.NATDst || f.NAT == model.NATBoth {
		parts = append(parts, "DNAT: destination "+fmtAddr(f.Orig.Dst)+" goes to "+fmtAddr(dst))
	}
	if len(parts) == 0 {
		return "no NAT"
	}
	return strings.Join(parts, "; ")
}

// acctOff reports whether the kernel keeps no byte and packet counts
// (net.netfilter.nf_conntrack_acct=0), as far as the stats tell.
func acctOff(st *model.ConntrackStats) bool { return !st.At.IsZero() && !st.Accounting }

// tsOff reports whether the kernel keeps no flow start times
// (net.netfilter.nf_conntrack_timestamp=0).
func tsOff(st *model.ConntrackStats) bool { return !st.At.IsZero() && !st.Timestamps }

// pairCell formats orig/reply counts in 9 cells: "1.2M/340k"; "acct off"
// when the kernel does not count, "-" when this flow has no counts.
func pairCell(f *model.Flow, st *model.ConntrackStats, orig, reply uint64) string {
	switch {
	case acctOff(st) && !f.CountersKnown:
		return "acct off"
	case !f.CountersKnown:
		return "-"
	}
	return fmtCount(orig, 4) + "/" + fmtCount(reply, 4)
}

// flowAgeCell is how long a flow has existed: "ts off" when the kernel
// keeps no start times (net.netfilter.nf_conntrack_timestamp=0); ">12s"
// (at least, since netlens first saw it) when this flow has none.
func flowAgeCell(f *model.Flow, st *model.ConntrackStats, now time.Time) string {
	if !f.Start.IsZero() {
		return fmtDur(now.Sub(f.Start))
	}
	if tsOff(st) {
		return "ts off"
	}
	if f.FirstSeen.IsZero() {
		return "-"
	}
	return ">" + fmtDur(now.Sub(f.FirstSeen))
}

// flowStart is when a flow began, for sorting by age: its start time, or
// when netlens first saw it.
func flowStart(f *model.Flow) time.Time {
	if !f.Start.IsZero() {
		return f.Start
	}
	return f.FirstSeen
}

// fmtDur formats a duration in at most 6 cells, with two units at most:
// "42s", "12m3s", "4h59m", "4d23h".
func fmtDur(d time.Duration) string {
	s := int64(max(d, 0) / time.Second)
	switch {
	case s < 60:
		return strconv.FormatInt(s, 10) + "s"
	case s < 3600:
		return strconv.FormatInt(s/60, 10) + "m" + strconv.FormatInt(s%60, 10) + "s"
	case s < 86400:
		return strconv.FormatInt(s/3600, 10) + "h" + strconv.FormatInt(s%3600/60, 10) + "m"
	case s < 100*86400:
		return strconv.FormatInt(s/86400, 10) + "d" + strconv.FormatInt(s%86400/3600, 10) + "h"
	}
	return strconv.FormatInt(s/86400, 10) + "d"
}

// appendTuple appends "src -> dst" of a tuple, with the ICMP type, code
// and id when it has them.
func appendTuple(b []byte, t model.FlowTuple) []byte {
	if t.ICMP != nil {
		b = t.Src.Addr().AppendTo(b)
		b = append(b, " -> "...)
		b = t.Dst.Addr().AppendTo(b)
		b = append(b, " type "...)
		b = strconv.AppendUint(b, uint64(t.ICMP.Type), 10)
		b = append(b, " code "...)
		b = strconv.AppendUint(b, uint64(t.ICMP.Code), 10)
		b = append(b, " id "...)
		return strconv.AppendUint(b, uint64(t.ICMP.ID), 10)
	}
	b = appendFlowAddr(b, t.Src)
	b = append(b, " -> "...)
	return appendFlowAddr(b, t.Dst)
}

// appendFlowAddr appends an address with its port, or alone when the
// protocol has no ports.
func appendFlowAddr(b []byte, ap netip.AddrPort) []byte {
	if ap.Port() == 0 && ap.Addr().IsValid() {
		if ap.Addr().Is4() {
			return ap.Addr().AppendTo(b)
		}
		b = append(b, '[')
		b = ap.Addr().AppendTo(b)
		return append(b, ']')
	}
	return appendAddr(b, ap)
}

// flowAddr formats one end of a flow for a column.
func flowAddr(ap netip.AddrPort) string { return string(appendFlowAddr(nil, ap)) }

// canHaveFlow reports whether a socket can match a conntrack flow (see
// model.FlowIndex.Lookup): a connected TCP, UDP or UDP-Lite socket.
func canHaveFlow(s *model.Socket) bool {
	switch s.Proto {
	case model.ProtoTCP, model.ProtoUDP, model.ProtoUDPLite:
	default:
		return false
	}
	r := s.Remote.Addr()
	return s.Remote.Port() != 0 && r.IsValid() && !r.IsUnspecified()
}

// matchFlowTerm reports whether flow f meets term t.
func matchFlowTerm(f *model.Flow, t *filterTerm) bool {
	switch t.key {
	case "proto":
		return f.Proto.String() == t.val || (f.Proto == model.ProtoUnknown && t.numOK && t.num == uint64(f.ProtoNum))
	case "port":
		for _, ap := range [...]netip.AddrPort{f.Orig.Src, f.Orig.Dst, f.Reply.Src, f.Reply.Dst} {
			if t.matchPort(ap.Port()) {
				return true
			}
		}
		return false
	case "addr":
		for _, ap := range [...]netip.AddrPort{f.Orig.Src, f.Orig.Dst, f.Reply.Src, f.Reply.Dst} {
			if t.matchAddr(ap.Addr()) {
				return true
			}
		}
		return false
	case "state":
		if f.ProtoNum == 6 && (t.matchState(tcpState(f)) || t.matchState(flowStateCell(f))) {
			return true
		}
		switch {
		case f.Status&model.StatusAssured != 0 && t.matchState("assured"):
			return true
		case f.Status&model.StatusSeenReply == 0 && t.matchState("unreplied"):
			return true
		case f.Status&model.StatusSeenReply != 0 && t.matchState("replied"):
			return true
		}
		return false
	case "nat":
		switch t.val {
		case "snat":
			return f.NAT == model.NATSrc || f.NAT == model.NATBoth
		case "dnat":
			return f.NAT == model.NATDst || f.NAT == model.NATBoth
		case "both":
			return f.NAT == model.NATBoth
		case "any", "yes":
			return f.NAT != model.NATNone
		case "none", "no":
			return f.NAT == model.NATNone
		}
		return false
	case "mark":
		return t.numOK && t.num == uint64(f.Mark)
	case "zone":
		return t.numOK && t.num == uint64(f.Zone)
	}
	return false
}
