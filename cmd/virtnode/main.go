// Command virtnode is the service manager of one virtual node. See
// internal/virtnode.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"homeworld.dev/homeworld/internal/virtnode"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := virtnode.Command().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "virtnode: %v\n", err)
		os.Exit(1)
	}
}
