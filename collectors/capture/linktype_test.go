package capture

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"netlens/collectors"
)

// TestOpenFileRawLinkType: a pcap of raw IP frames (link type 101) is
// refused as a limit of netlens, naming what it decodes, not as one of
// the kernel's.
func TestOpenFileRawLinkType(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raw.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeRaw); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, err = openFile(path)
	if err == nil {
		t.Fatal("a raw-IP pcap opened")
	}
	if !strings.Contains(err.Error(), "netlens decodes Ethernet, LINUX_SLL and LINUX_SLL2") || errors.Is(err, collectors.ErrNotSupported) || strings.Contains(err.Error(), "kernel") {
		t.Errorf("err = %v: want netlens's limit, not the kernel's", err)
	}
}
