package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"netlens/control/filter"
	"netlens/internal/filtermem"
	"netlens/model"
	"netlens/model/rules"
)

type cliRun struct {
	out, errOut string
	err         error
}

func runCLI(t *testing.T, b filter.Backend, ssh *filter.SSHSession, stdin string, args ...string) cliRun {
	t.Helper()
	cmd := RulesCmd(RulesConfig{
		Open:  func(filter.Options) (filter.Backend, error) { return b, nil },
		Guard: func(context.Context) filter.GuardInput { return filter.GuardInput{SSH: ssh} },
	})
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return cliRun{out.String(), errOut.String(), err}
}

func isUsage(err error) bool { return ExitCode(err) == 2 }

func TestCLIUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"add", "--action", "drop", "--proto", "tcp", "--dport", "2000-1000"},
		{"add", "--action", "drop", "--src", "10.0.0.0/33"},
		{"add", "--action", "masquerade"},
		{"add", "--action", "drop", "--hook", "ingress"},
		{"add", "--action", "drop", "--iif", "a/b"},
		{"add", "--action", "drop", "--label", strings.Repeat("x", 65)},
		{"add", "--action", "drop", "--bogus"},
		{"add"},
		{"del"},
		{"del", "x"},
		{"enable", "0"},
		{"enable", "99"},
		{"list", "extra"},
		{"confirm", "1", "2"},
		{"add", "--action", "drop", "--revert", "0s"},
		{"load", "-"},
		{"add", "--action", "drop", "--src-set", "10.0.0.1,bogus"},
		{"add", "--action", "drop", "--src-set", "10.0.0.1", "--src", "10.0.0.0/8"},
		{"add", "--action", "drop", "--dport-set", "22"},
		{"add", "--action", "drop", "--src-set", "@/nonexistent/set-file"},
		{"add", "--action", "count", "--log", "--log-rate", "100001"},
		{"log", "1", "2"},
		{"log", "99"},
		{"add", "--action", "drop", "--ct-state", "new,half-open"},
		{"add", "--action", "drop", "--icmp", "echo-request"},
		{"add", "--action", "drop", "--proto", "udp", "--tcp-flags", "syn"},
		{"add", "--action", "drop", "--proto", "tcp", "--tcp-flags", "syn,xmas"},
		{"add", "--action", "drop", "--negate", "dport"},
		{"add", "--action", "drop", "--negate", "proto"},
	} {
		b := &filtermem.Backend{}
		r := runCLI(t, b, nil, `{"rules":[{"action":"drop","dport":{"min":9,"max":1}}]}`, args...)
		if !isUsage(r.err) {
			t.Errorf("%q: err %v, want a UsageError (exit 2)", args, r.err)
		}
		if len(b.Rules) != 0 {
			t.Errorf("%q changed the rules: %+v", args, b.Rules)
		}
	}
}

func TestCLIGuardRefusesOwnSession(t *testing.T) {
	b := &filtermem.Backend{}
	ssh := session("192.0.2.7 50022 10.0.0.1 22")
	r := runCLI(t, b, ssh, "", "add", "--action", "drop", "--proto", "tcp", "--dport", "22", "--label", "oops")
	if !errors.Is(r.err, ErrWouldCutSession) || isUsage(r.err) {
		t.Fatalf("err = %v, want ErrWouldCutSession", r.err)
	}
	if !strings.Contains(r.err.Error(), "tcp 192.0.2.7:50022 -> 10.0.0.1:22") || !strings.Contains(r.err.Error(), "--force") {
		t.Errorf("refusal does not say why: %v", r.err)
	}
	if len(b.Rules) != 0 {
		t.Fatalf("refused change applied: %+v", b.Rules)
	}
	r = runCLI(t, b, ssh, "", "add", "--action", "drop", "--proto", "tcp", "--dport", "22", "--force", "--json")
	if r.err != nil {
		t.Fatal(r.err)
	}
	var res struct {
		Rule model.Rule `json:"rule"`
		Txn  uint32     `json:"txn"`
		Cuts string     `json:"cuts"`
	}
	if err := json.Unmarshal([]byte(r.out), &res); err != nil {
		t.Fatalf("%v\n%s", err, r.out)
	}
	if res.Txn == 0 || res.Rule.ID == 0 || !strings.Contains(res.Cuts, "YOUR SSH SESSION") {
		t.Errorf("forced add: %+v", res)
	}
	if !strings.Contains(r.errOut, "warning") {
		t.Errorf("no warning on stderr: %q", r.errOut)
	}
	r = runCLI(t, b, ssh, "", "confirm")
	if r.err != nil || b.Rules[0].PendingTxn != 0 {
		t.Errorf("confirm: %v %+v", r.err, b.Rules)
	}
}

func TestCLIListSaveLoad(t *testing.T) {
	b := &filtermem.Backend{}
	for _, args := range [][]string{
		{"add", "--action", "accept", "--proto", "tcp", "--dport", "22", "--label", "ssh"},
		{"add", "--action", "count", "--src", "2001:db8::/32", "--hook", "input,output", "--label", "v6"},
		{"add", "--action", "drop", "--proto", "udp", "--dport", "9", "--disabled"},
	} {
		if r := runCLI(t, b, nil, "", args...); r.err != nil {
			t.Fatalf("%q: %v", args, r.err)
		}
	}
	r := runCLI(t, b, nil, "", "list")
	if r.err != nil || !strings.Contains(r.out, "tcp * -> *:22") || !strings.Contains(r.out, "off") {
		t.Errorf("list: %v\n%s", r.err, r.out)
	}
	path := filepath.Join(t.TempDir(), "rules.json")
	if r := runCLI(t, b, nil, "", "save", path); r.err != nil {
		t.Fatal(r.err)
	}
	saved, _ := os.ReadFile(path)
	// load into another backend: the same rules
	b2 := &filtermem.Backend{}
	if r := runCLI(t, b2, nil, "", "load", path); r.err != nil {
		t.Fatal(r.err)
	}
	if len(b2.Rules) != 3 || !rules.SameMatch(b2.Rules[1], b.Rules[1]) {
		t.Errorf("loaded %+v", b2.Rules)
	}
	// a file with one bad rule changes nothing and names it
	bad := strings.Replace(string(saved), `"label": "v6"`, `"label": "v6", "iif": "way-too-long-name0"`, 1)
	r = runCLI(t, b2, nil, bad, "load", "-")
	if !isUsage(r.err) || !strings.Contains(r.err.Error(), `rule 2 ("v6"): iif`) {
		t.Errorf("bad load: %v", r.err)
	}
	if len(b2.Calls) != 1 {
		t.Errorf("bad load reached the backend: %v", b2.Calls)
	}
}

// TestCLIPortZero: --dport 0 (and --sport 0, 0-0, 0-80) is refused with
// exit 2 and adds nothing: the zero port range is any port, so it made a
// drop rule of every port. A rules file's port range from 0 is refused too.
func TestCLIPortZero(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"add", "--action", "drop", "--proto", "tcp", "--dport", "0"},
			"dport: port 0 is not a port to filter on: want 1-65535 (leave it out, or say any, to match any port)"},
		{[]string{"add", "--action", "drop", "--proto", "tcp", "--sport", "0"}, "sport: port 0 is not a port to filter on"},
		{[]string{"add", "--action", "drop", "--proto", "udp", "--dport", "0-0"}, "dport: port 0 is not a port to filter on"},
		{[]string{"add", "--action", "drop", "--proto", "tcp", "--dport", "0-80"}, "dport: port range 0-80 includes port 0"},
		{[]string{"add", "--action", "drop", "--proto", "tcp", "--dport", "!0"}, "dport: port 0 is not a port to filter on"},
		{[]string{"add", "--action", "drop", "--proto", "tcp", "--dport", "70000"}, `port "70000" is not a number 1-65535`},
		{[]string{"change", "1", "--dport", "0"}, "dport: port 0 is not a port to filter on"},
		{[]string{"load", "-"}, `rule 1 ("zero"): dport: port 0 is not a port to filter on`},
	} {
		b := &filtermem.Backend{}
		if tt.args[0] == "change" {
			if r := runCLI(t, b, nil, "", "add", "--action", "drop", "--proto", "tcp", "--dport", "9", "--no-revert"); r.err != nil {
				t.Fatal(r.err)
			}
		}
		before := fmt.Sprint(b.Rules)
		r := runCLI(t, b, nil, `{"rules":[{"action":"drop","proto":"tcp","label":"zero","dport":{"min":0,"max":0}}]}`, tt.args...)
		if ExitCode(r.err) != 2 || !strings.Contains(r.err.Error(), tt.want) {
			t.Errorf("%q: exit %d (%v), want 2 and %q", tt.args, ExitCode(r.err), r.err, tt.want)
		}
		if r.err != nil && strings.Contains(r.err.Error(), "\n") {
			t.Errorf("%q: the message is not one line: %q", tt.args, r.err)
		}
		if fmt.Sprint(b.Rules) != before {
			t.Errorf("%q changed the rules: %+v", tt.args, b.Rules)
		}
	}
	// 1 and 65535 are ports; "" and any are any port.
	b := &filtermem.Backend{}
	for _, args := range [][]string{
		{"add", "--action", "drop", "--proto", "tcp", "--dport", "1", "--no-revert"},
		{"add", "--action", "drop", "--proto", "tcp", "--sport", "65535", "--no-revert"},
		{"add", "--action", "count", "--proto", "tcp", "--dport", "any", "--no-revert"},
	} {
		if r := runCLI(t, b, nil, "", args...); r.err != nil {
			t.Errorf("%q: %v", args, r.err)
		}
	}
	if len(b.Rules) != 3 || b.Rules[0].DstPorts != (model.PortRange{Min: 1, Max: 1}) ||
		b.Rules[1].SrcPorts != (model.PortRange{Min: 65535, Max: 65535}) || !b.Rules[2].DstPorts.Any() {
		t.Errorf("rules: %+v", b.Rules)
	}
}

// TestCLISaveWithoutBackend: with no backend that reads the rules (no
// module, no CAP_NET_ADMIN for nftables, or --filter-backend none),
// `rules save` fails and writes nothing: the file it wrote, with no
// rules, loaded later, deleted every rule. `rules policy` says why.
func TestCLISaveWithoutBackend(t *testing.T) {
	b, err := filter.Open(filter.Options{Backend: rules.BackendNone})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "rules.json")
	for _, arg := range []string{path, "-"} {
		r := runCLI(t, b, nil, "", "save", arg)
		if ExitCode(r.err) != 1 || !strings.Contains(fmt.Sprint(r.err), "backend none chosen") || r.out != "" {
			t.Errorf("save %s: exit %d (%v), output %q; want 1, the reason, nothing written", arg, ExitCode(r.err), r.err, r.out)
		}
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("save wrote %s (stat: %v)", path, err)
	}
	// rules policy says why too (it said only "none backend: this
	// filter backend has no default policy").
	if r := runCLI(t, b, nil, "", "policy"); ExitCode(r.err) != 1 || !strings.Contains(fmt.Sprint(r.err), "backend none chosen") {
		t.Errorf("policy: exit %d (%v); want 1 and the reason", ExitCode(r.err), r.err)
	}
}

// TestPrintRulesEvents: `rules list` prints the revert log under the
// rules, errors marked.
func TestPrintRulesEvents(t *testing.T) {
	at := time.Date(2026, 12, 2, 20, 0, 1, 0, time.Local)
	var buf bytes.Buffer
	printRules(&buf, model.RulesState{Backend: "nft", Events: []model.RulesEvent{
		{At: at, Txn: 7, By: "revert helper (pid 42)", Message: "cannot claim the state file x (try 1 of 5): read-only file system", Error: true},
		{At: at, Txn: 7, By: "revert helper (pid 42)", Message: "reverted at the deadline"},
	}})
	for _, want := range []string{
		"revert log: 2026-12-02 20:00:01 ERROR txn 7 revert helper (pid 42): cannot claim the state file x (try 1 of 5): read-only file system\n",
		"revert log: 2026-12-02 20:00:01 txn 7 revert helper (pid 42): reverted at the deadline\n",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("rules list output lacks %q:\n%s", want, buf.String())
		}
	}
}

func session(s string) *filter.SSHSession {
	ss, err := filter.ParseSSHConnection(s)
	if err != nil {
		panic(err)
	}
	return &ss
}

// TestCLISets: --src-set from a file (one per line, comments) and
// --dport-set from a list reach the backend as the rule's sets; the list
// shows them; "" removes one.
func TestCLISets(t *testing.T) {
	b := &filtermem.Backend{}
	path := filepath.Join(t.TempDir(), "blocklist")
	if err := os.WriteFile(path, []byte("# bad hosts\n192.0.2.1\n198.51.100.0/24  # a net\n\n192.0.2.1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, b, nil, "", "add", "--action", "drop", "--proto", "tcp", "--src-set", "@"+path, "--dport-set", "22,443",
		"--log", "--log-rate", "50", "--no-revert")
	if r.err != nil {
		t.Fatal(r.err)
	}
	got := b.Rules[0]
	if len(got.SrcSet) != 2 || got.SrcSet[0].String() != "192.0.2.1/32" || got.SrcSet[1].String() != "198.51.100.0/24" ||
		len(got.DstPortSet) != 2 || !got.Log || got.LogRate != 50 || got.Family != model.FamilyIPv4 {
		t.Fatalf("rule %+v", got)
	}
	if r := runCLI(t, b, nil, "", "list"); r.err != nil || !strings.Contains(r.out, "{2 prefixes} -> *:{2 ports}") {
		t.Errorf("list: %v\n%s", r.err, r.out)
	}
	if r := runCLI(t, b, nil, "", "change", "1", "--dport-set", "", "--dport", "22", "--no-revert"); r.err != nil {
		t.Fatal(r.err)
	}
	if got := b.Rules[0]; got.DstPortSet != nil || got.DstPorts != (model.PortRange{Min: 22, Max: 22}) || len(got.SrcSet) != 2 {
		t.Errorf("after change: %+v", got)
	}
}

// TestCLIStatefulMatches: --ct-state, --icmp, --tcp-flags, a leading !
// and --negate make the rule's fields, list shows them, a change of a
// field without ! takes its negation off, and save/load keeps them.
func TestCLIStatefulMatches(t *testing.T) {
	b := &filtermem.Backend{}
	for _, args := range [][]string{
		{"add", "--action", "drop", "--ct-state", "new", "--proto", "tcp", "--dport", "8080", "--tcp-flags", "SYN/syn,ack",
			"--src", "!10.0.0.0/8"},
		{"add", "--action", "drop", "--proto", "icmp", "--icmp", "!= echo-request", "--iif", "eth0"},
		{"add", "--action", "accept", "--ct-state", "established,related", "--negate", "ct_state"},
		{"add", "--action", "drop", "--proto", "icmpv6", "--icmp", "destination-unreachable/port-unreachable"},
	} {
		if r := runCLI(t, b, nil, "", append(args, "--no-revert")...); r.err != nil {
			t.Fatalf("%q: %v", args, r.err)
		}
	}
	want := []model.Rule{
		{CTState: []string{"new"}, TCPFlags: "syn/syn,ack", Negate: []string{"src"}},
		{ICMP: "echo-request", Negate: []string{"icmp"}},
		{CTState: []string{"established", "related"}, Negate: []string{"ct_state"}},
		{ICMP: "destination-unreachable/4"}, // the code's number (JSON keeps it)
	}
	for i, w := range want {
		got := rules.Normalize(b.Rules[i])
		if !slices.Equal(got.CTState, w.CTState) || got.TCPFlags != w.TCPFlags || got.ICMP != w.ICMP || !slices.Equal(got.Negate, w.Negate) {
			t.Errorf("rule %d: %+v, want %+v", i+1, got, w)
		}
	}
	r := runCLI(t, b, nil, "", "list")
	for _, s := range []string{"tcp !10.0.0.0/8 -> *:8080 flags syn/syn,ack ct new", "icmp * -> * type !echo-request iif eth0",
		"ct !established,related", "icmpv6 * -> * type destination-unreachable/port-unreachable"} {
		if !strings.Contains(r.out, s) {
			t.Errorf("list lacks %q:\n%s", s, r.out)
		}
	}
	if r := runCLI(t, b, nil, "", "change", "1", "--src", "192.0.2.0/24", "--no-revert"); r.err != nil {
		t.Fatal(r.err)
	}
	if got := b.Rules[0]; got.Negate != nil || got.Src.String() != "192.0.2.0/24" || got.TCPFlags == "" {
		t.Errorf("after change: %+v", got)
	}
	path := filepath.Join(t.TempDir(), "rules.json")
	if r := runCLI(t, b, nil, "", "save", path); r.err != nil {
		t.Fatal(r.err)
	}
	saved, _ := os.ReadFile(path)
	if !strings.Contains(string(saved), `"ct_state"`) || !strings.Contains(string(saved), `"negate"`) {
		t.Fatalf("saved:\n%s", saved)
	}
	b2 := &filtermem.Backend{}
	if r := runCLI(t, b2, nil, "", "load", path, "--no-revert"); r.err != nil {
		t.Fatal(r.err)
	}
	for i := range b.Rules {
		if !rules.SameMatch(b.Rules[i], b2.Rules[i]) {
			t.Errorf("rule %d after save and load: %+v, want %+v", i+1, b2.Rules[i], b.Rules[i])
		}
	}
}

// TestCLIPolicy: `rules policy` shows the policies, sets one through the
// guard (refused when it would cut the session, named), with a revert
// deadline and a confirm, and refuses bad input with exit 2.
func TestCLIPolicy(t *testing.T) {
	b := &filtermem.Backend{}
	ssh := session("192.0.2.7 50022 10.0.0.1 22")
	r := runCLI(t, b, ssh, "", "policy", "input", "drop", "--family", "ipv4")
	if !errors.Is(r.err, ErrWouldCutSession) || !strings.Contains(r.err.Error(), "the default policy (drop at ipv4 input)") {
		t.Fatalf("drop policy without an accept for ssh: %v", r.err)
	}
	if len(b.Policies) != 0 {
		t.Fatalf("refused policy applied: %v", b.Policies)
	}
	if r := runCLI(t, b, ssh, "", "add", "--action", "accept", "--proto", "tcp", "--dport", "22", "--label", "ssh"); r.err != nil {
		t.Fatal(r.err)
	}
	r = runCLI(t, b, ssh, "", "policy", "input", "drop", "--family", "ipv4", "--revert", "7s")
	if r.err != nil || !strings.Contains(r.out, "policy drop at ipv4 input: applied; it is undone at") || !strings.Contains(r.out, "netlens rules confirm 1") {
		t.Fatalf("drop policy: %v\n%s", r.err, r.out)
	}
	if got := b.Calls[len(b.Calls)-1]; got != "policy drop at ipv4 input revert=7s" {
		t.Errorf("last call %q", got)
	}
	r = runCLI(t, b, ssh, "", "policy")
	if r.err != nil || !slices.ContainsFunc(strings.Split(r.out, "\n"), func(l string) bool { return slices.Equal(strings.Fields(l), []string{"input", "drop", "accept"}) }) ||
		!strings.Contains(r.out, "pending: txn 1 reverts at") {
		t.Errorf("policy table: %v\n%s", r.err, r.out)
	}
	if r = runCLI(t, b, ssh, "", "list"); r.err != nil || !strings.Contains(r.out, "policy: drop at ipv4 input\n") || !strings.Contains(r.out, "pending: txn 1") {
		t.Errorf("list: %v\n%s", r.err, r.out)
	}
	if r = runCLI(t, b, ssh, "", "confirm"); r.err != nil {
		t.Fatalf("confirm: %v", r.err)
	}
	// deleting the ssh accept under the drop policy is refused
	r = runCLI(t, b, ssh, "", "del", "1")
	if !errors.Is(r.err, ErrWouldCutSession) || !strings.Contains(r.err.Error(), "default policy") {
		t.Errorf("delete of the ssh accept: %v", r.err)
	}
	r = runCLI(t, b, ssh, "", "policy", "input", "accept", "--json")
	if r.err != nil || !strings.Contains(r.out, `"op": "policy"`) || strings.Contains(r.out, "txn") {
		t.Errorf("accept policy: %v\n%s", r.err, r.out)
	}
	for _, args := range [][]string{
		{"policy", "input"},
		{"policy", "ingress", "drop"},
		{"policy", "input", "reject"},
		{"policy", "input", "drop", "--family", "ipx"},
		{"policy", "input", "drop", "extra"},
	} {
		if r := runCLI(t, b, ssh, "", args...); !isUsage(r.err) {
			t.Errorf("%q: err %v, want a UsageError (exit 2)", args, r.err)
		}
	}
}
