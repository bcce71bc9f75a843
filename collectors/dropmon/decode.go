package dropmon

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/mdlayher/netlink"
)

// ErrMalformed is wrapped by errors about a drop monitor message netlens
// cannot decode.
var ErrMalformed = errors.New("malformed drop monitor message")

var ne = binary.NativeEndian

// alert is count drops at one location, decoded from one notification.
type alert struct {
	Reason   string // "" when the kernel sent none
	Location string
	Origin   string // "sw" or "hw"
	Count    uint64
}

// parsePacketAlert decodes the attributes of a NET_DM_CMD_PACKET_ALERT:
// one dropped packet. Attributes it does not use (payload, timestamp,
// port) are skipped.
func parsePacketAlert(b []byte) (alert, error) {
	al := alert{Origin: "sw", Count: 1}
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return al, fmt.Errorf("packet alert: %w: %w", ErrMalformed, err)
	}
	var pc uint64
	var sym, trapGroup, trapName string
	for ad.Next() {
		switch attr(ad.Type()) {
		case attrPC:
			if len(ad.Bytes()) == 8 {
				pc = ad.Uint64()
			}
		case attrSymbol:
			sym = ad.String()
		case attrReason:
			al.Reason = ad.String()
		case attrOrigin:
			if len(ad.Bytes()) == 2 && origin(ad.Uint16()) == originHW {
				al.Origin = "hw"
			}
		case attrHWTrapGroupName:
			trapGroup = ad.String()
		case attrHWTrapName:
			trapName = ad.String()
		}
	}
	if err := ad.Err(); err != nil {
		return al, fmt.Errorf("packet alert: %w: %w", ErrMalformed, err)
	}
	switch {
	case al.Origin == "hw" && trapName != "":
		al.Location = trapGroup + "/" + trapName
	case sym != "" || pc != 0:
		al.Location = location(sym, pc)
	default:
		return al, fmt.Errorf("packet alert without a location: %w", ErrMalformed)
	}
	return al, nil
}

// parseSummaryAlert decodes a NET_DM_CMD_ALERT: an attribute of type 0
// holding struct net_dm_alert_msg, whose drop points it appends to out.
// The point count is taken from the attribute's length, not trusted from
// the header.
func parseSummaryAlert(b []byte, out []alert) ([]alert, error) {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return out, fmt.Errorf("summary alert: %w: %w", ErrMalformed, err)
	}
	found := false
	for ad.Next() {
		if ad.Type() != 0 {
			continue
		}
		found = true
		v := ad.Bytes()
		if len(v) < sizeofAlertHeader {
			return out, fmt.Errorf("summary alert of %d bytes: %w", len(v), ErrMalformed)
		}
		entries := int(ne.Uint32(v[0:4]))
		pts := v[sizeofAlertHeader:]
		n := min(entries, len(pts)/sizeofDropPoint)
		for i := range n {
			p := pts[i*sizeofDropPoint:]
			pc := ne.Uint64(p[0:8]) // memcpy of the address: native order
			cnt := ne.Uint32(p[8:12])
			if cnt == 0 {
				continue
			}
			out = append(out, alert{Location: location("", pc), Origin: "sw", Count: uint64(cnt)})
		}
		if n < entries {
			return out, fmt.Errorf("summary alert claims %d points, holds %d: %w", entries, n, ErrMalformed)
		}
	}
	if err := ad.Err(); err != nil {
		return out, fmt.Errorf("summary alert: %w: %w", ErrMalformed, err)
	}
	if !found {
		return out, fmt.Errorf("summary alert without a body: %w", ErrMalformed)
	}
	return out, nil
}

// location turns a "%pS" symbol ("nf_hook_slow+0x9c/0x140",
// "foo+0x10/0x20 [mod]") into "nf_hook_slow+0x9c" / "foo+0x10 [mod]"
// (the function's size adds nothing), or, without one, the address in hex.
func location(sym string, pc uint64) string {
	if sym == "" || strings.HasPrefix(sym, "0x") {
		return "0x" + strconv.FormatUint(pc, 16)
	}
	if i := strings.IndexByte(sym, '/'); i > 0 {
		rest := sym[i:]
		sym = sym[:i]
		if j := strings.IndexByte(rest, ' '); j > 0 {
			sym += rest[j:]
		}
	}
	return sym
}

// parseStats decodes a NET_DM_CMD_STATS_NEW reply: NET_DM_ATTR_STATS
// nesting NET_DM_ATTR_STATS_DROPPED (u64).
func parseStats(b []byte) (dropped uint64, ok bool) {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return 0, false
	}
	for ad.Next() {
		if attr(ad.Type()) != attrStats {
			continue
		}
		ad.Nested(func(nd *netlink.AttributeDecoder) error {
			for nd.Next() {
				if nd.Type() == statsDropped && len(nd.Bytes()) == 8 {
					dropped, ok = nd.Uint64(), true
				}
			}
			return nil
		})
	}
	if ad.Err() != nil {
		return 0, false
	}
	return dropped, ok
}
