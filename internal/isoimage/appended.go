package isoimage

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Appended reads back the files Build appended to the ISO's initrd: the
// last gzip member of /initrd.gz, a newc archive. Folders are left out.
// It lets a test, or an operator, see exactly what a node's installer
// carries.
func Appended(iso string) ([]File, error) {
	tmp, err := os.MkdirTemp("", "homeworld-iso-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	initrd := filepath.Join(tmp, "initrd.gz")
	if out, err := exec.Command("xorriso", "-osirrox", "on", "-indev", iso, "-extract", "/initrd.gz", initrd).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("xorriso extracting /initrd.gz from %s: %v: %s", iso, err, strings.TrimSpace(string(out)))
	}
	f, err := os.Open(initrd)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	last, err := lastMember(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("%s: /initrd.gz: %w", iso, err)
	}
	files, err := readCPIO(last)
	if err != nil {
		return nil, fmt.Errorf("%s: the appended archive: %w", iso, err)
	}
	return files, nil
}

// lastMember decompresses each gzip member of r in turn and returns the
// last one's content.
func lastMember(r *bufio.Reader) ([]byte, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, err
	}
	var last []byte
	for {
		zr.Multistream(false)
		if last, err = io.ReadAll(zr); err != nil {
			return nil, err
		}
		if err := zr.Reset(r); err == io.EOF {
			return last, nil
		} else if err != nil {
			return nil, err
		}
	}
}

// readCPIO reads a newc archive as writeCPIO writes it.
func readCPIO(data []byte) ([]File, error) {
	var files []File
	for off := 0; ; {
		if len(data)-off < 110 || string(data[off:off+6]) != "070701" {
			return nil, fmt.Errorf("no newc header at byte %d", off)
		}
		field := func(i int) (int, error) {
			v, err := strconv.ParseUint(string(data[off+6+8*i:off+14+8*i]), 16, 32)
			return int(v), err
		}
		mode, err1 := field(1)
		size, err2 := field(6)
		nameLen, err3 := field(11)
		if err := errors.Join(err1, err2, err3); err != nil {
			return nil, fmt.Errorf("header at byte %d: %w", off, err)
		}
		nameEnd := off + 110 + nameLen
		dataStart := nameEnd + pad4(110+nameLen)
		if nameLen < 1 || dataStart+size > len(data) {
			return nil, fmt.Errorf("entry at byte %d runs past the end", off)
		}
		name := string(bytes.TrimSuffix(data[off+110:nameEnd], []byte{0}))
		if name == "TRAILER!!!" {
			return files, nil
		}
		if mode&0o170000 == 0o100000 {
			files = append(files, File{Path: name, Data: data[dataStart : dataStart+size], Mode: os.FileMode(mode & 0o777)})
		}
		off = dataStart + size + pad4(size)
	}
}
