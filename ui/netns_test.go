package ui

import (
	"errors"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"netlens/model"
)

// fakeNetNS is a NetNSControl whose Switch publishes the namespace as the
// real one does.
type fakeNetNS struct {
	store    *model.Store
	mu       sync.Mutex
	choices  []NetNSChoice
	switched []uint64
}

func (f *fakeNetNS) List() ([]NetNSChoice, error) { return f.choices, nil }

func (f *fakeNetNS) Switch(inode uint64) error {
	f.mu.Lock()
	f.switched = append(f.switched, inode)
	f.mu.Unlock()
	if inode == 99 {
		return errors.New("no such network namespace")
	}
	var n *model.NetNS
	for _, c := range f.choices {
		if c.Inode == inode && !c.Own {
			n = &model.NetNS{Inode: inode, Name: c.Name, Container: c.Container, Pod: c.Pod, Path: "/x"}
		}
	}
	f.store.Publish(model.NetNSUpdate{NetNS: n, Switch: true})
	return nil
}

// TestNetNSChoiceLabel: netlens's own namespace is called host only when
// it is PID 1's: run in a named namespace (ip netns exec) or a container,
// the picker and the status line name that one, and the host's is still
// called host.
func TestNetNSChoiceLabel(t *testing.T) {
	tests := []struct {
		name string
		c    NetNSChoice
		want string
	}{
		{"own is the host's", NetNSChoice{Inode: 1, Own: true, Host: true, Name: "x"}, "host (netlens's own)"},
		{"own is named", NetNSChoice{Inode: 2, Own: true, Name: "tta"}, "tta (netlens's own)"},
		{"own is a container's", NetNSChoice{Inode: 3, Own: true, Container: "web-1"}, "web-1 (netlens's own)"},
		{"own has no name", NetNSChoice{Inode: 4, Own: true}, "net:[4] (netlens's own)"},
		{"host, not own", NetNSChoice{Inode: 5, Host: true}, "host"},
		{"named", NetNSChoice{Inode: 6, Name: "blue"}, "blue"},
		{"all", NetNSChoice{Inode: AllNamespaces, All: true}, "all namespaces"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.label(); got != tt.want {
				t.Errorf("label() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNetNSPicker(t *testing.T) {
	store := fixtureStore()
	ctl := &fakeNetNS{store: store, choices: []NetNSChoice{
		{Inode: 4026531840, Own: true, Host: true, Enterable: true, PID: 1, Command: "/sbin/init", Procs: 120, Sockets: 30},
		{Inode: 4026532300, Name: "blue", Enterable: true, Sockets: 2},
		{Inode: 4026532400, Container: "web-1", Pod: "prod/api-7f9c", PID: 4242, Command: "nginx: master", Procs: 3, Enterable: true, Sockets: 5},
		{Inode: 4026532500, Container: "0123456789ab", PID: 5000, Command: "sleep 600", Procs: 1, Reason: "entering needs CAP_SYS_ADMIN", Sockets: -1},
	}}
	a := newTestApp(t, store, Options{Controls: Controls{NetNS: ctl}}, 140, 30)
	run := func(cmd tea.Cmd) {
		t.Helper()
		if cmd == nil {
			t.Fatal("no command")
		}
		a.Update(cmd())
	}
	run(send(a, "N"))
	s := screen(a)
	for _, want := range []string{"Network namespaces", "host (netlens's own)", "blue", "prod/api-7f9c", "web-1", "(entering needs CAP_SYS_ADMIN) sleep 600"} {
		if !strings.Contains(s, want) {
			t.Errorf("picker lacks %q:\n%s", want, s)
		}
	}
	if !strings.Contains(s, "* 4026531840") {
		t.Errorf("the current namespace is not marked:\n%s", s)
	}
	// Filter to the pod, Enter switches to it.
	send(a, "a", "p", "i")
	if s := screen(a); strings.Contains(s, "blue") || !strings.Contains(s, "web-1") {
		t.Errorf("filter 'api' shows:\n%s", s)
	}
	run(send(a, "enter"))
	if len(ctl.switched) != 1 || ctl.switched[0] != 4026532400 {
		t.Fatalf("switched %v, want [4026532400]", ctl.switched)
	}
	a.apply()
	if h := strings.Split(screen(a), "\n")[0]; !strings.Contains(h, "netns net:[4026532400] container web-1 pod prod/api-7f9c") {
		t.Errorf("header: %q", h)
	}
	if s := screen(a); !strings.Contains(s, "now reading namespace prod/api-7f9c web-1") {
		t.Errorf("status:\n%s", s)
	}
	// A namespace that cannot be entered says why and stays open.
	run(send(a, "N"))
	send(a, "s", "l", "e", "e", "p", "enter")
	if a.picker == nil || !strings.Contains(screen(a), "entering needs CAP_SYS_ADMIN") || len(ctl.switched) != 1 {
		t.Errorf("picker after enter on a non-enterable namespace:\n%s", screen(a))
	}
	// Esc clears the filter, then closes; the current one is marked.
	send(a, "esc")
	if !strings.Contains(screen(a), "* 4026532400") {
		t.Errorf("current not marked after switch:\n%s", screen(a))
	}
	send(a, "esc")
	if a.picker != nil {
		t.Error("esc did not close the picker")
	}
	// Gone: the header says so.
	store.Publish(model.NetNSUpdate{NetNS: &model.NetNS{Inode: 4026532400, Container: "web-1", Path: "/x", Gone: true}})
	a.apply()
	if h := strings.Split(screen(a), "\n")[0]; !strings.Contains(h, "GONE") {
		t.Errorf("header of a gone namespace: %q", h)
	}
	// Back to our own namespace.
	run(send(a, "N"))
	send(a, "home")
	run(send(a, "enter"))
	a.apply()
	if ctl.switched[len(ctl.switched)-1] != 0 || strings.Contains(strings.Split(screen(a), "\n")[0], "netns") {
		t.Errorf("back to own: switched %v, header %q", ctl.switched, strings.Split(screen(a), "\n")[0])
	}
}

func TestNetNSPickerUnavailable(t *testing.T) {
	a := newTestApp(t, fixtureStore(), Options{}, 100, 30)
	send(a, "N")
	if a.picker != nil || !strings.Contains(screen(a), "namespaces: not available here") {
		t.Errorf("N without a control:\n%s", screen(a))
	}
}

// TestAllNamespacesColumn: in the all-namespaces view the Connections
// table has a Namespace column, which the filter and the sort use.
func TestAllNamespacesColumn(t *testing.T) {
	store := model.NewStore("h", "k", fixedClock())
	ap := netip.MustParseAddrPort
	store.Publish(model.NetNSUpdate{NetNS: &model.NetNS{All: true, Name: "all namespaces"}, Switch: true})
	store.Publish(model.SocketsUpdate{Sockets: []model.Socket{
		{Proto: model.ProtoTCP, Local: ap("127.0.0.1:80"), Remote: ap("0.0.0.0:0"), State: model.StateListen, Namespace: "prod/api web-1", NetNS: 5,
			Procs: []model.Proc{{PID: 4242, Comm: "nginx"}}},
		{Proto: model.ProtoTCP, Local: ap("127.0.0.1:22"), Remote: ap("0.0.0.0:0"), State: model.StateListen, Namespace: "host", NetNS: 1},
	}})
	a := newTestApp(t, store, Options{}, 160, 30)
	s := screen(a)
	if !strings.Contains(s, "Namespace") || !strings.Contains(s, "prod/api web-1") || !strings.Contains(s, "netns ALL") || !strings.Contains(s, "nginx/4242") {
		t.Fatalf("no Namespace column:\n%s", s)
	}
	send(a, "/")
	for _, r := range "web-1" {
		send(a, string(r))
	}
	send(a, "enter")
	if r := rows(a); len(r) != 1 || !strings.Contains(r[0], ":80") {
		t.Errorf("filter web-1: %q", r)
	}
	// The detail names the namespace and says the PIDs are the host's.
	send(a, "enter")
	if s := screen(a); !strings.Contains(s, "held by nginx/4242 fd 0  (host PIDs)  namespace prod/api web-1 net:[5]") {
		t.Errorf("detail:\n%s", s)
	}
	// Back in one namespace, the column goes.
	store.Publish(model.NetNSUpdate{Switch: true})
	store.Publish(model.SocketsUpdate{Sockets: []model.Socket{{Proto: model.ProtoTCP, Local: ap("127.0.0.1:22"), State: model.StateListen}}})
	a.apply()
	if strings.Contains(screen(a), "Namespace") {
		t.Errorf("Namespace column outside the all-namespaces view:\n%s", screen(a))
	}
}

// TestAllNamespacesJoinOwnFlows: in the all-namespaces view the flows are
// netlens's own namespace's: a socket of another namespace whose tuple
// matches one of them (the far end of a veth pair) is not joined to it;
// each row names its namespace.
func TestAllNamespacesJoinOwnFlows(t *testing.T) {
	store := model.NewStore("h", "k", fixedClock())
	ap := netip.MustParseAddrPort
	store.Publish(model.NetNSUpdate{NetNS: &model.NetNS{All: true, Name: "all namespaces", Inode: 7}, Switch: true})
	store.Publish(model.SocketsUpdate{Sockets: []model.Socket{
		{Proto: model.ProtoTCP, Local: ap("10.77.0.1:58888"), Remote: ap("10.77.0.2:8080"), State: model.StateEstablished, Namespace: "tta", NetNS: 7},
		{Proto: model.ProtoTCP, Local: ap("10.77.0.2:8080"), Remote: ap("10.77.0.1:58888"), State: model.StateEstablished, Namespace: "ttb", NetNS: 8},
	}})
	f := flow(1, 6, "10.77.0.1:58888", "10.77.0.2:8080", "10.77.0.2:8080", "10.77.0.1:58888", model.TCPEstablished, model.StatusSeenReply|model.StatusAssured, time.Hour)
	store.Publish(model.FlowsUpdate{At: t0, Flows: []model.Flow{f}})
	a := newTestApp(t, store, Options{}, 160, 30)
	send(a, "v", "v") // the joined view
	want := map[string]string{"10.77.0.1:58888": "ESTAB A", "10.77.0.2:8080": "other netns"}
	r := rows(a)
	if len(r) != 2 || !strings.Contains(screen(a), "2 sockets, 1 with a conntrack flow") {
		t.Fatalf("joined view:\n%s", screen(a))
	}
	for _, row := range r {
		f := strings.Fields(row)
		if w := want[f[1]]; !strings.Contains(row, w) {
			t.Errorf("socket %s: %q, want %q", f[1], row, w)
		}
		// The joined view has the Namespace column too.
		if ns := map[string]string{"10.77.0.1:58888": "tta", "10.77.0.2:8080": "ttb"}[f[1]]; f[len(f)-1] != ns {
			t.Errorf("socket %s: namespace %q, want %q: %q", f[1], f[len(f)-1], ns, row)
		}
	}
	if !strings.Contains(screen(a), "Namespace") {
		t.Errorf("no Namespace column in the joined view:\n%s", screen(a))
	}
}

// TestNetNSPickerNarrow: at 80 columns, on a host without containers,
// the picker shows each namespace's PID and command (empty CONTAINER and
// POD columns took their room: the PID was cut, the command gone).
func TestNetNSPickerNarrow(t *testing.T) {
	store := fixtureStore()
	ctl := &fakeNetNS{store: store, choices: []NetNSChoice{
		{Inode: 4026531840, Own: true, Host: true, Enterable: true, PID: 1, Command: "/sbin/init", Procs: 120, Sockets: 30},
		{Inode: 4026532300, Name: "blue", Enterable: true, PID: 43312, Command: "socat TCP-LISTEN:8080", Procs: 2, Sockets: 2},
	}}
	a := newTestApp(t, store, Options{Controls: Controls{NetNS: ctl}}, 80, 24)
	if cmd := send(a, "N"); cmd != nil {
		a.Update(cmd())
	}
	s := screen(a)
	if strings.Contains(s, "CONTAINER") || !regexp.MustCompile(`4026532300 blue +43312 +2 +2 +socat TCP-LISTEN:8080`).MatchString(s) {
		t.Errorf("picker at 80 columns:\n%s", s)
	}
}
