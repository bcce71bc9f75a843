// Package drops is netlens's knowledge of drop-like counters and the
// pure functions built on it: the drop funnel (which counters to show, in
// the order a received packet meets them), explanations looked up by
// model.CounterKey, the ranking of sockets by drops, and the printer of
// `netlens drops`.
//
// The knowledge lives in one data file, knowledge.json, embedded in the
// binary: for every counter its layer, what increments it, usual causes,
// the sysctls or settings that govern it, and known traps; and for every
// kernel drop reason (include/net/dropreason-core.h) its layer and
// meaning. docs/drops.md is generated from it (go generate, see gen/); a
// test fails when the two differ, and another that a counter named in it
// does not exist on the running kernel (unless the entry says when it is
// absent).
//
// Everything here is pure and safe for concurrent use; the package does
// no I/O except reading its embedded file once.
package drops

//go:generate go run ./gen -o ../../docs/drops.md
