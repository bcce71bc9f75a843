package ui

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/colorprofile"

	"netlens/model"
)

// ipsecTab is the IPsec tab's number key.
const ipsecTab = "7"

func xfrmCounters(step int) []model.RawCounter {
	v := func(base, per uint64) uint64 { return base + per*uint64(step) }
	c := func(name string, val uint64) model.RawCounter {
		return model.RawCounter{Layer: model.LayerIPsec, Source: "/proc/net/xfrm_stat", Name: name, Kind: model.KindCounter, Value: val}
	}
	return []model.RawCounter{
		c("XfrmInError", 0), c("XfrmInNoStates", v(4, 0)), c("XfrmInStateProtoError", v(3, 1)),
		c("XfrmInStateSeqError", v(7, 2)), c("XfrmInStateExpired", 0), c("XfrmInNoPols", 0),
		c("XfrmInPolBlock", v(1, 0)), c("XfrmOutNoStates", 0),
	}
}

// fixtureIPsec is what collectors/xfrm decodes from SAs and policies
// like its testdata's (keys there, never here: the model has no place
// for one).
func fixtureIPsec() model.IPsec {
	at := t0.Add(time.Second)
	return model.IPsec{At: at,
		SAs: []model.XfrmSA{
			{Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("198.51.100.7"), Proto: "esp", SPI: 0xc0ffee01, Mode: "tunnel", ReqID: 1,
				Selector:   model.XfrmSelector{Src: netip.MustParsePrefix("0.0.0.0/0"), Dst: netip.MustParsePrefix("0.0.0.0/0")},
				Algorithms: []model.XfrmAlgorithm{{Kind: "aead", Name: "rfc4106(gcm(aes))", KeyBits: 160, ICVBits: 128}},
				Limits:     model.XfrmLimits{SoftAdd: 50 * time.Minute, HardAdd: time.Hour},
				Current:    model.XfrmUse{Bytes: 1234567, Packets: 9876, Added: t0.Add(-10 * time.Minute), Used: t0.Add(-9 * time.Minute)},
				LastUsed:   at, ReplayWindow: 32, Replay: 7, IntegrityFailed: 3, Seq: 9876, OSeq: 0},
			{Src: netip.MustParseAddr("198.51.100.7"), Dst: netip.MustParseAddr("192.0.2.1"), Proto: "esp", SPI: 0xc0ffee02, Mode: "tunnel", ReqID: 2,
				Algorithms:   []model.XfrmAlgorithm{{Kind: "enc", Name: "cbc(aes)", KeyBits: 128}, {Kind: "auth", Name: "hmac(sha256)", KeyBits: 256, ICVBits: 128}},
				Current:      model.XfrmUse{Bytes: 2048, Packets: 16, Added: t0.Add(-10 * time.Minute)},
				ReplayWindow: 32, OSeq: 16},
			{Src: netip.MustParseAddr("fd00::1"), Dst: netip.MustParseAddr("fd00::2"), Proto: "esp", SPI: 0x1003, Mode: "transport", ReqID: 3,
				Selector:   model.XfrmSelector{Src: netip.MustParsePrefix("fd00::1/128"), Dst: netip.MustParsePrefix("fd00::2/128"), Proto: 17, DstPort: 53},
				Algorithms: []model.XfrmAlgorithm{{Kind: "enc", Name: "cbc(aes)", KeyBits: 128}, {Kind: "auth", Name: "hmac(sha256)", KeyBits: 256, ICVBits: 128}},
				Limits:     model.XfrmLimits{HardAdd: 3 * time.Second},
				Current:    model.XfrmUse{Added: t0.Add(-5 * time.Second)}, ReplayWindow: 1024, ESN: true},
		},
		Policies: []model.XfrmPolicy{
			{Selector: model.XfrmSelector{Src: netip.MustParsePrefix("10.1.0.0/24"), Dst: netip.MustParsePrefix("10.2.0.0/24")},
				Dir: "out", Action: "allow", Priority: 100, Index: 1, Type: "main",
				Templates: []model.XfrmTemplate{{Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("198.51.100.7"), Proto: "esp", ReqID: 1, Mode: "tunnel"}},
				Current:   model.XfrmUse{Added: t0.Add(-10 * time.Minute), Used: at}},
			{Selector: model.XfrmSelector{Src: netip.MustParsePrefix("10.2.0.0/24"), Dst: netip.MustParsePrefix("10.1.0.0/24")},
				Dir: "in", Action: "allow", Priority: 100, Index: 8, Type: "main",
				Templates: []model.XfrmTemplate{{Src: netip.MustParseAddr("198.51.100.7"), Dst: netip.MustParseAddr("192.0.2.1"), Proto: "esp", ReqID: 2, Mode: "tunnel", Optional: true}},
				Current:   model.XfrmUse{Added: t0.Add(-10 * time.Minute)}},
			{Selector: model.XfrmSelector{Src: netip.MustParsePrefix("fd00:1::/64"), Dst: netip.MustParsePrefix("fd00:2::/64"), Proto: 6, DstPort: 22},
				Dir: "fwd", Action: "block", Priority: 7, Index: 18, Type: "main", Current: model.XfrmUse{Added: t0}},
		},
	}
}

func ipsecStore() *model.Store {
	s := fixtureStore()
	s.Publish(model.StatusUpdate{Status: model.CollectorStatus{Name: model.CollectorIPsec, State: model.StateOK, Interval: time.Second, Source: "NETLINK_XFRM"}})
	s.Publish(model.CountersUpdate{Collector: "counters", At: t0, Counters: append(fixtureCounters(0), xfrmCounters(0)...)})
	s.Publish(model.CountersUpdate{Collector: "counters", At: t0.Add(time.Second), Counters: append(fixtureCounters(1), xfrmCounters(1)...)})
	s.Publish(model.IPsecUpdate{IPsec: fixtureIPsec()})
	return s
}

func TestGoldenIPsec(t *testing.T) {
	tests := []struct {
		name string
		w, h int
		keys []string
	}{
		{"IPsec_80x24", 80, 24, []string{ipsecTab}},
		{"IPsec_120x40", 120, 40, []string{ipsecTab}},
		{"IPsecPolicies_80x24", 80, 24, []string{ipsecTab, "v"}},
		{"IPsecPolicies_120x40", 120, 40, []string{ipsecTab, "v", "down"}},
		{"IPsecXfrmStat_80x24", 80, 24, []string{ipsecTab, "v", "v"}},
		{"IPsecXfrmStat_120x40", 120, 40, []string{ipsecTab, "v", "v"}},
		{"IPsecFiltered_80x24", 80, 24, []string{ipsecTab, "/", "f", "d", "0", "0", "enter"}},
		{"IPsecSortICV_120x40", 120, 40, []string{ipsecTab, "o", "o", "o", "o", "o"}},
		{"IPsecDetails_80x24", 80, 24, []string{ipsecTab, "down", "enter"}},
		{"IPsecDetails_120x40", 120, 40, []string{ipsecTab, "down", "enter"}},
		{"IPsecPoliciesDetails_80x24", 80, 24, []string{ipsecTab, "v", "enter"}},
		{"IPsecXfrmStatExplained_80x24", 80, 24, []string{ipsecTab, "v", "v", "enter"}},
		{"IPsecFilteredDetails_120x40", 120, 40, []string{ipsecTab, "/", "f", "d", "0", "0", "enter", "enter"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runGolden(t, ipsecStore(), tt.w, tt.h, colorprofile.ANSI256, keys(tt.keys...)...)
		})
	}
}

// TestGoldenIPsecEmpty: a namespace with no IPsec, and a collector that
// cannot read it.
func TestGoldenIPsecEmpty(t *testing.T) {
	empty := func() *model.Store {
		s := fixtureStore()
		s.Publish(model.StatusUpdate{Status: model.CollectorStatus{Name: model.CollectorIPsec, State: model.StateOK, Interval: time.Second}})
		s.Publish(model.IPsecUpdate{IPsec: model.IPsec{At: t0}})
		return s
	}
	denied := func() *model.Store {
		s := fixtureStore()
		s.Publish(model.StatusUpdate{Status: model.CollectorStatus{Name: model.CollectorIPsec, State: model.StateNoPermission,
			Reason: "ipsec: dump SAs: needs CAP_NET_ADMIN: operation not permitted"}})
		return s
	}
	t.Run("IPsecNone_80x24", func(t *testing.T) { runGolden(t, empty(), 80, 24, colorprofile.ANSI256, keys(ipsecTab)...) })
	t.Run("IPsecDenied_80x24", func(t *testing.T) { runGolden(t, denied(), 80, 24, colorprofile.ANSI256, keys(ipsecTab)...) })
}

func TestHardLeft(t *testing.T) {
	add := t0
	tests := []struct {
		name string
		l    model.XfrmLimits
		u    model.XfrmUse
		now  time.Time
		want string
	}{
		{"none", model.XfrmLimits{}, model.XfrmUse{Added: add}, add, "-"},
		{"an hour", model.XfrmLimits{HardAdd: time.Hour}, model.XfrmUse{Added: add}, add.Add(10 * time.Minute), "50m0s"},
		{"use limit first", model.XfrmLimits{HardAdd: time.Hour, HardUse: time.Minute}, model.XfrmUse{Added: add, Used: add}, add, "1m0s"},
		{"past", model.XfrmLimits{HardAdd: 3 * time.Second}, model.XfrmUse{Added: add}, add.Add(4 * time.Second), "expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := hardLeft(tt.l, tt.u, tt.now); got != tt.want {
				t.Errorf("hardLeft = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestIPsecFilterMatchesEveryView: / narrows each view by its text.
func TestIPsecFilterMatchesEveryView(t *testing.T) {
	s := ipsecStore().Snapshot()
	p := newIPsecPage(Common{Styles: NewStyles(colorprofile.ANSI256), Keys: DefaultKeyMap()}, DefaultIPsecDeps)
	p.SetSize(120, 40)
	p.SetSnapshot(s)
	for _, tt := range []struct {
		filter             string
		sas, pols, counter int
	}{
		{"", 3, 3, 8},
		{"fd00", 1, 1, 0},
		{"hmac", 2, 0, 0},
		{"block", 0, 1, 1},
		{"seq", 0, 0, 1},
	} {
		p.SetFilter(tt.filter)
		p.sas.Sync()
		p.pols.Sync()
		p.stat.Sync()
		if got := [3]int{len(p.sas.idx), len(p.pols.idx), len(p.stat.idx)}; got != [3]int{tt.sas, tt.pols, tt.counter} {
			t.Errorf("filter %q: SAs, policies, counters shown %v, want %v", tt.filter, got, [3]int{tt.sas, tt.pols, tt.counter})
		}
	}
	if v := p.View(); strings.Count(v, "\n") != 39 {
		t.Errorf("view has %d lines, want 40", strings.Count(v, "\n")+1)
	}
}
