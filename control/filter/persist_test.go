package filter

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"netlens/model"
	"netlens/model/rules"
)

func TestParseRulesFile(t *testing.T) {
	rs, err := LoadFile("testdata/rules.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 3 || rs[1].Label != "bad net" || rs[1].Enabled || rs[2].DstPorts.Max != 2000 || rs[2].Dst.String() != "2001:db8::/32" {
		t.Fatalf("rules: %+v", rs)
	}
	// round trip: save what was loaded, load it again
	var buf bytes.Buffer
	if err := WriteRules(&buf, model.RulesState{Backend: "nft", Rules: rs}); err != nil {
		t.Fatal(err)
	}
	again, err := ParseRules(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rs, again, cmpRules...); diff != "" {
		t.Errorf("round trip (-want +got)\n%s", diff)
	}
}

// TestParseRulesStateful: a rules file with conntrack state, TCP flags,
// ICMP type and negation loads and saves back the same.
func TestParseRulesStateful(t *testing.T) {
	rs, err := LoadFile("testdata/stateful.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 3 || len(rs[0].CTState) != 2 || rs[1].TCPFlags != "syn/syn,ack" || rs[1].Negate[0] != "src" || rs[2].ICMP != "echo-request" {
		t.Fatalf("rules: %+v", rs)
	}
	var buf bytes.Buffer
	if err := WriteRules(&buf, model.RulesState{Backend: "kmod", Rules: rs}); err != nil {
		t.Fatal(err)
	}
	again, err := ParseRules(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rs, again, cmpRules...); diff != "" {
		t.Errorf("round trip (-want +got)\n%s", diff)
	}
}

func TestParseRulesBroken(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"broken-one-bad-rule.json", `rule 2 ("reversed"): dport: port range reversed (2000 > 1000)`},
		{"broken-unknown-field.json", `unknown field "dpotr"`},
		{"broken-bad-prefix.json", "rules file"},
		{"broken-truncated.json", "rules file"},
		{"broken-no-rules.json", `no "rules" list`},
		{"broken-stateful.json", "tcp_flags: tcp flags need protocol tcp; negate: negates dport, but the rule has no dport match"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := LoadFile(filepath.Join("testdata", tt.file))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("LoadFile = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestParseRulesPortZero: a port range from 0 in a rules file is refused,
// {"min": 0, "max": 0} above all: it decodes to the zero PortRange, any
// port, so a drop rule "for port 0" would drop every port.
func TestParseRulesPortZero(t *testing.T) {
	const rule = `{"rules":[{"action":"accept","proto":"tcp","dport":{"min":22,"max":22}},{"action":"drop","proto":"tcp","label":"zero",%s}]}`
	tests := []struct {
		ports string
		want  string // "" = valid
	}{
		{`"dport":{"min":0,"max":0}`, `rule 2 ("zero"): dport: port 0 is not a port to filter on: want 1-65535 (leave it out, or say any, to match any port)`},
		{`"sport":{"min":0,"max":0}`, `rule 2 ("zero"): sport: port 0 is not a port to filter on`},
		{`"dport":{"min":0}`, `dport: port 0 is not a port to filter on`},
		{`"dport":{"min":0,"max":80}`, `dport: port range 0-80 includes port 0, which is not a port to filter on: want 1-65535`},
		{`"dport":{"min":0,"max":65535}`, `dport: port range 0-65535 includes port 0`},
		{`"dport":{"min":1,"max":65535}`, ""},
		{`"dport":null`, ""},
		{`"dport_set":[0,80]`, ""}, // a set's 0 is port 0 itself
	}
	for _, tt := range tests {
		rs, err := ParseRules(strings.NewReader(fmt.Sprintf(rule, tt.ports)))
		if tt.want == "" {
			if err != nil || len(rs) != 2 {
				t.Errorf("%s: %v %+v, want 2 rules", tt.ports, err, rs)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) || rs != nil {
			t.Errorf("%s: %v %+v, want an error containing %q", tt.ports, err, rs, tt.want)
		}
	}
}

func TestSaveFileAtomic(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.json")
	st := model.RulesState{Backend: "kmod", Rules: []model.Rule{{ID: 1, Enabled: true, Action: model.ActionCount, Hooks: []string{"input"}, Family: "both"}}}
	if err := SaveFile(path, st); err != nil {
		t.Fatal(err)
	}
	got, err := LoadFile(path)
	if err != nil || len(got) != 1 {
		t.Fatalf("LoadFile: %v %+v", err, got)
	}
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}
}

// TestSaveFileTargets: `rules save` keeps an existing file's mode, writes
// through a symbolic link and a FIFO without replacing them, and names the
// path in its errors.
func TestSaveFileTargets(t *testing.T) {
	dir := t.TempDir()
	st := model.RulesState{Backend: "nft", Rules: []model.Rule{{ID: 1, Enabled: true, Action: model.ActionCount, Hooks: []string{"input"}, Family: "both"}}}

	private := filepath.Join(dir, "private.json")
	os.WriteFile(private, nil, 0o600)
	if err := SaveFile(private, st); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(private); fi.Mode().Perm() != 0o600 {
		t.Errorf("existing 0600 file is now %v", fi.Mode().Perm())
	}

	link := filepath.Join(dir, "link.json")
	os.Symlink("private.json", link)
	if err := SaveFile(link, st); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced")
	}

	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	got := make(chan []model.Rule, 1)
	go func() {
		f, err := os.Open(fifo)
		if err != nil {
			got <- nil
			return
		}
		defer f.Close()
		rules, _ := ParseRules(f)
		got <- rules
	}()
	if err := SaveFile(fifo, st); err != nil {
		t.Fatal(err)
	}
	select {
	case rules := <-got:
		if len(rules) != 1 {
			t.Errorf("the FIFO's reader got %d rules, want 1", len(rules))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the FIFO's reader got nothing in 10s")
	}
	if fi, _ := os.Lstat(fifo); fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the FIFO was replaced")
	}

	missing := filepath.Join(dir, "missing", "rules.json")
	err := SaveFile(missing, st)
	if err == nil || !strings.Contains(err.Error(), missing) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("save to %s: %v, want an error naming the path and wrapping ENOENT", missing, err)
	}
}

func FuzzParseRules(f *testing.F) {
	for _, name := range []string{"rules.json", "broken-one-bad-rule.json", "broken-unknown-field.json", "broken-truncated.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"rules":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := ParseRules(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, r := range rs {
			if err := rules.Validate(r); err != nil {
				t.Fatalf("ParseRules returned an invalid rule: %v", err)
			}
		}
		var buf bytes.Buffer
		if err := WriteRules(&buf, model.RulesState{Rules: rs}); err != nil {
			t.Fatal(err)
		}
		again, err := ParseRules(&buf)
		if err != nil {
			t.Fatalf("re-parse of written rules: %v\n%s", err, buf.String())
		}
		if len(again) != len(rs) {
			t.Fatalf("%d rules, then %d", len(rs), len(again))
		}
	})
}
