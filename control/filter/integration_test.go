package filter_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os/exec"

	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	filtercol "netlens/collectors/filter"
	"netlens/control/filter"
	"netlens/control/filter/nft"
	"netlens/internal/filtertest"
	"netlens/model"
	"netlens/model/rules"
)

// TestMain doubles as the nft revert helper, as the netlens binary does
// with `netlens rules revert-watch FILE`.
func TestMain(m *testing.M) { filtertest.Main(m) }

func TestIntegrationExerciseNFT(t *testing.T) {
	ns, opt := filtertest.NFTNamespace(t)
	var ferr error
	ns.Do(t, func() {
		b, err := filter.Open(filter.Options{Backend: rules.BackendNFT, NFT: opt})
		if err != nil {
			ferr = err
			return
		}
		if b.Name() != rules.BackendNFT {
			ferr = fmt.Errorf("backend %s: %s", b.Name(), b.ReadOnly())
			return
		}
		ferr = filtertest.Exercise(b, t.Logf)
	})
	if ferr != nil {
		t.Fatal(ferr)
	}
	if out := ns.Run(t, "nft", "list", "table", "inet", "netlens"); strings.Contains(out, "exercise") {
		t.Errorf("Exercise left a rule behind:\n%s", out)
	}
}

func TestIntegrationSnapshotSchema(t *testing.T) {
	ns, opt := filtertest.NFTNamespace(t)
	store := model.NewStore("h", "k", time.Now())
	var ferr error
	ns.Do(t, func() {
		b, err := nft.New(opt)
		if err != nil {
			ferr = err
			return
		}
		for _, r := range []model.Rule{
			{Enabled: true, Hooks: []string{model.HookInput, model.HookOutput}, Proto: "udp", Dst: netip.MustParsePrefix("2001:db8::/32"),
				DstPorts: model.PortRange{Min: 53, Max: 54}, Action: model.ActionCount, Label: "dns"},
			{Enabled: false, Hooks: []string{model.HookForward}, Src: netip.MustParsePrefix("10.0.0.0/8"), OutIface: "eth0", Action: model.ActionDrop},
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
		c := filtercol.New(b)
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
