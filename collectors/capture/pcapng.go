package capture

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"netlens/internal/atomicfile"
)

// packetSource is where packets come from: a live ring or a file.
type packetSource interface {
	// ZeroCopyReadPacketData returns the next packet; its bytes are valid
	// until the next call. io.EOF ends a file.
	ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

// fileSource reads a pcap or pcapng file.
type fileSource struct {
	packetSource
	f    *os.File
	link layers.LinkType
}

func (s *fileSource) Close() error { return s.f.Close() }

// openFile opens a pcap or pcapng file (told apart by their magic numbers)
// of Ethernet, LINUX_SLL or LINUX_SLL2 frames.
func openFile(path string) (*fileSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	src, lt, err := newFileReader(bufio.NewReaderSize(f, 1<<20))
	if err == nil {
		if _, ok := firstLayer(lt); !ok {
			err = fmt.Errorf("link type %v: %w", lt, errLinkType)
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return &fileSource{packetSource: src, f: f, link: lt}, nil
}

// errLinkType is returned for files and interfaces whose frames netlens
// does not decode: a limit of netlens, not of the kernel
// (collectors.ErrNotSupported says "by this kernel").
var errLinkType = errors.New("not supported: netlens decodes Ethernet, LINUX_SLL and LINUX_SLL2 frames")

func newFileReader(r *bufio.Reader) (packetSource, layers.LinkType, error) {
	magic, err := r.Peek(4)
	if err != nil {
		return nil, 0, fmt.Errorf("not a pcap or pcapng file: %w", err)
	}
	if magic[0] == 0x0a && magic[1] == 0x0d && magic[2] == 0x0d && magic[3] == 0x0a {
		ng, err := pcapgo.NewNgReader(r, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			return nil, 0, err
		}
		return ng, ng.LinkType(), nil
	}
	pr, err := pcapgo.NewReader(r)
	if err != nil {
		return nil, 0, fmt.Errorf("not a pcap or pcapng file: %w", err)
	}
	return pr, pr.LinkType(), nil
}

// CheckFile opens the pcap or pcapng file path and reads its header, as
// a capture of it would: what --pcap checks before the TUI starts.
func CheckFile(path string) error {
	f, err := openFile(path)
	if err != nil {
		return err
	}
	return f.Close()
}

// packetRecord is one packet to write.
type packetRecord struct {
	ci   gopacket.CaptureInfo
	data []byte
}

// writePcapng writes packets to path as pcapng with atomicfile: a
// regular file atomically (on error no file is left behind), a device,
// FIFO or /dev/fd/N directly. A new file is 0600 less the umask: packet
// payloads are for the one who captured them.
func writePcapng(path, ifname string, link layers.LinkType, snaplen int, pkts []packetRecord) error {
	return atomicfile.Write(path, atomicfile.Private, func(w io.Writer) error {
		return writeNg(w, ifname, link, snaplen, pkts)
	})
}

func writeNg(w io.Writer, ifname string, link layers.LinkType, snaplen int, pkts []packetRecord) error {
	bw := bufio.NewWriter(w)
	ng, err := pcapgo.NewNgWriterInterface(bw, pcapgo.NgInterface{
		Name: ifname, LinkType: link, SnapLength: uint32(snaplen), TimestampResolution: 9,
	}, pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{Application: "netlens"}})
	if err != nil {
		return err
	}
	for _, p := range pkts {
		ci := p.ci
		ci.InterfaceIndex = 0 // the one interface block
		ci.CaptureLength = len(p.data)
		if err := ng.WritePacket(ci, p.data); err != nil {
			return err
		}
	}
	if err := ng.Flush(); err != nil {
		return err
	}
	return bw.Flush()
}
