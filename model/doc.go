// Package model holds netlens's domain types and the Store that collectors
// publish into and that the UI and exporters read.
//
// model does no I/O and imports nothing from the rest of netlens. Every type
// here is a plain value. A Snapshot handed out by the Store is immutable: the
// Store never modifies a slice after it has been published, and readers must
// not modify them either.
package model
