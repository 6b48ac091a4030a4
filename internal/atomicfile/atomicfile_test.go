package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteNew(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key")
	if err := WriteNew(path, []byte("first"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteNew(path, []byte("second"), 0o600); !errors.Is(err, os.ErrExist) {
		t.Fatalf("second WriteNew = %v, want ErrExist", err)
	}
	data, _ := os.ReadFile(path)
	st, _ := os.Stat(path)
	if string(data) != "first" || st.Mode().Perm() != 0o600 {
		t.Errorf("file %q mode %v", data, st.Mode().Perm())
	}
	if err := WriteNew(filepath.Join(t.TempDir(), "missing", "dir", "f"), nil, 0o600); err == nil {
		t.Error("WriteNew into a missing folder succeeded")
	}
}
