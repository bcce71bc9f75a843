package filter

import "netlens/model/rules"

// Control is the filter control the TUI holds (it satisfies
// ui.FilterControl): a Manager whose changes are published at once, by
// Published (the filters collector's Refresh), rather than at the next
// interval.
type Control struct {
	*Manager
	// Published publishes the rules after a change; nil does nothing.
	Published func() error
}

func (c Control) publish() {
	if c.Published != nil {
		_ = c.Published()
	}
}

// Apply applies p through the Manager and publishes the result.
func (c Control) Apply(p rules.Plan) (rules.Result, error) {
	res, err := c.Manager.Apply(p)
	c.publish()
	return res, err
}

// Confirm confirms txn through the Manager and publishes the result.
func (c Control) Confirm(txn uint32) error {
	err := c.Manager.Confirm(txn)
	c.publish()
	return err
}
