package drops

import (
	"strings"

	"netlens/model"
)

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
