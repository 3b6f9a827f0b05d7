package store_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// sqlPackages are the imports that build or run SQL: only app/store may import them.
var sqlPackages = []string{"github.com/uptrace/bun", "database/sql", "github.com/jackc/pgx"}

// sqlMethods are the calls that build or run SQL (bun's query builders, database/sql's and
// pgx's statements): only app/store may make them.
var sqlMethods = map[string]bool{
	"NewSelect": true, "NewInsert": true, "NewUpdate": true, "NewDelete": true, "NewRaw": true,
	"NewMerge": true, "NewValues": true, "NewCreateTable": true, "NewDropTable": true,
	"NewTruncateTable": true, "NewCreateIndex": true, "NewDropIndex": true, "NewAddColumn": true,
	"NewDropColumn": true, "ExecContext": true, "QueryContext": true, "QueryRowContext": true,
	"PrepareContext": true, "RunInTx": true, "BeginTx": true, "CopyFrom": true, "WithQueryHook": true,
}

// TestOnlyTheStoreBuildsSQL walks every non-test Go file of the module outside app/store and
// fails, naming the file and line, on an import of a SQL package or a call of a SQL method.
// Test files are excepted: a test may look at the database directly to check what the code
// under test wrote (app/fault's harness, the fuzz tests' counts).
func TestOnlyTheStoreBuildsSQL(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found at %s: %v", root, err)
	}
	storeDir := filepath.Join(root, "app", "store")
	fset := token.NewFileSet()
	files := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path == storeDir || (path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor" || name == "node_modules")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		files++
		rel, _ := filepath.Rel(root, path)
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			for _, bad := range sqlPackages {
				if p == bad || strings.HasPrefix(p, bad+"/") {
					t.Errorf("%s:%d imports %s: only app/store may build or run SQL", rel, fset.Position(im.Pos()).Line, p)
				}
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sqlMethods[sel.Sel.Name] {
				t.Errorf("%s:%d calls %s: only app/store may build or run SQL (add a store method)", rel, fset.Position(sel.Sel.Pos()).Line, sel.Sel.Name)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 {
		t.Fatalf("walked only %d files from %s", files, root)
	}
}
