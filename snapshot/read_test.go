package snapshot

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/klauspost/compress/zstd"

	"netlens/export"
	"netlens/model"
	"netlens/snapshot/snapshottest"
)

// CmpOpts compare snapshots (netip values have unexported fields; a
// snapshot's SocketsSeq and FlowsSeq are its Store's, not part of the
// file).
var cmpOpts = []cmp.Option{
	cmpopts.IgnoreFields(model.Snapshot{}, "SocketsSeq", "FlowsSeq"),
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
}

func gz(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zst(t testing.TB, b []byte) []byte {
	w, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	return w.EncodeAll(b, nil)
}

func TestDecodeRoundTrip(t *testing.T) {
	want := snapshottest.Full()
	plain, err := export.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		data []byte
	}{
		{"plain", plain},
		{"gzip", gz(t, plain)},
		{"zstd", zst(t, plain)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(bytes.NewReader(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(want, got, cmpOpts...); d != "" {
				t.Errorf("round trip (-want +got):\n%s", d)
			}
		})
	}
}

// TestDecodeV1 reads a real snapshot written by netlens at schema
// version 1 (before collectors[].errors), gzip-compressed.
func TestDecodeV1(t *testing.T) {
	snap, err := ReadFile("testdata/v1-real.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	if snap.SchemaVersion != model.SchemaVersion || snap.Host == "" || len(snap.Counters) == 0 || len(snap.Sysctls) == 0 {
		t.Fatalf("v1 snapshot read as version %d, host %q, %d counters, %d sysctls", snap.SchemaVersion, snap.Host, len(snap.Counters), len(snap.Sysctls))
	}
}

func TestDecodeErrors(t *testing.T) {
	plain, _ := export.Marshal(snapshottest.Full())
	half := plain[:len(plain)/2]
	cur := []byte(fmt.Sprintf(`"schema_version": %d`, model.SchemaVersion))
	tests := []struct {
		name string
		data []byte
		is   error
		msg  string
	}{
		{"empty", nil, ErrTruncated, "empty"},
		{"truncated JSON", half, ErrTruncated, "ends after"},
		{"truncated gzip", gz(t, plain)[:200], ErrTruncated, "gzip stream ends"},
		{"truncated zstd", zst(t, plain)[:200], ErrTruncated, "zstd stream ends"},
		{"gzip of truncated JSON", gz(t, half), ErrTruncated, "ends after"},
		{"newer version", bytes.Replace(plain, cur, []byte(`"schema_version": 9`), 1), ErrVersion, "newer than this netlens reads"},
		{"version 0", bytes.Replace(plain, cur, []byte(`"schema_version": 0`), 1), ErrVersion, "older"},
		{"no version", []byte(`{"host": "a"}`), ErrFormat, "no schema_version"},
		{"no host", []byte(`{"schema_version": 2}`), ErrFormat, "no host"},
		{"not JSON", []byte("hello"), ErrFormat, "invalid JSON"},
		{"array", []byte("[1,2]"), ErrFormat, "a JSON array, not an object"},
		{"trailing data", append(append([]byte{}, plain...), []byte("{}")...), ErrFormat, "invalid JSON"},
		{"wrong type", bytes.Replace(plain, []byte(`"seq": `), []byte(`"seq": "x", "was": `), 1), ErrFormat, "field seq: a JSON string where a number belongs"},
		{"number for an address", bytes.Replace(plain, []byte(`"local": "`), []byte(`"local": 5, "was": "`), 1), ErrFormat, "field sockets.local: a JSON number where a string belongs"},
		{"wrong type in a list", bytes.Replace(plain, []byte(`"sockets": [`), []byte(`"sockets": "x", "was": [`), 1), ErrFormat, "field sockets: a JSON string where an array belongs"},
		{"bad gzip header", []byte{0x1f, 0x8b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, ErrFormat, "gzip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(bytes.NewReader(tt.data))
			if !errors.Is(err, tt.is) {
				t.Fatalf("err = %v, want %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err = %q, want it to say %q", err, tt.msg)
			}
			if strings.Contains(err.Error(), "Go ") {
				t.Errorf("err = %q speaks of Go types", err)
			}
		})
	}
}

// TestReadFileDirectory: a directory is named as one, not as a format.
func TestReadFileDirectory(t *testing.T) {
	dir := t.TempDir()
	_, err := ReadFile(dir)
	if err == nil || err.Error() != dir+": read "+dir+": is a directory" {
		t.Errorf("err = %v, want %s: read %s: is a directory", err, dir, dir)
	}
}

func TestReadFileNamesPath(t *testing.T) {
	p := filepath.Join(t.TempDir(), "cut.json")
	plain, _ := export.Marshal(snapshottest.Full())
	os.WriteFile(p, plain[:100], 0o644)
	_, err := ReadFile(p)
	if err == nil || !strings.HasPrefix(err.Error(), p+": truncated") {
		t.Fatalf("err = %v", err)
	}
}

func TestSniff(t *testing.T) {
	for _, tt := range []struct {
		head []byte
		want Compression
	}{
		{[]byte("{\n"), None},
		{[]byte{0x1f, 0x8b, 8}, Gzip},
		{[]byte{0x28, 0xb5, 0x2f, 0xfd}, Zstd},
		{[]byte{0x28, 0xb5}, None},
		{nil, None},
	} {
		if got := Sniff(tt.head); got != tt.want {
			t.Errorf("Sniff(% x) = %s, want %s", tt.head, got, tt.want)
		}
	}
}

// FuzzDecode: Decode never panics, and whatever it accepts encodes and
// decodes to the same snapshot.
func FuzzDecode(f *testing.F) {
	plain, _ := export.Marshal(snapshottest.Full())
	f.Add(plain)
	f.Add(gz(f, plain))
	f.Add(zst(f, plain))
	f.Add([]byte(`{"schema_version":1,"host":"h"}`))
	f.Add([]byte(`{"schema_version":2,"host":"h","sockets":[{"local":"1.2.3.4:5","state":"LISTEN"}],"flows":[{"status":["ASSURED"]}]}`))
	maxBytes = 1 << 20
	defer func() { maxBytes = MaxBytes }()
	f.Fuzz(func(t *testing.T, data []byte) {
		snap, err := Decode(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrFormat) && !errors.Is(err, ErrVersion) {
				t.Fatalf("error wraps none of the sentinel errors: %v", err)
			}
			return
		}
		b, err := export.Marshal(snap)
		if err != nil {
			return // e.g. a NaN rate cannot be encoded; not the reader's concern
		}
		again, err := Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("re-decode of an accepted snapshot: %v", err)
		}
		b2, _ := export.Marshal(again)
		if !bytes.Equal(b, b2) {
			t.Fatalf("encode/decode is not stable:\n%s\n%s", b, b2)
		}
	})
}

// TestDecodeVersion2 reads a schema 2 snapshot (before ipsec) as today's.
func TestDecodeVersion2(t *testing.T) {
	plain, _ := export.Marshal(snapshottest.Full())
	v2 := bytes.Replace(plain, []byte(fmt.Sprintf(`"schema_version": %d`, model.SchemaVersion)), []byte(`"schema_version": 2`), 1)
	snap, err := Decode(bytes.NewReader(v2))
	if err != nil {
		t.Fatal(err)
	}
	if snap.SchemaVersion != model.SchemaVersion || snap.Host == "" {
		t.Errorf("v2 snapshot read as version %d, host %q", snap.SchemaVersion, snap.Host)
	}
}
