// Command registry is the CNCF Distribution registry with only the storage
// a cluster's registry uses. Upstream's cmd/registry also links the S3,
// Azure and GCS drivers, the CloudFront middleware, the token and htpasswd
// authenticators and the pull-through proxy; on the supervisor each of
// those megabytes is resident (55 MB binary, 47 MiB PSS), and this one is
// 25 MB and about 30 MiB. A configuration naming another driver is refused
// at startup.
package main

import (
	"os"

	"github.com/distribution/distribution/v3/registry"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
)

func main() {
	// The commands exit non-zero themselves when they fail; an error
	// returned here is one cobra already printed (a bad flag).
	if err := registry.RootCmd.Execute(); err != nil {
		os.Exit(1)
	}
}
