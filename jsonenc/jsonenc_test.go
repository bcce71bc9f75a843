package jsonenc

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"netlens/model"
)

// filler sets every field of a value to random contents (strings with
// characters JSON must escape, invalid UTF-8, zone-scoped addresses, zero
// and non-zero times), so that a field an appender forgets or writes
// differently shows up.
type filler struct{ r *rand.Rand }

var (
	addrPortType = reflect.TypeFor[netip.AddrPort]()
	addrType     = reflect.TypeFor[netip.Addr]()
	protoType    = reflect.TypeFor[model.Proto]()
	natType      = reflect.TypeFor[model.NATKind]()
	timeType     = reflect.TypeFor[time.Time]()
)

var nasty = []string{"", "sshd", "a\"b\\c", "<tag>&amp;", "\x00\x1f\n\t\r\b\f", "\xff\xfe bad", "line\u2028sep\u2029", "日本語", "\x7f"}

func (f filler) addr() netip.Addr {
	switch f.r.IntN(4) {
	case 0:
		return netip.Addr{}
	case 1:
		return netip.AddrFrom4([4]byte{byte(f.r.Uint32()), byte(f.r.Uint32()), 1, byte(f.r.Uint32())})
	case 2:
		return netip.MustParseAddr("fe80::1%eth0")
	}
	var b [16]byte
	for i := range b {
		b[i] = byte(f.r.Uint32())
	}
	return netip.AddrFrom16(b)
}

func (f filler) fill(v reflect.Value) {
	switch v.Type() {
	case addrPortType:
		a := f.addr()
		if !a.IsValid() {
			v.Set(reflect.ValueOf(netip.AddrPort{}))
			return
		}
		v.Set(reflect.ValueOf(netip.AddrPortFrom(a, uint16(f.r.Uint32()))))
		return
	case addrType:
		v.Set(reflect.ValueOf(f.addr()))
		return
	case protoType: // one byte that names a protocol
		v.SetUint(uint64(f.r.IntN(int(model.ProtoUnknown) + 1)))
		return
	case natType:
		v.SetUint(uint64(f.r.IntN(int(model.NATSrc) + 1)))
		return
	case timeType:
		var t time.Time
		switch f.r.IntN(4) {
		case 1:
			t = time.Unix(f.r.Int64N(4e9), f.r.Int64N(1e9)).UTC()
		case 2:
			t = time.Unix(f.r.Int64N(4e9), 0).In(time.FixedZone("X", 5*3600+30*60))
		case 3:
			t = time.Now() // with a monotonic reading
		}
		v.Set(reflect.ValueOf(t))
		return
	}
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(f.r.IntN(2) == 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if f.r.IntN(3) == 0 {
			v.SetInt(0)
		} else {
			v.SetInt(f.r.Int64() >> (f.r.IntN(64)))
			if v.OverflowInt(v.Int()) {
				v.SetInt(-7)
			}
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if f.r.IntN(3) == 0 {
			v.SetUint(0)
		} else {
			x := f.r.Uint64() >> f.r.IntN(64)
			if v.OverflowUint(x) {
				x &= 0xff
			}
			v.SetUint(x)
		}
	case reflect.Float32, reflect.Float64:
		// Both of encoding/json's forms: plain, and exponents below 1e-6
		// and from 1e21 on.
		switch f.r.IntN(4) {
		case 0:
			v.SetFloat(0)
		case 1:
			v.SetFloat(f.r.Float64() * 1e6)
		default:
			v.SetFloat((f.r.Float64() - 0.5) * math.Pow(10, float64(f.r.IntN(60)-30)))
		}
	case reflect.String:
		v.SetString(nasty[f.r.IntN(len(nasty))])
	case reflect.Pointer:
		if f.r.IntN(2) == 0 {
			v.SetZero()
			return
		}
		p := reflect.New(v.Type().Elem())
		f.fill(p.Elem())
		v.Set(p)
	case reflect.Slice:
		switch f.r.IntN(3) {
		case 0:
			v.SetZero()
		default:
			n := f.r.IntN(3)
			s := reflect.MakeSlice(v.Type(), n, n)
			for i := range n {
				f.fill(s.Index(i))
			}
			v.Set(s)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				f.fill(v.Field(i))
			}
		}
	}
}

func TestAppendersKnowEveryField(t *testing.T) {
	for name, ok := range map[string]bool{"flow": flowFast, "socket": socketFast, "tcp_info": tcpFast, "rate": rateFast} {
		if !ok {
			t.Errorf("the %s appender does not know the fields of its model type (records.go): it falls back to encoding/json", name)
		}
	}
}

func TestAppendersMatchEncodingJSON(t *testing.T) {
	f := filler{rand.New(rand.NewPCG(19, 1))}
	for i := range 3000 {
		var fl model.Flow
		f.fill(reflect.ValueOf(&fl).Elem())
		want, err := json.Marshal(fl)
		if err != nil {
			t.Fatal(err)
		}
		got, err := AppendFlow(nil, &fl)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(want, got) {
			t.Fatalf("flow %d (-encoding/json +AppendFlow):\n%s", i, cmp.Diff(string(want), string(got)))
		}
		var s model.Socket
		f.fill(reflect.ValueOf(&s).Elem())
		want, _ = json.Marshal(s)
		got, _ = AppendSocket(nil, &s)
		if !bytes.Equal(want, got) {
			t.Fatalf("socket %d (-encoding/json +AppendSocket):\n%s", i, cmp.Diff(string(want), string(got)))
		}
	}
}

func TestWriteSnapshotMatchesEncodingJSON(t *testing.T) {
	f := filler{rand.New(rand.NewPCG(19, 2))}
	for i := range 200 {
		var snap model.Snapshot
		f.fill(reflect.ValueOf(&snap).Elem())
		if i == 0 {
			snap = model.Snapshot{} // nil sockets and flows: null
		}
		for _, indent := range []bool{false, true} {
			var want []byte
			var err error
			if indent {
				want, err = json.MarshalIndent(snap, "", "  ")
			} else {
				want, err = json.Marshal(snap)
			}
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, '\n')
			var got bytes.Buffer
			if err := WriteSnapshot(&got, snap, indent); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(want, got.Bytes()) {
				t.Fatalf("snapshot %d indent=%v (-encoding/json +WriteSnapshot):\n%s", i, indent, cmp.Diff(string(want), got.String()))
			}
		}
	}
}

func TestWriteFlowsMatchesEncodingJSON(t *testing.T) {
	f := filler{rand.New(rand.NewPCG(19, 3))}
	// The flows of a dump share their times, which the Writer encodes
	// once (timeCache): the same instant in another location, or another
	// instant, must not reuse it.
	now := time.Now()
	shared := []time.Time{now, now, now.In(time.FixedZone("X", 3600)), now, now.Add(time.Nanosecond), time.Unix(1e9, 0).UTC(), now.Round(0), now}
	for _, n := range []int{0, 1, 5, -len(shared)} {
		share := n < 0
		if share {
			n = -n
		}
		flows := make([]model.Flow, n)
		for i := range flows {
			f.fill(reflect.ValueOf(&flows[i]).Elem())
			if share {
				flows[i].FirstSeen, flows[i].Updated = shared[i], shared[(i+1)%len(shared)]
			}
		}
		for _, indent := range []bool{false, true} {
			var want bytes.Buffer
			enc := json.NewEncoder(&want)
			if indent {
				enc.SetIndent("", "  ")
			}
			if err := enc.Encode(flows); err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			w := NewWriter(&got, indent)
			a := w.Array()
			for i := range flows {
				if err := a.Flow(&flows[i]); err != nil {
					t.Fatal(err)
				}
			}
			a.Close()
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want.String(), got.String()); diff != "" {
				t.Errorf("%d flows indent=%v (-encoding/json +Writer):\n%s", n, indent, diff)
			}
		}
	}
}

// FuzzIndent: the streaming indenter, fed any split of a document,
// writes what json.Indent writes.
func FuzzIndent(f *testing.F) {
	f.Add([]byte(`{"a":[1,{"b":"x,y:[]{}\"\\"},[],{}],"c":{}}`), uint8(7))
	f.Add([]byte(`[]`), uint8(1))
	f.Fuzz(func(t *testing.T, doc []byte, split uint8) {
		var compact bytes.Buffer
		if json.Compact(&compact, doc) != nil {
			return
		}
		var want bytes.Buffer
		if err := json.Indent(&want, compact.Bytes(), "", "  "); err != nil {
			t.Fatal(err)
		}
		want.WriteByte('\n')
		var got bytes.Buffer
		w := NewWriter(&got, true)
		b := compact.Bytes()
		step := int(split%16) + 1
		for len(b) > 0 {
			n := min(step, len(b))
			w.Raw(b[:n])
			b = b[n:]
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want.String(), got.String()); diff != "" {
			t.Errorf("(-json.Indent +Writer):\n%s", diff)
		}
	})
}

// FuzzAppendString: appendString writes what encoding/json writes.
func FuzzAppendString(f *testing.F) {
	for _, s := range nasty {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendString(nil, s); !bytes.Equal(want, got) {
			t.Errorf("appendString(%q) = %s, want %s", s, got, want)
		}
	})
}

// benchFlow is the flow the encoding benchmarks encode: every field set.
func benchFlow() model.Flow {
	f := filler{rand.New(rand.NewPCG(19, 4))}
	var fl model.Flow
	f.fill(reflect.ValueOf(&fl).Elem())
	fl.Start, fl.FirstSeen, fl.Updated = time.Unix(1e9, 5).UTC(), time.Unix(1e9, 6).UTC(), time.Unix(1e9, 7).UTC()
	return fl
}

func BenchmarkAppendFlow(b *testing.B) {
	fl := benchFlow()
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = AppendFlow(buf[:0], &fl)
	}
}

func BenchmarkMarshalFlow(b *testing.B) {
	fl := benchFlow()
	b.ReportAllocs()
	for b.Loop() {
		json.Marshal(fl)
	}
}

// TestAppendRateNotANumber: a rate encoding/json refuses (NaN, an
// infinity) gets encoding/json's error, and nothing is appended.
func TestAppendRateNotANumber(t *testing.T) {
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		r := model.SocketRate{Known: true, TxBps: v}
		_, want := json.Marshal(r)
		got, err := appendRate([]byte("x"), &r)
		if err == nil || want == nil || err.Error() != want.Error() {
			t.Errorf("%v: error %v, want %v", v, err, want)
		}
		if string(got) != "x" {
			t.Errorf("%v: appended %q", v, got)
		}
	}
}

// TestAppendFloatMatchesEncodingJSON: every float64 form, edges included.
func TestAppendFloatMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 3))
	vals := []float64{0, math.Copysign(0, -1), 1e-6, 9.999999e-7, 1e21, 9.99999e20, -1e21, 5e-324, math.MaxFloat64, 1, -1, 0.1, 123456789.125}
	for range 20000 {
		vals = append(vals, math.Float64frombits(r.Uint64()))
	}
	for _, v := range vals {
		want, err := json.Marshal(v)
		got, ok := appendFloat(nil, v)
		if (err == nil) != ok || ok && string(got) != string(want) {
			t.Fatalf("%v (%#x): got %q %v, want %q %v", v, math.Float64bits(v), got, ok, want, err)
		}
	}
}
