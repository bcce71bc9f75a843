package qdisc

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/netlink"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseQdisc(t *testing.T) {
	tests := []struct {
		file    string
		want    Qdisc
		wantErr bool
	}{
		{file: "qdisc-tbf-va.bin", want: Qdisc{Ifindex: 3, Handle: 0x10000, Parent: tcHRoot, Kind: "tbf", HasStats: true,
			Bytes: 76676, Packets: 64, Drops: 297, Overlimits: 355}},
		{file: "qdisc-noqueue-lo.bin", want: Qdisc{Ifindex: 1, Handle: 0, Parent: tcHRoot, Kind: "noqueue", HasStats: true}},
		{file: "broken-qdisc-short-tcmsg.bin", wantErr: true},
		{file: "broken-qdisc-attr-overrun.bin", wantErr: true},
		{file: "broken-qdisc-no-kind.bin", wantErr: true},
		// A TCA_STATS_QUEUE shorter than its struct is not read; the basic
		// stats still are.
		{file: "broken-qdisc-short-queue.bin", want: Qdisc{Ifindex: 3, Handle: 0x10000, Parent: tcHRoot, Kind: "tbf", HasStats: true,
			Bytes: 76676, Packets: 64}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := parseQdisc(readFixture(t, tt.file))
			if tt.wantErr {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("err = %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestParseLink(t *testing.T) {
	tests := []struct {
		file      string
		wantName  string
		wantIndex int32
		wantStats map[string]uint64
		wantErr   bool
	}{
		{file: "link-va.bin", wantName: "va", wantIndex: 3, wantStats: map[string]uint64{"rx_packets": 68, "tx_packets": 64, "rx_bytes": 75056, "tx_bytes": 76676}},
		{file: "link-lo.bin", wantName: "lo", wantIndex: 1},
		{file: "broken-link-short.bin", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			l, err := parseLink(readFixture(t, tt.file), nil)
			if tt.wantErr {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("err = %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if l.Name != tt.wantName || l.Index != tt.wantIndex || len(l.Stats) != len(linkStatNames) {
				t.Fatalf("got %s index %d with %d stats", l.Name, l.Index, len(l.Stats))
			}
			for i, v := range l.Stats {
				if want := tt.wantStats[linkStatNames[i]]; tt.wantStats != nil && v != want {
					t.Errorf("%s = %d, want %d", linkStatNames[i], v, want)
				}
			}
		})
	}
}

func TestHandleString(t *testing.T) {
	q := Qdisc{Kind: "pfifo", Handle: 0x80020000, Parent: 0x80010001}
	if got, want := q.Instance("eth0"), "eth0 pfifo 8002: parent 8001:1"; got != want {
		t.Errorf("Instance = %q, want %q", got, want)
	}
	q = Qdisc{Kind: "ingress", Handle: 0xffff0000, Parent: 0xfffffff1}
	if got, want := q.Instance("eth0"), "eth0 ingress ffff: parent ffff:fff1"; got != want {
		t.Errorf("Instance = %q, want %q", got, want)
	}
}

func FuzzParseQdisc(f *testing.F) {
	for _, n := range []string{"qdisc-tbf-va.bin", "qdisc-noqueue-lo.bin", "broken-qdisc-short-queue.bin", "broken-qdisc-attr-overrun.bin"} {
		f.Add(readFixture(f, n))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := parseQdisc(b)
		if err == nil && q.Kind == "" {
			t.Fatal("no error and no kind")
		}
	})
}

func FuzzParseLink(f *testing.F) {
	for _, n := range []string{"link-va.bin", "link-lo.bin", "broken-link-short.bin"} {
		f.Add(readFixture(f, n))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := parseLink(b, nil)
		if err == nil && (l.Name == "" || len(l.Stats) > len(linkStatNames)) {
			t.Fatalf("bad link %+v", l)
		}
	})
}

func TestParseStats(t *testing.T) {
	tests := []struct {
		file      string
		wantIndex int32
		wantOK    bool
		wantErr   bool
		want      map[string]uint64
	}{
		{"stats-va.bin", 3, true, false, map[string]uint64{"rx_packets": 1, "tx_packets": 4, "rx_bytes": 90, "tx_bytes": 308}},
		{"stats-lo.bin", 1, true, false, map[string]uint64{"rx_packets": 0}},
		{"broken-stats-short.bin", 0, false, true, nil},
		{"broken-stats-attr-overrun.bin", 3, false, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			idx, st, ok, err := parseStats(readFixture(t, tt.file), nil)
			if tt.wantErr {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("err = %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil || idx != tt.wantIndex || ok != tt.wantOK || len(st) != len(linkStatNames) {
				t.Fatalf("index %d ok %v err %v, %d fields", idx, ok, err, len(st))
			}
			for i, v := range st {
				if w, in := tt.want[linkStatNames[i]]; in && v != w {
					t.Errorf("%s = %d, want %d", linkStatNames[i], v, w)
				}
			}
		})
	}
}

func FuzzParseStats(f *testing.F) {
	for _, n := range []string{"stats-va.bin", "stats-lo.bin", "broken-stats-short.bin", "broken-stats-attr-overrun.bin"} {
		f.Add(readFixture(f, n))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, st, ok, err := parseStats(b, nil)
		if len(st) > len(linkStatNames) || (err != nil && ok) {
			t.Fatalf("%d fields, ok %v, err %v", len(st), ok, err)
		}
	})
}

func BenchmarkParseQdisc(b *testing.B) {
	msg := readFixture(b, "qdisc-tbf-va.bin")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseQdisc(msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseStats(b *testing.B) {
	msg := readFixture(b, "stats-va.bin")
	var st []uint64
	b.ReportAllocs()
	for b.Loop() {
		_, st, _, _ = parseStats(msg, st)
	}
}

// TestAttrsWalkAsAttributeDecoder walks the attributes of the fixtures,
// of every truncation of them and of random bytes with attrs and with
// netlink.AttributeDecoder: the same types, payloads and errors.
func TestAttrsWalkAsAttributeDecoder(t *testing.T) {
	type attr struct {
		typ uint16
		v   string
	}
	walkAD := func(b []byte) ([]attr, bool) {
		ad, err := netlink.NewAttributeDecoder(b)
		if err != nil {
			return nil, false
		}
		var out []attr
		for ad.Next() {
			out = append(out, attr{ad.Type(), string(ad.Bytes())})
		}
		return out, ad.Err() == nil
	}
	walk := func(b []byte) ([]attr, bool) {
		a, err := newAttrs(b)
		if err != nil {
			return nil, false
		}
		var out []attr
		for a.next() {
			out = append(out, attr{a.typ, string(a.v)})
		}
		return out, a.err == nil
	}
	var inputs [][]byte
	for _, f := range []struct {
		name string
		hdr  int
	}{{"qdisc-tbf-va.bin", sizeofTcmsg}, {"qdisc-noqueue-lo.bin", sizeofTcmsg}, {"link-va.bin", sizeofIfinfomsg}, {"stats-va.bin", sizeofIfStatsMsg}} {
		b := readFixture(t, f.name)
		attrsOf := b[min(f.hdr, len(b)):]
		for n := range len(attrsOf) + 1 {
			inputs = append(inputs, attrsOf[:n])
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = byte(r.IntN(4)) // small lengths and types: every case
			if r.IntN(3) == 0 {
				b[i] = byte(r.IntN(256))
			}
		}
		inputs = append(inputs, b)
	}
	for _, b := range inputs {
		want, wantOK := walkAD(b)
		got, ok := walk(b)
		if ok != wantOK || !slices.Equal(got, want) {
			t.Fatalf("%x: attrs %v %v, AttributeDecoder %v %v", b, got, ok, want, wantOK)
		}
	}
	if len(inputs) < 20100 {
		t.Fatalf("%d inputs: fixtures missing", len(inputs))
	}
}
