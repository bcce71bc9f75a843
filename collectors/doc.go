// Package collectors defines the Collector interface and the Runner that
// schedules collectors and records their health in the model.Store.
//
// Each kernel interface has its own sub-package (procnet, sockdiag, sysctl,
// ...). Collectors read the kernel and publish model.Updates; they never
// touch the UI.
package collectors
