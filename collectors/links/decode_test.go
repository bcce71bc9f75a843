package links

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"netlens/model"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseLink(t *testing.T) {
	tests := []struct {
		file    string
		want    model.Interface
		wantErr bool
	}{
		{file: "link-va.bin", want: model.Interface{Index: 3, Name: "va", Kind: "veth", LinkType: "ether", Up: true, OperState: "up", Carrier: true,
			CarrierChanges: 2, MTU: 1500, TxQueueLen: 1000, MAC: "b2:77:73:92:de:6a", LinkIndex: 2, Qdisc: "htb",
			Stats: model.LinkStats{RxPackets: 4, TxPackets: 4, RxBytes: 336, TxBytes: 336}}},
		{file: "link-lo.bin", want: model.Interface{Index: 1, Name: "lo", LinkType: "loopback", Up: true, OperState: "unknown", Carrier: true,
			MTU: 65536, TxQueueLen: 1000, MAC: "00:00:00:00:00:00", Qdisc: "noqueue"}},
		{file: "link-vc.bin", want: model.Interface{Index: 6, Name: "vc", Kind: "veth", LinkType: "ether", OperState: "down",
			CarrierChanges: 1, MTU: 1400, TxQueueLen: 1000, MAC: "2e:86:f6:13:16:94", MasterIndex: 4, LinkIndex: 5, Qdisc: "noop"}},
		{file: "link-tun0.bin", want: model.Interface{Index: 7, Name: "tun0", Kind: "tun", LinkType: "none", OperState: "down",
			CarrierChanges: 1, MTU: 1500, TxQueueLen: 500, Qdisc: "noop"}},
		{file: "broken-link-short.bin", wantErr: true},
		{file: "broken-link-attr-overrun.bin", wantErr: true},
		{file: "broken-link-no-name.bin", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := parseLink(readFixture(t, tt.file))
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

func TestParseAddr(t *testing.T) {
	tests := []struct {
		file    string
		want    addr
		wantErr bool
	}{
		{file: "addr-inet-va.bin", want: addr{3, model.InterfaceAddr{Family: "inet", Address: "10.77.0.1", PrefixLen: 24, Scope: "global"}}},
		{file: "addr-inet-lo.bin", want: addr{1, model.InterfaceAddr{Family: "inet", Address: "127.0.0.1", PrefixLen: 8, Scope: "host"}}},
		{file: "addr-inet6-lo.bin", want: addr{1, model.InterfaceAddr{Family: "inet6", Address: "::1", PrefixLen: 128, Scope: "host"}}},
		{file: "addr-inet6-fd00-1.bin", want: addr{1, model.InterfaceAddr{Family: "inet6", Address: "fd00::1", PrefixLen: 64, Scope: "global"}}},
		{file: "broken-addr-short.bin", wantErr: true},
		{file: "broken-addr-prefix.bin", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, ok, err := parseAddr(readFixture(t, tt.file))
			if tt.wantErr {
				if !errors.Is(err, ErrMalformed) || ok {
					t.Fatalf("ok %v err = %v, want ErrMalformed", ok, err)
				}
				return
			}
			if err != nil || !ok {
				t.Fatalf("ok %v err %v", ok, err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(addr{})); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestParseGStrings(t *testing.T) {
	data := readFixture(t, "gstrings-veth.bin")
	tests := []struct {
		n    int
		want []string
	}{
		{2, []string{"peer_ifindex", "rx_queue_0_xdp_packets"}},
		// A name without its NUL takes the whole 32 bytes; a short
		// last one is not read.
		{4, []string{"peer_ifindex", "rx_queue_0_xdp_packets", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}},
		{0, []string{}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, parseGStrings(data, tt.n)); diff != "" {
			t.Errorf("n=%d (-want +got)\n%s", tt.n, diff)
		}
	}
}

func TestFormatMAC(t *testing.T) {
	for in, want := range map[string]string{"": "", "\x00\x01\xab": "00:01:ab", "\xff": "ff"} {
		if got := formatMAC([]byte(in)); got != want {
			t.Errorf("formatMAC(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseLink(f *testing.F) {
	for _, n := range []string{"link-va.bin", "link-lo.bin", "link-vc.bin", "link-tun0.bin", "broken-link-attr-overrun.bin", "broken-link-short.bin"} {
		f.Add(readFixture(f, n))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := parseLink(b)
		if err == nil && l.Name == "" {
			t.Fatal("no error and no name")
		}
	})
}

func FuzzParseAddr(f *testing.F) {
	for _, n := range []string{"addr-inet-va.bin", "addr-inet6-lo.bin", "broken-addr-short.bin", "broken-addr-prefix.bin"} {
		f.Add(readFixture(f, n))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, ok, err := parseAddr(b)
		if ok && (err != nil || a.addr.Address == "" || a.addr.PrefixLen > 128) {
			t.Fatalf("ok with %+v, err %v", a, err)
		}
	})
}

func FuzzParseGStrings(f *testing.F) {
	f.Add(readFixture(f, "gstrings-veth.bin"), 3)
	f.Fuzz(func(t *testing.T, b []byte, n int) {
		if n > 1<<16 {
			n = 1 << 16
		}
		got := parseGStrings(b, n)
		if len(got) > max(n, 0) || len(got)*ethGStringLen > len(b) {
			t.Fatalf("%d names from %d bytes, n %d", len(got), len(b), n)
		}
	})
}

func BenchmarkParseLink(b *testing.B) {
	msg := readFixture(b, "link-va.bin")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseLink(msg); err != nil {
			b.Fatal(err)
		}
	}
}
