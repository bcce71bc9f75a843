package collectors_test

import (
	"os"
	"path/filepath"
	"testing"

	"netlens/collectors"
	"netlens/internal/netnstest"
)

// TestIntegrationInNetNS: fn runs in the namespace, and afterwards no
// thread of the process is left in it (the main thread included, which
// Go cannot end), however often it is called.
func TestIntegrationInNetNS(t *testing.T) {
	ns := netnstest.New(t, "nl-innetns")
	fd := ns.FD(t)
	own, _ := os.Readlink("/proc/self/ns/net")
	var st os.FileInfo
	nsSt, err := os.Stat("/run/netns/" + ns.Name)
	if err != nil {
		t.Fatal(err)
	}
	for range 300 {
		if err := collectors.InNetNS(fd, func() { st, _ = os.Stat("/proc/thread-self/ns/net") }); err != nil {
			t.Fatal(err)
		}
		if st == nil || !os.SameFile(st, nsSt) {
			t.Fatal("fn did not run in the namespace")
		}
	}
	tasks, _ := filepath.Glob("/proc/self/task/*/ns/net")
	for _, p := range tasks {
		if l, err := os.Readlink(p); err == nil && l != own {
			t.Errorf("%s is %s, not the process's %s", p, l, own)
		}
	}
	if err := collectors.InNetNS(-1, func() { t.Error("fn ran without entering") }); err == nil {
		t.Error("no error for a bad namespace fd")
	}
}
