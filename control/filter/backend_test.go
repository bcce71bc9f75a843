package filter

import (
	"errors"
	"testing"

	"netlens/model"
	"netlens/model/rules"
)

func TestOpenUnknownBackend(t *testing.T) {
	if _, err := Open(Options{Backend: "iptables"}); !errors.As(err, new(rules.InvalidError)) {
		t.Errorf("Open(iptables) = %v, want a UsageError", err)
	}
	b, err := Open(Options{Backend: rules.BackendNone})
	if err != nil || b.Name() != rules.BackendNone || b.ReadOnly() == "" {
		t.Errorf("Open(none) = %v %v", b, err)
	}
	if _, err := b.Add(model.Rule{}, 0); err == nil {
		t.Error("read-only Add succeeded")
	}
}

func TestCapNetAdmin(t *testing.T) {
	if !capNetAdmin("Name:\tx\nCapEff:\t000001ffffffffff\n") || capNetAdmin("CapEff:\t0000000000000000\n") || capNetAdmin("") {
		t.Error("capNetAdmin")
	}
}
