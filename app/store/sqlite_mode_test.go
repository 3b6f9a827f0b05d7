package store

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// The SQLite file and its WAL and shared-memory files are readable by their owner only, whatever
// the umask, and a file an older version left readable is narrowed at open.
func TestSQLiteFilesAreOwnerOnly(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	ctx := context.Background()
	dir := t.TempDir()
	fresh := filepath.Join(dir, "fresh.db")
	legacy := filepath.Join(dir, "legacy.db")
	if err := os.WriteFile(legacy, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{fresh, legacy} {
		s, err := OpenSQLite(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.MigrateUp(ctx); err != nil { // writes: the WAL and shm files exist now
			t.Fatal(err)
		}
		for _, f := range []string{p, p + "-wal", p + "-shm"} {
			st, err := os.Stat(f)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if mode := st.Mode().Perm(); mode != 0o600 {
				t.Errorf("%s has mode %o, want 600", filepath.Base(f), mode)
			}
		}
		s.Close()
	}
}
