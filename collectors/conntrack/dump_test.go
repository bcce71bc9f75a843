package conntrack

import (
	"encoding/binary"
	"os"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// nlmsg returns one netlink message: a header of type typ and sequence
// seq, then payload, padded to 4 bytes.
func nlmsg(typ uint16, seq uint32, payload []byte) []byte {
	b := binary.NativeEndian.AppendUint32(nil, uint32(unix.NLMSG_HDRLEN+len(payload)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = binary.NativeEndian.AppendUint16(b, unix.NLM_F_MULTI)
	b = binary.NativeEndian.AppendUint32(b, seq)
	b = binary.NativeEndian.AppendUint32(b, 0)
	b = append(b, payload...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func TestDumpEnds(t *testing.T) {
	const seq = 7
	entry := nlmsg(nfnlSubsysCTNetlink<<8, seq, []byte{2, 0, 0, 0, 1, 2, 3})
	done := nlmsg(unix.NLMSG_DONE, seq, []byte{0, 0, 0, 0})
	cat := func(bs ...[]byte) []byte {
		var b []byte
		for _, x := range bs {
			b = append(b, x...)
		}
		return b
	}
	tests := []struct {
		name string
		b    []byte
		want bool
	}{
		{"empty", nil, false},
		{"entries", cat(entry, entry), false},
		{"done at the end", cat(entry, entry, done), true},
		{"done alone", done, true},
		{"error", nlmsg(unix.NLMSG_ERROR, seq, make([]byte, 20)), true},
		{"another dump's done", cat(entry, nlmsg(unix.NLMSG_DONE, seq+1, []byte{0, 0, 0, 0})), false},
		{"length past the end", cat(entry, entry[:len(entry)-4]), true},
		{"length below a header", cat(entry, []byte{4, 0, 0, 0}, make([]byte, 12)), true},
		{"a short tail", cat(entry, []byte{1, 2}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := dumpEnds(tt.b, seq); got != tt.want {
				t.Errorf("dumpEnds = %v, want %v", got, tt.want)
			}
		})
	}
}

// FuzzDumpEnds checks dumpEnds against syscall.ParseNetlinkMessage: the
// dump reader must stop at the datagram where the decoder sees the end
// (or gives up on a malformed message), and never before.
func FuzzDumpEnds(f *testing.F) {
	b, err := os.ReadFile("testdata/ctnetlink-dump-nat.bin")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b, uint32(0))
	f.Add(append(nlmsg(nfnlSubsysCTNetlink<<8, 3, []byte{2, 0, 0, 0}), nlmsg(unix.NLMSG_DONE, 3, []byte{0, 0, 0, 0})...), uint32(3))
	f.Fuzz(func(t *testing.T, b []byte, seq uint32) {
		got := dumpEnds(b, seq)
		msgs, err := syscall.ParseNetlinkMessage(b)
		if err != nil {
			return // malformed somewhere: either answer is a stop the decoder agrees with
		}
		want := false
		for _, m := range msgs {
			if m.Header.Seq == seq && (m.Header.Type == unix.NLMSG_DONE || m.Header.Type == unix.NLMSG_ERROR) {
				want = true
			}
		}
		if got != want {
			t.Errorf("dumpEnds = %v, ParseNetlinkMessage says %v", got, want)
		}
	})
}
