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
// interval (at least 2s). ctx ending (Ctrl-C) is a normal end, before
// the first sample too: Watch then returns nil.
func Watch(ctx context.Context, w io.Writer, r *collectors.Runner, store *model.Store, interval time.Duration, count int, asJSON bool) error {
	if interval <= 0 {
		interval = time.Second
	}
	timeout := max(interval, 2*time.Second)
	r.Once(ctx, timeout)
	prev := store.Snapshot()
	t := time.NewTicker(interval)
	defer t.Stop()
	for i := 0; count <= 0 || i < count; i++ {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		r.Once(ctx, timeout)
		cur := store.Snapshot()
		if err := PrintMoved(w, []model.Snapshot{prev, cur}, asJSON); err != nil {
			return err
		}
		prev = cur
	}
	return nil
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
