package cli

import (
	"strings"
	"testing"

	"netlens/collectors/droptrace"
)

// TestSwitchingSample: S switches between off and the --drop-trace-sample
// rate (else one in 100), a namespace switch's new tracer gets the
// setting in force, and without the tracer S says what it needs.
func TestSwitchingSample(t *testing.T) {
	for _, tt := range []struct {
		name      string
		flag      uint32
		wantFirst string // what the first S says
		wantAfter uint32 // the setting after it
	}{
		{"off by default", 0, "drop samples on: one drop in 100 per CPU", 100},
		{"on with the flag", 7, "drop samples off", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var s switchingSample
			s.init(tt.flag)
			if _, err := s.Toggle(); err == nil || !strings.Contains(err.Error(), "--drop-source ebpf") {
				t.Fatalf("without the tracer: err %v, want it to name --drop-source ebpf", err)
			}
			s.set(droptrace.New(droptrace.Options{}))
			msg, err := s.Toggle()
			if err != nil || !strings.HasPrefix(msg, tt.wantFirst) || s.every != tt.wantAfter {
				t.Fatalf("first S: %q, %v, every %d; want %q, every %d", msg, err, s.every, tt.wantFirst, tt.wantAfter)
			}
			msg, err = s.Toggle()
			if err != nil || s.every != tt.flag {
				t.Fatalf("second S: %q, %v, every %d; want every %d", msg, err, s.every, tt.flag)
			}
			// A namespace switch: the new tracer starts with the setting.
			s.set(droptrace.New(droptrace.Options{}))
			if s.every != tt.flag {
				t.Errorf("after a switch: every %d, want %d", s.every, tt.flag)
			}
			s.set(nil)
			if _, err := s.Toggle(); err == nil {
				t.Error("after a switch to no tracer: S worked")
			}
		})
	}
}
