// Package capture starts and stops a packet capture from inside the TUI
// (the Capture tab's c): the same AF_PACKET capture as --capture
// (collectors/capture), on an interface picked from the namespace's
// links or "any", with a filter compiled by the same compiler as
// --capture-filter, and a packet-count or time limit. A capture runs
// only when Start is called; it ends at its limit, on Stop, or when
// netlens quits. Its statistics are published to the Store like the
// capture collector's, and its stored packets stay readable (pcapng)
// after it stopped, until the next Start.
package capture
