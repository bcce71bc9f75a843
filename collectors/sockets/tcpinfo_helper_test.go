package sockets

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Environment of the "pace-*" helpers.
const (
	paceAddrEnv = "NETLENS_PACE_ADDR" // where to connect
	paceRateEnv = "NETLENS_PACE_RATE" // bytes per second
	paceSecsEnv = "NETLENS_PACE_SECS" // how long to send
)

// helperRecv listens on 127.0.0.1 at the ports of $NETLENS_RECV_PORTS
// (comma-separated) and reads whatever its clients send.
func helperRecv() error {
	for _, p := range strings.Split(os.Getenv("NETLENS_RECV_PORTS"), ",") {
		l, err := net.Listen("tcp4", "127.0.0.1:"+p)
		if err != nil {
			return err
		}
		hold(l)
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				hold(c)
				go func() { _, _ = io.Copy(io.Discard, c) }()
			}
		}()
	}
	return nil
}

// helperPace connects to $NETLENS_PACE_ADDR, prints READY, and on the
// line "go" from stdin sends $NETLENS_PACE_RATE bytes per second for
// $NETLENS_PACE_SECS seconds, paced on the clock (every 2 ms it writes
// what is due since the start), then prints DONE and the bytes it sent,
// and holds the connection until stdin closes.
func helperPace() int {
	rate, err1 := strconv.ParseFloat(os.Getenv(paceRateEnv), 64)
	secs, err2 := strconv.ParseFloat(os.Getenv(paceSecsEnv), 64)
	if err1 != nil || err2 != nil {
		fmt.Println("ERROR bad", paceRateEnv, "or", paceSecsEnv)
		return 1
	}
	c, err := net.DialTimeout("tcp4", os.Getenv(paceAddrEnv), 5*time.Second)
	if err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	defer c.Close()
	fmt.Println("READY")
	in := bufio.NewReader(os.Stdin)
	if line, err := in.ReadString('\n'); err != nil || line != "go\n" {
		return 0
	}
	buf := make([]byte, 64<<10)
	start := time.Now()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	sent := 0
	for time.Since(start) < time.Duration(secs*float64(time.Second)) {
		<-tick.C
		due := int(rate * time.Since(start).Seconds())
		for sent < due {
			n, err := c.Write(buf[:min(due-sent, len(buf))])
			if err != nil {
				fmt.Println("ERROR", err)
				return 1
			}
			sent += n
		}
	}
	fmt.Println("DONE", sent)
	_, _ = io.Copy(io.Discard, in)
	return 0
}
