package xfrm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"netlens/internal/proto"
	"netlens/model"
)

// ErrMalformed is wrapped by the errors of messages that cannot be decoded.
var ErrMalformed = errors.New("malformed xfrm message")

// ne is the byte order of the kernel's host-order fields.
var ne = binary.NativeEndian

// attr is one netlink attribute of a message: its type (without the
// nested and byte-order flags) and its payload, a slice of the message.
type attr struct {
	typ  uint16
	data []byte
}

// attrs splits b into attributes. A truncated or overrunning attribute
// ends the walk with an error; the attributes before it are returned,
// and rest is what could not be split.
func attrs(b []byte) (out []attr, rest []byte, err error) {
	for len(b) > 0 {
		if len(b) < 4 {
			return out, b, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(b))
		}
		n := int(ne.Uint16(b[0:2]))
		if n < 4 || n > len(b) {
			return out, b, fmt.Errorf("%w: attribute length %d of %d bytes left", ErrMalformed, n, len(b))
		}
		out = append(out, attr{typ: ne.Uint16(b[2:4]) & 0x3fff, data: b[4:n]})
		n = (n + 3) &^ 3
		if n > len(b) {
			n = len(b)
		}
		b = b[n:]
	}
	return out, nil, nil
}

// parseSA decodes an XFRM_MSG_NEWSA payload. The key bytes of its
// algorithm attributes are overwritten with zeros in b.
func parseSA(b []byte) (model.XfrmSA, error) {
	var sa model.XfrmSA
	if len(b) < sizeofUsersaInfo {
		scrubKeys(b)
		return sa, fmt.Errorf("%w: xfrm_usersa_info of %d bytes, want %d", ErrMalformed, len(b), sizeofUsersaInfo)
	}
	fam := ne.Uint16(b[saFamily:])
	sa.Dst = addr(b[saID:saID+16], fam)
	sa.SPI = binary.BigEndian.Uint32(b[saID+16:])
	sa.Proto = protoName(b[saID+20])
	sa.Src = addr(b[saSaddr:saSaddr+16], fam)
	sa.Selector = parseSelector(b[:sizeofSelector], fam)
	sa.Limits = parseLimits(b[saLft : saLft+sizeofLifetimeCfg])
	sa.Current = parseCur(b[saCurlft : saCurlft+sizeofLifetimeCur])
	sa.OutOfWindow = ne.Uint32(b[saStats:])
	sa.Replay = ne.Uint32(b[saStats+4:])
	sa.IntegrityFailed = ne.Uint32(b[saStats+8:])
	sa.ReplayWindow = uint32(b[saReplayWindow])
	sa.ReqID = ne.Uint32(b[saReqID:])
	sa.Mode = modeName(b[saMode])
	sa.ESN = b[saFlags]&xfrmStateESN != 0
	as, rest, err := attrs(b[sizeofUsersaInfo:])
	// What cannot be split into attributes may hold a key: zero it.
	clear(rest)
	var auth, trunc *model.XfrmAlgorithm
	var algs []model.XfrmAlgorithm
	for _, a := range as {
		switch a.typ {
		case attrAlgAEAD, attrAlgCrypt, attrAlgAuth, attrAlgAuthTrunc, attrAlgComp:
			alg, aerr := parseAlg(a)
			if aerr != nil {
				err = errors.Join(err, aerr)
				continue
			}
			switch a.typ {
			case attrAlgAuth:
				auth = &alg
			case attrAlgAuthTrunc:
				trunc = &alg
			default:
				algs = append(algs, alg)
			}
		case attrLtimeVal:
			if len(a.data) < sizeofLifetimeCur {
				err = errors.Join(err, fmt.Errorf("%w: XFRMA_LTIME_VAL of %d bytes", ErrMalformed, len(a.data)))
				continue
			}
			sa.Current = parseCur(a.data)
		case attrReplayVal:
			if len(a.data) < sizeofReplayState {
				err = errors.Join(err, fmt.Errorf("%w: XFRMA_REPLAY_VAL of %d bytes", ErrMalformed, len(a.data)))
				continue
			}
			sa.OSeq, sa.Seq = uint64(ne.Uint32(a.data)), uint64(ne.Uint32(a.data[4:]))
		case attrReplayESNVal:
			if len(a.data) < sizeofReplayESN {
				err = errors.Join(err, fmt.Errorf("%w: XFRMA_REPLAY_ESN_VAL of %d bytes", ErrMalformed, len(a.data)))
				continue
			}
			sa.OSeq = uint64(ne.Uint32(a.data[12:]))<<32 | uint64(ne.Uint32(a.data[4:]))
			sa.Seq = uint64(ne.Uint32(a.data[16:]))<<32 | uint64(ne.Uint32(a.data[8:]))
			sa.ReplayWindow = ne.Uint32(a.data[20:])
		case attrLastUsed:
			if len(a.data) < 8 {
				err = errors.Join(err, fmt.Errorf("%w: XFRMA_LASTUSED of %d bytes", ErrMalformed, len(a.data)))
				continue
			}
			sa.LastUsed = unixTime(ne.Uint64(a.data))
		}
	}
	// The kernel sends an authentication algorithm twice, as
	// XFRMA_ALG_AUTH and (with its truncation) XFRMA_ALG_AUTH_TRUNC;
	// ip xfrm shows the latter.
	if trunc != nil {
		algs = append(algs, *trunc)
	} else if auth != nil {
		algs = append(algs, *auth)
	}
	sa.Algorithms = algs
	if err != nil {
		return sa, fmt.Errorf("SA spi 0x%08x: %w", sa.SPI, err)
	}
	return sa, nil
}

// scrubKeys zeroes the keys of every algorithm attribute it can find in
// a message too short to decode: a broken message keeps no key either.
func scrubKeys(b []byte) {
	if len(b) < sizeofUsersaInfo {
		return
	}
	as, rest, _ := attrs(b[sizeofUsersaInfo:])
	clear(rest)
	for _, a := range as {
		switch a.typ {
		case attrAlgAEAD, attrAlgCrypt, attrAlgAuth, attrAlgAuthTrunc, attrAlgComp:
			_, _ = parseAlg(a)
		}
	}
}

// parseAlg decodes an algorithm attribute: its name and lengths. It
// overwrites the key bytes (the rest of the payload) with zeros.
func parseAlg(a attr) (model.XfrmAlgorithm, error) {
	head := sizeofAlgo
	kind := "enc"
	switch a.typ {
	case attrAlgAEAD:
		head, kind = sizeofAlgoAuth, "aead"
	case attrAlgAuthTrunc:
		head, kind = sizeofAlgoAuth, "auth"
	case attrAlgAuth:
		kind = "auth"
	case attrAlgComp:
		kind = "comp"
	}
	if len(a.data) < head {
		clear(a.data[min(len(a.data), sizeofAlgoName+4):])
		return model.XfrmAlgorithm{}, fmt.Errorf("%w: %s algorithm of %d bytes, want %d", ErrMalformed, kind, len(a.data), head)
	}
	clear(a.data[head:])
	name := a.data[:sizeofAlgoName]
	if i := bytes.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	alg := model.XfrmAlgorithm{Kind: kind, Name: string(name), KeyBits: ne.Uint32(a.data[sizeofAlgoName:])}
	if head == sizeofAlgoAuth {
		alg.ICVBits = ne.Uint32(a.data[sizeofAlgoName+4:])
	}
	return alg, nil
}

// parsePolicy decodes an XFRM_MSG_NEWPOLICY payload.
func parsePolicy(b []byte) (model.XfrmPolicy, error) {
	var p model.XfrmPolicy
	if len(b) < sizeofUserpolicy {
		return p, fmt.Errorf("%w: xfrm_userpolicy_info of %d bytes, want %d", ErrMalformed, len(b), sizeofUserpolicy)
	}
	p.Selector = parseSelector(b[:sizeofSelector], 0)
	p.Limits = parseLimits(b[polLft : polLft+sizeofLifetimeCfg])
	p.Current = parseCur(b[polCurlft : polCurlft+sizeofLifetimeCur])
	p.Priority = ne.Uint32(b[polPriority:])
	p.Index = ne.Uint32(b[polIndex:])
	dir := b[polDir]
	switch {
	case int(dir) < len(dirNames):
		p.Dir = dirNames[dir]
	case int(dir)-xfrmPolicyMax < len(dirNames):
		p.Dir = dirNames[int(dir)-xfrmPolicyMax] + "(sock)"
	default:
		p.Dir = strconv.Itoa(int(dir))
	}
	switch b[polAction] {
	case 0:
		p.Action = "allow"
	case 1:
		p.Action = "block"
	default:
		p.Action = strconv.Itoa(int(b[polAction]))
	}
	p.Type = "main"
	as, _, err := attrs(b[sizeofUserpolicy:])
	for _, a := range as {
		switch a.typ {
		case attrTmpl:
			if len(a.data)%sizeofUserTmpl != 0 {
				err = errors.Join(err, fmt.Errorf("%w: XFRMA_TMPL of %d bytes", ErrMalformed, len(a.data)))
			}
			for t := a.data; len(t) >= sizeofUserTmpl; t = t[sizeofUserTmpl:] {
				p.Templates = append(p.Templates, parseTmpl(t[:sizeofUserTmpl]))
			}
		case attrPolicyType:
			if len(a.data) < sizeofUserpolType {
				err = errors.Join(err, fmt.Errorf("%w: XFRMA_POLICY_TYPE of %d bytes", ErrMalformed, len(a.data)))
				continue
			}
			if a.data[0] == xfrmPolicyTypeSub {
				p.Type = "sub"
			}
		}
	}
	if err != nil {
		return p, fmt.Errorf("policy index %d: %w", p.Index, err)
	}
	return p, nil
}

// parseTmpl decodes a struct xfrm_user_tmpl.
func parseTmpl(b []byte) model.XfrmTemplate {
	fam := ne.Uint16(b[24:])
	return model.XfrmTemplate{
		Dst:      addr(b[0:16], fam),
		SPI:      binary.BigEndian.Uint32(b[16:]),
		Proto:    protoName(b[20]),
		Src:      addr(b[28:44], fam),
		ReqID:    ne.Uint32(b[44:]),
		Mode:     modeName(b[48]),
		Optional: b[50] != 0,
	}
}

// parseSelector decodes a struct xfrm_selector; fam is the family to
// assume when the selector has none (an SA's).
func parseSelector(b []byte, fam uint16) model.XfrmSelector {
	sf := ne.Uint16(b[40:])
	if sf == 0 {
		sf = fam
	}
	var s model.XfrmSelector
	if d := addr(b[0:16], sf); d.IsValid() {
		s.Dst, _ = d.Prefix(int(b[42]))
	}
	if a := addr(b[16:32], sf); a.IsValid() {
		s.Src, _ = a.Prefix(int(b[43]))
	}
	if binary.BigEndian.Uint16(b[34:]) != 0 {
		s.DstPort = binary.BigEndian.Uint16(b[32:])
	}
	if binary.BigEndian.Uint16(b[38:]) != 0 {
		s.SrcPort = binary.BigEndian.Uint16(b[36:])
	}
	s.Proto = b[44]
	s.Ifindex = int32(ne.Uint32(b[48:]))
	return s
}

// parseLimits decodes a struct xfrm_lifetime_cfg; XFRM_INF is 0.
func parseLimits(b []byte) model.XfrmLimits {
	v := func(i int) uint64 {
		x := ne.Uint64(b[8*i:])
		if x == xfrmInf {
			return 0
		}
		return x
	}
	sec := func(i int) time.Duration {
		x := v(i)
		if x > uint64(1<<63-1)/uint64(time.Second) {
			return 0 // beyond what a Duration holds: no limit in practice
		}
		return time.Duration(x) * time.Second
	}
	return model.XfrmLimits{
		SoftBytes: v(0), HardBytes: v(1), SoftPackets: v(2), HardPackets: v(3),
		SoftAdd: sec(4), HardAdd: sec(5), SoftUse: sec(6), HardUse: sec(7),
	}
}

// parseCur decodes a struct xfrm_lifetime_cur.
func parseCur(b []byte) model.XfrmUse {
	return model.XfrmUse{
		Bytes:   ne.Uint64(b[0:]),
		Packets: ne.Uint64(b[8:]),
		Added:   unixTime(ne.Uint64(b[16:])),
		Used:    unixTime(ne.Uint64(b[24:])),
	}
}

// unixTime is the kernel's seconds since the epoch; 0 (never) is the
// zero time.
func unixTime(s uint64) time.Time {
	if s == 0 || s > 1<<40 {
		return time.Time{}
	}
	return time.Unix(int64(s), 0).UTC()
}

// addr is an xfrm_address_t of family fam; the zero Addr for another
// family.
func addr(b []byte, fam uint16) netip.Addr {
	switch fam {
	case afInet:
		return netip.AddrFrom4([4]byte(b[:4]))
	case afInet6:
		return netip.AddrFrom16([16]byte(b[:16]))
	}
	return netip.Addr{}
}

// protoName is ip xfrm's name of an xfrm protocol.
func protoName(p uint8) string {
	switch p {
	case 50:
		return "esp"
	case 51:
		return "ah"
	case 108:
		return "comp"
	case 43:
		return "route2"
	case 60:
		return "hao"
	case 0:
		return "any"
	}
	return proto.Name(p)
}

func modeName(m uint8) string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return strconv.Itoa(int(m))
}
