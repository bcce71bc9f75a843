// Package export writes model.Snapshots as JSON documents (the schema is
// docs/snapshot.schema.json, described field by field in docs/snapshot.md).
//
// Files are written by netlens/internal/atomicfile: a regular file
// atomically (a reader never sees a partial snapshot and a failure leaves
// nothing behind), a device, FIFO or descriptor directly.
package export
