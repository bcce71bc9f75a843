package sockets

import (
	"encoding/binary"

	"netlens/model"
)

// Offsets of the fields of struct tcp_info (include/uapi/linux/tcp.h)
// that netlens keeps. The kernel sends as much of the struct as it knows;
// a field is decoded only when the attribute is long enough to hold it.
const (
	tiCAState       = 1   // tcpi_ca_state: __u8
	tiRetransmits   = 2   // tcpi_retransmits: __u8
	tiBackoff       = 4   // tcpi_backoff: __u8
	tiAppLimited    = 7   // tcpi_delivery_rate_app_limited: bit 0 of __u8
	tiRTO           = 8   // tcpi_rto: __u32
	tiATO           = 12  // tcpi_ato
	tiSndMSS        = 16  // tcpi_snd_mss
	tiRcvMSS        = 20  // tcpi_rcv_mss
	tiUnacked       = 24  // tcpi_unacked
	tiSacked        = 28  // tcpi_sacked
	tiLost          = 32  // tcpi_lost
	tiRetrans       = 36  // tcpi_retrans
	tiLastDataSent  = 44  // tcpi_last_data_sent
	tiLastDataRecv  = 52  // tcpi_last_data_recv
	tiPMTU          = 60  // tcpi_pmtu
	tiRTT           = 68  // tcpi_rtt
	tiRTTVar        = 72  // tcpi_rttvar
	tiSndSsthresh   = 76  // tcpi_snd_ssthresh
	tiSndCwnd       = 80  // tcpi_snd_cwnd
	tiReordering    = 88  // tcpi_reordering
	tiTotalRetrans  = 100 // tcpi_total_retrans
	tiPacingRate    = 104 // tcpi_pacing_rate: __u64
	tiMaxPacingRate = 112 // tcpi_max_pacing_rate: __u64
	tiBytesAcked    = 120 // tcpi_bytes_acked: __u64
	tiBytesReceived = 128 // tcpi_bytes_received: __u64
	tiSegsOut       = 136 // tcpi_segs_out: __u32
	tiSegsIn        = 140 // tcpi_segs_in
	tiNotsentBytes  = 144 // tcpi_notsent_bytes
	tiMinRTT        = 148 // tcpi_min_rtt
	tiDataSegsIn    = 152 // tcpi_data_segs_in
	tiDataSegsOut   = 156 // tcpi_data_segs_out
	tiDeliveryRate  = 160 // tcpi_delivery_rate: __u64
	tiBusyTime      = 168 // tcpi_busy_time: __u64
	tiRwndLimited   = 176 // tcpi_rwnd_limited: __u64
	tiSndbufLimited = 184 // tcpi_sndbuf_limited: __u64
	tiBytesSent     = 200 // tcpi_bytes_sent: __u64
	tiBytesRetrans  = 208 // tcpi_bytes_retrans: __u64
)

// decodeTCPInfo decodes the INET_DIAG_INFO attribute of a TCP socket, a
// struct tcp_info of any length, into t. Fields beyond the end of b are
// left zero; t.Len says how long b was. A b shorter than the oldest
// struct (104 bytes) sets nothing: such a tcp_info never existed.
func decodeTCPInfo(b []byte, t *model.TCPInfo) {
	if len(b) < model.TCPInfoLenBase {
		return
	}
	ne := binary.NativeEndian
	u32 := func(off int) uint32 {
		if off+4 > len(b) {
			return 0
		}
		return ne.Uint32(b[off:])
	}
	u64 := func(off int) uint64 {
		if off+8 > len(b) {
			return 0
		}
		return ne.Uint64(b[off:])
	}
	t.Len = uint16(min(len(b), 0xffff))
	t.CAState = model.CAState(b[tiCAState])
	t.Retransmits = b[tiRetransmits]
	t.Backoff = b[tiBackoff]
	t.DeliveryRateAppLimited = b[tiAppLimited]&1 != 0
	t.RTO = u32(tiRTO)
	t.ATO = u32(tiATO)
	t.SndMSS = u32(tiSndMSS)
	t.RcvMSS = u32(tiRcvMSS)
	t.Unacked = u32(tiUnacked)
	t.Sacked = u32(tiSacked)
	t.Lost = u32(tiLost)
	t.Retrans = u32(tiRetrans)
	t.LastDataSent = u32(tiLastDataSent)
	t.LastDataRecv = u32(tiLastDataRecv)
	t.PMTU = u32(tiPMTU)
	t.RTT = u32(tiRTT)
	t.RTTVar = u32(tiRTTVar)
	t.SndSsthresh = u32(tiSndSsthresh)
	t.SndCwnd = u32(tiSndCwnd)
	t.Reordering = u32(tiReordering)
	t.TotalRetrans = u32(tiTotalRetrans)
	t.PacingRate = u64(tiPacingRate)
	t.MaxPacingRate = u64(tiMaxPacingRate)
	t.BytesAcked = u64(tiBytesAcked)
	t.BytesReceived = u64(tiBytesReceived)
	t.SegsOut = u32(tiSegsOut)
	t.SegsIn = u32(tiSegsIn)
	t.NotsentBytes = u32(tiNotsentBytes)
	t.MinRTT = u32(tiMinRTT)
	t.DataSegsIn = u32(tiDataSegsIn)
	t.DataSegsOut = u32(tiDataSegsOut)
	t.DeliveryRate = u64(tiDeliveryRate)
	t.BusyTime = u64(tiBusyTime)
	t.RwndLimited = u64(tiRwndLimited)
	t.SndbufLimited = u64(tiSndbufLimited)
	t.BytesSent = u64(tiBytesSent)
	t.BytesRetrans = u64(tiBytesRetrans)
}

// congNames are the congestion control algorithms of Linux
// (net/ipv4/tcp_*.c), so that a dump does not allocate a string per
// socket for the name. Read only: safe for concurrent use.
var congNames = func() map[string]string {
	m := map[string]string{}
	for _, n := range []string{"reno", "cubic", "bbr", "bic", "cdg", "dctcp", "dctcp-reno", "highspeed", "htcp",
		"hybla", "illinois", "lp", "nv", "scalable", "vegas", "veno", "westwood", "yeah"} {
		m[n] = n
	}
	return m
}()

// congName returns the INET_DIAG_CONG attribute b (a NUL-terminated
// name) as a string; "" when it is empty or longer than TCP_CA_NAME_MAX
// (16), which no algorithm is.
func congName(b []byte) string {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	if len(b) == 0 || len(b) > 16 {
		return ""
	}
	if s, ok := congNames[string(b)]; ok {
		return s
	}
	return string(b)
}
