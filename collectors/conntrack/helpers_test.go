package conntrack

import (
	"net/netip"

	"github.com/google/go-cmp/cmp"
)

// addrOpts makes cmp compare netip values by their value.
var addrOpts = cmp.Options{
	cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
}
