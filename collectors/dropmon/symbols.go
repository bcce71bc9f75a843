package dropmon

// Symbols is the kernel's text symbols read from /proc/kallsyms. It is
// immutable once read and safe for concurrent use.
type Symbols struct{ t *symtab }

// ReadKallsyms reads /proc/kallsyms (path) for Resolve. It fails when the
// addresses read as zero (kernel.kptr_restrict, or no CAP_SYSLOG).
func ReadKallsyms(path string) (*Symbols, error) {
	t, err := readKallsyms(path)
	if err != nil {
		return nil, err
	}
	return &Symbols{t}, nil
}

// Resolve returns pc as "symbol+0xoffset" (with " [module]" for module
// symbols), or "" when no symbol covers it or s is nil.
func (s *Symbols) Resolve(pc uint64) string {
	if s == nil {
		return ""
	}
	return s.t.resolve(pc)
}
