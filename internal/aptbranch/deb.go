package aptbranch

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// debFile is what reading a .deb learns: its control paragraph and the
// size and hashes of the whole file, which the Packages index records.
type debFile struct {
	control Stanza
	size    int64
	md5     string
	sha256  string
}

// maxControl bounds the control file read into memory; real ones are a
// few kilobytes.
const maxControl = 1 << 20

// readDeb reads path once, hashing every byte while it finds the control
// file: an ar archive whose members are debian-binary, control.tar[.gz|.xz|
// .zst] and data.tar[...] (deb(5)).
func readDeb(path string) (*debFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	hMD5, hSHA := md5.New(), sha256.New()
	counted := &countWriter{}
	r := bufio.NewReader(io.TeeReader(f, io.MultiWriter(hMD5, hSHA, counted)))
	control, err := readControl(r)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		return nil, err
	}
	return &debFile{
		control: control,
		size:    counted.n,
		md5:     hex.EncodeToString(hMD5.Sum(nil)),
		sha256:  hex.EncodeToString(hSHA.Sum(nil)),
	}, nil
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// readControl walks the ar members in order and returns the parsed control
// file, requiring the three members a .deb must have.
func readControl(r io.Reader) (Stanza, error) {
	magic := make([]byte, 8)
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != "!<arch>\n" {
		return nil, errors.New("not a .deb: no ar archive header")
	}
	var control Stanza
	sawData := false
	for i := 0; ; i++ {
		name, size, err := arHeader(r)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		body := io.LimitReader(r, size)
		switch {
		case i == 0:
			if name != "debian-binary" {
				return nil, fmt.Errorf("not a .deb: first member is %q, want debian-binary", name)
			}
			v, _ := io.ReadAll(io.LimitReader(body, 16))
			if !strings.HasPrefix(string(v), "2.") {
				return nil, fmt.Errorf("unsupported .deb format %q", strings.TrimSpace(string(v)))
			}
		case strings.HasPrefix(name, "control.tar"):
			if control, err = controlFromTar(name, body); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
		case strings.HasPrefix(name, "data.tar"):
			sawData = true
		}
		if _, err := io.Copy(io.Discard, body); err != nil {
			return nil, err
		}
		if size%2 == 1 { // members are padded to an even length
			if _, err := io.ReadFull(r, make([]byte, 1)); err != nil && err != io.EOF {
				return nil, err
			}
		}
	}
	if control == nil {
		return nil, errors.New("not a .deb: no control.tar member")
	}
	if !sawData {
		return nil, errors.New("not a .deb: no data.tar member")
	}
	return control, nil
}

// arHeader reads one 60-byte member header: name (16), mtime (12), uid
// (6), gid (6), mode (8), size (10), then "`\n".
func arHeader(r io.Reader) (string, int64, error) {
	h := make([]byte, 60)
	n, err := io.ReadFull(r, h)
	if n == 0 && (err == io.EOF || err == io.ErrUnexpectedEOF) {
		return "", 0, io.EOF
	}
	if err != nil {
		return "", 0, errors.New("truncated ar member header")
	}
	if string(h[58:60]) != "`\n" {
		return "", 0, errors.New("corrupt ar member header")
	}
	size, err := strconv.ParseInt(strings.TrimSpace(string(h[48:58])), 10, 64)
	if err != nil || size < 0 {
		return "", 0, errors.New("corrupt ar member size")
	}
	return strings.TrimSuffix(strings.TrimSpace(string(h[:16])), "/"), size, nil
}

// controlFromTar decompresses by the member's suffix and returns ./control.
func controlFromTar(name string, r io.Reader) (Stanza, error) {
	var tr io.Reader
	switch ext := strings.TrimPrefix(name, "control.tar"); ext {
	case "":
		tr = r
	case ".gz":
		z, err := gzip.NewReader(r)
		if err != nil {
			return nil, err
		}
		defer z.Close()
		tr = z
	case ".xz":
		z, err := xz.NewReader(r)
		if err != nil {
			return nil, err
		}
		tr = z
	case ".zst":
		z, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		defer z.Close()
		tr = z
	default:
		return nil, fmt.Errorf("unknown compression %q", ext)
	}
	t := tar.NewReader(tr)
	for {
		h, err := t.Next()
		if err == io.EOF {
			return nil, errors.New("no control file")
		}
		if err != nil {
			return nil, err
		}
		if strings.TrimPrefix(h.Name, "./") != "control" || h.Typeflag != tar.TypeReg {
			continue
		}
		data, err := io.ReadAll(io.LimitReader(t, maxControl+1))
		if err != nil {
			return nil, err
		}
		if len(data) > maxControl {
			return nil, errors.New("control file larger than 1 MiB")
		}
		if !utf8.Valid(data) {
			return nil, errors.New("control file is not UTF-8")
		}
		stanzas, err := parseStanzas(string(data))
		if err != nil {
			return nil, fmt.Errorf("control: %w", err)
		}
		if len(stanzas) != 1 {
			return nil, fmt.Errorf("control: %d paragraphs, want 1", len(stanzas))
		}
		return stanzas[0], nil
	}
}
