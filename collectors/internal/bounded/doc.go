// Package bounded is the table netlens keeps wherever it counts "top N"
// of something under churn (the capture's flows and hosts, the conntrack
// collector's bounded view): an open-addressing hash table over one slab
// of entries, with CLOCK (second-chance) eviction.
//
// Cost: a lookup, an insertion and an eviction are O(1) amortised and
// allocate nothing per entry: the slab starts at 256 slots and doubles
// as it fills, up to its capacity (so a table that stays small costs
// little), and once full it only reuses its slots. The index is linear
// probing at a load factor of at most 1/2, with backward-shift deletion
// (no tombstones), so its probe lengths do not degrade under churn.
//
// Eviction: each slot has a referenced bit, set when an existing entry is
// found again (Get of a held key) and clear for a new entry. When the
// table is full, a new key takes the slot of the first entry the hand
// finds with the bit clear; entries it passes with the bit set have it
// cleared (their second chance). Every eviction is counted (Evicted).
//
// Bound (what a reader of the counts may rely on): while fewer than
// Capacity distinct keys have been inserted since the last Reset the
// table is exact (nothing is evicted). Past that, the values held are
// exact for the time each key has been held since its latest insertion:
// an evicted key's value is dropped and a key that comes back starts
// again from its zero value, so a count is never over-estimated, only
// under-estimated by what the key had before its eviction. An entry is
// evicted only after the hand has passed it once without a Get in
// between, i.e. it was the least recently used in the CLOCK sense.
package bounded
