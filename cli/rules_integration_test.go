package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"netlens/control/filter/nft"
	"netlens/internal/filtertest"
)

// TestMain doubles as the nft revert helper, as the netlens binary does
// with `netlens rules revert-watch FILE`.
func TestMain(m *testing.M) { filtertest.Main(m) }

func TestIntegrationCLINft(t *testing.T) {
	ns, opt := filtertest.NFTNamespace(t)
	dir := t.TempDir()
	var ferr error
	ns.Do(t, func() {
		ferr = func() error {
			b, err := nft.New(opt)
			if err != nil {
				return err
			}
			r := runCLI(t, b, nil, "", "add", "--action", "accept", "--proto", "tcp", "--dport", "22", "--label", "keep ssh")
			if r.err != nil {
				return r.err
			}
			r = runCLI(t, b, nil, "", "add", "--action", "count", "--src", "2001:db8::/32", "--hook", "input,output", "--label", "v6", "--no-revert")
			if r.err != nil {
				return r.err
			}
			if r = runCLI(t, b, nil, "", "save", filepath.Join(dir, "rules.json")); r.err != nil {
				return r.err
			}
			saved, _ := os.ReadFile(filepath.Join(dir, "rules.json"))
			bad := strings.Replace(string(saved), `"label": "v6"`, `"label": "v6", "sport": {"min": 9, "max": 1}`, 1)
			os.WriteFile(filepath.Join(dir, "bad.json"), []byte(bad), 0o600)
			before, _ := b.List()
			r = runCLI(t, b, nil, "", "load", filepath.Join(dir, "bad.json"))
			if !isUsage(r.err) || !strings.Contains(r.err.Error(), `rule 2 ("v6")`) {
				return fmt.Errorf("bad load: %v", r.err)
			}
			after, _ := b.List()
			if fmt.Sprint(before) != fmt.Sprint(after) {
				t.Errorf("a bad load changed the rules")
			}
			// the disable of the accept is drop-capable only with a drop
			// behind it; here it is not, so it applies at once.
			if r = runCLI(t, b, nil, "", "disable", fmt.Sprint(after[0].ID)); r.err != nil || !strings.HasSuffix(r.out, ": done\n") {
				return fmt.Errorf("disable: %v %s", r.err, r.out)
			}
			if r = runCLI(t, b, nil, "", "load", filepath.Join(dir, "rules.json")); r.err != nil {
				return r.err
			}
			final, _ := b.List()
			if len(final) != 2 || !final[0].Enabled || final[0].Label != "keep ssh" || final[1].Label != "v6" {
				t.Errorf("after loading the saved file: %+v", final)
			}
			return nil
		}()
	})
	if ferr != nil {
		t.Fatal(ferr)
	}
	out := ns.Run(t, "nft", "list", "table", "inet", "netlens")
	if !strings.Contains(out, `comment "keep ssh"`) || !strings.Contains(out, "ip6 saddr 2001:db8::/32") {
		t.Errorf("nft list:\n%s", out)
	}
}

// TestIntegrationSnapshotSchema publishes real nft rules (one of them
// foreign, added with nft(8)) through the collector and validates the
// snapshot against docs/snapshot.schema.json.
