package main

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"netlens/collectors/kmod"
)

func sleepMS(ms int) { time.Sleep(time.Duration(ms) * time.Millisecond) }

func allChecks() []check {
	return []check{
		{"load", checkLoad},
		{"crud", checkCRUD},
	}
}

func dial() (*kmod.Client, error) {
	if err := ensureLoaded(); err != nil {
		return nil, err
	}
	return kmod.Dial(nil)
}

func checkLoad() error {
	if err := ensureLoaded(); err != nil {
		return err
	}
	c, err := kmod.Dial(nil)
	if err != nil {
		return err
	}
	return c.Close()
}

func checkCRUD() error {
	c, err := dial()
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Flush(); err != nil {
		return err
	}
	want := kmod.Rule{
		Hooks:    kmod.HookLocalIn | kmod.HookLocalOut,
		Proto:    17,
		Dst:      netip.MustParsePrefix("10.1.2.0/24"),
		DstPorts: kmod.PortRange{Min: 53, Max: 53},
		Action:   kmod.ActionCount,
		Priority: 10,
		Label:    "dns to lab",
	}
	got, err := c.Create(want, 0)
	if err != nil {
		return err
	}
	if got.ID == 0 || got.Family != kmod.FamilyIPv4 || got.Dst != want.Dst || got.Label != want.Label ||
		got.DstPorts != want.DstPorts || got.Disabled {
		return fmt.Errorf("created rule = %+v", got)
	}
	g, err := c.Get(got.ID)
	if err != nil {
		return err
	}
	if g.ID != got.ID || g.Label != want.Label {
		return fmt.Errorf("get = %+v", g)
	}
	all, err := c.Dump()
	if err != nil {
		return err
	}
	if len(all) != 1 || all[0].ID != got.ID {
		return fmt.Errorf("dump = %+v", all)
	}
	ch, err := c.Change(got.ID, kmod.Rule{Disabled: true, Label: "off"}, kmod.FieldDisabled|kmod.FieldLabel, 0)
	if err != nil {
		return err
	}
	if !ch.Disabled || ch.Label != "off" || ch.Dst != want.Dst {
		return fmt.Errorf("changed = %+v", ch)
	}
	if err := c.Delete(got.ID); err != nil {
		return err
	}
	if _, err := c.Get(got.ID); err == nil || kmod.KernelMessage(err) == "" {
		return fmt.Errorf("get deleted rule: err = %v, want an extack message", err)
	} else {
		logf("get deleted: %v", err)
	}
	if err := c.Flush(); err != nil {
		return err
	}
	all, err = c.Dump()
	if err != nil {
		return err
	}
	if len(all) != 0 {
		return errors.New("rules left after flush")
	}
	return nil
}
