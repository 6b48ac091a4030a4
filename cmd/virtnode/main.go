// Command virtnode is the service manager of one virtual node. See
// internal/virt.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"homeworld.dev/homeworld/internal/virt"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := virt.NodeCommand().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "virtnode: %v\n", err)
		os.Exit(1)
	}
}
