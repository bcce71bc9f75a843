package xfrm

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nltest"
	"golang.org/x/sys/unix"

	"netlens/collectors"
	"netlens/model"
)

// fakeKernel answers XFRM dumps with fixtures.
type fakeKernel struct {
	t      *testing.T
	sas    []string
	errno  unix.Errno // answer every request with this error
	intr   int        // flag this many SA dumps interrupted
	dumps  int
	broken bool // add a message too short to decode
}

func (k *fakeKernel) fn(req []netlink.Message) ([]netlink.Message, error) {
	if k.errno != 0 {
		hdr, _ := req[0].MarshalBinary()
		data := binary.NativeEndian.AppendUint32(nil, uint32(-int32(k.errno)))
		return []netlink.Message{{Header: netlink.Header{Type: netlink.Error, Sequence: req[0].Header.Sequence, PID: req[0].Header.PID},
			Data: append(data, hdr[:16]...)}}, nil
	}
	var out []netlink.Message
	switch req[0].Header.Type {
	case msgGetSA:
		k.dumps++
		var flags netlink.HeaderFlags
		if k.intr > 0 {
			k.intr--
			flags = netlink.DumpInterrupted
		}
		for _, f := range k.sas {
			out = append(out, netlink.Message{Header: netlink.Header{Type: 0x10, Flags: flags}, Data: readFixture(k.t, f)})
		}
		if k.broken {
			out = append(out, netlink.Message{Header: netlink.Header{Type: 0x10}, Data: make([]byte, 10)})
		}
	case msgGetPolicy:
		for _, f := range []string{"policy-out-tunnel-udp53.bin", "policy-in-block-v6.bin"} {
			out = append(out, netlink.Message{Header: netlink.Header{Type: 0x13}, Data: readFixture(k.t, f)})
		}
	default:
		k.t.Fatalf("unexpected request type %d", req[0].Header.Type)
	}
	out = append(out, netlink.Message{Header: netlink.Header{Type: netlink.Done, Flags: netlink.Multi}})
	for i := range out {
		out[i].Header.Sequence = req[0].Header.Sequence
		out[i].Header.PID = req[0].Header.PID
	}
	return nltest.Multipart(out)
}

type recorder struct{ updates []model.IPsecUpdate }

func (r *recorder) Publish(u model.Update) { r.updates = append(r.updates, u.(model.IPsecUpdate)) }

func newFake(t *testing.T, k *fakeKernel) *Collector {
	c := New(Options{Now: func() time.Time { return time.Unix(100, 0) }})
	c.dialer = func() (*netlink.Conn, error) { return nltest.Dial(k.fn), nil }
	t.Cleanup(func() { c.Close() })
	return c
}

func TestCollectorPublishes(t *testing.T) {
	k := &fakeKernel{t: t, sas: []string{"sa-esp-aead-tunnel.bin", "sa-esp-cbc-hmac-esn-v6.bin"}, intr: 1}
	c := newFake(t, k)
	var rec recorder
	if err := c.Collect(context.Background(), &rec); err != nil {
		t.Fatal(err)
	}
	if len(rec.updates) != 1 {
		t.Fatalf("%d updates, want 1", len(rec.updates))
	}
	x := rec.updates[0].IPsec
	if len(x.SAs) != 2 || len(x.Policies) != 2 || !x.At.Equal(time.Unix(100, 0)) {
		t.Fatalf("got %d SAs, %d policies at %v", len(x.SAs), len(x.Policies), x.At)
	}
	if k.dumps != 2 {
		t.Errorf("%d SA dumps, want 2 (one interrupted, redone)", k.dumps)
	}
	b, err := json.Marshal(x)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range [][]byte{keyAEAD, keyCrypt, keyAuth} {
		for _, form := range [][]byte{key, []byte(fmt.Sprintf("%x", key))} {
			if bytes.Contains(b, form) || bytes.Contains([]byte(fmt.Sprintf("%+v", x)), form) {
				t.Errorf("key %q in the published update", form)
			}
		}
	}
}

func TestCollectorMalformedPublishesTheRest(t *testing.T) {
	k := &fakeKernel{t: t, sas: []string{"sa-esp-aead-tunnel.bin"}, broken: true}
	var rec recorder
	err := newFake(t, k).Collect(context.Background(), &rec)
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("err = %v, want ErrMalformed", err)
	}
	if len(rec.updates) != 1 || len(rec.updates[0].IPsec.SAs) != 1 {
		t.Fatalf("updates %+v, want the one good SA", rec.updates)
	}
}

func TestCollectorErrors(t *testing.T) {
	tests := []struct {
		errno unix.Errno
		state model.CollectorState
	}{
		{unix.EPERM, model.StateNoPermission},
		{unix.EIO, model.StateError},
	}
	for _, tt := range tests {
		t.Run(tt.errno.Error(), func(t *testing.T) {
			var rec recorder
			err := newFake(t, &fakeKernel{t: t, errno: tt.errno}).Collect(context.Background(), &rec)
			if got := collectors.Classify(err); got != tt.state {
				t.Errorf("Classify(%v) = %s, want %s", err, got, tt.state)
			}
			if len(rec.updates) != 0 {
				t.Errorf("a failed dump published %+v", rec.updates)
			}
		})
	}
}
