package model

import "time"

// TCPInfo is a TCP socket's struct tcp_info (include/uapi/linux/tcp.h) as
// sock_diag reports it in INET_DIAG_INFO, with the congestion control
// algorithm of INET_DIAG_CONG. Older kernels send a shorter struct: Len is
// how many bytes of it the kernel sent, and a field beyond Len is zero
// and unknown (the Has* methods say which groups are known). Times are
// in microseconds, as the kernel keeps them; rates in bytes per second.
type TCPInfo struct {
	// Len is the length of the struct tcp_info the kernel sent; 0 when
	// there was none (a TIME-WAIT socket, /proc/net, a UDP socket).
	Len uint16 `json:"len"`
	// CAState is the congestion-avoidance state (tcpi_ca_state).
	CAState CAState `json:"ca_state"`
	// Retransmits is how many times in a row the head segment has been
	// retransmitted by the timer (tcpi_retransmits): non-zero while a
	// retransmission timeout is under way.
	Retransmits uint8 `json:"retransmits"`
	// Backoff is the exponential backoff of the retransmission timer
	// (tcpi_backoff).
	Backoff uint8  `json:"backoff"`
	RTO     uint32 `json:"rto_us"` // tcpi_rto
	ATO     uint32 `json:"ato_us"` // tcpi_ato
	SndMSS  uint32 `json:"snd_mss"`
	RcvMSS  uint32 `json:"rcv_mss"`
	// Unacked, Sacked, Lost and Retrans are segments in flight: not yet
	// acknowledged, selectively acknowledged, presumed lost, and
	// retransmitted and not yet acknowledged (tcpi_unacked, ...).
	Unacked uint32 `json:"unacked"`
	Sacked  uint32 `json:"sacked"`
	Lost    uint32 `json:"lost"`
	Retrans uint32 `json:"retrans"`
	// LastDataSent and LastDataRecv are milliseconds since data was last
	// sent and received (tcpi_last_data_sent, tcpi_last_data_recv).
	LastDataSent uint32 `json:"last_data_sent_ms"`
	LastDataRecv uint32 `json:"last_data_recv_ms"`
	PMTU         uint32 `json:"pmtu"`
	// RTT and RTTVar are the smoothed round-trip time and its mean
	// deviation (tcpi_rtt, tcpi_rttvar).
	RTT    uint32 `json:"rtt_us"`
	RTTVar uint32 `json:"rttvar_us"`
	// SndSsthresh and SndCwnd are the slow-start threshold and the
	// congestion window in segments.
	SndSsthresh uint32 `json:"snd_ssthresh"`
	SndCwnd     uint32 `json:"snd_cwnd"`
	Reordering  uint32 `json:"reordering"`
	// TotalRetrans is every segment retransmitted over the connection's
	// life (tcpi_total_retrans).
	TotalRetrans uint32 `json:"total_retrans"`

	// Known from Len >= 136 (Linux 4.1); SegsOut and SegsIn from 144.
	PacingRate    uint64 `json:"pacing_rate"`
	MaxPacingRate uint64 `json:"max_pacing_rate"`
	// BytesAcked is the bytes the peer acknowledged; BytesReceived the
	// bytes received in order (tcpi_bytes_acked, tcpi_bytes_received).
	BytesAcked    uint64 `json:"bytes_acked"`
	BytesReceived uint64 `json:"bytes_received"`
	SegsOut       uint32 `json:"segs_out"`
	SegsIn        uint32 `json:"segs_in"`

	// Known from Len >= 160 (Linux 4.6).
	NotsentBytes uint32 `json:"notsent_bytes"`
	MinRTT       uint32 `json:"min_rtt_us"`
	DataSegsIn   uint32 `json:"data_segs_in"`
	DataSegsOut  uint32 `json:"data_segs_out"`

	// DeliveryRate is the most recent delivery rate estimate; known from
	// Len >= 168 (Linux 4.9). DeliveryRateAppLimited says the estimate
	// was taken while the application had too little to send.
	DeliveryRate           uint64 `json:"delivery_rate"`
	DeliveryRateAppLimited bool   `json:"delivery_rate_app_limited"`

	// BusyTime is the time spent with data to send; RwndLimited and
	// SndbufLimited the parts of it stalled by the peer's receive window
	// and by our send buffer. Known from Len >= 192 (Linux 4.10).
	BusyTime      uint64 `json:"busy_time_us"`
	RwndLimited   uint64 `json:"rwnd_limited_us"`
	SndbufLimited uint64 `json:"sndbuf_limited_us"`

	// Known from Len >= 216 (Linux 4.19).
	BytesSent    uint64 `json:"bytes_sent"`
	BytesRetrans uint64 `json:"bytes_retrans"`

	// Congestion is the congestion control algorithm ("cubic", "bbr");
	// empty when the kernel did not say.
	Congestion string `json:"congestion,omitempty"`
}

// The struct tcp_info lengths at which groups of fields appeared.
const (
	TCPInfoLenBase      = 104 // up to tcpi_total_retrans
	TCPInfoLenBytes     = 136 // tcpi_pacing_rate .. tcpi_bytes_received (4.1)
	TCPInfoLenDataSegs  = 160 // tcpi_notsent_bytes .. tcpi_data_segs_out (4.6)
	TCPInfoLenDelivery  = 168 // tcpi_delivery_rate (4.9)
	TCPInfoLenChrono    = 192 // tcpi_busy_time, tcpi_rwnd_limited, tcpi_sndbuf_limited (4.10)
	TCPInfoLenBytesSent = 216 // tcpi_bytes_sent, tcpi_bytes_retrans (4.19)
)

// Known reports whether the kernel sent a tcp_info (false for nil).
func (t *TCPInfo) Known() bool { return t != nil && t.Len >= TCPInfoLenBase }

// HasBytes reports whether the byte and segment counters are known
// (false for nil).
func (t *TCPInfo) HasBytes() bool { return t != nil && t.Len >= TCPInfoLenBytes }

// HasChrono reports whether the busy and limited times are known (false
// for nil).
func (t *TCPInfo) HasChrono() bool { return t != nil && t.Len >= TCPInfoLenChrono }

// CAState is the TCP congestion-avoidance state (enum tcp_ca_state in
// include/uapi/linux/tcp.h).
type CAState uint8

// Congestion-avoidance states.
const (
	CAOpen     CAState = 0 // TCP_CA_Open
	CADisorder CAState = 1 // TCP_CA_Disorder
	CACWR      CAState = 2 // TCP_CA_CWR
	CARecovery CAState = 3 // TCP_CA_Recovery
	CALoss     CAState = 4 // TCP_CA_Loss
)

// String returns the state's name: "open", "disorder", "cwr", "recovery",
// "loss".
func (s CAState) String() string {
	switch s {
	case CAOpen:
		return "open"
	case CADisorder:
		return "disorder"
	case CACWR:
		return "cwr"
	case CARecovery:
		return "recovery"
	case CALoss:
		return "loss"
	}
	return "unknown"
}

// SocketRate is a TCP socket's throughput over the last refresh, from the
// deltas of its tcp_info counters between two collections, and the
// breakdown of its sending time over a longer window. A socket seen for
// the first time has no rate yet (Known false), not a spike.
type SocketRate struct {
	// Known is set when the socket was seen in the previous collection
	// too and both had tcp_info byte counters, or (Sampled) when a
	// capture saw a UDP socket's traffic.
	Known bool `json:"known"`
	// Sampled marks a UDP socket's rate taken from a running packet
	// capture (SampledUDPRates), not from kernel counters: it counts only
	// what crossed the captured interface, and what the capture ring
	// dropped is missing from it.
	Sampled bool `json:"sampled,omitempty"`
	// Interval is the time between the two collections.
	Interval time.Duration `json:"interval_ns"`
	// RxBps is bytes received per second (tcpi_bytes_received), TxBps
	// bytes acknowledged by the peer per second (tcpi_bytes_acked).
	RxBps float64 `json:"rx_bytes_per_sec"`
	TxBps float64 `json:"tx_bytes_per_sec"`
	// RetransPerSec is segments retransmitted per second
	// (tcpi_total_retrans).
	RetransPerSec float64 `json:"retrans_per_sec"`
	// Limits is where the sending time went over the last Limits.Window.
	Limits SendLimits `json:"limits,omitzero"`
}

// SendLimits breaks down a window of wall-clock time of a sender from the
// kernel's TCP chrono counters: Busy is the time it had data to send, of
// which Rwnd was stalled by the receiver's window (a slow receiver) and
// Sndbuf by the send buffer (the sending application or its buffer);
// the rest of Busy is limited by the network (the congestion window).
// Window minus Busy is time the application gave TCP nothing to send.
type SendLimits struct {
	Window time.Duration `json:"window_ns"`
	Busy   time.Duration `json:"busy_ns"`
	Rwnd   time.Duration `json:"rwnd_limited_ns"`
	Sndbuf time.Duration `json:"sndbuf_limited_ns"`
}

// Network is the part of Busy limited by neither the receiver's window
// nor the send buffer: by the congestion window, i.e. the network.
func (l SendLimits) Network() time.Duration {
	return max(0, l.Busy-l.Rwnd-l.Sndbuf)
}

// Idle is the part of Window the sender had nothing to send.
func (l SendLimits) Idle() time.Duration { return max(0, l.Window-l.Busy) }
