package model

import (
	"net/netip"
)

// Proto is a transport protocol of a socket.
type Proto uint8

// Family is an address family.
type Family string

// Address families.
const (
	FamilyIPv4 Family = "ipv4" // AF_INET
	FamilyIPv6 Family = "ipv6" // AF_INET6
)

// SockState is a socket state as the kernel numbers it (include/net/tcp_states.h).
// It is used for every protocol: UDP and RAW sockets report TCP_CLOSE
// (shown "UNCONN") or TCP_ESTABLISHED (a connected datagram socket).
type SockState uint8

// Socket states, with the kernel's names in comments.
const (
	StateUnknown     SockState = 0
	StateEstablished SockState = 1  // TCP_ESTABLISHED
	StateSynSent     SockState = 2  // TCP_SYN_SENT
	StateSynRecv     SockState = 3  // TCP_SYN_RECV
	StateFinWait1    SockState = 4  // TCP_FIN_WAIT1
	StateFinWait2    SockState = 5  // TCP_FIN_WAIT2
	StateTimeWait    SockState = 6  // TCP_TIME_WAIT
	StateClose       SockState = 7  // TCP_CLOSE
	StateCloseWait   SockState = 8  // TCP_CLOSE_WAIT
	StateLastAck     SockState = 9  // TCP_LAST_ACK
	StateListen      SockState = 10 // TCP_LISTEN
	StateClosing     SockState = 11 // TCP_CLOSING
	StateNewSynRecv  SockState = 12 // TCP_NEW_SYN_RECV
)

var stateNames = [...]string{
	StateUnknown:     "UNKNOWN",
	StateEstablished: "ESTAB",
	StateSynSent:     "SYN-SENT",
	StateSynRecv:     "SYN-RECV",
	StateFinWait1:    "FIN-WAIT-1",
	StateFinWait2:    "FIN-WAIT-2",
	StateTimeWait:    "TIME-WAIT",
	StateClose:       "UNCONN",
	StateCloseWait:   "CLOSE-WAIT",
	StateLastAck:     "LAST-ACK",
	StateListen:      "LISTEN",
	StateClosing:     "CLOSING",
	StateNewSynRecv:  "NEW-SYN-RECV",
}

// String returns the state as ss(8) prints it ("ESTAB", "LISTEN", "UNCONN", ...).
func (s SockState) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "UNKNOWN"
}

// MarshalText implements encoding.TextMarshaler.
func (s SockState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *SockState) UnmarshalText(b []byte) error {
	for i, n := range stateNames {
		if n == string(b) {
			*s = SockState(i)
			return nil
		}
	}
	*s = StateUnknown
	return nil
}

// Proc is a process holding a socket open.
type Proc struct {
	PID  int    `json:"pid"`
	Comm string `json:"comm"`
	FD   int    `json:"fd"`
	// Container is the container the process runs in, from its cgroup
	// ("3f4e5a6b7c8d", the first 12 digits of a Docker ID; "ns/pod ID"
	// in a Kubernetes pod); empty on the host or when unknown.
	Container string `json:"container,omitempty"`
}

// Socket is one socket as the kernel reports it.
type Socket struct {
	// The one- to four-byte fields come first, so that they share words:
	// a list of 100,000 sockets is most of the TUI's memory, held twice
	// (socketJSON has the order JSON writes).
	Proto Proto     `json:"proto"`
	State SockState `json:"state"`
	// HasDrops says Drops is known.
	HasDrops bool           `json:"drops_known"`
	SendQ    uint32         `json:"send_q"`
	RecvQ    uint32         `json:"recv_q"`
	UID      uint32         `json:"uid"`
	Family   Family         `json:"family"`
	Local    netip.AddrPort `json:"local"`
	Remote   netip.AddrPort `json:"remote"`
	Inode    uint64         `json:"inode"`
	// Cookie is the kernel's socket cookie (sock_diag only; 0 otherwise).
	Cookie uint64 `json:"cookie,omitempty"`
	// Interface is the device the socket is bound to, if any.
	Interface string `json:"interface,omitempty"`
	// Procs are the processes holding the socket, when known.
	Procs []Proc `json:"procs,omitempty"`
	// Drops is the kernel's per-socket drop count (sk_drops), valid only
	// when HasDrops is set.
	Drops uint64 `json:"drops"`
	// NetNS and Namespace are set in the all-namespaces view only: the
	// inode of the socket's network namespace and its label (its name,
	// else its container and pod, else "net:[INODE]").
	NetNS     uint64 `json:"netns,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	// TCP is the kernel's struct tcp_info and congestion control of a TCP
	// socket (sock_diag only; nil when the kernel sent none: a TIME-WAIT
	// socket, a UDP socket, /proc/net). Its methods take nil for unknown.
	// It is a pointer, and the sockets collector hands out a collection's
	// tcp_info from a few large allocations, so that a socket without one
	// costs 8 bytes instead of 208 and the garbage collector need not scan
	// it: a list of 100,000 sockets is most of the TUI's memory. Like
	// every field of a published Socket, what it points to never changes.
	TCP *TCPInfo `json:"tcp,omitzero"`
	// Rate is the socket's throughput and retransmits over the last
	// refresh (nil when unknown; a pointer for the reasons TCP is).
	Rate *SocketRate `json:"rate,omitzero"`
}
