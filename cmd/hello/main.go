// Command hello is a minimal workload image: it prints a greeting with its
// hostname, then waits to be stopped. Tests run it as a pod and read its
// logs through the Kubernetes API.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	host, _ := os.Hostname()
	fmt.Printf("hello from homeworld pod %s\n", host)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	<-sigs
}
