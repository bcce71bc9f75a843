package drops

import (
	"context"
	"io"
	"strings"
	"time"

	"netlens/collectors"
	"netlens/model"
)

// Watch is `netlens drops`: it runs every collector of r once to set the
// baseline, then count times (forever when count <= 0) waits interval,
// runs them again and prints the drop counters that moved (PrintMoved),
// until ctx is done. r must publish into store. Each run is bounded by
// interval (at least 2s). It returns ctx's error only if ctx ends before
// the first printed sample.
func Watch(ctx context.Context, w io.Writer, r *collectors.Runner, store *model.Store, interval time.Duration, count int, asJSON bool) error {
	return r.Sample(ctx, interval, count, func(prev, cur model.Snapshot) error {
		return PrintMoved(w, []model.Snapshot{prev, cur}, asJSON)
	})
}

// SettingValue is a setting of an entry with its current value.
type SettingValue struct {
	Setting
	// Name is the setting's name with DEV replaced by the counter's
	// interface, when it has one.
	Name string
	// Value is the sysctl's current value; Known is false when the
	// setting is not a sysctl or the snapshot does not hold it.
	Value string
	Known bool
}

// SettingsNow returns e's settings with the current values of the sysctls
// among them, from sysctls (a snapshot's Sysctls). instance is the
// counter's Instance: per-interface sysctls (net.ipv4.conf.DEV.rp_filter)
// are looked up for it.
func (e *Entry) SettingsNow(instance string, sysctls []model.Sysctl) []SettingValue {
	out := make([]SettingValue, 0, len(e.Settings))
	for _, s := range e.Settings {
		v := SettingValue{Setting: s, Name: s.Name}
		if s.IsSysctl() {
			if instance != "" && !strings.ContainsAny(instance, " .") && strings.Contains(s.Name, ".DEV.") {
				v.Name = strings.Replace(s.Name, ".DEV.", "."+instance+".", 1)
			}
			for _, sc := range sysctls {
				if sc.Name == v.Name {
					v.Value, v.Known = sc.Value, true
					break
				}
			}
		}
		out = append(out, v)
	}
	return out
}
