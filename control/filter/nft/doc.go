// Package nft is the nftables backend of netlens filter rules: a dedicated
// table `inet netlens` with one base chain per hook (prerouting, input,
// forward, output, postrouting; type filter, priority 0, policy accept)
// and a regular chain `disabled` that no base chain jumps to, where
// disabled rules wait with their counters.
//
// A netlens rule becomes one nftables rule per hook it sits at, each with
// a counter; the rule's netlens id, priority and hook set travel in the
// rule's user data (a netlens TLV next to the comment TLV that carries the
// label, which `nft list ruleset` shows as `comment "..."`), so rules
// round-trip through the kernel. Rules in the table without that user
// data, or with matches netlens does not write, are listed as Foreign and
// left alone.
//
// Drop-capable changes are made commit-confirmed by a revert helper: a
// separate process (`netlens rules revert-watch`, setsid'd, holding the
// rule set as it was) started before the change, which restores the table
// in one atomic batch at the deadline unless the change is confirmed. See
// docs/filters.md.
package nft
