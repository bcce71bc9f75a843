package ruleset

import (
	"encoding/binary"
	"fmt"

	"github.com/mdlayher/netlink"

	"netlens/collectors/internal/rtnl"
)

// rtnetlink constants (include/uapi/linux/rtnetlink.h, if_link.h).
const (
	rtmGetLink      = 18 // RTM_GETLINK
	rtmNewLink      = 16 // RTM_NEWLINK
	sizeofIfinfomsg = 16 // sizeof(struct ifinfomsg)
	iflaIfname      = 3  // IFLA_IFNAME
)

// readLinks reads the interfaces of network namespace netns (an open
// namespace file; 0: the caller's) with an RTM_GETLINK dump over
// rtnetlink: index -> name. It is what rule texts name interface indexes
// by, as nft does in the namespace it runs in. Safe for concurrent use.
func readLinks(netns int) (map[uint32]string, error) {
	conn, err := rtnl.Dial(netns, "nftables: interface names")
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	req := netlink.Message{
		Header: netlink.Header{Type: rtmGetLink, Flags: netlink.Request | netlink.Dump},
		Data:   make([]byte, sizeofIfinfomsg), // AF_UNSPEC: every link
	}
	m := map[uint32]string{}
	// A link that does not decode is left out (Dump's first result):
	// its index prints as a number, as nft prints one it cannot name.
	_, err = rtnl.Dump(conn, req, func(msg netlink.Message) error {
		if msg.Header.Type != rtmNewLink {
			return nil
		}
		idx, name, err := parseLink(msg.Data)
		if err != nil {
			return err
		}
		m[idx] = name
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("nftables: interface names: RTM_GETLINK: %w", err)
	}
	return m, nil
}

// parseLink decodes an RTM_NEWLINK message's payload (struct ifinfomsg
// and its attributes) into the link's index and name.
func parseLink(b []byte) (uint32, string, error) {
	if len(b) < sizeofIfinfomsg {
		return 0, "", fmt.Errorf("RTM_NEWLINK of %d bytes, shorter than struct ifinfomsg", len(b))
	}
	idx := binary.NativeEndian.Uint32(b[4:8]) // ifi_index
	ad, err := netlink.NewAttributeDecoder(b[sizeofIfinfomsg:])
	if err != nil {
		return 0, "", fmt.Errorf("link %d: %w", idx, err)
	}
	name := ""
	for ad.Next() {
		if ad.Type() == iflaIfname {
			name = ad.String()
		}
	}
	if err := ad.Err(); err != nil {
		return 0, "", fmt.Errorf("link %d: %w", idx, err)
	}
	if name == "" {
		return 0, "", fmt.Errorf("link %d has no IFLA_IFNAME", idx)
	}
	return idx, name, nil
}

// lazyNames names numbers from a table read once, when the first number
// is asked (most rulesets name no interface by index and no ct label):
// the Ifname over one namespace's links, the CtLabel over
// /etc/connlabel.conf. One per Read, so a device made or renamed, or a
// label named, since the last Read is named as it is now. A read that
// fails names nothing, and every number prints as such. It is not safe
// for concurrent use.
type lazyNames struct {
	read  func() (map[uint32]string, error)
	names map[uint32]string
	done  bool
}

func (n *lazyNames) name(idx uint32) (string, bool) {
	if !n.done {
		n.done = true
		n.names, _ = n.read()
	}
	s, ok := n.names[idx]
	return s, ok
}
