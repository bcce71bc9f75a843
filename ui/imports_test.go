package ui

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportsNoKernelAccess: the UI compiles in no package that talks to
// the kernel (netlink, nftables, eBPF, AF_PACKET) and none of netlens's
// collectors or control planes; it reaches them only through the
// interfaces in options.go, wired in cli. See docs/architecture.md.
func TestImportsNoKernelAccess(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	forbidden := []string{
		"github.com/mdlayher/netlink", "github.com/mdlayher/genetlink",
		"github.com/google/nftables", "github.com/cilium/ebpf",
		"github.com/gopacket/gopacket/afpacket", "github.com/ti-mo/conntrack",
		"netlens/collectors", "netlens/control",
	}
	var bad []string
	for _, pkg := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if pkg == f || strings.HasPrefix(pkg, f+"/") {
				bad = append(bad, pkg)
			}
		}
	}
	if len(bad) > 0 {
		t.Errorf("ui imports, directly or not: %s", strings.Join(bad, ", "))
	}
	if !strings.Contains(string(out), "netlens/model\n") {
		t.Errorf("go list -deps lists no netlens/model; is the output what this test expects?\n%s", out)
	}
}
