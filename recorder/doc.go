// Package recorder is netlens's flight recorder (`netlens record`, and
// 'R' in the TUI): it writes a compressed snapshot into a directory
// every interval and keeps the newest ones within a count (Keep) and a
// byte budget (MaxBytes), so that the minutes before an incident are on
// disk when someone asks what happened.
//
// Files are gzip-compressed JSON snapshots (docs/snapshot.md), named
// netlens-<host>-<UTC time with milliseconds>.json.gz so that their names
// sort in time order; `netlens diff`, `netlens --open` and zcat read them
// directly. gzip rather than zstd: on a real snapshot zstd saved under 5%
// of the bytes (17.6 KB vs 17.0 KB for 286 KB of JSON, docs/performance.md),
// and gzip files open with tools every host has.
//
// Every file is written atomically (export.WriteAtomic: a temporary
// file, fsynced, renamed, the directory fsynced): a reader never sees a partial snapshot, and a
// failed write leaves nothing behind. Before each write the recorder
// checks the free space of the directory's filesystem; below MinFree it
// stops with an error that says so (ErrLowSpace), as it does when the
// disk fills during a write (ENOSPC), rather than fill the disk; and
// when one snapshot alone is larger than MaxBytes (ErrOverBudget), rather
// than keep a directory over its budget.
//
// A Recorder is safe for concurrent use.
package recorder
