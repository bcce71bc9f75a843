package jsonenc

import (
	"fmt"
	"io"
	"reflect"
	"strings"

	"netlens/model"
)

// WriteSnapshot writes snap to w as json.Marshal (compact) or
// json.MarshalIndent(snap, "", "  ") (indent) would, plus a newline:
// the sockets and flows record by record, the other fields one at a
// time through encoding/json.
func WriteSnapshot(out io.Writer, snap model.Snapshot, indent bool) error {
	w := NewWriter(out, indent)
	if err := w.snapshot(&snap); err != nil {
		return fmt.Errorf("encode snapshot: %w", err)
	}
	return w.Flush()
}

var snapshotType = reflect.TypeFor[model.Snapshot]()

func (w *Writer) snapshot(snap *model.Snapshot) error {
	v := reflect.ValueOf(snap).Elem()
	w.RawString("{")
	n := 0
	for i := range snapshotType.NumField() {
		f := snapshotType.Field(i)
		tag := f.Tag.Get("json")
		if !f.IsExported() || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		fv := v.Field(i)
		if omitted(fv, opts) {
			continue
		}
		if n > 0 {
			w.RawString(",")
		}
		n++
		w.rec = appendString(w.rec[:0], name)
		w.rec = append(w.rec, ':')
		w.Raw(w.rec)
		var err error
		switch x := fv.Addr().Interface().(type) {
		case *[]model.Socket:
			err = w.sockets(*x)
		case *[]model.Flow:
			err = w.flows(*x)
		default:
			w.rec, err = appendMarshal(w.rec[:0], fv.Interface())
			w.Raw(w.rec)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	w.RawString("}")
	return nil
}

func (w *Writer) sockets(s []model.Socket) error {
	if s == nil {
		w.RawString("null")
		return nil
	}
	a := w.Array()
	for i := range s {
		if err := a.Socket(&s[i]); err != nil {
			return err
		}
	}
	a.Close()
	return nil
}

func (w *Writer) flows(f []model.Flow) error {
	if f == nil {
		w.RawString("null")
		return nil
	}
	a := w.Array()
	for i := range f {
		if err := a.Flow(&f[i]); err != nil {
			return err
		}
	}
	a.Close()
	return nil
}

// omitted reports whether encoding/json leaves out a field of value v
// with tag options opts (omitempty, omitzero).
func omitted(v reflect.Value, opts string) bool {
	for o := range strings.SplitSeq(opts, ",") {
		switch o {
		case "omitempty":
			switch v.Kind() {
			case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
				if v.Len() == 0 {
					return true
				}
			case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
				reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
				reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
				if v.IsZero() {
					return true
				}
			}
		case "omitzero":
			if isZero(v) {
				return true
			}
		}
	}
	return false
}

type isZeroer interface{ IsZero() bool }

// isZero reports whether encoding/json's omitzero leaves v out: a nil
// pointer or interface, else the type's IsZero method (on the value or,
// for an addressable v, its pointer), else the zero value.
func isZero(v reflect.Value) bool {
	if (v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface) && v.IsNil() {
		return true
	}
	if z, ok := v.Interface().(isZeroer); ok {
		return z.IsZero()
	}
	if v.CanAddr() {
		if z, ok := v.Addr().Interface().(isZeroer); ok {
			return z.IsZero()
		}
	}
	return v.IsZero()
}
