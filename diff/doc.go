// Package diff compares two snapshots of one host (`netlens diff A B`):
// the sockets that appeared and went away (by tuple, with their owners),
// the drop-funnel counters that moved (delta and rate over the interval
// between the snapshots, in funnel order, only those that moved), the
// sysctls that changed, the filter rules added, removed or changed and
// their counter deltas, the conntrack flows that appeared and went away,
// and the collectors whose health changed.
//
// Compare is pure and safe for concurrent use.
package diff
