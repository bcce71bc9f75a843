package filtertest

import (
	"fmt"
	"os"
	"os/exec"
	"testing"

	"netlens/control/filter/nft"
	"netlens/internal/netnstest"
)

// Main is a TestMain that doubles as the nft revert helper, as the
// netlens binary does with `netlens rules revert-watch FILE`.
func Main(m *testing.M) {
	if len(os.Args) == 4 && os.Args[1] == "rules" && os.Args[2] == "revert-watch" {
		if err := nft.RevertWatch(os.Args[3]); err != nil {
			fmt.Fprintln(os.Stderr, "revert-watch:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// NFTNamespace returns a new network namespace and nft backend options
// whose revert helper is the test binary (see Main).
func NFTNamespace(t *testing.T) (*netnstest.NS, nft.Options) {
	t.Helper()
	ns := netnstest.New(t, "nlflt")
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("needs nft(8) (apt-get install -y nftables)")
	}
	return ns, nft.Options{StateDir: t.TempDir(), HelperCmd: []string{os.Args[0], "rules", "revert-watch"}}
}
