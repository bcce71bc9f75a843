package conntrack

// The oracle: parsers for the text of conntrack(8) (`conntrack -L -o
// extended,id[,ktimestamp]` and `conntrack -S`), which the integration
// tests compare netlens with.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"netlens/model"
)

// parseConntrackL parses `conntrack -L -o extended,id` output (with or
// without ktimestamp) into flows. It fills what conntrack prints: family,
// protocol, timeout, TCP state, tuples, counters, [UNREPLIED] (as a
// missing SEEN_REPLY), [ASSURED]/[OFFLOAD], mark, zone, helper, id and
// start. The "N flow entries" summary line is skipped.
func parseConntrackL(r io.Reader) ([]model.Flow, error) {
	var out []model.Flow
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "conntrack v") {
			continue
		}
		f, err := parseConntrackLine(line)
		if err != nil {
			return nil, fmt.Errorf("conntrack -L line %d: %w", n, err)
		}
		out = append(out, f)
	}
	return out, sc.Err()
}

func parseConntrackLine(line string) (model.Flow, error) {
	var f model.Flow
	fields := strings.Fields(line)
	if len(fields) < 5 {
		return f, fmt.Errorf("%w: %d fields", ErrParse, len(fields))
	}
	switch fields[0] {
	case "ipv4":
		f.Family = model.FamilyIPv4
	case "ipv6":
		f.Family = model.FamilyIPv6
	default:
		return f, fmt.Errorf("%w: family %q", ErrParse, fields[0])
	}
	pn, err := strconv.ParseUint(fields[3], 10, 8)
	if err != nil {
		return f, fmt.Errorf("%w: protocol number %q", ErrParse, fields[3])
	}
	f.ProtoNum = uint8(pn)
	f.Proto = model.FlowProto(f.ProtoNum)
	if f.Proto == model.ProtoUnknown && fields[2] != "unknown" {
		return f, fmt.Errorf("%w: protocol %q/%d", ErrParse, fields[2], pn)
	}
	to, err := strconv.ParseUint(fields[4], 10, 32)
	if err != nil {
		return f, fmt.Errorf("%w: timeout %q", ErrParse, fields[4])
	}
	f.Timeout = time.Duration(to) * time.Second
	rest := fields[5:]
	if len(rest) > 0 && !strings.Contains(rest[0], "=") && !strings.HasPrefix(rest[0], "[") {
		if err := f.TCPState.UnmarshalText([]byte(rest[0])); err != nil {
			return f, fmt.Errorf("%w: %v", ErrParse, err)
		}
		rest = rest[1:]
	}
	type side struct {
		src, dst    netip.Addr
		sport, dprt uint16
		icmp        *model.ICMPKey
		pk, by      uint64
		cnt         bool
	}
	var tu [2]side
	cur := -1
	prev := ""
	f.Status = model.StatusSeenReply
	for i := 0; i < len(rest); i++ {
		tok := rest[i]
		if strings.HasPrefix(tok, "[") {
			if strings.HasPrefix(tok, "[start=") || strings.HasPrefix(tok, "[stop=") {
				s := strings.TrimPrefix(strings.TrimPrefix(tok, "[start="), "[stop=")
				for !strings.HasSuffix(tok, "]") && i+1 < len(rest) {
					i++
					tok = rest[i]
					s += " " + tok
				}
				if !strings.HasSuffix(s, "]") {
					return f, fmt.Errorf("%w: unterminated %q", ErrParse, s)
				}
				if strings.HasPrefix(rest[i], "[stop=") {
					continue
				}
				t, err := time.ParseInLocation("Mon Jan _2 15:04:05 2006", strings.TrimSuffix(s, "]"), time.Local)
				if err != nil {
					return f, fmt.Errorf("%w: start %q", ErrParse, s)
				}
				f.Start = t.UTC()
				continue
			}
			switch tok {
			case "[UNREPLIED]":
				f.Status &^= model.StatusSeenReply
			case "[ASSURED]":
				f.Status |= model.StatusAssured
			case "[OFFLOAD]":
				f.Status |= model.StatusOffload
			case "[HW_OFFLOAD]":
				f.Status |= model.StatusHWOffload
			}
			continue
		}
		k, v, ok := strings.Cut(tok, "=")
		if !ok {
			return f, fmt.Errorf("%w: token %q", ErrParse, tok)
		}
		num := func(bits int) (uint64, error) {
			x, err := strconv.ParseUint(v, 10, bits)
			if err != nil {
				return 0, fmt.Errorf("%w: %s=%q", ErrParse, k, v)
			}
			return x, nil
		}
		inTuple := cur >= 0 && cur < 2
		switch {
		case k == "src":
			cur++
			if cur > 1 {
				return f, fmt.Errorf("%w: a third tuple", ErrParse)
			}
			a, err := netip.ParseAddr(v)
			if err != nil {
				return f, fmt.Errorf("%w: src=%q", ErrParse, v)
			}
			tu[cur].src = a
		case k == "dst" && inTuple:
			a, err := netip.ParseAddr(v)
			if err != nil {
				return f, fmt.Errorf("%w: dst=%q", ErrParse, v)
			}
			tu[cur].dst = a
		case (k == "sport" || k == "dport") && inTuple:
			x, err := num(16)
			if err != nil {
				return f, err
			}
			if k == "sport" {
				tu[cur].sport = uint16(x)
			} else {
				tu[cur].dprt = uint16(x)
			}
		case (k == "type" || k == "code") && inTuple:
			x, err := num(8)
			if err != nil {
				return f, err
			}
			if tu[cur].icmp == nil {
				tu[cur].icmp = &model.ICMPKey{}
			}
			if k == "type" {
				tu[cur].icmp.Type = uint8(x)
			} else {
				tu[cur].icmp.Code = uint8(x)
			}
		case k == "id" && prev == "code" && inTuple:
			x, err := num(16)
			if err != nil {
				return f, err
			}
			tu[cur].icmp.ID = uint16(x)
		case (k == "packets" || k == "bytes") && inTuple:
			x, err := num(64)
			if err != nil {
				return f, err
			}
			if k == "packets" {
				tu[cur].pk = x
			} else {
				tu[cur].by = x
			}
			tu[cur].cnt = true
		case k == "mark":
			x, err := num(32)
			if err != nil {
				return f, err
			}
			f.Mark = uint32(x)
			cur = 2
		case k == "zone":
			x, err := num(16)
			if err != nil {
				return f, err
			}
			f.Zone = uint16(x)
			cur = 2
		case k == "id":
			x, err := num(32)
			if err != nil {
				return f, err
			}
			f.ID = uint32(x)
			cur = 2
		case k == "helper":
			f.Helper = v
		default:
			cur = max(cur, 2) // use=, delta-time=, secctx=, labels=, ...
		}
		prev = k
	}
	if cur < 1 || !tu[0].src.IsValid() || !tu[0].dst.IsValid() || !tu[1].src.IsValid() || !tu[1].dst.IsValid() {
		return f, fmt.Errorf("%w: need two tuples", ErrParse)
	}
	for i, t := range tu {
		ft := model.FlowTuple{Src: netip.AddrPortFrom(t.src, t.sport), Dst: netip.AddrPortFrom(t.dst, t.dprt), ICMP: t.icmp}
		if i == 0 {
			f.Orig, f.OrigPackets, f.OrigBytes = ft, t.pk, t.by
		} else {
			f.Reply, f.ReplyPackets, f.ReplyBytes = ft, t.pk, t.by
		}
		f.CountersKnown = f.CountersKnown || t.cnt
	}
	f.SetNAT()
	return f, nil
}

// parseConntrackS parses `conntrack -S`: one line per CPU of key=value.
func parseConntrackS(r io.Reader) ([]model.ConntrackCPU, error) {
	var out []model.ConntrackCPU
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var c model.ConntrackCPU
		seen := false
		for _, tok := range strings.Fields(sc.Text()) {
			k, v, ok := strings.Cut(tok, "=")
			if !ok {
				return nil, fmt.Errorf("conntrack -S line %d: %w: %q", n, ErrParse, tok)
			}
			x, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("conntrack -S line %d: %w: %s=%q", n, ErrParse, k, v)
			}
			p := map[string]*uint64{"found": &c.Found, "invalid": &c.Invalid, "ignore": &c.Ignore, "insert": &c.Insert,
				"insert_failed": &c.InsertFailed, "drop": &c.Drop, "early_drop": &c.EarlyDrop, "error": &c.Error,
				"search_restart": &c.SearchRestart, "clash_resolve": &c.ClashResolve, "chaintoolong": &c.ChainTooLong}[k]
			switch {
			case k == "cpu":
				c.CPU, seen = int(x), true
			case p != nil:
				*p = x
			}
		}
		if !seen {
			return nil, fmt.Errorf("conntrack -S line %d: %w: no cpu=", n, ErrParse)
		}
		out = append(out, c)
	}
	return out, sc.Err()
}

func TestParseConntrackL(t *testing.T) {
	tcp := model.Flow{ID: 2523559353, Family: model.FamilyIPv4, Proto: model.ProtoTCP, ProtoNum: 6, Timeout: 431997 * time.Second,
		TCPState: model.TCPEstablished, Status: model.StatusSeenReply | model.StatusAssured,
		Orig:        model.FlowTuple{Src: netip.MustParseAddrPort("10.1.0.2:36470"), Dst: netip.MustParseAddrPort("10.1.0.1:8080")},
		Reply:       model.FlowTuple{Src: netip.MustParseAddrPort("10.2.0.2:80"), Dst: netip.MustParseAddrPort("10.2.0.1:36470")},
		OrigPackets: 2, OrigBytes: 112, ReplyPackets: 1, ReplyBytes: 60, CountersKnown: true,
		NAT: model.NATBoth}
	udp6 := model.Flow{ID: 1345128143, Family: model.FamilyIPv6, Proto: model.ProtoUDP, ProtoNum: 17, Timeout: 19 * time.Second, Zone: 7,
		Orig:  model.FlowTuple{Src: netip.MustParseAddrPort("[fd01::2]:59455"), Dst: netip.MustParseAddrPort("[fd02::2]:7777")},
		Reply: model.FlowTuple{Src: netip.MustParseAddrPort("[fd02::2]:7777"), Dst: netip.MustParseAddrPort("[fd02::1]:59455")},
		NAT:   model.NATSrc}
	icmp := model.Flow{ID: 1237678555, Family: model.FamilyIPv4, Proto: model.ProtoICMP, ProtoNum: 1, Timeout: 29 * time.Second, Status: model.StatusSeenReply,
		Orig:        model.FlowTuple{Src: netip.MustParseAddrPort("10.2.0.1:0"), Dst: netip.MustParseAddrPort("10.2.0.2:0"), ICMP: &model.ICMPKey{Type: 8, ID: 9176}},
		Reply:       model.FlowTuple{Src: netip.MustParseAddrPort("10.2.0.2:0"), Dst: netip.MustParseAddrPort("10.2.0.1:0"), ICMP: &model.ICMPKey{Type: 0, ID: 9176}},
		OrigPackets: 1, OrigBytes: 84, ReplyPackets: 1, ReplyBytes: 84, CountersKnown: true,
		Start: time.Date(2026, 11, 21, 5, 42, 45, 0, time.Local).UTC()}
	tests := []struct {
		file  string
		n     int
		check map[uint32]model.Flow
		err   bool
	}{
		{"conntrack-L-extended-id.txt", 7, nil, false},
		{"conntrack-L-acct.txt", 14, map[uint32]model.Flow{tcp.ID: tcp, udp6.ID: udp6}, false},
		{"conntrack-L-ipv6.txt", 6, map[uint32]model.Flow{udp6.ID: udp6}, false},
		{"conntrack-L-ktimestamp.txt", 14, map[uint32]model.Flow{icmp.ID: icmp}, false},
		{"broken-bad-addr.txt", 0, nil, true},
		{"broken-one-tuple.txt", 0, nil, true},
		{"broken-family.txt", 0, nil, true},
		{"broken-timeout.txt", 0, nil, true},
		{"broken-port.txt", 0, nil, true},
		{"broken-truncated.txt", 0, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			fh, err := os.Open("testdata/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			defer fh.Close()
			flows, err := parseConntrackL(fh)
			if tt.err {
				if err == nil || !errors.Is(err, ErrParse) {
					t.Fatalf("err = %v, want ErrParse", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(flows) != tt.n {
				t.Fatalf("%d flows, want %d", len(flows), tt.n)
			}
			byID := map[uint32]model.Flow{}
			for _, f := range flows {
				byID[f.ID] = f
			}
			for id, want := range tt.check {
				if diff := cmp.Diff(want, byID[id], addrOpts); diff != "" {
					t.Errorf("flow %d (-want +got)\n%s", id, diff)
				}
			}
		})
	}
}

func TestParseConntrackS(t *testing.T) {
	fh, _ := os.Open("testdata/conntrack-S.txt")
	defer fh.Close()
	got, err := parseConntrackS(fh)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]model.ConntrackCPU{{CPU: 0}, {CPU: 1}}, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	got, err = parseConntrackS(strings.NewReader("cpu=3 found=1 invalid=2 insert=0 insert_failed=4 drop=5 early_drop=6 error=7 search_restart=8 clash_resolve=9 chaintoolong=10\n"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]model.ConntrackCPU{{CPU: 3, Found: 1, Invalid: 2, InsertFailed: 4, Drop: 5, EarlyDrop: 6, Error: 7, SearchRestart: 8, ClashResolve: 9, ChainTooLong: 10}}, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	bad, _ := os.ReadFile("testdata/broken-S.txt")
	for _, in := range []string{string(bad), "found=1\n", "cpu=0 drop\n"} {
		if _, err := parseConntrackS(strings.NewReader(in)); !errors.Is(err, ErrParse) {
			t.Errorf("parseConntrackS(%q) err = %v, want ErrParse", in, err)
		}
	}
}

func FuzzParseConntrackL(f *testing.F) {
	for _, name := range []string{"conntrack-L-extended-id.txt", "conntrack-L-acct.txt", "conntrack-L-ktimestamp.txt", "broken-truncated.txt", "broken-one-tuple.txt"} {
		b, _ := os.ReadFile("testdata/" + name)
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, in string) {
		flows, err := parseConntrackL(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, fl := range flows {
			if !fl.Orig.Src.IsValid() || !fl.Reply.Dst.IsValid() {
				t.Fatalf("flow without tuples accepted: %+v", fl)
			}
		}
	})
}

func FuzzParseConntrackS(f *testing.F) {
	b, _ := os.ReadFile("testdata/conntrack-S.txt")
	f.Add(string(b))
	f.Add("cpu=0 found=1\n")
	f.Fuzz(func(t *testing.T, in string) {
		_, _ = parseConntrackS(strings.NewReader(in))
	})
}
