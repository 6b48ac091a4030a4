package debimage

import (
	"context"
	"fmt"
	"os/exec"
)

// The archives keep numeric owners, since the machine's users are not the
// root's (a name like systemd-network may have another number here), and
// extended attributes, where file capabilities live.
var tarFlags = []string{"--numeric-owner", "--xattrs", "--xattrs-include=*"}

// Pack writes the tree at root to the archive file.
func Pack(ctx context.Context, root, file string) error {
	args := append([]string{"-cpf", file}, tarFlags...)
	out, err := exec.CommandContext(ctx, "tar", append(args, "-C", root, ".")...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("packing %s: %v\n%s", root, err, tail(out, 2000))
	}
	return nil
}

// Unpack extracts the archive file into the existing folder root, keeping
// owners and permissions.
func Unpack(ctx context.Context, file, root string) error {
	args := append([]string{"-xpf", file}, tarFlags...)
	out, err := exec.CommandContext(ctx, "tar", append(args, "-C", root)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("unpacking %s into %s: %v\n%s", file, root, err, tail(out, 2000))
	}
	return nil
}

// tail is the last n bytes of a command's output, the part that says why
// it failed.
func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
