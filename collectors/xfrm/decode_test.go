package xfrm

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"netlens/model"
)

// Key material the fixtures carry: it must never survive decoding.
var (
	keyAEAD  = bytes.Repeat([]byte{0xC0, 0xFF, 0xEE, 0x42}, 5) // 160 bits: AES-128 + 4-byte salt
	keyCrypt = []byte("0123456789abcdef")
	keyAuth  = []byte("AUTHKEY-AUTHKEY-AUTHKEY-AUTHKEY!")
)

var addTime = uint64(time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC).Unix())

// anySel is the selector of a tunnel-mode SA, as ip xfrm shows it
// ("sel src 0.0.0.0/0 dst 0.0.0.0/0").
var anySel = model.XfrmSelector{Src: p("0.0.0.0/0"), Dst: p("0.0.0.0/0")}

func a(s string) netip.Addr   { return netip.MustParseAddr(s) }
func p(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// seeds are the synthetic SA messages under testdata (TestSeeds keeps
// the files equal to them).
var seeds = map[string]func() []byte{
	"sa-esp-aead-tunnel.bin": func() []byte {
		return buildSA(saSpec{src: a("10.0.0.1"), dst: a("10.0.0.2"), spi: 0x1000, proto: 50, mode: 1, reqid: 7, window: 32,
			stats: [3]uint32{1, 2, 3}, cur: [4]uint64{840, 10, addTime, addTime + 5}, hardAdd: 3600, softAdd: 3000,
			attrs: [][]byte{buildAlg(attrAlgAEAD, "rfc4106(gcm(aes))", 128, keyAEAD), buildReplay(10, 9, 0x1ff),
				buildAttr(attrLastUsed, le64(addTime+9))}})
	},
	"sa-esp-cbc-hmac-esn-v6.bin": func() []byte {
		return buildSA(saSpec{src: a("fd00::1"), dst: a("fd00::2"), spi: 0xdeadbeef, proto: 50, mode: 0, reqid: 1, flags: xfrmStateESN,
			selSrc: p("fd00::1/128"), selDst: p("fd00::2/128"), selProto: 17, selDport: 53, selDportSet: true,
			attrs: [][]byte{buildAlg(attrAlgAuth, "hmac(sha256)", 0, keyAuth), buildAlg(attrAlgCrypt, "cbc(aes)", 0, keyCrypt),
				buildAlg(attrAlgAuthTrunc, "hmac(sha256)", 128, keyAuth), buildESN(1<<32+5, 1<<32+4, 1024)}})
	},
	"broken-sa-short.bin": func() []byte { return make([]byte, sizeofUsersaInfo-1) },
	"broken-sa-alg-short.bin": func() []byte {
		return buildSA(saSpec{src: a("10.0.0.1"), dst: a("10.0.0.2"), spi: 1, proto: 50,
			attrs: [][]byte{buildAttr(attrAlgCrypt, []byte("cbc(aes)"))}})
	},
	"broken-sa-attr-overrun.bin": func() []byte {
		b := buildSA(saSpec{src: a("10.0.0.1"), dst: a("10.0.0.2"), spi: 2, proto: 50,
			attrs: [][]byte{buildAlg(attrAlgCrypt, "cbc(aes)", 0, keyCrypt)}})
		ne.PutUint16(b[sizeofUsersaInfo:], 0x400)
		return b
	},
}

func le64(v uint64) []byte {
	b := make([]byte, 8)
	ne.PutUint64(b, v)
	return b
}

func readFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// TestSeeds keeps the synthetic fixtures under testdata equal to their
// builders; UPDATE_SEEDS=1 rewrites them.
func TestSeeds(t *testing.T) {
	for name, build := range seeds {
		want := build()
		if os.Getenv("UPDATE_SEEDS") == "1" {
			if err := os.WriteFile(filepath.Join("testdata", name), want, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if got := readFixture(t, name); !bytes.Equal(want, got) {
			t.Errorf("testdata/%s differs from its builder (UPDATE_SEEDS=1 go test -run TestSeeds)", name)
		}
	}
}

func TestParseSA(t *testing.T) {
	tests := []struct {
		file    string
		want    model.XfrmSA
		wantErr bool
	}{
		{file: "sa-esp-aead-tunnel.bin", want: model.XfrmSA{
			Src: a("10.0.0.1"), Dst: a("10.0.0.2"), Proto: "esp", SPI: 0x1000, Mode: "tunnel", ReqID: 7, Selector: anySel,
			Algorithms: []model.XfrmAlgorithm{{Kind: "aead", Name: "rfc4106(gcm(aes))", KeyBits: 160, ICVBits: 128}},
			Limits:     model.XfrmLimits{SoftAdd: 3000 * time.Second, HardAdd: 3600 * time.Second},
			Current: model.XfrmUse{Bytes: 840, Packets: 10, Added: time.Unix(int64(addTime), 0).UTC(),
				Used: time.Unix(int64(addTime)+5, 0).UTC()},
			LastUsed:     time.Unix(int64(addTime)+9, 0).UTC(),
			ReplayWindow: 32, OutOfWindow: 1, Replay: 2, IntegrityFailed: 3, OSeq: 10, Seq: 9,
		}},
		{file: "sa-esp-cbc-hmac-esn-v6.bin", want: model.XfrmSA{
			Src: a("fd00::1"), Dst: a("fd00::2"), Proto: "esp", SPI: 0xdeadbeef, Mode: "transport", ReqID: 1,
			Selector: model.XfrmSelector{Src: p("fd00::1/128"), Dst: p("fd00::2/128"), Proto: 17, DstPort: 53},
			Algorithms: []model.XfrmAlgorithm{{Kind: "enc", Name: "cbc(aes)", KeyBits: 128},
				{Kind: "auth", Name: "hmac(sha256)", KeyBits: 256, ICVBits: 128}},
			ReplayWindow: 1024, OSeq: 1<<32 + 5, Seq: 1<<32 + 4, ESN: true,
		}},
		{file: "broken-sa-short.bin", wantErr: true},
		{file: "broken-sa-alg-short.bin", wantErr: true, want: model.XfrmSA{
			Src: a("10.0.0.1"), Dst: a("10.0.0.2"), Proto: "esp", SPI: 1, Mode: "transport", Selector: anySel}},
		{file: "broken-sa-attr-overrun.bin", wantErr: true, want: model.XfrmSA{
			Src: a("10.0.0.1"), Dst: a("10.0.0.2"), Proto: "esp", SPI: 2, Mode: "transport", Selector: anySel}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b := readFixture(t, tt.file)
			got, err := parseSA(b)
			if (err != nil) != tt.wantErr || (err != nil && !errors.Is(err, ErrMalformed)) {
				t.Fatalf("err = %v, want error %v (ErrMalformed)", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(x, y netip.Addr) bool { return x == y }),
				cmp.Comparer(func(x, y netip.Prefix) bool { return x == y })); diff != "" {
				t.Errorf("parseSA (-want +got):\n%s", diff)
			}
			for _, k := range [][]byte{keyAEAD, keyCrypt, keyAuth} {
				if bytes.Contains(b, k) {
					t.Errorf("key %x still in the message after decoding", k)
				}
			}
		})
	}
}

func TestParsePolicy(t *testing.T) {
	tests := []struct {
		file    string
		mangle  func([]byte) []byte
		want    model.XfrmPolicy
		wantErr bool
	}{
		{file: "policy-out-tunnel-udp53.bin", want: model.XfrmPolicy{
			Selector: model.XfrmSelector{Src: p("10.1.0.0/24"), Dst: p("10.2.0.0/24"), Proto: 17, DstPort: 53},
			Dir:      "out", Action: "allow", Priority: 100, Index: 1, Type: "main",
			Templates: []model.XfrmTemplate{{Src: a("10.0.0.1"), Dst: a("10.0.0.2"), Proto: "esp", ReqID: 5, Mode: "tunnel"}},
		}},
		{file: "policy-in-block-v6.bin", want: model.XfrmPolicy{
			Selector: model.XfrmSelector{Src: p("fd00:1::/64"), Dst: p("fd00:2::/64")},
			Dir:      "in", Action: "block", Priority: 200, Index: 8, Type: "main",
		}},
		{file: "policy-out-tunnel-udp53.bin", mangle: func(b []byte) []byte { return b[:sizeofUserpolicy-1] }, wantErr: true},
		{file: "policy-out-tunnel-udp53.bin", mangle: func(b []byte) []byte { return b[:sizeofUserpolicy+60] }, wantErr: true, want: model.XfrmPolicy{
			Selector: model.XfrmSelector{Src: p("10.1.0.0/24"), Dst: p("10.2.0.0/24"), Proto: 17, DstPort: 53},
			Dir:      "out", Action: "allow", Priority: 100, Index: 1, Type: "main",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b := readFixture(t, tt.file)
			if tt.mangle != nil {
				b = tt.mangle(b)
			}
			got, err := parsePolicy(b)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			got.Current = model.XfrmUse{} // the add time of a real policy
			if tt.wantErr && err == nil || !tt.wantErr && got.Limits != (model.XfrmLimits{}) {
				t.Errorf("limits %+v, want none", got.Limits)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(x, y netip.Addr) bool { return x == y }),
				cmp.Comparer(func(x, y netip.Prefix) bool { return x == y })); diff != "" {
				t.Errorf("parsePolicy (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExpiry(t *testing.T) {
	add := time.Date(2026, 12, 3, 1, 0, 0, 0, time.UTC)
	l := model.XfrmLimits{SoftAdd: 50 * time.Second, HardAdd: time.Minute, HardUse: 30 * time.Second}
	soft, hard := l.Expiry(model.XfrmUse{Added: add})
	if !soft.Equal(add.Add(50*time.Second)) || !hard.Equal(add.Add(time.Minute)) {
		t.Errorf("unused: soft %v hard %v", soft, hard)
	}
	_, hard = l.Expiry(model.XfrmUse{Added: add, Used: add.Add(10 * time.Second)})
	if !hard.Equal(add.Add(40 * time.Second)) {
		t.Errorf("used: hard %v, want the use limit's %v", hard, add.Add(40*time.Second))
	}
	if s, h := (model.XfrmLimits{}).Expiry(model.XfrmUse{Added: add}); !s.IsZero() || !h.IsZero() {
		t.Errorf("no limits: %v %v", s, h)
	}
}

// keysScrubbed reports whether every algorithm attribute of an SA
// message has only zeros after its fixed part.
func keysScrubbed(b []byte) bool {
	if len(b) < sizeofUsersaInfo {
		return true
	}
	as, rest, _ := attrs(b[sizeofUsersaInfo:])
	if bytes.ContainsFunc(rest, func(r rune) bool { return r != 0 }) {
		return false
	}
	for _, a := range as {
		head := -1
		switch a.typ {
		case attrAlgCrypt, attrAlgAuth, attrAlgComp:
			head = sizeofAlgo
		case attrAlgAEAD, attrAlgAuthTrunc:
			head = sizeofAlgoAuth
		}
		if head < 0 {
			continue
		}
		from := min(head, len(a.data))
		if len(a.data) < head {
			from = min(sizeofAlgoName+4, len(a.data))
		}
		for _, c := range a.data[from:] {
			if c != 0 {
				return false
			}
		}
	}
	return true
}

func FuzzParseSA(f *testing.F) {
	for name := range seeds {
		f.Add(readFixture(f, name))
	}
	f.Add(readFixture(f, "vm-sa-0.bin"))
	f.Add(readFixture(f, "vm-sa-1.bin"))
	f.Fuzz(func(t *testing.T, b []byte) {
		sa, err := parseSA(b)
		if err == nil && (sa.Proto == "" || sa.Mode == "") {
			t.Fatalf("no error and no proto or mode: %+v", sa)
		}
		if !keysScrubbed(b) {
			t.Fatal("key bytes left in the message")
		}
	})
}

func FuzzParsePolicy(f *testing.F) {
	for _, n := range []string{"policy-out-tunnel-udp53.bin", "policy-in-block-v6.bin", "vm-policy-0.bin", "vm-policy-2.bin"} {
		f.Add(readFixture(f, n))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parsePolicy(b)
		if err == nil && (p.Dir == "" || p.Action == "") {
			t.Fatalf("no error and no dir or action: %+v", p)
		}
	})
}

// TestParseKernelMessages decodes the messages Debian's 6.1 kernel sent
// in the VM's ESP tunnel test (vmtest/run.sh, UPDATE_FIXTURES=1; keys
// zeroed by the decoder there before they were printed).
func TestParseKernelMessages(t *testing.T) {
	for _, name := range []string{"vm-sa-0.bin", "vm-sa-1.bin"} {
		b := readFixture(t, name)
		sa, err := parseSA(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if sa.Proto != "esp" || sa.Mode != "tunnel" || sa.ReplayWindow != 32 || len(sa.Algorithms) != 2 ||
			sa.Algorithms[0].Name != "cbc(aes)" || sa.Algorithms[1] != (model.XfrmAlgorithm{Kind: "auth", Name: "hmac(sha256)", KeyBits: 256, ICVBits: 128}) {
			t.Errorf("%s: %+v", name, sa)
		}
		if !keysScrubbed(b) {
			t.Errorf("%s: key bytes in the fixture", name)
		}
		assertNoKeys(t, name, b, tunnelKeys)
	}
	for _, name := range []string{"vm-policy-0.bin", "vm-policy-1.bin", "vm-policy-2.bin"} {
		p, err := parsePolicy(readFixture(t, name))
		if err != nil || len(p.Templates) != 1 || p.Templates[0].Proto != "esp" || p.Selector.Src.Bits() != 32 {
			t.Errorf("%s: %+v, %v", name, p, err)
		}
	}
}
