package ui

import (
	"strconv"
	"strings"
	"time"

	"netlens/model"
)

// sockDetailH is the height of the Connections sockets view's detail
// pane: the socket, its queues, its processes, and three lines of
// tcp_info.
const sockDetailH = 6

// tcpDetail is what the detail pane says of a socket's tcp_info: the
// state of the connection, its counters and rates, and where its sending
// time went. Sockets without one say why.
func tcpDetail(s *model.Socket) []string {
	if s.Proto == model.ProtoUDP {
		return []string{"udp: the kernel keeps no byte counters for UDP sockets; rates show -, or ~ when a capture samples them"}
	}
	if s.Proto != model.ProtoTCP {
		return []string{s.Proto.String() + ": the kernel keeps no byte or retransmit counters for " + s.Proto.String() + " sockets; rates show -"}
	}
	t := s.TCP
	if s.State == model.StateListen {
		return []string{"listener: it moves no data itself; rates are on its connections"}
	}
	if !t.Known() {
		return []string{"no tcp_info: " + noInfoReason(s)}
	}
	var b strings.Builder
	// The connection: congestion control, RTT, windows, loss state.
	if t.Congestion != "" {
		b.WriteString(sanitize(t.Congestion) + "  ")
	}
	b.WriteString("rtt " + ms(t.RTT) + "/" + ms(t.RTTVar) + " ms")
	if t.MinRTT > 0 {
		b.WriteString("  min " + ms(t.MinRTT) + " ms")
	}
	b.WriteString("  rto " + strconv.FormatUint(uint64(t.RTO/1000), 10) + " ms  cwnd " + u32(t.SndCwnd))
	if t.SndSsthresh < 0xffff {
		b.WriteString("  ssthresh " + u32(t.SndSsthresh))
	}
	b.WriteString("  mss " + u32(t.SndMSS) + "  " + t.CAState.String())
	b.WriteString("  retrans " + strconv.Itoa(int(t.Retransmits)) + "/" + u32(t.TotalRetrans))
	if t.Lost > 0 || t.Unacked > 0 {
		b.WriteString("  lost " + u32(t.Lost) + "  unacked " + u32(t.Unacked))
	}
	lines := []string{b.String()}

	// Counters and rates.
	b.Reset()
	if s.Rate != nil {
		b.WriteString("rx " + fmtRate(s.Rate.RxBps) + "B/s  tx " + fmtRate(s.Rate.TxBps) + "B/s  retrans " + fmtRate(s.Rate.RetransPerSec) + "/s  ")
	} else {
		b.WriteString("rates from the next refresh  ")
	}
	if t.HasBytes() {
		b.WriteString("acked " + fmtCount(t.BytesAcked, 6) + "B  received " + fmtCount(t.BytesReceived, 6) + "B")
	}
	if t.Len >= model.TCPInfoLenBytes+8 {
		b.WriteString("  segs out/in " + u32(t.SegsOut) + "/" + u32(t.SegsIn))
	}
	if t.DeliveryRate > 0 {
		b.WriteString("  delivery " + fmtRate(float64(t.DeliveryRate)) + "B/s")
	}
	if t.PacingRate > 0 && t.PacingRate != 1<<64-1 {
		b.WriteString("  pacing " + fmtRate(float64(t.PacingRate)) + "B/s")
	}
	if t.BytesRetrans > 0 {
		b.WriteString("  retrans " + fmtCount(t.BytesRetrans, 6) + "B")
	}
	lines = append(lines, b.String())

	// Where the sending time went.
	lines = append(lines, limitsLine(s))
	return lines
}

// limitsLine breaks the socket's recent sending time down: a slow
// receiver (its window), a slow sender (the send buffer: the application
// or its buffer size), or a slow network (the congestion window).
func limitsLine(s *model.Socket) string {
	t := s.TCP
	if !t.HasChrono() {
		return "no busy/limited times (kernel before 4.10)"
	}
	var l model.SendLimits
	if s.Rate != nil {
		l = s.Rate.Limits
	}
	if l.Window <= 0 {
		return "limited: busy " + usec(t.BusyTime) + ", receiver window " + usec(t.RwndLimited) + ", send buffer " + usec(t.SndbufLimited) + " in all"
	}
	if l.Busy == 0 {
		return "idle: nothing to send for the last " + secs(l.Window)
	}
	return "sending " + pct(l.Busy, l.Window) + " of the last " + secs(l.Window) + ": network-limited " + pct(l.Network(), l.Window) +
		", receiver-limited " + pct(l.Rwnd, l.Window) + ", sender-limited " + pct(l.Sndbuf, l.Window)
}

// noInfoReason says why a TCP socket has no tcp_info.
func noInfoReason(s *model.Socket) string {
	switch {
	case s.State == model.StateTimeWait || s.State == model.StateNewSynRecv:
		return "a " + s.State.String() + " socket is not a full socket; rates show -"
	case s.Cookie == 0:
		return "sockets read from /proc/net (sock_diag unavailable); rates show -"
	}
	return "the kernel sent none for this socket; rates show -"
}

func u32(v uint32) string { return strconv.FormatUint(uint64(v), 10) }

// ms formats microseconds as milliseconds with up to three decimals, as
// ss does ("0.03", "20.5").
func ms(us uint32) string { return strconv.FormatFloat(float64(us)/1000, 'f', -1, 64) }

func usec(us uint64) string {
	return (time.Duration(us) * time.Microsecond).Round(time.Millisecond).String()
}

func secs(d time.Duration) string { return strconv.Itoa(int(d.Round(time.Second)/time.Second)) + " s" }

func pct(part, whole time.Duration) string {
	return strconv.Itoa(int(float64(part)/float64(whole)*100+0.5)) + "%"
}
