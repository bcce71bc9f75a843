package filter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"netlens/internal/atomicfile"
	"netlens/model"
	"netlens/model/rules"
)

// Limits of a rules file.
const (
	// MaxFileSize bounds a rules file read by LoadFile.
	MaxFileSize = 32 << 20
	// MaxRules bounds the rules of one file (the module's default
	// net.netlens.max_rules).
	MaxRules = 65536
)

// ParseRules reads a rules file: the JSON of a model.RulesState (what
// `netlens rules save` writes and the "rules" section of a snapshot).
// Every rule is validated; the error of the first bad one names it by
// position and label. Unknown fields are refused, so that a typo
// ("dpotr") is not silently a rule that matches everything. Counters and
// pending state in the file are ignored by a load; ids are kept where
// the backend can (nft; the module gives a load's rules new ids). It is
// pure.
func ParseRules(r io.Reader) ([]model.Rule, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("rules file larger than %d bytes", MaxFileSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var st model.RulesState
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("rules file: %w", err)
	}
	if dec.More() {
		return nil, errors.New("rules file: data after the JSON object")
	}
	if st.Rules == nil {
		return nil, errors.New(`rules file: no "rules" list`)
	}
	if len(st.Rules) > MaxRules {
		return nil, fmt.Errorf("rules file: %d rules, at most %d", len(st.Rules), MaxRules)
	}
	// A port range with min 0 is refused: {"min": 0, "max": 0} (or 65535)
	// decodes to the zero PortRange, any port, as if absent, so it is
	// looked for in the file itself.
	var given struct {
		Rules []struct {
			SrcPorts *model.PortRange `json:"sport"`
			DstPorts *model.PortRange `json:"dport"`
		} `json:"rules"`
	}
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(&given); err != nil {
		return nil, fmt.Errorf("rules file: %w", err)
	}
	out := make([]model.Rule, 0, len(st.Rules))
	for i, r := range st.Rules {
		if r.Foreign {
			continue
		}
		var zero []rules.FieldError
		for _, p := range []struct {
			field string
			r     *model.PortRange
		}{{"sport", given.Rules[i].SrcPorts}, {"dport", given.Rules[i].DstPorts}} {
			if p.r != nil && p.r.Min == 0 {
				zero = append(zero, rules.FieldError{Field: p.field, Msg: rules.PortZeroMsg(*p.r)})
			}
		}
		if len(zero) > 0 {
			return nil, fmt.Errorf("rule %d%s: %w", i+1, labelOf(r), &rules.ValidationError{Fields: zero})
		}
		if err := rules.Validate(r); err != nil {
			return nil, fmt.Errorf("rule %d%s: %w", i+1, labelOf(r), err)
		}
		out = append(out, r)
	}
	return out, nil
}

// LoadFile reads and validates the rules file at path.
func LoadFile(path string) ([]model.Rule, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rules, err := ParseRules(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rules, nil
}

// WriteRules writes st as a rules file.
func WriteRules(w io.Writer, st model.RulesState) error {
	if st.Rules == nil {
		st.Rules = []model.Rule{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(st)
}

// SaveFile writes st to path with atomicfile: a regular file atomically
// and fsynced, a device, FIFO or /dev/fd/N directly, "-" to standard
// output; a new file is 0644 less the umask, an existing one keeps its
// mode and owner. Errors name the path.
func SaveFile(path string, st model.RulesState) error {
	var buf bytes.Buffer
	if err := WriteRules(&buf, st); err != nil {
		return fmt.Errorf("rules save %s: %w", path, err)
	}
	if err := atomicfile.WriteFile(path, buf.Bytes(), atomicfile.Shared); err != nil {
		return fmt.Errorf("rules save: %w", err)
	}
	return nil
}
