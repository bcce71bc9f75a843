package snapshot

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"

	"github.com/klauspost/compress/zstd"

	"netlens/model"
)

// Errors Decode wraps, for errors.Is.
var (
	// ErrTruncated: the data ends before the snapshot does.
	ErrTruncated = errors.New("truncated")
	// ErrFormat: the data is not a netlens snapshot (not JSON, not an
	// object, no schema_version, trailing data).
	ErrFormat = errors.New("not a netlens snapshot")
	// ErrVersion: the snapshot's schema_version is one this netlens does
	// not read.
	ErrVersion = errors.New("unsupported schema_version")
)

// MinSchemaVersion is the oldest schema_version Decode reads. Versions
// from MinSchemaVersion to model.SchemaVersion differ only by fields
// added since, which read as their zero values.
const MinSchemaVersion = 1

// MaxBytes bounds the decompressed size of a snapshot (a defence against
// a compression bomb; a snapshot of 100k sockets and 65k flows is about
// 80 MB of JSON).
const MaxBytes = 1 << 30

// maxBytes is MaxBytes; the fuzz test lowers it, since decompressing a
// gigabyte per input would leave it no time to explore.
var maxBytes int64 = MaxBytes

// Compression is how a snapshot file is compressed.
type Compression string

// Compressions Decode recognises by their magic bytes.
const (
	None Compression = "none"
	Gzip Compression = "gzip" // RFC 1952: 1f 8b
	Zstd Compression = "zstd" // RFC 8878: 28 b5 2f fd
)

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// Sniff returns the compression of data that starts with head.
func Sniff(head []byte) Compression {
	switch {
	case bytes.HasPrefix(head, zstdMagic):
		return Zstd
	case bytes.HasPrefix(head, gzipMagic):
		return Gzip
	}
	return None
}

// ReadFile reads and decodes the snapshot in the file at path. Errors
// name the path.
func ReadFile(path string) (model.Snapshot, error) {
	f, err := os.Open(path)
	if err != nil {
		return model.Snapshot{}, err
	}
	defer f.Close()
	snap, err := Decode(f)
	if err != nil {
		return model.Snapshot{}, fmt.Errorf("%s: %w", path, err)
	}
	return snap, nil
}

// Decode reads one snapshot from r, decompressing it if it is gzip or
// zstd, and checks its schema_version. Unknown fields are ignored (a
// snapshot of the same version from a netlens with more sections still
// reads); anything after the snapshot but white space is an error.
func Decode(r io.Reader) (model.Snapshot, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(4)
	var body io.Reader = br
	comp := Sniff(head)
	switch comp {
	case Gzip:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return model.Snapshot{}, readErr(comp, 0, err)
		}
		defer zr.Close()
		body = zr
	case Zstd:
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(uint64(maxBytes)))
		if err != nil {
			return model.Snapshot{}, readErr(comp, 0, err)
		}
		defer zr.Close()
		body = zr
	}
	cr := &countReader{r: io.LimitReader(body, maxBytes+1)}
	data, err := io.ReadAll(cr)
	if err != nil {
		return model.Snapshot{}, readErr(comp, cr.n, err)
	}
	if int64(len(data)) > maxBytes {
		return model.Snapshot{}, fmt.Errorf("%w: larger than %d bytes uncompressed", ErrFormat, maxBytes)
	}
	return Unmarshal(data)
}

// Unmarshal decodes one uncompressed JSON snapshot from data and checks
// its schema_version.
func Unmarshal(data []byte) (model.Snapshot, error) {
	var head struct {
		SchemaVersion *int `json:"schema_version"`
		Host          string
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return model.Snapshot{}, jsonErr(data, err)
	}
	if err := checkVersion(head.SchemaVersion); err != nil {
		return model.Snapshot{}, err
	}
	var snap model.Snapshot
	if err := json.Unmarshal(data, &snap); err != nil {
		return model.Snapshot{}, jsonErr(data, err)
	}
	if snap.Host == "" {
		return model.Snapshot{}, fmt.Errorf("%w: no host", ErrFormat)
	}
	return normalize(snap), nil
}

func checkVersion(v *int) error {
	switch {
	case v == nil:
		return fmt.Errorf("%w: no schema_version field", ErrFormat)
	case *v > model.SchemaVersion:
		return fmt.Errorf("%w: schema_version %d is newer than this netlens reads (%d to %d): use a newer netlens",
			ErrVersion, *v, MinSchemaVersion, model.SchemaVersion)
	case *v < MinSchemaVersion:
		return fmt.Errorf("%w: schema_version %d is older than this netlens reads (%d to %d)",
			ErrVersion, *v, MinSchemaVersion, model.SchemaVersion)
	}
	return nil
}

// normalize gives a decoded snapshot the shape the Store gives a live
// one: empty lists rather than nil, so readers need not tell the two
// apart.
func normalize(s model.Snapshot) model.Snapshot {
	if s.Sockets == nil {
		s.Sockets = []model.Socket{}
	}
	if s.Counters == nil {
		s.Counters = []model.Counter{}
	}
	if s.Sysctls == nil {
		s.Sysctls = []model.Sysctl{}
	}
	if s.Collectors == nil {
		s.Collectors = []model.CollectorStatus{}
	}
	if s.Flows == nil {
		s.Flows = []model.Flow{}
	}
	if s.Rules != nil && s.Rules.Rules == nil {
		s.Rules.Rules = []model.Rule{}
	}
	s.SchemaVersion = model.SchemaVersion
	return s
}

// jsonErr turns a JSON error into one that says what is wrong in words:
// a truncated document (the scanner reached the end inside a value), or
// a syntax or type error with where it is.
func jsonErr(data []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case len(bytes.TrimSpace(data)) == 0:
		return fmt.Errorf("%w: empty", ErrTruncated)
	case errors.As(err, &se) && se.Offset >= int64(len(data)):
		return fmt.Errorf("%w: the JSON ends after %d bytes, in the middle of the snapshot", ErrTruncated, len(data))
	case errors.As(err, &se):
		return fmt.Errorf("%w: invalid JSON at byte %d: %v", ErrFormat, se.Offset, err)
	case errors.As(err, &te) && te.Field == "":
		return fmt.Errorf("%w: a JSON %s, not an object", ErrFormat, te.Value)
	case errors.As(err, &te):
		return fmt.Errorf("%w: field %s: a JSON %s where %s belongs", ErrFormat, te.Field, te.Value, jsonKind(te.Type))
	}
	return fmt.Errorf("%w: %v", ErrFormat, err)
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// jsonKind names what JSON value a Go type decodes from ("an array").
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "another value"
	}
	// Addresses, prefixes and times are strings in JSON.
	if t.Implements(textUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler) {
		return "a string"
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "another value"
}

func readErr(c Compression, n int64, err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: the %s stream ends after %d bytes of snapshot", ErrTruncated, c, n)
	}
	if c == None {
		return err // an uncompressed file that cannot be read (a directory)
	}
	return fmt.Errorf("%w: %s: %v", ErrFormat, c, err)
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
