package jsonenc

import (
	"encoding/json"
	"math/bits"
	"net/netip"
	"reflect"
	"slices"

	"netlens/model"
)

// The JSON tags the appenders were written for, in order. When a type's
// tags differ (a field was added, renamed or reordered), its appender is
// not used: encoding/json encodes it, and TestAppendersKnowEveryField
// fails until this package catches up.
var (
	flowTags = []string{"id", "status", "mark", "zone", "proto", "proto_num", "tcp_state,omitempty",
		"nat,omitempty", "counters_known", "family", "orig", "reply", "timeout_ns", "helper,omitempty",
		"orig_packets", "orig_bytes", "reply_packets", "reply_bytes", "start,omitzero", "first_seen", "updated"}
	tupleTags  = []string{"src", "dst", "icmp,omitempty"}
	icmpTags   = []string{"type", "code", "id"}
	socketTags = []string{"proto", "state", "drops_known", "send_q", "recv_q", "uid", "family", "local", "remote", "inode",
		"cookie,omitempty", "interface,omitempty", "procs,omitempty", "drops", "netns,omitempty", "namespace,omitempty",
		"tcp,omitzero", "rate,omitzero"}
	procTags = []string{"pid", "comm", "fd", "container,omitempty"}
	tcpTags  = []string{"len", "ca_state", "retransmits", "backoff", "rto_us", "ato_us", "snd_mss", "rcv_mss",
		"unacked", "sacked", "lost", "retrans", "last_data_sent_ms", "last_data_recv_ms", "pmtu", "rtt_us",
		"rttvar_us", "snd_ssthresh", "snd_cwnd", "reordering", "total_retrans", "pacing_rate", "max_pacing_rate",
		"bytes_acked", "bytes_received", "segs_out", "segs_in", "notsent_bytes", "min_rtt_us", "data_segs_in",
		"data_segs_out", "delivery_rate", "delivery_rate_app_limited", "busy_time_us", "rwnd_limited_us",
		"sndbuf_limited_us", "bytes_sent", "bytes_retrans", "congestion,omitempty"}
	rateTags   = []string{"known", "sampled,omitempty", "interval_ns", "rx_bytes_per_sec", "tx_bytes_per_sec", "retrans_per_sec", "limits,omitzero"}
	limitsTags = []string{"window_ns", "busy_ns", "rwnd_limited_ns", "sndbuf_limited_ns"}

	flowFast = sameTags[model.Flow](flowTags) && sameTags[model.FlowTuple](tupleTags) &&
		sameTags[model.ICMPKey](icmpTags)
	socketFast = sameTags[model.Socket](socketTags) && sameTags[model.Proc](procTags)
	tcpFast    = sameTags[model.TCPInfo](tcpTags)
	rateFast   = sameTags[model.SocketRate](rateTags) && sameTags[model.SendLimits](limitsTags)
)

// jsonTags returns the json tags of T's exported fields, in order.
func jsonTags(t reflect.Type) []string {
	var tags []string
	for f := range t.Fields() {
		if f.IsExported() {
			tags = append(tags, f.Tag.Get("json"))
		}
	}
	return tags
}

func sameTags[T any](want []string) bool {
	return slices.Equal(jsonTags(reflect.TypeFor[T]()), want)
}

// statusJSON holds each status bit's name as a JSON string, as
// model.FlowStatus.MarshalJSON writes it.
var statusJSON = func() (names [32]string) {
	for i := range names {
		names[i] = string(appendString(nil, model.FlowStatus(1 << i).Names()[0]))
	}
	return names
}()

// AppendFlow appends f as encoding/json encodes a model.Flow (compact).
func AppendFlow(dst []byte, f *model.Flow) ([]byte, error) {
	return appendFlow(dst, f, nil)
}

// appendFlow is AppendFlow remembering the last time it encoded in tc
// (nil: none): the flows of one dump all carry the same first_seen and
// updated.
func appendFlow(dst []byte, f *model.Flow, tc *timeCache) ([]byte, error) {
	if !flowFast {
		return appendMarshal(dst, f)
	}
	start := len(dst)
	dst = append(dst, `{"id":`...)
	dst = appendUint(dst, uint64(f.ID))
	dst = append(dst, `,"family":`...)
	dst = appendString(dst, string(f.Family))
	dst = append(dst, `,"proto":`...)
	dst = appendString(dst, f.Proto.String())
	dst = append(dst, `,"proto_num":`...)
	dst = appendUint(dst, uint64(f.ProtoNum))
	dst = append(dst, `,"orig":`...)
	dst = appendTuple(dst, &f.Orig)
	dst = append(dst, `,"reply":`...)
	dst = appendTuple(dst, &f.Reply)
	if f.TCPState != 0 {
		dst = append(dst, `,"tcp_state":`...)
		dst = appendString(dst, f.TCPState.String())
	}
	dst = append(dst, `,"status":[`...)
	first := true
	for st := uint32(f.Status); st != 0; st &= st - 1 {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, statusJSON[bits.TrailingZeros32(st)]...)
	}
	dst = append(dst, `],"timeout_ns":`...)
	dst = appendInt(dst, int64(f.Timeout))
	dst = append(dst, `,"mark":`...)
	dst = appendUint(dst, uint64(f.Mark))
	dst = append(dst, `,"zone":`...)
	dst = appendUint(dst, uint64(f.Zone))
	if f.Helper != "" {
		dst = append(dst, `,"helper":`...)
		dst = appendString(dst, f.Helper)
	}
	dst = append(dst, `,"orig_packets":`...)
	dst = appendUint(dst, f.OrigPackets)
	dst = append(dst, `,"orig_bytes":`...)
	dst = appendUint(dst, f.OrigBytes)
	dst = append(dst, `,"reply_packets":`...)
	dst = appendUint(dst, f.ReplyPackets)
	dst = append(dst, `,"reply_bytes":`...)
	dst = appendUint(dst, f.ReplyBytes)
	dst = append(dst, `,"counters_known":`...)
	dst = appendBool(dst, f.CountersKnown)
	ok := true
	if !f.Start.IsZero() {
		dst = append(dst, `,"start":`...)
		dst, ok = appendTime(dst, f.Start)
	}
	if f.NAT != model.NATNone {
		dst = append(dst, `,"nat":`...)
		dst = appendString(dst, f.NAT.String())
	}
	if src, to := f.NATAddrs(); src != (netip.AddrPort{}) || to != (netip.AddrPort{}) {
		if src != (netip.AddrPort{}) {
			dst = append(dst, `,"nat_src":`...)
			dst = appendAddrPort(dst, src)
		}
		if to != (netip.AddrPort{}) {
			dst = append(dst, `,"nat_dst":`...)
			dst = appendAddrPort(dst, to)
		}
	}
	dst = append(dst, `,"first_seen":`...)
	dst, ok1 := tc.appendTime(dst, f.FirstSeen)
	dst = append(dst, `,"updated":`...)
	dst, ok2 := tc.appendTime(dst, f.Updated)
	if !ok || !ok1 || !ok2 {
		return appendMarshal(dst[:start], f)
	}
	return append(dst, '}'), nil
}

func appendTuple(dst []byte, t *model.FlowTuple) []byte {
	dst = append(dst, `{"src":`...)
	dst = appendAddrPort(dst, t.Src)
	dst = append(dst, `,"dst":`...)
	dst = appendAddrPort(dst, t.Dst)
	if t.ICMP != nil {
		dst = append(dst, `,"icmp":{"type":`...)
		dst = appendUint(dst, uint64(t.ICMP.Type))
		dst = append(dst, `,"code":`...)
		dst = appendUint(dst, uint64(t.ICMP.Code))
		dst = append(dst, `,"id":`...)
		dst = appendUint(dst, uint64(t.ICMP.ID))
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

// AppendSocket appends s as encoding/json encodes a model.Socket
// (compact).
func AppendSocket(dst []byte, s *model.Socket) ([]byte, error) {
	if !socketFast {
		return appendMarshal(dst, s)
	}
	dst = append(dst, `{"proto":`...)
	dst = appendString(dst, s.Proto.String())
	dst = append(dst, `,"family":`...)
	dst = appendString(dst, string(s.Family))
	dst = append(dst, `,"local":`...)
	dst = appendAddrPort(dst, s.Local)
	dst = append(dst, `,"remote":`...)
	dst = appendAddrPort(dst, s.Remote)
	dst = append(dst, `,"state":`...)
	dst = appendString(dst, s.State.String())
	dst = append(dst, `,"send_q":`...)
	dst = appendUint(dst, uint64(s.SendQ))
	dst = append(dst, `,"recv_q":`...)
	dst = appendUint(dst, uint64(s.RecvQ))
	dst = append(dst, `,"uid":`...)
	dst = appendUint(dst, uint64(s.UID))
	dst = append(dst, `,"inode":`...)
	dst = appendUint(dst, s.Inode)
	if s.Cookie != 0 {
		dst = append(dst, `,"cookie":`...)
		dst = appendUint(dst, s.Cookie)
	}
	if s.Interface != "" {
		dst = append(dst, `,"interface":`...)
		dst = appendString(dst, s.Interface)
	}
	if len(s.Procs) > 0 {
		dst = append(dst, `,"procs":[`...)
		for i := range s.Procs {
			p := &s.Procs[i]
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"pid":`...)
			dst = appendInt(dst, int64(p.PID))
			dst = append(dst, `,"comm":`...)
			dst = appendString(dst, p.Comm)
			dst = append(dst, `,"fd":`...)
			dst = appendInt(dst, int64(p.FD))
			if p.Container != "" {
				dst = append(dst, `,"container":`...)
				dst = appendString(dst, p.Container)
			}
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	dst = append(dst, `,"drops":`...)
	dst = appendUint(dst, s.Drops)
	dst = append(dst, `,"drops_known":`...)
	dst = appendBool(dst, s.HasDrops)
	if s.NetNS != 0 {
		dst = append(dst, `,"netns":`...)
		dst = appendUint(dst, s.NetNS)
	}
	if s.Namespace != "" {
		dst = append(dst, `,"namespace":`...)
		dst = appendString(dst, s.Namespace)
	}
	// tcp_info and the rate, only when set (the sockets collector sets
	// them only when not zero, which is when encoding/json wrote them
	// before they were pointers).
	var err error
	if s.TCP != nil {
		dst = append(dst, `,"tcp":`...)
		dst = appendTCPInfo(dst, s.TCP)
	}
	if s.Rate != nil {
		dst = append(dst, `,"rate":`...)
		if dst, err = appendRate(dst, s.Rate); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

// appendTCPInfo appends t as encoding/json encodes a model.TCPInfo: at
// 100,000 sockets, encoding/json's reflection over its 39 fields was a
// fifth of `netlens snapshot`'s CPU.
func appendTCPInfo(dst []byte, t *model.TCPInfo) []byte {
	if !tcpFast {
		dst, _ = appendMarshal(dst, t) // numbers, a bool and a string: no error
		return dst
	}
	u := func(name string, v uint64) {
		dst = append(dst, name...)
		dst = appendUint(dst, v)
	}
	u(`{"len":`, uint64(t.Len))
	u(`,"ca_state":`, uint64(t.CAState))
	u(`,"retransmits":`, uint64(t.Retransmits))
	u(`,"backoff":`, uint64(t.Backoff))
	u(`,"rto_us":`, uint64(t.RTO))
	u(`,"ato_us":`, uint64(t.ATO))
	u(`,"snd_mss":`, uint64(t.SndMSS))
	u(`,"rcv_mss":`, uint64(t.RcvMSS))
	u(`,"unacked":`, uint64(t.Unacked))
	u(`,"sacked":`, uint64(t.Sacked))
	u(`,"lost":`, uint64(t.Lost))
	u(`,"retrans":`, uint64(t.Retrans))
	u(`,"last_data_sent_ms":`, uint64(t.LastDataSent))
	u(`,"last_data_recv_ms":`, uint64(t.LastDataRecv))
	u(`,"pmtu":`, uint64(t.PMTU))
	u(`,"rtt_us":`, uint64(t.RTT))
	u(`,"rttvar_us":`, uint64(t.RTTVar))
	u(`,"snd_ssthresh":`, uint64(t.SndSsthresh))
	u(`,"snd_cwnd":`, uint64(t.SndCwnd))
	u(`,"reordering":`, uint64(t.Reordering))
	u(`,"total_retrans":`, uint64(t.TotalRetrans))
	u(`,"pacing_rate":`, t.PacingRate)
	u(`,"max_pacing_rate":`, t.MaxPacingRate)
	u(`,"bytes_acked":`, t.BytesAcked)
	u(`,"bytes_received":`, t.BytesReceived)
	u(`,"segs_out":`, uint64(t.SegsOut))
	u(`,"segs_in":`, uint64(t.SegsIn))
	u(`,"notsent_bytes":`, uint64(t.NotsentBytes))
	u(`,"min_rtt_us":`, uint64(t.MinRTT))
	u(`,"data_segs_in":`, uint64(t.DataSegsIn))
	u(`,"data_segs_out":`, uint64(t.DataSegsOut))
	u(`,"delivery_rate":`, t.DeliveryRate)
	dst = append(dst, `,"delivery_rate_app_limited":`...)
	dst = appendBool(dst, t.DeliveryRateAppLimited)
	u(`,"busy_time_us":`, t.BusyTime)
	u(`,"rwnd_limited_us":`, t.RwndLimited)
	u(`,"sndbuf_limited_us":`, t.SndbufLimited)
	u(`,"bytes_sent":`, t.BytesSent)
	u(`,"bytes_retrans":`, t.BytesRetrans)
	if t.Congestion != "" {
		dst = append(dst, `,"congestion":`...)
		dst = appendString(dst, t.Congestion)
	}
	return append(dst, '}')
}

// appendRate appends r as encoding/json encodes a model.SocketRate; a
// rate that is not a finite number gets encoding/json's error.
func appendRate(dst []byte, r *model.SocketRate) ([]byte, error) {
	start := len(dst)
	if rateFast {
		dst = append(dst, `{"known":`...)
		dst = appendBool(dst, r.Known)
		if r.Sampled {
			dst = append(dst, `,"sampled":true`...)
		}
		dst = append(dst, `,"interval_ns":`...)
		dst = appendInt(dst, int64(r.Interval))
		ok := true
		for _, f := range [...]struct {
			name string
			v    float64
		}{{`,"rx_bytes_per_sec":`, r.RxBps}, {`,"tx_bytes_per_sec":`, r.TxBps}, {`,"retrans_per_sec":`, r.RetransPerSec}} {
			dst = append(dst, f.name...)
			if dst, ok = appendFloat(dst, f.v); !ok {
				break
			}
		}
		if ok {
			if l := r.Limits; l != (model.SendLimits{}) {
				dst = append(dst, `,"limits":{"window_ns":`...)
				dst = appendInt(dst, int64(l.Window))
				dst = append(dst, `,"busy_ns":`...)
				dst = appendInt(dst, int64(l.Busy))
				dst = append(dst, `,"rwnd_limited_ns":`...)
				dst = appendInt(dst, int64(l.Rwnd))
				dst = append(dst, `,"sndbuf_limited_ns":`...)
				dst = appendInt(dst, int64(l.Sndbuf))
				dst = append(dst, '}')
			}
			return append(dst, '}'), nil
		}
	}
	return appendMarshal(dst[:start], r)
}

// appendMarshal appends v through encoding/json.
func appendMarshal(dst []byte, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}
