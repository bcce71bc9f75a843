package ruleset

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// rulesFixture holds NFT_MSG_NEWRULE payloads of exprsRuleset as this
// kernel dumped them, each with the rule as nft lists it.
const rulesFixture = "testdata/exprs-rules.txt"

// fixtureRule is one rule of rulesFixture.
type fixtureRule struct {
	payload []byte
	nft     string
}

// readRulesFixture reads rulesFixture: its rules and the links the
// namespace had.
func readRulesFixture(t testing.TB) ([]fixtureRule, map[uint32]string) {
	t.Helper()
	f, err := os.Open(rulesFixture)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rules []fixtureRule
	links := map[uint32]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "#"):
			continue
		case strings.HasPrefix(line, "links "):
			for _, l := range strings.Fields(line)[1:] {
				i, name, _ := strings.Cut(l, "=")
				idx, err := strconv.ParseUint(i, 10, 32)
				if err != nil {
					t.Fatalf("%s:%d: %v", rulesFixture, n, err)
				}
				links[uint32(idx)] = name
			}
			continue
		}
		h, text, ok := strings.Cut(line, "\t")
		b, err := hex.DecodeString(h)
		if !ok || err != nil {
			t.Fatalf("%s:%d: not hex, a tab and a rule: %v", rulesFixture, n, err)
		}
		rules = append(rules, fixtureRule{b, text})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rules) < 50 {
		t.Fatalf("%s: %d rules, want exprsRuleset's 50 and more", rulesFixture, len(rules))
	}
	return rules, links
}

func fixtureEnv(links map[uint32]string) Env {
	return Env{Ifname: func(idx uint32) (string, bool) { s, ok := links[idx]; return s, ok }}
}

// TestRulesFixture decodes the kernel's own dump of every expression
// google/nftables v0.3.0 drops (dup, fwd, rt, socket, tproxy, xfrm, osf,
// byteorder, ct with a direction or a source register...) and renders
// each rule as nft listed it.
func TestRulesFixture(t *testing.T) {
	rules, links := readRulesFixture(t)
	// The fixture was captured in UTC: nft lists meta time and meta hour
	// in local time.
	local := time.Local
	time.Local = time.UTC
	defer func() { time.Local = local }()
	env := fixtureEnv(links)
	for _, fr := range rules {
		r, err := parseRule(fr.payload)
		if err != nil || r.bad != nil {
			t.Errorf("%s: %v, %v", fr.nft, err, r.bad)
			continue
		}
		if got := TextIn(nftables.TableFamily(fr.payload[0]), r.Exprs, env); got != fr.nft {
			t.Errorf("Text: %s\n nft: %s", got, fr.nft)
		}
	}
}

// TestRulesFixtureBroken cuts and corrupts the fixture's payloads: parseRule
// never panics, a rule it returns keeps an expression for every list
// element it could read, and what did not decode shows in its text.
func TestRulesFixtureBroken(t *testing.T) {
	rules, _ := readRulesFixture(t)
	for _, fr := range rules {
		fam := nftables.TableFamily(fr.payload[0])
		for cut := 0; cut < len(fr.payload); cut += 7 {
			r, err := parseRule(fr.payload[:cut])
			if err == nil {
				_ = TextIn(fam, r.Exprs, Env{})
			}
		}
		for i := 4; i < len(fr.payload); i += 5 {
			b := append([]byte(nil), fr.payload...)
			b[i] ^= 0x5a
			r, err := parseRule(b)
			if err != nil {
				continue
			}
			text := TextIn(fam, r.Exprs, Env{})
			if r.bad != nil && !strings.Contains(text, "expression") {
				t.Errorf("%s, byte %d flipped: %v, but the text %q does not show it", fr.nft, i, r.bad, text)
			}
		}
	}
}

// attrs encodes netlink attributes; nested ones are built with it too.
func attrs(t testing.TB, fn func(ae *netlink.AttributeEncoder)) []byte {
	t.Helper()
	ae := netlink.NewAttributeEncoder()
	ae.ByteOrder = binary.BigEndian
	fn(ae)
	b, err := ae.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// elem is an NFTA_LIST_ELEM of expression name with data (nil: none).
func elem(t testing.TB, name string, data []byte) func(ae *netlink.AttributeEncoder) {
	return func(ae *netlink.AttributeEncoder) {
		ae.Bytes(unix.NLA_F_NESTED|nftaListElem, attrs(t, func(ae *netlink.AttributeEncoder) {
			ae.String(nftaExprName, name)
			if data != nil {
				ae.Bytes(unix.NLA_F_NESTED|nftaExprData, data)
			}
		}))
	}
}

func list(t testing.TB, elems ...func(ae *netlink.AttributeEncoder)) []byte {
	return attrs(t, func(ae *netlink.AttributeEncoder) {
		for _, e := range elems {
			e(ae)
		}
	})
}

// u32s is attributes of type i+1 = v[i], big-endian u32s.
func u32s(t testing.TB, v ...uint32) []byte {
	return attrs(t, func(ae *netlink.AttributeEncoder) {
		for i, x := range v {
			ae.Uint32(uint16(i+1), x)
		}
	})
}

// immData is an immediate of data into register r.
func immData(t testing.TB, r uint32, data []byte) []byte {
	return attrs(t, func(ae *netlink.AttributeEncoder) {
		ae.Uint32(unix.NFTA_IMMEDIATE_DREG, r)
		ae.Bytes(unix.NLA_F_NESTED|unix.NFTA_IMMEDIATE_DATA, attrs(t, func(ae *netlink.AttributeEncoder) {
			ae.Bytes(unix.NFTA_DATA_VALUE, data)
		}))
	})
}

func cmpData(t testing.TB, r uint32, data []byte) []byte {
	return attrs(t, func(ae *netlink.AttributeEncoder) {
		ae.Uint32(unix.NFTA_CMP_SREG, r)
		ae.Uint32(unix.NFTA_CMP_OP, unix.NFT_CMP_EQ)
		ae.Bytes(unix.NLA_F_NESTED|unix.NFTA_CMP_DATA, attrs(t, func(ae *netlink.AttributeEncoder) {
			ae.Bytes(unix.NFTA_DATA_VALUE, data)
		}))
	})
}

func hostU32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

// TestDecodeExprs decodes handcrafted expression lists: the expressions
// nft 1.0.6 cannot write (last, tunnel, inner), names nothing knows, and
// malformed ones, each followed by a counter that must survive.
func TestDecodeExprs(t *testing.T) {
	counter := elem(t, "counter", u32s(t))
	lastSet := attrs(t, func(ae *netlink.AttributeEncoder) {
		ae.Uint32(nftaLastSet, 1)
		ae.Uint64(nftaLastMsecs, 90500)
	})
	payload := attrs(t, func(ae *netlink.AttributeEncoder) {
		ae.Uint32(unix.NFTA_PAYLOAD_DREG, 1)
		ae.Uint32(unix.NFTA_PAYLOAD_BASE, unix.NFT_PAYLOAD_NETWORK_HEADER)
		ae.Uint32(unix.NFTA_PAYLOAD_OFFSET, 12)
		ae.Uint32(unix.NFTA_PAYLOAD_LEN, 4)
	})
	inner := attrs(t, func(ae *netlink.AttributeEncoder) {
		ae.Uint32(nftaInnerNum, 0)
		ae.Uint32(nftaInnerType, 1) // NFT_INNER_VXLAN
		ae.Uint32(nftaInnerFlags, 0)
		ae.Uint32(nftaInnerHdrsize, 8)
		ae.Bytes(unix.NLA_F_NESTED|nftaInnerExpr, attrs(t, func(ae *netlink.AttributeEncoder) {
			ae.String(nftaExprName, "payload")
			ae.Bytes(unix.NLA_F_NESTED|nftaExprData, payload)
		}))
	})
	dynset := attrs(t, func(ae *netlink.AttributeEncoder) {
		ae.String(nftaDynsetSetName, "s")
		ae.Uint32(nftaDynsetOp, 0)
		ae.Uint32(nftaDynsetSregKey, 1)
		ae.Bytes(unix.NLA_F_NESTED|nftaDynsetExpressions, list(t, counter, elem(t, "frobnicate", u32s(t, 1))))
	})
	ctDirU32 := attrs(t, func(ae *netlink.AttributeEncoder) {
		ae.Uint32(nftaCtDreg, 1)
		ae.Uint32(nftaCtKey, 19)
		ae.Uint32(nftaCtDirection, 0) // the kernel's is a u8
	})
	tests := []struct {
		name   string
		family nftables.TableFamily
		b      []byte
		want   string
		bad    string // in the error, "" for none
	}{
		{"last never", nftables.TableFamilyINet, list(t, elem(t, "last", []byte{}), counter), "last used never counter", ""},
		{"last used", nftables.TableFamilyINet, list(t, elem(t, "last", lastSet), counter), "last used 1m30s500ms counter", ""},
		{"tunnel id", nftables.TableFamilyNetdev, list(t,
			elem(t, "tunnel", u32s(t, 1, 1)), // NFT_TUNNEL_ID into reg 1
			elem(t, "cmp", cmpData(t, 1, hostU32(42))), counter), "tunnel id 42 counter", ""},
		{"tunnel path", nftables.TableFamilyNetdev, list(t,
			elem(t, "tunnel", u32s(t, 0, 1)), elem(t, "cmp", cmpData(t, 1, []byte{1}))), "tunnel path exists", ""},
		{"inner vxlan", nftables.TableFamilyIPv4, list(t,
			elem(t, "inner", inner), elem(t, "cmp", cmpData(t, 1, []byte{10, 0, 0, 1})), counter), "vxlan ip saddr 10.0.0.1 counter", ""},
		{"notrack without data", nftables.TableFamilyIPv4, list(t, elem(t, "notrack", nil), counter), "notrack counter", ""},
		{"fwd", nftables.TableFamilyNetdev, list(t,
			elem(t, "immediate", immData(t, 1, hostU32(7))), elem(t, "fwd", u32s(t, 1))), `fwd to "eth7"`, ""},
		{"fwd ip", nftables.TableFamilyNetdev, list(t,
			elem(t, "immediate", immData(t, 1, hostU32(7))), elem(t, "immediate", immData(t, 2, []byte{192, 0, 2, 1})),
			elem(t, "fwd", u32s(t, 1, 2, nfprotoIPv4))), `fwd ip to 192.0.2.1 device "eth7"`, ""},
		{"fwd to an index of no device", nftables.TableFamilyNetdev, list(t,
			elem(t, "immediate", immData(t, 1, hostU32(9))), elem(t, "fwd", u32s(t, 1))), `fwd to 9`, ""},
		{"xfrm spnum", nftables.TableFamilyIPv4, list(t,
			elem(t, "xfrm", attrs(t, func(ae *netlink.AttributeEncoder) {
				ae.Uint32(nftaXfrmDreg, 1)
				ae.Uint32(nftaXfrmKey, 5)
				ae.Uint8(nftaXfrmDir, 1)
				ae.Uint32(nftaXfrmSpnum, 2)
			})), elem(t, "cmp", cmpData(t, 1, hostU32(3)))), "ipsec out spnum 2 reqid 3", ""},
		{"dynset with an expression nothing knows", nftables.TableFamilyIPv4, list(t,
			elem(t, "payload", payload), elem(t, "dynset", dynset)),
			`add @s { ip saddr counter [unknown expression "frobnicate"] }`, `unknown expression "frobnicate"`},
		{"unknown name", nftables.TableFamilyINet, list(t, elem(t, "frobnicate", u32s(t, 1)), counter),
			`[unknown expression "frobnicate"] counter`, `unknown expression "frobnicate"`},
		{"library type that fails", nftables.TableFamilyINet, list(t, elem(t, "limit", u32s(t, 1, 1, 99)), counter),
			`[undecoded expression "limit": netlink: attribute 1 is not a uint64; length: 4] counter`, `"limit"`},
		{"ct direction of the wrong size", nftables.TableFamilyINet, list(t, elem(t, "ct", ctDirU32), counter),
			`[undecoded expression "ct": netlink: attribute 3 is not a uint8; length: 4] counter`, `"ct"`},
		{"immediate without data", nftables.TableFamilyINet, list(t, elem(t, "immediate", nil), counter),
			`[undecoded expression "immediate": no NFTA_EXPR_DATA] counter`, "no NFTA_EXPR_DATA"},
		{"element without a name", nftables.TableFamilyINet, list(t, elem(t, "", u32s(t, 1)), counter),
			`[unknown expression ""] counter`, "unknown expression"},
		{"data that is no attributes", nftables.TableFamilyINet, list(t, elem(t, "rt", []byte{1, 2, 3}), counter),
			`[undecoded expression "rt": invalid attribute; length too short or too large] counter`, `"rt"`},
		{"list cut short", nftables.TableFamilyINet, append(list(t, counter), 8, 0, 1, 0),
			`counter [undecoded expression: invalid attribute; length too short or too large]`, "expression list"},
	}
	links := map[uint32]string{7: "eth7"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exprs, err := decodeExprs(byte(tt.family), tt.b)
			if got := TextIn(tt.family, exprs, fixtureEnv(links)); got != tt.want {
				t.Errorf("text (-want +got):\n%s", cmp.Diff(tt.want, got))
			}
			switch {
			case tt.bad == "" && err != nil:
				t.Errorf("error %v, want none", err)
			case tt.bad != "" && (err == nil || !strings.Contains(err.Error(), tt.bad) || !errors.Is(err, ErrExpr)):
				t.Errorf("error %v, want one wrapping ErrExpr with %q", err, tt.bad)
			}
		})
	}
}

// TestDecodeOwnTypes checks the fields of the types of this package and of
// the library's types exprs.go fills (google/nftables decodes rt and
// byteorder as "not yet implemented", tproxy's family as a u8).
func TestDecodeOwnTypes(t *testing.T) {
	for _, tt := range []struct {
		name string
		data []byte
		want expr.Any
	}{
		{"rt", u32s(t, 1, uint32(expr.RtTCPMSS)), &expr.Rt{Register: 1, Key: expr.RtTCPMSS}},
		{"byteorder", u32s(t, 1, 2, uint32(expr.ByteorderHton), 2, 2),
			&expr.Byteorder{SourceRegister: 1, DestRegister: 2, Op: expr.ByteorderHton, Len: 2, Size: 2}},
		{"tproxy", u32s(t, nfprotoIPv6, 1, 2), &expr.TProxy{Family: nfprotoIPv6, TableFamily: byte(nftables.TableFamilyINet), RegAddr: 1, RegPort: 2}},
		{"dup", u32s(t, 1, 2), &expr.Dup{RegAddr: 1, RegDev: 2, IsRegDevSet: true}},
		{"fwd", u32s(t, 1, 2, nfprotoIPv4), &Fwd{RegDev: 1, RegAddr: 2, NFProto: nfprotoIPv4}},
		{"osf", attrs(t, func(ae *netlink.AttributeEncoder) {
			ae.Uint32(nftaOsfDreg, 1)
			ae.Uint8(nftaOsfTTL, 2)
			ae.Uint32(nftaOsfFlags, 1)
		}), &Osf{Register: 1, TTL: 2, Flags: 1}},
		{"tunnel", u32s(t, 1, 3, 2), &Tunnel{Key: 1, Register: 3, Mode: 2}},
		{"ct", attrs(t, func(ae *netlink.AttributeEncoder) {
			ae.Uint32(nftaCtKey, uint32(expr.CtKeyMARK))
			ae.Uint32(nftaCtSreg, 1)
		}), &expr.Ct{Key: expr.CtKeyMARK, Register: 1, SourceRegister: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeExprs(byte(nftables.TableFamilyINet), list(t, elem(t, tt.name, tt.data)))
			if err != nil || len(got) != 1 {
				t.Fatalf("%v, %d expressions", err, len(got))
			}
			if diff := cmp.Diff(tt.want, got[0], cmp.AllowUnexported(Fwd{}, Osf{}, Tunnel{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestDecodeExprsBounded: a rule of more expressions than the kernel
// takes ends in a placeholder instead of growing without bound.
func TestDecodeExprsBounded(t *testing.T) {
	elems := make([]func(*netlink.AttributeEncoder), 200)
	for i := range elems {
		elems[i] = elem(t, "counter", u32s(t))
	}
	got, err := decodeExprs(byte(nftables.TableFamilyINet), list(t, elems...))
	if len(got) != maxExprs+1 || !errors.Is(err, ErrExpr) {
		t.Fatalf("%d expressions, %v", len(got), err)
	}
	if _, ok := got[maxExprs].(*Undecoded); !ok {
		t.Errorf("last is %T", got[maxExprs])
	}
}

// placeholders counts the Unknown and Undecoded expressions of exprs and
// of the expressions nested in them.
func placeholders(exprs []expr.Any) int {
	n := 0
	for _, e := range exprs {
		switch e := e.(type) {
		case *Unknown, *Undecoded:
			n++
		case *expr.Dynset:
			n += placeholders(e.Exprs)
		case *Inner:
			n += placeholders([]expr.Any{e.Expr})
		}
	}
	return n
}

// FuzzDecodeExprs decodes any bytes as a rule's NFT_MSG_NEWRULE payload
// and renders the result: no panic, no nil expression, every expression
// that did not decode shown in the text, and an error exactly when there
// is one. Seeded with the kernel's
// dump of exprsRuleset.
func FuzzDecodeExprs(f *testing.F) {
	rules, _ := readRulesFixture(f)
	for _, r := range rules {
		f.Add(r.payload)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseRule(b)
		if err != nil {
			return
		}
		for i, e := range r.Exprs {
			if e == nil {
				t.Fatalf("expression %d is nil", i)
			}
		}
		text := TextIn(nftables.TableFamily(b[0]), r.Exprs, Env{})
		for _, e := range r.Exprs {
			var p string
			switch e := e.(type) {
			case *Unknown:
				p = unknownText(e)
			case *Undecoded:
				p = undecodedText(e)
			default:
				continue
			}
			if !strings.Contains(text, p) {
				t.Fatalf("%s not in the text %q", p, text)
			}
		}
		if n := placeholders(r.Exprs); (n > 0) != (r.bad != nil) {
			t.Fatalf("%d placeholders, error %v", n, r.bad)
		}
	})
}

// TestUnknownLoadForgetsRegister: a load the formatter cannot render
// shows as [kind], and what reads its register next shows as unknown,
// not as the value an earlier load left there ("meta nfproto ipv4
// [exthdr] meta nfproto 1" for ip option ra exists).
func TestUnknownLoadForgetsRegister(t *testing.T) {
	nfproto := &expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1}
	for _, tt := range []struct {
		name string
		load expr.Any
		want string
	}{
		{"exthdr", &expr.Exthdr{Op: 9, DestRegister: 1, Len: 1}, "[exthdr] [cmp]"},
		{"ct", &expr.Ct{Key: 99, Register: 1}, "[ct] [cmp]"},
		{"fib", &expr.Fib{Register: 1}, "[fib] [cmp]"},
		{"numgen", &expr.Numgen{Type: 9, Register: 1}, "[numgen] [cmp]"},
		{"hash", &expr.Hash{Type: 9, DestRegister: 1}, "[hash] [cmp]"},
		{"rt", &expr.Rt{Key: 99, Register: 1}, "[rt] [cmp]"},
		{"socket", &expr.Socket{Key: 99, Register: 1}, "[socket] [cmp]"},
		{"xfrm", &Xfrm{Key: 99, Register: 1}, "[xfrm] [cmp]"},
		{"osf", &Osf{TTL: 9, Register: 1}, "[osf] [cmp]"},
		{"tunnel", &Tunnel{Key: 9, Register: 1}, "[tunnel] [cmp]"},
		{"inner", &Inner{Type: 9, Expr: &expr.Payload{DestRegister: 1}}, "[inner] [cmp]"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := Text(nftables.TableFamilyINet, []expr.Any{nfproto, &expr.Cmp{Register: 1, Data: []byte{2}}, tt.load,
				&expr.Cmp{Register: 1, Data: []byte{1}}})
			if want := "meta nfproto ipv4 " + tt.want; got != want {
				t.Errorf("(-want +got):\n%s", cmp.Diff(want, got))
			}
		})
	}
}

// TestNoteOf: the collector's note says what a read could not decode.
func TestNoteOf(t *testing.T) {
	_, bad := decodeExprs(byte(nftables.TableFamilyINet), list(t, elem(t, "frobnicate", u32s(t, 1))))
	for _, tt := range []struct {
		name string
		st   readStats
		want string
	}{
		{"everything read", readStats{}, ""},
		{"one rule", readStats{undecoded: 1, firstBad: bad},
			`1 rule has an expression netlens cannot decode, shown as [unknown expression ...] or [undecoded expression ...] (first: malformed nf_tables expression: unknown expression "frobnicate")`},
		{"all of it", readStats{left: 5, unreadable: 2, undecoded: 3, firstBad: bad},
			`5 rules past the first 100000 not read; rules of 2 chains could not be decoded (the chain says why); ` +
				`3 rules have expressions netlens cannot decode, shown as [unknown expression ...] or [undecoded expression ...] (first: malformed nf_tables expression: unknown expression "frobnicate")`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := noteOf(tt.st); got != tt.want {
				t.Errorf("(-want +got):\n%s", cmp.Diff(tt.want, got))
			}
		})
	}
}
