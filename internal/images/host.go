package images

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"debug/elf"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
)

// HostFile is the file at src on this machine (symbolic links followed),
// placed at dst with src's permission bits.
func HostFile(src, dst string) (File, error) {
	data, err := os.ReadFile(src)
	if err != nil {
		return File{}, err
	}
	st, err := os.Stat(src)
	if err != nil {
		return File{}, err
	}
	return File{Path: dst, Mode: int64(st.Mode().Perm()), Data: data}, nil
}

// LibDirs are where Libraries looks for shared libraries, in order: Debian's
// multiarch folders, which the dynamic loader searches by default, so a
// library placed at the same path in the image is found without
// ld.so.cache.
var LibDirs = []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64"}

// Libraries returns what a dynamically linked program needs to run in an
// image that has nothing else: its interpreter (the dynamic loader) and
// every shared library it needs, transitively, each at the path where
// this machine has it. A static program needs nothing; data that is not
// ELF is an error.
func Libraries(program []byte) ([]File, error) {
	var out []File
	seen := map[string]bool{}
	var walk func(data []byte, what string) error
	walk = func(data []byte, what string) error {
		f, err := elf.NewFile(bytes.NewReader(data))
		if err != nil {
			return fmt.Errorf("%s: not an ELF file: %w", what, err)
		}
		defer f.Close()
		for _, p := range f.Progs {
			if p.Type != elf.PT_INTERP {
				continue
			}
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err != nil {
				return fmt.Errorf("%s: reading its interpreter: %w", what, err)
			}
			interp := strings.TrimRight(string(b), "\x00")
			if !seen[interp] {
				seen[interp] = true
				lf, err := HostFile(interp, interp)
				if err != nil {
					return fmt.Errorf("%s: its interpreter: %w", what, err)
				}
				out = append(out, lf)
			}
		}
		needed, err := f.ImportedLibraries()
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		for _, lib := range needed {
			if strings.Contains(lib, "/") {
				return fmt.Errorf("%s: needs %s by path; only library names are supported", what, lib)
			}
			found := ""
			for _, d := range LibDirs {
				if _, err := os.Stat(filepath.Join(d, lib)); err == nil {
					found = path.Join(d, lib)
					break
				}
			}
			if found == "" {
				return fmt.Errorf("%s needs %s, which is in none of %s", what, lib, strings.Join(LibDirs, ", "))
			}
			if seen[found] {
				continue
			}
			seen[found] = true
			lf, err := HostFile(found, found)
			if err != nil {
				return err
			}
			out = append(out, lf)
			if err := walk(lf.Data, found); err != nil {
				return err
			}
		}
		return nil
	}
	return out, walk(program, "program")
}

// Busybox returns the static busybox at src as /bin/busybox and a link to
// it at every path where that busybox installs an applet (busybox
// --list-full), as a busybox image has them.
func Busybox(src string) ([]File, error) {
	bin, err := HostFile(src, "/bin/busybox")
	if err != nil {
		return nil, err
	}
	bin.Mode = 0o755
	list, err := exec.Command(src, "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list-full: %w", src, err)
	}
	files := []File{bin}
	for _, applet := range strings.Fields(string(list)) {
		p := "/" + applet
		if p != bin.Path {
			files = append(files, File{Path: p, Link: "/bin/busybox"})
		}
	}
	if len(files) == 1 {
		return nil, fmt.Errorf("%s --list-full listed no applets", src)
	}
	return files, nil
}

// LocalhostTLS returns a self-signed certificate for localhost (and
// 127.0.0.1) and its private key, both PEM, derived from seed alone: the
// same seed gives the same bytes, so an image holding them stays
// reproducible. Anyone who knows the seed has the key: this is for test
// images, where the suite expects a certificate and key at known paths, and
// never for anything that must be trusted.
func LocalhostTLS(seed string) (crt, key []byte, err error) {
	scalar := sha256.Sum256([]byte("homeworld test-only localhost key\x00" + seed))
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), scalar[:])
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "localhost"},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             epoch,
		NotAfter:              epoch.AddDate(200, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	// A nil random source makes ECDSA signatures deterministic (RFC 6979).
	der, err := x509.CreateCertificate(nil, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), nil
}
