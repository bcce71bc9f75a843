// Package atomicfile is the one place netlens writes files: JSON
// snapshots (`snapshot -o`, the TUI's `s` key), captures (`capture -w`),
// rules files (`rules save`) and the nft revert helper's state.
//
// What happens depends on what the target is, so that writing can never
// damage the host:
//
//   - "-" is standard output.
//   - A regular file, or a name that does not exist yet, is written
//     atomically: a temporary file in the same directory, fsynced, renamed
//     over the name, then the directory fsynced. A reader sees the old
//     content or the new, never a part; a failure leaves the old file and
//     no temporary behind.
//   - A symbolic link is followed to its target, which is written as
//     above; the link itself is kept.
//   - A target that exists and is not a regular file — a character device
//     (/dev/null, a tty), a FIFO, a Unix socket — is opened and written
//     directly, never renamed over. /dev/fd/N, /dev/stdout and
//     /proc/self/fd/N write to this process's descriptor N (as a shell
//     redirection would, at its offset); another process's
//     /proc/PID/fd/N is opened. Directories, block devices and other
//     /proc links are refused.
//
// File modes: a new file is created with the mode the caller asks for
// (Private, 0600, for captures and state; Shared, 0644, for snapshots and
// rules files) and the process's umask applies, as for any file a program
// creates. An existing file keeps its mode (permission, setuid, setgid and
// sticky bits) and its owner and group. Where the owner cannot be kept
// (not root, and the file belongs to someone else), the file is
// truncated and written in place instead, which keeps the owner but is not
// atomic. Extended attributes and ACLs of an existing file are not copied.
//
// The functions are safe for concurrent use on different paths.
package atomicfile
