package ui

import (
	"errors"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/google/go-cmp/cmp"

	"netlens/model"
)

func TestParseCaptureLimit(t *testing.T) {
	tests := []struct {
		in      string
		count   int
		d       time.Duration
		wantErr string
	}{
		{in: "20", count: 20},
		{in: " 20 packets", count: 20},
		{in: "20p", count: 20},
		{in: "30s", d: 30 * time.Second},
		{in: "1h30m", d: 90 * time.Minute},
		{in: "", wantErr: "a packet count"},
		{in: "0", wantErr: "packets: 1.."},
		{in: "-3", wantErr: "packets: 1.."},
		{in: "100ms", wantErr: "duration: 1s.."},
		{in: "25h", wantErr: "duration: 1s.."},
		{in: "soon", wantErr: "not a packet count"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			n, d, err := parseCaptureLimit(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseCaptureLimit(%q) = %d, %s, %v; want an error with %q", tt.in, n, d, err, tt.wantErr)
				}
				return
			}
			if err != nil || n != tt.count || d != tt.d {
				t.Fatalf("parseCaptureLimit(%q) = %d, %s, %v; want %d, %s", tt.in, n, d, err, tt.count, tt.d)
			}
		})
	}
}

func typeInto(f *captureForm, s string) {
	for _, r := range s {
		f.key(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

func TestCaptureFormValidates(t *testing.T) {
	check := func(expr string) error {
		if strings.HasSuffix(expr, "port") {
			return errors.New("capture filter: \"port\" needs a number")
		}
		return nil
	}
	tests := []struct {
		name   string
		ifaces []string
		pick   int // right presses on the interface field
		filter string
		limit  string // replaces the default
		want   model.CaptureRequest
		probs  []string
	}{
		{name: "defaults", ifaces: []string{"any", "eth0", "lo"}, limit: "1000",
			want: model.CaptureRequest{Interface: "any", Count: 1000}, probs: []string{"", "", ""}},
		{name: "veth, filter, duration", ifaces: []string{"any", "lo", "veth0"}, pick: 2, filter: "udp port 53", limit: "30s",
			want: model.CaptureRequest{Interface: "veth0", Filter: "udp port 53", Duration: 30 * time.Second}, probs: []string{"", "", ""}},
		{name: "bad filter shown inline", ifaces: []string{"any"}, filter: "udp port", limit: "20",
			want: model.CaptureRequest{Interface: "any", Filter: "udp port", Count: 20}, probs: []string{"", `"port" needs a number`, ""}},
		{name: "no limit", ifaces: []string{"any"}, limit: "",
			want:  model.CaptureRequest{Interface: "any"},
			probs: []string{"", "", "a packet count (1000) or a duration (30s): a capture here always ends by itself"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newCaptureForm(check)
			f.setIfaces(tt.ifaces, nil)
			f.cur = cfIface
			for range tt.pick {
				f.key(tea.KeyPressMsg{Code: tea.KeyRight})
			}
			f.cur = cfFilter
			typeInto(f, tt.filter)
			f.cur = cfLimit
			f.key(tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl})
			typeInto(f, tt.limit)
			got, probs := f.request()
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.probs, probs); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			valid := true
			for _, p := range tt.probs {
				valid = valid && p == ""
			}
			if f.valid() != valid {
				t.Errorf("valid() = %v, want %v", f.valid(), valid)
			}
		})
	}
}

func TestCaptureFormWhileListing(t *testing.T) {
	f := newCaptureForm(nil)
	if f.valid() {
		t.Fatal("the form is valid before the links are listed")
	}
	f.setIfaces(nil, errors.New("EPERM"))
	req, _ := f.request()
	if req.Interface != "any" || !f.valid() {
		t.Fatalf("after a listing error: interface %q valid %v, want any true", req.Interface, f.valid())
	}
}

func FuzzParseCaptureLimit(f *testing.F) {
	for _, s := range []string{"20", "30s", "20 packets", "1h30m", "", "-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, d, err := parseCaptureLimit(s)
		if err != nil {
			return
		}
		if (n > 0) == (d > 0) || n < 0 || n > captureMaxCount || d < 0 || d > captureMaxDuration {
			t.Fatalf("parseCaptureLimit(%q) = %d, %s: want exactly one limit within bounds", s, n, d)
		}
	})
}
