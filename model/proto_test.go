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
	var p Proto
	if err := json.Unmarshal([]byte(`"sctpx"`), &p); err == nil {
		t.Error(`"sctpx" read as a protocol`)
	}
	if _, err := json.Marshal(Proto(200)); err == nil {
		t.Error("Proto(200) written")
	}
	var k NATKind
	if err := json.Unmarshal([]byte(`"dnat"`), &k); err != nil || k != NATDst {
		t.Errorf(`"dnat" read as %v (%v)`, k, err)
	}
	if err := json.Unmarshal([]byte(`"masq"`), &k); err == nil {
		t.Error(`"masq" read as a NAT kind`)
	}
}
