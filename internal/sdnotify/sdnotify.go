// Package sdnotify tells systemd a Type=notify service is ready, by sending
// READY=1 to $NOTIFY_SOCKET. Outside systemd (tests, the virtual cluster's
// node supervisor) it does nothing. The daemons import it.
package sdnotify

import (
	"net"
	"os"
)

// Ready reports readiness; it is a no-op when not run by systemd.
func Ready() error {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil
	}
	if path[0] == '@' {
		path = "\x00" + path[1:] // abstract socket
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.Write([]byte("READY=1"))
	return err
}
