package ruleset

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"netlens/collectors/internal/rtnl"
)

// rule is a rule as a chain's dump lists it: its handle and its
// expressions, and the first expression that did not decode (those are in
// exprs as *Unknown or *Undecoded).
type rule struct {
	nftables.Rule
	bad error
}

// getRules lists the rules of chain ch of table tb over conn (an
// NFT_MSG_GETRULE dump, redone while the kernel flags it interrupted),
// their expressions decoded by decodeExprs, so that none is lost. bad
// joins the errors of the rule messages that did not decode at all (those
// rules are left out); err is the socket's.
func getRules(conn *netlink.Conn, tb *nftables.Table, ch *nftables.Chain) (rules []rule, bad, err error) {
	ae := netlink.NewAttributeEncoder()
	ae.String(unix.NFTA_RULE_TABLE, tb.Name)
	ae.String(unix.NFTA_RULE_CHAIN, ch.Name)
	attrs, err := ae.Encode()
	if err != nil {
		return nil, nil, err
	}
	req := netlink.Message{
		Header: netlink.Header{Type: nftMsg(unix.NFT_MSG_GETRULE), Flags: netlink.Request | netlink.Dump},
		Data:   append(nfgenmsg(uint8(tb.Family)), attrs...),
	}
	bad, err = rtnl.Dump(conn, req, func(m netlink.Message) error {
		if m.Header.Type != nftMsg(unix.NFT_MSG_NEWRULE) {
			return nil
		}
		r, err := parseRule(m.Data)
		if err != nil {
			return err
		}
		rules = append(rules, r)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("NFT_MSG_GETRULE: %w", err)
	}
	return rules, bad, nil
}

// parseRule decodes an NFT_MSG_NEWRULE message's payload (struct nfgenmsg
// and the rule's attributes): its handle and expressions. It fails only
// when the rule's own attributes do not decode or it has no handle; an
// expression that does not decode is one of its expressions
// (decodeExprs), and rule.bad says why.
func parseRule(b []byte) (rule, error) {
	var r rule
	if len(b) < 4 {
		return r, fmt.Errorf("NFT_MSG_NEWRULE of %d bytes", len(b))
	}
	fam := b[0]
	ad, err := netlink.NewAttributeDecoder(b[4:])
	if err != nil {
		return r, fmt.Errorf("rule: %w", err)
	}
	ad.ByteOrder = binary.BigEndian
	var has bool
	var exprs []byte
	for ad.Next() {
		switch ad.Type() {
		case unix.NFTA_RULE_HANDLE:
			r.Handle, has = ad.Uint64(), true
		case unix.NFTA_RULE_POSITION:
			r.Position = ad.Uint64()
		case unix.NFTA_RULE_EXPRESSIONS:
			exprs = ad.Bytes()
		case unix.NFTA_RULE_USERDATA:
			r.UserData = ad.Bytes()
		}
	}
	if err := ad.Err(); err != nil {
		return r, fmt.Errorf("rule %d: %w", r.Handle, err)
	}
	if !has {
		return r, errors.New("rule without a handle")
	}
	if exprs != nil {
		r.Exprs, r.bad = decodeExprs(fam, exprs)
	}
	return r, nil
}

// udataRuleComment is the type of a rule's comment in its user data
// (NFTNL_UDATA_RULE_COMMENT, libnftnl's udata.h).
const udataRuleComment = 0

// ruleComment returns the comment in a rule's user data
// (NFTA_RULE_USERDATA: type, length, value records, as libnftnl writes
// them), without its terminating NUL, as nft lists it (comment "..."). A
// record that runs past the end ends the search.
func ruleComment(ud []byte) (string, bool) {
	for len(ud) >= 2 {
		typ, n := ud[0], int(ud[1])
		if len(ud) < 2+n {
			return "", false
		}
		if v := ud[2 : 2+n]; typ == udataRuleComment {
			if i := bytes.IndexByte(v, 0); i >= 0 {
				v = v[:i]
			}
			return string(v), true
		}
		ud = ud[2+n:]
	}
	return "", false
}
