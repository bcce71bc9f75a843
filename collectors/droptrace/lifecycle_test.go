package droptrace

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"netlens/collectors"
	"netlens/internal/netnstest"
)

// helperEnv makes the test binary act as a helper process (TestMain):
// "hold" opens a tracer, prints its program's ID and waits to be killed;
// "open" opens one and prints the error.
const helperEnv = "NETLENS_DROPTRACE_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "hold":
		tr, err := OpenTracer(TracerOptions{})
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		id, _ := tr.progID()
		fmt.Println("attached", id)
		time.Sleep(time.Minute)
		os.Exit(0)
	case "open":
		_, err := OpenTracer(TracerOptions{})
		fmt.Printf("perm=%v\n%v\n", errors.Is(err, collectors.ErrPermission), err)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// progID returns the ID of the attached program.
func (t *Tracer) progID() (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range t.coll.Programs {
		info, err := p.Info()
		if err != nil {
			return 0, err
		}
		id, _ := info.ID()
		return int(id), nil
	}
	return 0, errors.New("no program")
}

// bpfObjects lists the IDs of what bpftool sees: "prog", "map" or "link".
func bpfObjects(t *testing.T, kind string) map[int]string {
	t.Helper()
	skip := heldByOthers(kind)
	if kind == "map" {
		// A map another process's program uses is that process's even
		// when no descriptor of it is open (a loader may close the map
		// descriptors it does not need once the program holds them).
		for id := range mapsOfPrograms(t, heldByOthers("prog")) {
			skip[id] = true
		}
	}
	return bpfList(t, kind, skip)
}

// mapsOfPrograms returns the IDs of the maps the programs in progs use.
func mapsOfPrograms(t *testing.T, progs map[int]bool) map[int]bool {
	t.Helper()
	out, err := exec.Command("bpftool", "-j", "prog", "list").Output()
	if err != nil {
		t.Fatalf("bpftool prog list: %v", err)
	}
	var list []struct {
		ID     int   `json:"id"`
		MapIDs []int `json:"map_ids"`
	}
	if err := json.Unmarshal(out, &list); err != nil {
		t.Fatalf("bpftool prog list: %v", err)
	}
	maps := map[int]bool{}
	for _, p := range list {
		if progs[p.ID] {
			for _, m := range p.MapIDs {
				maps[m] = true
			}
		}
	}
	return maps
}

// bpfList lists the BPF objects of kind that bpftool shows, but those in
// skip.
func bpfList(t *testing.T, kind string, skip map[int]bool) map[int]string {
	t.Helper()
	if _, err := exec.LookPath("bpftool"); err != nil {
		t.Skip("needs bpftool (apt-get install -y bpftool)")
	}
	out, err := exec.Command("bpftool", "-j", kind, "list").Output()
	if err != nil {
		t.Fatalf("bpftool %s list: %v", kind, err)
	}
	var objs []struct {
		ID     int    `json:"id"`
		Name   string `json:"name"`
		ProgID int    `json:"prog_id"`
	}
	if err := json.Unmarshal(out, &objs); err != nil {
		t.Fatalf("bpftool %s list: %v", kind, err)
	}
	m := map[int]string{}
	for _, o := range objs {
		// An object another live process holds is that process's (go
		// test runs other packages' tracers at the same time); what this
		// test leaks is held by this process or by no one.
		if skip[o.ID] {
			continue
		}
		m[o.ID] = o.Name + "/" + strconv.Itoa(o.ProgID)
	}
	return m
}

// ours returns the objects in after, not in before, that the tracer
// makes (programs kfree_skb_*, maps flows, flows_inner, counters, samples,
// sample_states and .rodata, and any link).
func ours(before, after map[int]string) []string {
	var out []string
	for id, name := range after {
		if _, ok := before[id]; ok {
			continue
		}
		n, _, _ := strings.Cut(name, "/")
		if strings.HasPrefix(n, "kfree_skb") || n == "flows" || n == "flows_inner" || n == "counters" || n == "samples" || n == "sample_states" || strings.HasSuffix(n, ".rodata") || n == "" {
			out = append(out, fmt.Sprintf("%d:%s", id, name))
		}
	}
	return out
}

// TestIntegrationLifecycle starts and stops the collector 100 times,
// half of them sampling: no program, map or link is left behind. Each
// cycle notes the objects this process holds while its tracer runs
// (/proc/self/fdinfo), and at the end bpftool must list none of them:
// other processes' tracers (go test runs other packages, which start
// netlens with eBPF, at the same time) cannot be mistaken for a leak.
func TestIntegrationLifecycle(t *testing.T) {
	ns := netnstest.New(t, "dt-life")
	kinds := []string{"prog", "map", "link"}
	ino, err := NetnsInode("/run/netns/" + ns.Name)
	must(t, err)
	mine := map[string]map[int]bool{}
	for _, k := range kinds {
		mine[k] = map[int]bool{}
	}
	for i := range 100 {
		// Every other cycle with the sampled stream (its ring and reader).
		c := New(Options{Netns: ino, SampleEvery: uint32(i % 2)})
		if _, err := collect(c); err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
		for _, k := range kinds {
			for id := range heldBy("/proc/self", k) {
				mine[k][id] = true
			}
		}
		must(t, c.Close())
	}
	if len(mine["prog"]) < 100 || len(mine["map"]) < 100 {
		t.Fatalf("the tracers held %d programs and %d maps in 100 cycles: the test sees none of them", len(mine["prog"]), len(mine["map"]))
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		// cilium/ebpf unmaps a map's memory (.bss, .rodata) in a GC
		// cleanup, not in Close, and the mapping holds the map: until a
		// collection runs, a closed tracer's two global-data maps are
		// alive. A quiet test process may not collect for minutes (a CI
		// run failed so); collect here, as any allocating program does.
		runtime.GC()
		var left []string
		for _, k := range kinds {
			for id, name := range bpfList(t, k, nil) {
				if mine[k][id] {
					left = append(left, fmt.Sprintf("%s %d:%s", k, id, name))
				}
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("left behind: %v", left)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// heldBy returns the IDs of the BPF objects of kind ("prog", "map",
// "link") that process dir (/proc/PID or /proc/self) has descriptors of.
func heldBy(dir, kind string) map[int]bool {
	key := kind + "_id:"
	held := map[int]bool{}
	infos, _ := filepath.Glob(dir + "/fdinfo/*")
	for _, fi := range infos {
		b, err := os.ReadFile(fi)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, key); ok {
				if id, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
					held[id] = true
				}
			}
		}
	}
	return held
}

// waitGone waits (the kernel frees programs after an RCU grace period)
// until none of the tracer's objects is left, or fails after 5 s.
func waitGone(t *testing.T, kinds []string, before map[string]map[int]string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var left []string
		for _, k := range kinds {
			for _, o := range ours(before[k], bpfObjects(t, k)) {
				left = append(left, k+" "+o)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("left behind: %v", left)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestIntegrationKilledLeavesNothing kills (SIGKILL) a process with the
// tracer attached: its program, maps and link (every BPF object it held a
// descriptor of) go with its descriptors.
func TestIntegrationKilledLeavesNothing(t *testing.T) {
	netnstest.RequireRoot(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=hold")
	out, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	line, _ := bufio.NewReader(out).ReadString('\n')
	f := strings.Fields(line)
	if len(f) != 2 || f[0] != "attached" {
		_ = cmd.Process.Kill()
		t.Fatalf("helper: %q", line)
	}
	if progs := bpfList(t, "prog", nil); !strings.HasPrefix(progs[atoi(t, f[1])], "kfree_skb_btf") {
		t.Errorf("program %s not listed by bpftool: %v", f[1], progs)
	}
	// Exactly what the helper holds (its descriptors): other processes'
	// tracers come and go meanwhile (go test runs packages at once).
	held := map[string]map[int]bool{}
	for _, k := range []string{"prog", "map", "link"} {
		held[k] = heldBy("/proc/"+strconv.Itoa(cmd.Process.Pid), k)
	}
	if !held["prog"][atoi(t, f[1])] || len(held["map"]) == 0 || len(held["link"]) == 0 {
		t.Errorf("helper holds %v, want program %s, its maps and its link", held, f[1])
	}
	must(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var left []string
		for k, ids := range held {
			for id, name := range bpfList(t, k, nil) {
				if ids[id] {
					left = append(left, fmt.Sprintf("%s %d:%s", k, id, name))
				}
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("left behind: %v", left)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	must(t, err)
	return n
}

// TestIntegrationNonRootPermission opens the tracer as nobody: the error
// wraps ErrPermission and names CAP_BPF and CAP_PERFMON.
func TestIntegrationNonRootPermission(t *testing.T) {
	netnstest.RequireRoot(t)
	dir, err := os.MkdirTemp("", "droptrace-nobody")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	must(t, os.Chmod(dir, 0o755))
	bin := filepath.Join(dir, "droptrace.test")
	b, err := os.ReadFile(os.Args[0])
	must(t, err)
	must(t, os.WriteFile(bin, b, 0o755))
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=open")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	got, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper as nobody: %v\n%s", err, got)
	}
	s := string(got)
	if !strings.HasPrefix(s, "perm=true") || !strings.Contains(s, "CAP_BPF") || !strings.Contains(s, "CAP_PERFMON") {
		t.Errorf("as nobody: %q, want an ErrPermission naming CAP_BPF and CAP_PERFMON", s)
	}
	if !strings.Contains(ReasonOf(fmt.Errorf("x: %w", errPerm)), "CAP_BPF and CAP_PERFMON") {
		t.Error("ReasonOf does not name the capabilities")
	}
}

// heldByOthers returns the ids of the BPF objects of kind (prog, map,
// link) that a process other than this one holds a descriptor of, read
// from /proc/*/fdinfo ("prog_id:", "map_id:", "link_id:").
func heldByOthers(kind string) map[int]bool {
	held := map[int]bool{}
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		if filepath.Base(p) == strconv.Itoa(os.Getpid()) {
			continue
		}
		for id := range heldBy(p, kind) {
			held[id] = true
		}
	}
	return held
}
