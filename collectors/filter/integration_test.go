package filter

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"netlens/collectors/filter/nft"
	"netlens/collectors/internal/netnstest"
	"netlens/model"
)

// TestMain doubles as the nft revert helper, as the netlens binary does
// with `netlens rules revert-watch FILE`.
func TestMain(m *testing.M) {
	if len(os.Args) == 4 && os.Args[1] == "rules" && os.Args[2] == "revert-watch" {
		if err := nft.RevertWatch(os.Args[3]); err != nil {
			fmt.Fprintln(os.Stderr, "revert-watch:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func nftNS(t *testing.T) (*netnstest.NS, nft.Options) {
	t.Helper()
	ns := netnstest.New(t, "nlflt")
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("needs nft(8) (apt-get install -y nftables)")
	}
	return ns, nft.Options{StateDir: t.TempDir(), HelperCmd: []string{os.Args[0], "rules", "revert-watch"}}
}

func TestIntegrationExerciseNFT(t *testing.T) {
	ns, opt := nftNS(t)
	var ferr error
	ns.Do(t, func() {
		b, err := Open(Options{Backend: BackendNFT, NFT: opt})
		if err != nil {
			ferr = err
			return
		}
		if b.Name() != BackendNFT {
			ferr = fmt.Errorf("backend %s: %s", b.Name(), b.ReadOnly())
			return
		}
		ferr = Exercise(b, t.Logf)
	})
	if ferr != nil {
		t.Fatal(ferr)
	}
	if out := ns.Run(t, "nft", "list", "table", "inet", "netlens"); strings.Contains(out, "exercise") {
		t.Errorf("Exercise left a rule behind:\n%s", out)
	}
}

func TestIntegrationCLINft(t *testing.T) {
	ns, opt := nftNS(t)
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
func TestIntegrationSnapshotSchema(t *testing.T) {
	ns, opt := nftNS(t)
	store := model.NewStore("h", "k", time.Now())
	var ferr error
	ns.Do(t, func() {
		b, err := nft.New(opt)
		if err != nil {
			ferr = err
			return
		}
		for _, r := range []model.Rule{
			{Enabled: true, Hooks: []string{model.HookInput, model.HookOutput}, Proto: "udp", Dst: mustPrefix("2001:db8::/32"),
				DstPorts: model.PortRange{Min: 53, Max: 54}, Action: model.ActionCount, Label: "dns"},
			{Enabled: false, Hooks: []string{model.HookForward}, Src: mustPrefix("10.0.0.0/8"), OutIface: "eth0", Action: model.ActionDrop},
		} {
			if _, err := b.Add(r, 0); err != nil {
				ferr = err
				return
			}
		}
		if out, err := exec.Command("nft", "add", "rule", "inet", "netlens", "disabled", "meta", "mark", "1", "counter").CombinedOutput(); err != nil {
			ferr = fmt.Errorf("nft: %v %s", err, out)
			return
		}
		c := NewCollector(b)
		ferr = c.Collect(context.Background(), store)
		c.Close()
	})
	if ferr != nil {
		t.Fatal(ferr)
	}
	st := store.Snapshot().Rules
	if st == nil || len(st.Rules) != 3 || !st.Rules[2].Foreign {
		t.Fatalf("rules: %+v", st)
	}
	b, err := json.Marshal(store.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	sch, err := c.Compile("../../docs/snapshot.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Fatalf("snapshot does not validate: %v\n%s", err, b)
	}
}
