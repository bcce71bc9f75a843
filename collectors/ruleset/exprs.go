package ruleset

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// A rule's expressions, as the kernel lists them, are NFTA_RULE_EXPRESSIONS:
// a list of NFTA_LIST_ELEM, each an expression's NFTA_EXPR_NAME and, when it
// has any, its NFTA_EXPR_DATA. google/nftables v0.3.0 decodes them with a
// switch on the name that leaves out, without a word, every expression it
// has no case for (dup, fwd, rt, socket, tproxy, xfrm, osf, last, tunnel,
// inner, byteorder) and fails a whole chain on one it misreads (ct with a
// direction): "ip daddr 10.0.0.1 dup to 10.0.0.2" listed as "ip daddr
// 10.0.0.1", or a "notrack"-only rule as nothing. decodeExprs does the
// decoding itself, so that no expression is lost: the library's types where
// it decodes them right, the library's types filled here where it has a type
// but does not decode it, small types of this package for the rest, and
// Unknown or Undecoded, which the formatter prints visibly, for what is
// left.

// Expression attributes (include/uapi/linux/netfilter/nf_tables.h) that
// golang.org/x/sys/unix or google/nftables do not have, or have wrong.
const (
	nftaListElem = 1 // NFTA_LIST_ELEM, nested
	nftaExprName = 1 // NFTA_EXPR_NAME, NLA_STRING
	nftaExprData = 2 // NFTA_EXPR_DATA, nested

	nftaCtDreg      = 1 // NFTA_CT_DREG, NLA_U32
	nftaCtKey       = 2 // NFTA_CT_KEY, NLA_U32
	nftaCtDirection = 3 // NFTA_CT_DIRECTION, NLA_U8
	nftaCtSreg      = 4 // NFTA_CT_SREG, NLA_U32

	nftaByteorderSreg = 1 // NFTA_BYTEORDER_SREG, NLA_U32
	nftaByteorderDreg = 2 // NFTA_BYTEORDER_DREG, NLA_U32
	nftaByteorderOp   = 3 // NFTA_BYTEORDER_OP, NLA_U32
	nftaByteorderLen  = 4 // NFTA_BYTEORDER_LEN, NLA_U32
	nftaByteorderSize = 5 // NFTA_BYTEORDER_SIZE, NLA_U32

	nftaRtDreg = 1 // NFTA_RT_DREG, NLA_U32
	nftaRtKey  = 2 // NFTA_RT_KEY, NLA_U32

	nftaDupSregAddr = 1 // NFTA_DUP_SREG_ADDR, NLA_U32
	nftaDupSregDev  = 2 // NFTA_DUP_SREG_DEV, NLA_U32

	nftaFwdSregDev  = 1 // NFTA_FWD_SREG_DEV, NLA_U32
	nftaFwdSregAddr = 2 // NFTA_FWD_SREG_ADDR, NLA_U32
	nftaFwdNfproto  = 3 // NFTA_FWD_NFPROTO, NLA_U32

	nftaTproxyFamily  = 1 // NFTA_TPROXY_FAMILY, NLA_U32 (google/nftables reads a u8)
	nftaTproxyRegAddr = 2 // NFTA_TPROXY_REG_ADDR, NLA_U32
	nftaTproxyRegPort = 3 // NFTA_TPROXY_REG_PORT, NLA_U32

	nftaXfrmDreg  = 1 // NFTA_XFRM_DREG, NLA_U32
	nftaXfrmKey   = 2 // NFTA_XFRM_KEY, NLA_U32
	nftaXfrmDir   = 3 // NFTA_XFRM_DIR, NLA_U8
	nftaXfrmSpnum = 4 // NFTA_XFRM_SPNUM, NLA_U32

	nftaLastSet   = 1 // NFTA_LAST_SET, NLA_U32
	nftaLastMsecs = 2 // NFTA_LAST_MSECS, NLA_U64

	nftaOsfDreg  = 1 // NFTA_OSF_DREG, NLA_U32
	nftaOsfTTL   = 2 // NFTA_OSF_TTL, NLA_U8
	nftaOsfFlags = 3 // NFTA_OSF_FLAGS, NLA_U32

	nftaTunnelKey  = 1 // NFTA_TUNNEL_KEY, NLA_U32
	nftaTunnelDreg = 2 // NFTA_TUNNEL_DREG, NLA_U32
	nftaTunnelMode = 3 // NFTA_TUNNEL_MODE, NLA_U32

	nftaInnerNum     = 1 // NFTA_INNER_NUM, NLA_U32
	nftaInnerType    = 2 // NFTA_INNER_TYPE, NLA_U32
	nftaInnerFlags   = 3 // NFTA_INNER_FLAGS, NLA_U32
	nftaInnerHdrsize = 4 // NFTA_INNER_HDRSIZE, NLA_U32
	nftaInnerExpr    = 5 // NFTA_INNER_EXPR, nested NFTA_EXPR_*

	nftaDynsetSetName     = 1  // NFTA_DYNSET_SET_NAME, NLA_STRING
	nftaDynsetSetID       = 2  // NFTA_DYNSET_SET_ID, NLA_U32
	nftaDynsetOp          = 3  // NFTA_DYNSET_OP, NLA_U32
	nftaDynsetSregKey     = 4  // NFTA_DYNSET_SREG_KEY, NLA_U32
	nftaDynsetSregData    = 5  // NFTA_DYNSET_SREG_DATA, NLA_U32
	nftaDynsetTimeout     = 6  // NFTA_DYNSET_TIMEOUT, NLA_U64 (ms)
	nftaDynsetExpr        = 7  // NFTA_DYNSET_EXPR, nested NFTA_EXPR_*
	nftaDynsetFlags       = 9  // NFTA_DYNSET_FLAGS, NLA_U32
	nftaDynsetExpressions = 10 // NFTA_DYNSET_EXPRESSIONS, nested NFTA_LIST_ELEM
)

// maxExprs bounds the expressions decoded of one rule: the kernel takes at
// most NFT_RULE_MAXEXPRS, 128.
const maxExprs = 128

// decodeOnly is embedded in this package's expression types so that they
// are expr.Any, whose methods google/nftables keeps to itself. They only
// come from decoding: expr.Marshal of one panics (nil interface), which
// nothing here does — the collector never writes a rule.
type decodeOnly = expr.Any

// Fwd is the netdev family's fwd statement (net/netfilter/nft_fwd_netdev.c):
// fwd to "eth0", fwd ip to 192.0.2.1 device "eth0".
type Fwd struct {
	decodeOnly
	RegDev  uint32 // NFTA_FWD_SREG_DEV: the output device's index
	RegAddr uint32 // NFTA_FWD_SREG_ADDR: the next hop, 0 if none
	NFProto uint32 // NFTA_FWD_NFPROTO: NFPROTO_IPV4 or NFPROTO_IPV6 with an address
}

// Xfrm loads an IPsec state's field (net/netfilter/nft_xfrm.c): ipsec in
// ip saddr 192.0.2.1, ipsec out reqid 3.
type Xfrm struct {
	decodeOnly
	Register uint32 // NFTA_XFRM_DREG
	Key      uint32 // NFTA_XFRM_KEY: NFT_XFRM_KEY_*
	Dir      uint8  // NFTA_XFRM_DIR: XFRM_POLICY_IN (0) or XFRM_POLICY_OUT (1)
	Spnum    uint32 // NFTA_XFRM_SPNUM: index in the secpath
}

// Last records when the rule last matched (net/netfilter/nft_last.c):
// last used never, last used 1s.
type Last struct {
	decodeOnly
	Set   bool   // NFTA_LAST_SET: it has matched
	Msecs uint64 // NFTA_LAST_MSECS: how long ago, in ms
}

// Osf loads the passive OS fingerprint's name (net/netfilter/nft_osf.c):
// osf name "Linux", osf ttl loose version "Linux:3.0".
type Osf struct {
	decodeOnly
	Register uint32 // NFTA_OSF_DREG
	TTL      uint8  // NFTA_OSF_TTL: 0 true, 1 loose, 2 skip
	Flags    uint32 // NFTA_OSF_FLAGS: NFT_OSF_F_VERSION
}

// Tunnel loads the packet's tunnel metadata (net/netfilter/nft_tunnel.c):
// tunnel path, tunnel id.
type Tunnel struct {
	decodeOnly
	Register uint32 // NFTA_TUNNEL_DREG
	Key      uint32 // NFTA_TUNNEL_KEY: NFT_TUNNEL_PATH, NFT_TUNNEL_ID
	Mode     uint32 // NFTA_TUNNEL_MODE: NFT_TUNNEL_MODE_NONE, _RX, _TX
}

// Inner matches a header inside a tunnel's payload (net/netfilter/nft_inner.c):
// a payload or meta load, Expr, run on the inner headers of Type.
type Inner struct {
	decodeOnly
	Num     uint32   // NFTA_INNER_NUM
	Type    uint32   // NFTA_INNER_TYPE: NFT_INNER_VXLAN, NFT_INNER_GENEVE
	Flags   uint32   // NFTA_INNER_FLAGS: NFT_INNER_HDRSIZE, _LL, _NH, _TH
	HdrSize uint32   // NFTA_INNER_HDRSIZE
	Expr    expr.Any // NFTA_INNER_EXPR, decoded as a rule's expressions are
}

// Unknown is an expression whose name this package does not know (a
// kernel newer than it): it renders as [unknown expression "NAME"].
type Unknown struct {
	decodeOnly
	Name string
}

// Undecoded is an expression whose attributes did not decode: it renders as
// [undecoded expression "NAME": why].
type Undecoded struct {
	decodeOnly
	Name string
	Err  error
}

// ErrExpr is wrapped by the error of an expression that does not decode.
var ErrExpr = errors.New("malformed nf_tables expression")

// libExprs are the expressions google/nftables v0.3.0 decodes as the kernel
// sends them: its own unmarshal is used.
var libExprs = map[string]func() expr.Any{
	"bitwise":      func() expr.Any { return &expr.Bitwise{} },
	"cmp":          func() expr.Any { return &expr.Cmp{} },
	"connlimit":    func() expr.Any { return &expr.Connlimit{} },
	"counter":      func() expr.Any { return &expr.Counter{} },
	"exthdr":       func() expr.Any { return &expr.Exthdr{} },
	"fib":          func() expr.Any { return &expr.Fib{} },
	"flow_offload": func() expr.Any { return &expr.FlowOffload{} },
	"hash":         func() expr.Any { return &expr.Hash{} },
	"immediate":    func() expr.Any { return &expr.Immediate{} },
	"limit":        func() expr.Any { return &expr.Limit{} },
	"log":          func() expr.Any { return &expr.Log{} },
	"lookup":       func() expr.Any { return &expr.Lookup{} },
	"masq":         func() expr.Any { return &expr.Masq{} },
	"match":        func() expr.Any { return &expr.Match{} },
	"meta":         func() expr.Any { return &expr.Meta{} },
	"nat":          func() expr.Any { return &expr.NAT{} },
	"notrack":      func() expr.Any { return &expr.Notrack{} },
	"numgen":       func() expr.Any { return &expr.Numgen{} },
	"objref":       func() expr.Any { return &expr.Objref{} },
	"payload":      func() expr.Any { return &expr.Payload{} },
	"queue":        func() expr.Any { return &expr.Queue{} },
	"quota":        func() expr.Any { return &expr.Quota{} },
	"range":        func() expr.Any { return &expr.Range{} },
	"redir":        func() expr.Any { return &expr.Redir{} },
	"reject":       func() expr.Any { return &expr.Reject{} },
	"socket":       func() expr.Any { return &expr.Socket{} },
	"synproxy":     func() expr.Any { return &expr.SynProxy{} },
	"target":       func() expr.Any { return &expr.Target{} },
}

// ownDecoders decode the expressions google/nftables v0.3.0 leaves out or
// misreads: into its types where it has one (ct, byteorder, rt, dup,
// tproxy), into this package's otherwise (and inner and dynset, which
// nest expressions: decodeExpr decodes them with its nesting depth).
var ownDecoders = map[string]func(fam byte, ad *netlink.AttributeDecoder) (expr.Any, error){
	"ct":        decodeCt,
	"byteorder": decodeByteorder,
	"rt":        decodeRt,
	"dup":       decodeDup,
	"tproxy":    decodeTproxy,
	"fwd":       decodeFwd,
	"xfrm":      decodeXfrm,
	"last":      decodeLast,
	"osf":       decodeOsf,
	"tunnel":    decodeTunnel,
}

// decodeExprs decodes NFTA_RULE_EXPRESSIONS (b is its payload) of a rule of
// family fam. It always returns every expression: one that does not decode
// is an *Undecoded, one of a name it does not know an *Unknown, and a list
// that breaks off ends in an *Undecoded. err is the first of those
// failures (wrapping ErrExpr), for the caller to count; it never panics.
func decodeExprs(fam byte, b []byte) ([]expr.Any, error) {
	return decodeList(fam, b, 0)
}

func decodeList(fam byte, b []byte, depth int) (out []expr.Any, first error) {
	note := func(e expr.Any, err error) {
		out = append(out, e)
		if err != nil && first == nil {
			first = err
		}
	}
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		note(&Undecoded{Err: err}, fmt.Errorf("%w: expression list: %v", ErrExpr, err))
		return out, first
	}
	for ad.Next() {
		if len(out) >= maxExprs {
			note(&Undecoded{Err: errors.New("too many expressions")},
				fmt.Errorf("%w: more than %d expressions", ErrExpr, maxExprs))
			return out, first
		}
		if ad.Type() != nftaListElem {
			continue
		}
		note(decodeExpr(fam, ad.Bytes(), depth))
	}
	if err := ad.Err(); err != nil {
		note(&Undecoded{Err: err}, fmt.Errorf("%w: expression list: %v", ErrExpr, err))
	}
	return out, first
}

// decodeExpr decodes one NFTA_LIST_ELEM's payload: an expression's name and
// data. It returns the expression, an *Unknown or an *Undecoded, and, for
// the last two, why.
func decodeExpr(fam byte, b []byte, depth int) (e expr.Any, err error) {
	var name string
	var data []byte
	hasData := false
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return &Undecoded{Err: err}, fmt.Errorf("%w: %v", ErrExpr, err)
	}
	for ad.Next() {
		switch ad.Type() {
		case nftaExprName:
			name = ad.String()
		case nftaExprData:
			data, hasData = ad.Bytes(), true
		}
	}
	if err := ad.Err(); err != nil {
		return &Undecoded{Name: name, Err: err}, fmt.Errorf("%w: %q: %v", ErrExpr, name, err)
	}
	defer func() {
		// The library's decoders are not ours to vouch for: a panic
		// in one is an expression that did not decode, not a crash.
		if p := recover(); p != nil {
			e, err = &Undecoded{Name: name, Err: fmt.Errorf("panic: %v", p)}, fmt.Errorf("%w: %q: panic: %v", ErrExpr, name, p)
		}
	}()
	fail := func(err error) (expr.Any, error) {
		return &Undecoded{Name: name, Err: err}, fmt.Errorf("%w: %q: %v", ErrExpr, name, err)
	}
	if !hasData && name != "notrack" {
		// Every expression but notrack has a dump op, and the kernel
		// nests its data (maybe none) in NFTA_EXPR_DATA: without it a
		// zero value would render as what the rule is not (an
		// immediate as "drop").
		if _, known := libExprs[name]; known || ownDecoders[name] != nil || name == "inner" || name == "dynset" {
			return fail(errors.New("no NFTA_EXPR_DATA"))
		}
	}
	if mk, ok := libExprs[name]; ok {
		e := mk()
		if hasData {
			if err := expr.Unmarshal(fam, data, e); err != nil {
				return fail(err)
			}
		}
		// A verdict is an immediate into the verdict register with
		// no data but a nested verdict (what the library does too).
		if imm, ok := e.(*expr.Immediate); ok && imm.Register == unix.NFT_REG_VERDICT && len(imm.Data) == 0 {
			v := &expr.Verdict{}
			if err := expr.Unmarshal(fam, data, v); err != nil {
				return fail(err)
			}
			return v, nil
		}
		return e, nil
	}
	dec, ok := ownDecoders[name]
	if !ok && name != "inner" && name != "dynset" {
		return &Unknown{Name: name}, fmt.Errorf("%w: unknown expression %q", ErrExpr, name)
	}
	ad, err = netlink.NewAttributeDecoder(data)
	if err != nil {
		return fail(err)
	}
	ad.ByteOrder = binary.BigEndian
	switch name {
	case "inner":
		return decodeInner(fam, ad, depth, fail)
	case "dynset":
		return decodeDynset(fam, ad, depth, fail)
	}
	e, err = dec(fam, ad)
	if err == nil {
		err = ad.Err()
	}
	if err != nil {
		return fail(err)
	}
	return e, nil
}

// decodeCt decodes a ct load or set into expr.Ct, or into a CtDir for a
// key whose direction is optional given one (ct original bytes).
func decodeCt(_ byte, ad *netlink.AttributeDecoder) (expr.Any, error) {
	e := &expr.Ct{}
	dir := false
	for ad.Next() {
		switch ad.Type() {
		case nftaCtDreg:
			e.Register = ad.Uint32()
		case nftaCtKey:
			e.Key = expr.CtKey(ad.Uint32())
		case nftaCtDirection:
			e.Direction, dir = uint32(ad.Uint8()), true
		case nftaCtSreg:
			e.Register, e.SourceRegister = ad.Uint32(), true
		}
	}
	if dir && ctDirOptional[e.Key] {
		return &CtDir{Ct: *e}, nil
	}
	return e, nil
}

func decodeByteorder(_ byte, ad *netlink.AttributeDecoder) (expr.Any, error) {
	e := &expr.Byteorder{}
	for ad.Next() {
		switch ad.Type() {
		case nftaByteorderSreg:
			e.SourceRegister = ad.Uint32()
		case nftaByteorderDreg:
			e.DestRegister = ad.Uint32()
		case nftaByteorderOp:
			e.Op = expr.ByteorderOp(ad.Uint32())
		case nftaByteorderLen:
			e.Len = ad.Uint32()
		case nftaByteorderSize:
			e.Size = ad.Uint32()
		}
	}
	return e, nil
}

func decodeRt(_ byte, ad *netlink.AttributeDecoder) (expr.Any, error) {
	e := &expr.Rt{}
	for ad.Next() {
		switch ad.Type() {
		case nftaRtDreg:
			e.Register = ad.Uint32()
		case nftaRtKey:
			e.Key = expr.RtKey(ad.Uint32())
		}
	}
	return e, nil
}

func decodeDup(_ byte, ad *netlink.AttributeDecoder) (expr.Any, error) {
	e := &expr.Dup{}
	for ad.Next() {
		switch ad.Type() {
		case nftaDupSregAddr:
			e.RegAddr = ad.Uint32()
		case nftaDupSregDev:
			e.RegDev, e.IsRegDevSet = ad.Uint32(), true
		}
	}
	return e, nil
}

func decodeTproxy(fam byte, ad *netlink.AttributeDecoder) (expr.Any, error) {
	e := &expr.TProxy{TableFamily: fam}
	for ad.Next() {
		switch ad.Type() {
		case nftaTproxyFamily:
			e.Family = byte(ad.Uint32())
		case nftaTproxyRegAddr:
			e.RegAddr = ad.Uint32()
		case nftaTproxyRegPort:
			e.RegPort = ad.Uint32()
		}
	}
	return e, nil
}

func decodeFwd(_ byte, ad *netlink.AttributeDecoder) (expr.Any, error) {
	e := &Fwd{}
	for ad.Next() {
		switch ad.Type() {
		case nftaFwdSregDev:
			e.RegDev = ad.Uint32()
		case nftaFwdSregAddr:
			e.RegAddr = ad.Uint32()
		case nftaFwdNfproto:
			e.NFProto = ad.Uint32()
		}
	}
	return e, nil
}

func decodeXfrm(_ byte, ad *netlink.AttributeDecoder) (expr.Any, error) {
	e := &Xfrm{}
	for ad.Next() {
		switch ad.Type() {
		case nftaXfrmDreg:
			e.Register = ad.Uint32()
		case nftaXfrmKey:
			e.Key = ad.Uint32()
		case nftaXfrmDir:
			e.Dir = ad.Uint8()
		case nftaXfrmSpnum:
			e.Spnum = ad.Uint32()
		}
	}
	return e, nil
}

func decodeLast(_ byte, ad *netlink.AttributeDecoder) (expr.Any, error) {
	e := &Last{}
	for ad.Next() {
		switch ad.Type() {
		case nftaLastSet:
			e.Set = ad.Uint32() != 0
		case nftaLastMsecs:
			e.Msecs = ad.Uint64()
		}
	}
	return e, nil
}

func decodeOsf(_ byte, ad *netlink.AttributeDecoder) (expr.Any, error) {
	e := &Osf{}
	for ad.Next() {
		switch ad.Type() {
		case nftaOsfDreg:
			e.Register = ad.Uint32()
		case nftaOsfTTL:
			e.TTL = ad.Uint8()
		case nftaOsfFlags:
			e.Flags = ad.Uint32()
		}
	}
	return e, nil
}

func decodeTunnel(_ byte, ad *netlink.AttributeDecoder) (expr.Any, error) {
	e := &Tunnel{}
	for ad.Next() {
		switch ad.Type() {
		case nftaTunnelKey:
			e.Key = ad.Uint32()
		case nftaTunnelDreg:
			e.Register = ad.Uint32()
		case nftaTunnelMode:
			e.Mode = ad.Uint32()
		}
	}
	return e, nil
}

// decodeInner decodes an inner expression at nesting depth (its own
// expression is decoded one deeper; the kernel nests none).
func decodeInner(fam byte, ad *netlink.AttributeDecoder, depth int, fail func(error) (expr.Any, error)) (expr.Any, error) {
	e := &Inner{}
	var inner []byte
	for ad.Next() {
		switch ad.Type() {
		case nftaInnerNum:
			e.Num = ad.Uint32()
		case nftaInnerType:
			e.Type = ad.Uint32()
		case nftaInnerFlags:
			e.Flags = ad.Uint32()
		case nftaInnerHdrsize:
			e.HdrSize = ad.Uint32()
		case nftaInnerExpr:
			inner = ad.Bytes()
		}
	}
	if err := ad.Err(); err != nil {
		return fail(err)
	}
	if inner == nil {
		return fail(errors.New("no NFTA_INNER_EXPR"))
	}
	if depth >= maxNesting {
		return fail(errors.New("expressions nested too deep"))
	}
	var err error
	if e.Expr, err = decodeExpr(fam, inner, depth+1); err != nil {
		return fail(fmt.Errorf("its expression: %v", strings.TrimPrefix(err.Error(), ErrExpr.Error()+": ")))
	}
	return e, nil
}

// maxNesting bounds expressions inside expressions (a dynset's, an
// inner's): the kernel nests one level.
const maxNesting = 2

// decodeDynset decodes a dynset (add @s { ip saddr counter }) into
// expr.Dynset, its expressions as a rule's are (google/nftables decodes
// them with its own switch, dropping what it does not know). One of them
// that does not decode is kept as such, and reported: the dynset is.
func decodeDynset(fam byte, ad *netlink.AttributeDecoder, depth int, fail func(error) (expr.Any, error)) (expr.Any, error) {
	e := &expr.Dynset{}
	var bad error
	nested := func(exprs []expr.Any, err error) {
		e.Exprs = append(e.Exprs, exprs...)
		if err != nil && bad == nil {
			bad = err
		}
	}
	for ad.Next() {
		switch ad.Type() {
		case nftaDynsetSetName:
			e.SetName = ad.String()
		case nftaDynsetSetID:
			e.SetID = ad.Uint32()
		case nftaDynsetOp:
			e.Operation = ad.Uint32()
		case nftaDynsetSregKey:
			e.SrcRegKey = ad.Uint32()
		case nftaDynsetSregData:
			e.SrcRegData = ad.Uint32()
		case nftaDynsetTimeout:
			e.Timeout = msDuration(ad.Uint64())
		case nftaDynsetFlags:
			e.Invert = ad.Uint32()&unix.NFT_DYNSET_F_INV != 0
		case nftaDynsetExpr, nftaDynsetExpressions:
			if depth >= maxNesting {
				return fail(errors.New("expressions nested too deep"))
			}
			if ad.Type() == nftaDynsetExpr {
				x, err := decodeExpr(fam, ad.Bytes(), depth+1)
				nested([]expr.Any{x}, err)
			} else {
				nested(decodeList(fam, ad.Bytes(), depth+1))
			}
		}
	}
	if err := ad.Err(); err != nil {
		return fail(err)
	}
	return e, bad
}
