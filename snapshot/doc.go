// Package snapshot reads netlens JSON snapshots back into model.Snapshot
// values: the files the TUI's 's', `netlens snapshot` and `netlens record`
// write (the schema is docs/snapshot.schema.json).
//
// A file may be plain JSON or compressed with gzip or zstd; Decode tells
// which by its first bytes, not by its name. The schema_version is
// checked: an older version this netlens still understands is read, a
// newer or unknown one is refused with a message that says what to do.
// A truncated file is an error wrapping ErrTruncated that says where it
// ends.
//
// Everything here is safe for concurrent use.
package snapshot
