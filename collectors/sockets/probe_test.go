package sockets

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAppendProbeKey(t *testing.T) {
	tests := []struct {
		name, file, text, want string
	}{
		{"sockstat: host-wide fields left out", "sockstat",
			"sockets: used 22\nTCP: inuse 21 orphan 3 tw 1 alloc 900 mem 17\nUDP: inuse 2 mem 4\nUDPLITE: inuse 0\nRAW: inuse 0\nFRAG: inuse 0 memory 0\n",
			"TCP: inuse 21 tw 1 \nUDP: inuse 2 \nUDPLITE: inuse 0 \nRAW: inuse 0 \nFRAG: inuse 0 memory 0 \n"},
		{"sockstat6 whole", "sockstat6", "TCP6: inuse 1\nUDP6: inuse 0\n", "TCP6: inuse 1 \nUDP6: inuse 0 \n"},
		{"no newline at the end", "sockstat", "TCP: inuse 1 mem", "TCP: inuse 1 mem \n"},
		{"dev whole", "dev", "    lo:  1720 30 0\n", "    lo:  1720 30 0\n"},
		{"empty", "sockstat", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(appendProbeKey(nil, tt.file, []byte(tt.text)))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
	// Host-wide counters moving change nothing; a namespace's do.
	a := appendProbeKey(nil, "sockstat", []byte("TCP: inuse 2 orphan 0 tw 0 alloc 5 mem 1\n"))
	b := appendProbeKey(nil, "sockstat", []byte("TCP: inuse 2 orphan 9 tw 0 alloc 50 mem 10\n"))
	c := appendProbeKey(nil, "sockstat", []byte("TCP: inuse 3 orphan 0 tw 0 alloc 5 mem 1\n"))
	if !bytes.Equal(a, b) || bytes.Equal(a, c) {
		t.Errorf("keys: %q %q %q", a, b, c)
	}
}

// TestProbeRead: the probe of this process's namespace reads the three
// files again on each read, from the start.
func TestProbeRead(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{"sockstat": "TCP: inuse 1 orphan 0 tw 0 alloc 1 mem 0\n", "sockstat6": "TCP6: inuse 0\n", "dev": "lo: 1 2\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := openProbe(dir)
	defer p.close()
	s1, err := p.read()
	if err != nil {
		t.Fatal(err)
	}
	if s2, _ := p.read(); s2 != s1 {
		t.Errorf("same files, another fingerprint: %x %x", s1, s2)
	}
	if got := p.counts().inuse["tcp"]; got != 1 {
		t.Errorf("tcp inuse %d, want 1", got)
	}
	if err := os.WriteFile(filepath.Join(dir, "dev"), []byte("lo: 1 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// os.WriteFile truncates the same inode: the open file sees it.
	if s3, _ := p.read(); s3 == s1 {
		t.Error("dev changed, fingerprint did not")
	}
	if _, err := openProbe(filepath.Join(dir, "none")).read(); err == nil {
		t.Error("a probe with no file read without error")
	}
}

func FuzzAppendProbeKey(f *testing.F) {
	for _, name := range probeFiles {
		if b, err := os.ReadFile(filepath.Join("/proc/net", name)); err == nil {
			f.Add(name, b)
		}
	}
	f.Add("sockstat", []byte("TCP: mem\nsockets: used\n mem 1 mem"))
	f.Fuzz(func(t *testing.T, name string, b []byte) {
		k := appendProbeKey(nil, name, b)
		if name == "dev" && !bytes.Equal(k, b) {
			t.Fatalf("dev changed: %q", k)
		}
		if name != "dev" && bytes.Count(k, []byte("\n")) > bytes.Count(b, []byte("\n"))+1 {
			t.Fatalf("more lines than the text: %q -> %q", b, k)
		}
	})
}

// TestReadAgainGrows: a file larger than the buffer is read whole, by
// pread and by the seek fallback, and read again from the start.
func TestReadAgainGrows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big")
	want := bytes.Repeat([]byte("0123456789abcdef"), 1000) // 16,000 bytes
	if err := os.WriteFile(path, want, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i := range 2 {
		got, err := readAgain(f, nil)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("read %d: %d bytes, %v; want %d", i, len(got), err, len(want))
		}
		got, err = readSeek(f, make([]byte, 0, 10))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("seek read %d: %d bytes, %v; want %d", i, len(got), err, len(want))
		}
	}
	// /proc/net/dev of this namespace: a seq_file, read twice alike.
	d, err := os.Open("/proc/net/dev")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	a, err1 := readAgain(d, nil)
	b, err2 := readSeek(d, nil)
	if err1 != nil || err2 != nil || !bytes.Equal(a[:bytes.IndexByte(a, '\n')], b[:bytes.IndexByte(b, '\n')]) {
		t.Errorf("/proc/net/dev: %v %v\n%s\n%s", err1, err2, a, b)
	}
}
