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

// Replace leaves exactly the mode asked for, not that of the file it
// replaces nor one the umask narrowed.
func TestReplaceSetsTheMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(path, []byte("old"), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := Replace(path, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(path); string(data) != "new" || st.Mode().Perm() != 0o600 {
		t.Errorf("after Replace: %q, mode %v", data, st.Mode().Perm())
	}
}
