//go:build tools

// This file pins the project's decided dependencies in go.mod before every
// package that uses them exists. It is never built.
package main

import (
	_ "charm.land/bubbles/v2/table"
	_ "charm.land/bubbletea/v2"
	_ "charm.land/lipgloss/v2"
	_ "github.com/charmbracelet/x/exp/teatest/v2"
	_ "github.com/cilium/ebpf/cmd/bpf2go"
	_ "github.com/google/go-cmp/cmp"
	_ "github.com/google/nftables"
	_ "github.com/gopacket/gopacket/afpacket"
	_ "github.com/gopacket/gopacket/layers"
	_ "github.com/gopacket/gopacket/pcapgo"
	_ "github.com/mdlayher/genetlink"
	_ "github.com/mdlayher/genetlink/genltest"
	_ "github.com/mdlayher/netlink"
	_ "github.com/mdlayher/netlink/nltest"
	_ "github.com/prometheus/procfs"
	_ "github.com/santhosh-tekuri/jsonschema/v6"
	_ "github.com/spf13/cobra"
	_ "github.com/ti-mo/conntrack"
	_ "golang.org/x/sys/unix"
)
