package model

import (
	"encoding/json"
	"testing"
)

// TestProtoOrderIsNames: comparing two Protos (or NATKinds) compares their
// names, as it did when they were strings: sorted columns keep their order.
func TestProtoOrderIsNames(t *testing.T) {
	for p := ProtoNone; p < ProtoUnknown; p++ {
		if !(p.String() < (p + 1).String()) {
			t.Errorf("%q (%d) sorts after %q (%d)", p, p, p+1, p+1)
		}
	}
	for k := NATNone; k < NATSrc; k++ {
		if !(k.String() < (k + 1).String()) {
			t.Errorf("%q (%d) sorts after %q (%d)", k, k, k+1, k+1)
		}
	}
}

func TestProtoText(t *testing.T) {
	for p := ProtoNone; p <= ProtoUnknown; p++ {
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var back Proto
		if err := json.Unmarshal(b, &back); err != nil || back != p {
			t.Errorf("%s read back as %v (%v)", b, back, err)
		}
		if q, err := ParseProto(p.String()); err != nil || q != p {
			t.Errorf("ParseProto(%q) = %v, %v", p, q, err)
		}
	}
	// A name a newer netlens may write reads as unknown, not as an error
	// that would lose the whole snapshot.
	var s Socket
	if err := json.Unmarshal([]byte(`{"proto":"mptcp","state":"ESTAB"}`), &s); err != nil || s.Proto != ProtoUnknown {
		t.Errorf(`"mptcp" read as %v (%v), want unknown`, s.Proto, err)
	}
	if _, err := ParseProto("mptcp"); err == nil {
		t.Error(`ParseProto("mptcp") accepted`)
	}
	if _, err := json.Marshal(Proto(200)); err == nil {
		t.Error("Proto(200) written")
	}
	var k NATKind
	if err := json.Unmarshal([]byte(`"dnat"`), &k); err != nil || k != NATDst {
		t.Errorf(`"dnat" read as %v (%v)`, k, err)
	}
	if err := json.Unmarshal([]byte(`"masq"`), &k); err != nil || k != NATNone {
		t.Errorf(`"masq" read as %v (%v), want none`, k, err)
	}
}
