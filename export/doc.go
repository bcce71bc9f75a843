// Package export writes model.Snapshots as JSON documents (the schema is
// docs/snapshot.schema.json, described field by field in docs/snapshot.md).
//
// Files are written atomically: a temporary file in the target directory,
// fsynced, then renamed over the final name, so a reader never sees a
// partial snapshot and a failure leaves nothing behind.
package export
