package images

import (
	"bufio"
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// SpecFile is an image described in a text file (see ParseSpec), with the
// names it is tagged with.
type SpecFile struct {
	Spec
	Tags []string
}

// ParseSpec reads an image description, one directive a line (# starts a
// comment; a later entry for a path replaces an earlier one):
//
//	tag REF                 a name of the image (at least one)
//	entrypoint ARG...       the command
//	cmd ARG...              its default arguments
//	env NAME=VALUE          an environment variable
//	user USER               the user it runs as (default root)
//	dir PATH [MODE]         a directory
//	file SRC PATH [MODE]    the file SRC of this machine at PATH (mode: SRC's);
//	                        a dynamically linked program brings its loader
//	                        and shared libraries (Libraries)
//	text PATH MODE LINE     a one-line text file (\n written as is)
//	link PATH TARGET        a symbolic link
//	busybox SRC             the static busybox SRC and its applets (Busybox)
//	localhost-tls CRT KEY   a certificate and key for localhost (LocalhostTLS,
//	                        seeded by the first tag)
//
// In SRC, $NAME and ${NAME} are environment variables (an unset one is an
// error) and a relative path is relative to dir. MODE is octal.
func ParseSpec(r io.Reader, dir string) (*SpecFile, error) {
	s := &SpecFile{}
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(text)
		if len(f) == 0 {
			continue
		}
		if err := s.directive(f, dir); err != nil {
			return nil, fmt.Errorf("line %d: %s: %w", line, f[0], err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(s.Tags) == 0 {
		return nil, fmt.Errorf("no tag: an image needs a name")
	}
	return s, nil
}

func (s *SpecFile) directive(f []string, dir string) error {
	args := f[1:]
	nargs := func(min, max int) error {
		if len(args) < min || len(args) > max {
			if min == max {
				return fmt.Errorf("takes %d arguments, not %d", min, len(args))
			}
			return fmt.Errorf("takes %d to %d arguments, not %d", min, max, len(args))
		}
		return nil
	}
	switch f[0] {
	case "tag":
		if err := nargs(1, 1); err != nil {
			return err
		}
		s.Tags = append(s.Tags, args[0])
	case "entrypoint", "cmd":
		if err := nargs(1, 1<<20); err != nil {
			return err
		}
		if f[0] == "cmd" {
			s.Cmd = args
		} else {
			s.Entrypoint = args
		}
	case "env":
		if err := nargs(1, 1); err != nil {
			return err
		}
		if !strings.Contains(args[0], "=") {
			return fmt.Errorf("%q is not NAME=VALUE", args[0])
		}
		s.Env = append(s.Env, args[0])
	case "user":
		if err := nargs(1, 1); err != nil {
			return err
		}
		s.User = args[0]
	case "dir":
		if err := nargs(1, 2); err != nil {
			return err
		}
		d := File{Path: args[0], Dir: true}
		if len(args) == 2 {
			m, err := mode(args[1])
			if err != nil {
				return err
			}
			d.Mode = m
		}
		s.Files = append(s.Files, d)
	case "file":
		if err := nargs(2, 3); err != nil {
			return err
		}
		src, err := source(args[0], dir)
		if err != nil {
			return err
		}
		hf, err := HostFile(src, args[1])
		if err != nil {
			return err
		}
		if len(args) == 3 {
			if hf.Mode, err = mode(args[2]); err != nil {
				return err
			}
		}
		s.Files = append(s.Files, hf)
		if isDynamicELF(hf.Data) {
			libs, err := Libraries(hf.Data)
			if err != nil {
				return fmt.Errorf("%s: %w", src, err)
			}
			s.Files = append(s.Files, libs...)
		}
	case "text":
		if len(args) < 3 {
			return fmt.Errorf("takes PATH MODE LINE")
		}
		m, err := mode(args[1])
		if err != nil {
			return err
		}
		s.Files = append(s.Files, File{Path: args[0], Mode: m, Data: []byte(strings.Join(args[2:], " ") + "\n")})
	case "link":
		if err := nargs(2, 2); err != nil {
			return err
		}
		s.Files = append(s.Files, File{Path: args[0], Link: args[1]})
	case "busybox":
		if err := nargs(1, 1); err != nil {
			return err
		}
		src, err := source(args[0], dir)
		if err != nil {
			return err
		}
		bb, err := Busybox(src)
		if err != nil {
			return err
		}
		s.Files = append(s.Files, bb...)
	case "localhost-tls":
		if err := nargs(2, 2); err != nil {
			return err
		}
		if len(s.Tags) == 0 {
			return fmt.Errorf("comes after the first tag, which seeds the key")
		}
		crt, key, err := LocalhostTLS(s.Tags[0])
		if err != nil {
			return err
		}
		s.Files = append(s.Files, File{Path: args[0], Mode: 0o644, Data: crt}, File{Path: args[1], Mode: 0o644, Data: key})
	default:
		return fmt.Errorf("unknown directive")
	}
	return nil
}

func mode(s string) (int64, error) {
	m, err := strconv.ParseInt(s, 8, 64)
	if err != nil || m < 0 || m > 0o7777 {
		return 0, fmt.Errorf("mode %q is not octal permission bits", s)
	}
	return m, nil
}

// source expands $NAME in a host path and makes a relative one relative to
// dir.
func source(p, dir string) (string, error) {
	var missing []string
	p = os.Expand(p, func(name string) string {
		v, ok := os.LookupEnv(name)
		if !ok {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("$%s is not set", strings.Join(missing, ", $"))
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	return p, nil
}

// isDynamicELF says whether data is an ELF program that needs a dynamic
// loader.
func isDynamicELF(data []byte) bool {
	if !strings.HasPrefix(string(data[:min(len(data), 4)]), "\x7fELF") {
		return false
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return true
		}
	}
	return false
}
