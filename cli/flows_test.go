package cli

import (
	"bytes"
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"netlens/model"
)

func TestPrintFlows(t *testing.T) {
	f := model.Flow{ID: 7, Family: model.FamilyIPv4, Proto: model.ProtoTCP, ProtoNum: 6,
		Orig:     model.FlowTuple{Src: netip.MustParseAddrPort("10.1.0.2:40000"), Dst: netip.MustParseAddrPort("10.1.0.1:8080")},
		Reply:    model.FlowTuple{Src: netip.MustParseAddrPort("10.2.0.2:80"), Dst: netip.MustParseAddrPort("10.2.0.1:40000")},
		TCPState: model.TCPEstablished, Status: model.StatusConfirmed | model.StatusSeenReply | model.StatusAssured, Zone: 3, Timeout: 431999 * time.Second, Updated: time.Now(),
		OrigPackets: 1, OrigBytes: 150, ReplyPackets: 1, ReplyBytes: 150, CountersKnown: true}
	f.SetNAT()
	u := model.Flow{Family: model.FamilyIPv6, Proto: model.ProtoICMPv6, ProtoNum: 58, Timeout: 29 * time.Second, Updated: time.Now(),
		Orig:  model.FlowTuple{Src: netip.MustParseAddrPort("[fd01::2]:0"), Dst: netip.MustParseAddrPort("[fd02::2]:0"), ICMP: &model.ICMPKey{Type: 128, ID: 5}},
		Reply: model.FlowTuple{Src: netip.MustParseAddrPort("[fd02::2]:0"), Dst: netip.MustParseAddrPort("[fd01::2]:0"), ICMP: &model.ICMPKey{Type: 129, ID: 5}}}
	var b bytes.Buffer
	if err := printFlows(&b, []model.Flow{f, u}); err != nil {
		t.Fatal(err)
	}
	want := "ipv4     2 tcp      6 431999 ESTABLISHED src=10.1.0.2 dst=10.1.0.1 sport=40000 dport=8080 packets=1 bytes=150 src=10.2.0.2 dst=10.2.0.1 sport=80 dport=40000 packets=1 bytes=150 [ASSURED] mark=0 zone=3 [SNAT 10.2.0.1:40000] [DNAT 10.2.0.2:80]\n" +
		"ipv6     10 icmpv6   58 29 src=fd01::2 dst=fd02::2 type=128 code=0 id=5 [UNREPLIED] src=fd02::2 dst=fd01::2 type=129 code=0 id=5 mark=0\n" +
		"netlens: 2 flow entries shown.\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	b.Reset()
	if err := printFlows(&b, nil); err != nil || b.String() != "netlens: 0 flow entries shown.\n" {
		t.Errorf("no flows: %q %v", b.String(), err)
	}
}

func TestFlowsNote(t *testing.T) {
	tests := []struct {
		st   model.ConntrackStats
		want string
	}{
		{model.ConntrackStats{Accounting: true, Count: 3, Max: 10, FlowsHeld: 3}, ""},
		{model.ConntrackStats{Count: 100000, Max: 262144, FlowsHeld: 65536, FlowsTruncated: true},
			"netlens: 65536 of 100000 entries shown (those with the most bytes); accounting off (net.netfilter.nf_conntrack_acct=0): no byte counts"},
		{model.ConntrackStats{Accounting: true, Count: 10, Max: 10}, "netlens: TABLE FULL: 10 of 10 entries, new connections are dropped"},
	}
	for _, tt := range tests {
		if got := flowsNote(tt.st); got != tt.want {
			t.Errorf("flowsNote(%+v) = %q, want %q", tt.st, got, tt.want)
		}
	}
}

// TestFlowsIndentNeedsJSON: --indent without --json is refused (exit 2)
// saying why, before the table is read: it used to be ignored.
func TestFlowsIndentNeedsJSON(t *testing.T) {
	cmd := flowsCmd(&options{})
	cmd.SetArgs([]string{"--indent"})
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.ExecuteContext(context.Background())
	if ExitCode(err) != 2 || !strings.Contains(err.Error(), "--indent indents JSON: use it with --json") || out.Len() != 0 {
		t.Errorf("flows --indent: err %v (exit %d), stdout %q; want exit 2 naming --json, no output", err, ExitCode(err), out.String())
	}
}
