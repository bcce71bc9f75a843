package filter

// recoverer is implemented by backends whose reverts need a process
// (nft): Recover reverts a change whose deadline passed without its
// helper doing it.
type recoverer interface {
	Recover() (bool, error)
}

// RecoverPending lets b revert an overdue change itself. Only the control
// side calls it (Manager.Plan, and the TUI and `rules` when they open the
// filter control): reading the rules never writes.
func RecoverPending(b Backend) error {
	if r, ok := b.(recoverer); ok {
		_, err := r.Recover()
		return err
	}
	return nil
}
