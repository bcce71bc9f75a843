package netns

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
)

// Sockets are a namespace's socket counts, from /proc/net/sockstat and
// sockstat6 (IPv4 and IPv6 added together).
type Sockets struct {
	TCP      int `json:"tcp"`       // TCP inuse (listening and connected)
	TimeWait int `json:"time_wait"` // TCP tw
	UDP      int `json:"udp"`       // UDP + UDPLITE inuse
	Raw      int `json:"raw"`       // RAW inuse
	FRAG     int `json:"frag"`      // FRAG inuse (reassembly queues)
	// Used is "sockets: used", every socket of the namespace (unix too).
	Used int `json:"used"`
}

// Total returns the TCP, UDP and raw sockets in use.
func (s Sockets) Total() int { return s.TCP + s.UDP + s.Raw }

// parseSockstat adds the counts of /proc/net/sockstat or sockstat6 text
// to s. Unknown lines and fields are skipped.
func (s *Sockets) parseSockstat(b []byte) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		proto, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.Atoi(f[i+1])
			if err != nil || v < 0 {
				continue
			}
			switch {
			case proto == "sockets" && f[i] == "used":
				s.Used += v
			case (proto == "TCP" || proto == "TCP6") && f[i] == "inuse":
				s.TCP += v
			case proto == "TCP" && f[i] == "tw":
				s.TimeWait += v
			case (proto == "UDP" || proto == "UDP6" || proto == "UDPLITE" || proto == "UDPLITE6") && f[i] == "inuse":
				s.UDP += v
			case (proto == "RAW" || proto == "RAW6") && f[i] == "inuse":
				s.Raw += v
			case (proto == "FRAG" || proto == "FRAG6") && f[i] == "inuse":
				s.FRAG += v
			}
		}
	}
}
