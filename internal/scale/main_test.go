package scale

import (
	"os"
	"testing"

	"homeworld.dev/homeworld/internal/keysystemtest"
)

// TestMain lets this test binary also be the keyserver child process that
// Options.Disrupt runs (keysystemtest.Options.Process), so that the
// keyserver can be killed without killing the test.
func TestMain(m *testing.M) {
	keysystemtest.ServeIfChild()
	os.Exit(m.Run())
}
