// Package filter is the "filters" collector: it publishes the filter
// rules, their counters and rates, the per-hook verdicts and the pending
// changes of a filter backend as a model.RulesUpdate, on every run and at
// once after any change the backend's Watch reports. It only reads; what
// changes rules lives in control/filter. See docs/filters.md.
package filter
