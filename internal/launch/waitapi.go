package launch

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"time"
)

// waitForAPI blocks until something accepts connections at the API
// server's address. kube-state-metrics exits at once when the API does not
// answer; on a supervisor set up before its masters (the original's order:
// seq supervisor, then the nodes) systemd would restart it every few
// seconds until they come. Waiting here keeps its unit active and quiet.
func waitForAPI(server string) error {
	u, err := url.Parse(server)
	if err != nil {
		return err
	}
	logged := false
	for {
		c, err := net.DialTimeout("tcp", u.Host, 2*time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if !logged {
			fmt.Fprintf(os.Stderr, "kube-launch: waiting for the Kubernetes API at %s (%v)\n", u.Host, err)
			logged = true
		}
		time.Sleep(2 * time.Second)
	}
}
