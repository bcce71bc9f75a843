package nft

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"netlens/model"
)

// TestClaimedState: a claimed state file counts as its change pending
// for claimFresh after its claim (its ctime), and not after: a claimer
// that died leaves it behind.
func TestClaimedState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "netns-1-2.json"+claimedSuffix)
	if st := claimedState(path, time.Now()); st != nil {
		t.Fatalf("no file: %+v", st)
	}
	if err := os.WriteFile(path, []byte(`{"txn": 7, "changed": [3]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if st := claimedState(path, time.Now()); st == nil || st.Txn != 7 {
		t.Errorf("just claimed: %+v, want txn 7", st)
	}
	if st := claimedState(path, time.Now().Add(claimFresh+time.Second)); st != nil {
		t.Errorf("claimed %v ago: %+v, want none", claimFresh+time.Second, st)
	}
	if err := os.WriteFile(path, []byte(`{"txn": `), 0o600); err != nil {
		t.Fatal(err)
	}
	if st := claimedState(path, time.Now()); st != nil {
		t.Errorf("a torn file: %+v, want none", st)
	}
}

// TestIntegrationClaimedStaysPending: while a revert is under way (its
// state file claimed, the rules not yet put back) List and Pending still
// report the change; once the claimed file is gone (the rules put
// back), neither does.
func TestIntegrationClaimedStaysPending(t *testing.T) {
	l := newLab(t)
	l.b.opt.HelperCmd = []string{os.Args[0], "rules", "revert-watch-dies"} // nothing reverts it by itself
	r, err := l.b.Add(model.Rule{Enabled: true, Action: model.ActionDrop, Label: "pending"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	path, err := l.b.statePath()
	if err != nil {
		t.Fatal(err)
	}
	check := func(when string, want uint32) {
		t.Helper()
		rules, err := l.b.List()
		if err != nil {
			t.Fatal(err)
		}
		txn, _, ok := l.b.Pending()
		if len(rules) != 1 || rules[0].PendingTxn != want || txn != want || ok != (want != 0) {
			t.Errorf("%s: rules %+v, Pending %d %v; want txn %d", when, rules, txn, ok, want)
		}
	}
	check("armed", r.PendingTxn)
	// A reverter's claim (claimAndRestore), before it puts back the rules.
	if err := os.Rename(path, path+claimedSuffix); err != nil {
		t.Fatal(err)
	}
	check("claimed", r.PendingTxn)
	if err := os.Remove(path + claimedSuffix); err != nil {
		t.Fatal(err)
	}
	check("claimed file gone", 0)
}
