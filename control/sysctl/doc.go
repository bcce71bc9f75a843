// Package sysctl changes writable net.* sysctls with a safety net: a
// value is validated (its type from the shape of the current value: an
// integer, a vector of integers, or a word; its range where the kernel
// documents one, from a small table), written with a revert deadline,
// and written back to the old value unless confirmed, also if netlens is
// killed: a revert helper process (internal/reverthelper, the same
// mechanism as control/filter/nft's) waits for the deadline, and a
// netlens holding the control reverts an overdue change whose helper
// died (Recover, RecoverLoop). Every change is logged in the
// namespace's journal (collectors/sysctl reads it: the snapshot's
// sysctl_changes section, the Sysctl tab). Changes that could cut the
// operator's SSH session are named by the guard (Risks).
//
// Files: validate.go (names, values, the range table), guard.go (the
// risks), control.go (Plan, Apply, Confirm, Recover, the journal),
// revert.go (the helper's side: RevertWatch).
package sysctl
