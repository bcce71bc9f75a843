package main

func hold(args []string) error   { return nil }
func timeIt(args []string) error { return nil }
