package nft

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"netlens/model"
)

func TestLogCopyRoundTrip(t *testing.T) {
	for _, r := range []model.Rule{
		{ID: 7, Proto: "udp", DstPorts: model.PortRange{Min: 53, Max: 53}, Action: model.ActionDrop, Log: true, LogRate: 25},
		{ID: 9, Action: model.ActionCount, Log: true}, // default rate
	} {
		ex, err := logCopyExprs(r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeLogCopy(ex)
		if err != nil {
			t.Fatal(err)
		}
		want := logCounts{rate: max(r.LogRate, defaultLogRate)}
		if diff := cmp.Diff(want, got, cmp.AllowUnexported(logCounts{})); diff != "" {
			t.Errorf("rule %d (-want +got):\n%s", r.ID, diff)
		}
		if _, err := decodeLogCopy(ex[:len(ex)-1]); err == nil {
			t.Errorf("a log copy without its log decoded")
		}
		id, action, ok := parseLogPrefix(logPrefix(r))
		if !ok || id != r.ID || action != r.Action {
			t.Errorf("prefix %q reads back as %d %q %v", logPrefix(r), id, action, ok)
		}
	}
	if _, err := decodeLogCopy(nil); err == nil {
		t.Error("no expressions decoded as a log copy")
	}
}

// FuzzParseLogPrefix: any prefix (another program's log group 20044 too)
// is read without panic, and what it accepts is what logPrefix writes.
func FuzzParseLogPrefix(f *testing.F) {
	f.Add("netlens 7 drop")
	f.Add("netlens 0 count")
	f.Add("iptables: ")
	f.Fuzz(func(t *testing.T, s string) {
		id, action, ok := parseLogPrefix(s)
		if !ok {
			return
		}
		if got := logPrefix(model.Rule{ID: id, Action: action}); got != strings.Join(strings.Fields(s), " ") && !strings.Contains(s, "+") && !strings.HasPrefix(strings.Fields(s)[1], "0") {
			t.Fatalf("%q -> %d %q -> %q", s, id, action, got)
		}
	})
}
