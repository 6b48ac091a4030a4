// Package imagepush puts the images a build made into the cluster's
// registry (spire registry push): each archive is checked against the
// build's index before anything is sent, a reference that already holds
// the same image is left alone without uploading a byte, and a reference
// that holds a different image is refused unless replacing was asked for,
// since nodes may be running what it names.
package imagepush

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"homeworld.dev/homeworld/internal/access"
	"homeworld.dev/homeworld/internal/images"
	"homeworld.dev/homeworld/internal/keyapi"
)

// Registry is how to reach the cluster's registry.
type Registry struct {
	// Addr is where to connect (the supervisor's address and the
	// registry port); TLS still checks the registry's own name, which the
	// references carry.
	Addr   string
	Roots  *x509.CertPool   // the cluster CA
	Client *tls.Certificate // an administrator's; nil for pulls only
}

// Transport dials Addr for every registry connection and verifies the
// registry's certificate against Roots under the name the request uses.
func (r Registry) Transport() http.RoundTripper {
	tc := &tls.Config{RootCAs: r.Roots, MinVersion: tls.VersionTLS12}
	if r.Client != nil {
		tc.Certificates = []tls.Certificate{*r.Client}
	}
	d := &net.Dialer{Timeout: 10 * time.Second}
	return &http.Transport{
		TLSClientConfig: tc,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, r.Addr)
		},
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConnsPerHost: 4,
	}
}

// Outcome is what pushing did to one reference.
type Outcome string

const (
	Pushed    Outcome = "pushed"
	Unchanged Outcome = "unchanged"
	Replaced  Outcome = "replaced"
)

// Result is one reference's outcome.
type Result struct {
	Ref     string
	Digest  v1.Hash
	Outcome Outcome
	Bytes   int64 // compressed layer and config bytes the image has
	Took    time.Duration
}

// Options are how to push.
type Options struct {
	// Replace lets a reference that holds another image be overwritten.
	Replace bool
	// Progress hears about each reference as it is done.
	Progress func(Result)
}

// Push pushes every image of the build in dir (images.ReadIndex) to reg.
func Push(ctx context.Context, reg Registry, dir string, o Options) ([]Result, error) {
	built, err := images.ReadIndex(dir)
	if err != nil {
		return nil, err
	}
	rt := reg.Transport()
	var results []Result
	for _, b := range built {
		for _, ref := range b.Refs {
			r, err := pushOne(ctx, rt, b, dir, ref, o)
			if err != nil {
				return results, err
			}
			results = append(results, r)
			if o.Progress != nil {
				o.Progress(r)
			}
		}
	}
	return results, nil
}

func pushOne(ctx context.Context, rt http.RoundTripper, b images.Built, dir, ref string, o Options) (Result, error) {
	start := time.Now()
	tag, err := name.NewTag(ref, name.StrictValidation)
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", ref, err)
	}
	img, err := tarball.ImageFromPath(b.Archive(dir), &tag)
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", b.Archive(dir), err)
	}
	d, err := img.Digest()
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", b.Archive(dir), err)
	}
	if d != b.Digest {
		return Result{}, fmt.Errorf("%s holds %s as %s, but the build recorded %s in %s; rebuild (scripts/build) rather than push what it did not make",
			b.Archive(dir), ref, d, b.Digest, images.IndexFile)
	}
	size, err := imageBytes(img)
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", b.Archive(dir), err)
	}
	res := Result{Ref: ref, Digest: d, Outcome: Pushed, Bytes: size}
	opts := []remote.Option{remote.WithContext(ctx), remote.WithTransport(rt)}
	desc, err := remote.Head(tag, opts...)
	var terr *transport.Error
	switch {
	case err == nil && desc.Digest == d:
		res.Outcome, res.Took = Unchanged, time.Since(start)
		return res, nil
	case err == nil && !o.Replace:
		return Result{}, fmt.Errorf("%s already names %s in the registry, not this build's %s; nodes may run it, so it is not overwritten (push with --replace if that is meant)", ref, desc.Digest, d)
	case err == nil:
		res.Outcome = Replaced
	case errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound:
	default:
		return Result{}, fmt.Errorf("asking the registry for %s: %w", ref, err)
	}
	if err := remote.Write(tag, img, opts...); err != nil {
		return Result{}, fmt.Errorf("pushing %s: %w", ref, err)
	}
	// What the registry now serves under the reference must be what was
	// built: a registry that rewrote the manifest would give nodes
	// something else.
	got, err := remote.Head(tag, opts...)
	if err != nil {
		return Result{}, fmt.Errorf("reading back %s: %w", ref, err)
	}
	if got.Digest != d {
		return Result{}, fmt.Errorf("the registry serves %s as %s after pushing %s", ref, got.Digest, d)
	}
	res.Took = time.Since(start)
	return res, nil
}

// imageBytes is the size of what a pull of img transfers.
func imageBytes(img v1.Image) (int64, error) {
	m, err := img.Manifest()
	if err != nil {
		return 0, err
	}
	n := m.Config.Size
	for _, l := range m.Layers {
		n += l.Size
	}
	return n, nil
}

// Summary is one line saying what a push did.
func Summary(results []Result, took time.Duration) string {
	count := map[Outcome]int{}
	var sent int64
	for _, r := range results {
		count[r.Outcome]++
		if r.Outcome != Unchanged {
			sent += r.Bytes
		}
	}
	return fmt.Sprintf("%d references: %d pushed, %d replaced, %d unchanged (%.1f MB in those pushed) in %.1fs",
		len(results), count[Pushed], count[Replaced], count[Unchanged], float64(sent)/1e6, took.Seconds())
}

// AsAdmin pushes the build in dir to the registry at addr as admin: with a
// short-lived kubernetes administrator certificate whose key stays in this
// process, trusting clusterCA for the registry's.
func AsAdmin(ctx context.Context, admin *access.Admin, clusterCA *x509.Certificate, addr, dir string, o Options) ([]Result, error) {
	client, err := admin.ClientTLS(ctx, keyapi.AccessKubernetes)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(clusterCA)
	return Push(ctx, Registry{Addr: addr, Roots: roots, Client: client}, dir, o)
}
