// Package proto names the IP protocols a filter rule can match, shared by
// the filter package and its backends.
package proto

import (
	"fmt"
	"strconv"
	"strings"
)

// nums are the protocols known by name, with their IPPROTO_* numbers.
var nums = map[string]uint8{
	"icmp":    1,   // IPPROTO_ICMP
	"tcp":     6,   // IPPROTO_TCP
	"udp":     17,  // IPPROTO_UDP
	"icmpv6":  58,  // IPPROTO_ICMPV6
	"sctp":    132, // IPPROTO_SCTP
	"udplite": 136, // IPPROTO_UDPLITE
}

// Num returns the IP protocol number of a rule's Proto ("" is 0, any).
func Num(p string) (uint8, error) {
	if p == "" {
		return 0, nil
	}
	if n, ok := nums[strings.ToLower(p)]; ok {
		return n, nil
	}
	n, err := strconv.ParseUint(p, 10, 8)
	if err != nil {
		return 0, fmt.Errorf("unknown protocol %q (tcp, udp, udplite, sctp, icmp, icmpv6 or a number 0-255)", p)
	}
	return uint8(n), nil
}

// Name returns the Proto of a rule for IP protocol number n.
func Name(n uint8) string {
	if n == 0 {
		return ""
	}
	for name, v := range nums {
		if v == n {
			return name
		}
	}
	return strconv.Itoa(int(n))
}

// HasPorts reports whether protocol n has ports a rule can match.
func HasPorts(n uint8) bool { return n == 6 || n == 17 || n == 132 || n == 136 }
