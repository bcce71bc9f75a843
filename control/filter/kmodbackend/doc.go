// Package kmodbackend is the filter backend over the netlens kernel module
// (collectors/kmod): it converts between model.Rule and kmod.Rule, makes
// drop-capable changes commit-confirmed with the module's own revert
// deadline (the kernel undoes them; nothing in user space has to
// survive), follows the module's "events" group, and reads the per-hook
// verdict counters.
package kmodbackend
