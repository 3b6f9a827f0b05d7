package web_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// surfaces are the packages under app/web that serve an audience; only app/web (the mounting
// package) may import them.
var surfaces = []string{"dashboard", "widget", "api", "webhooks"}

const (
	webPkg  = "github.com/parleyhq/parley/app/web"
	testPkg = webPkg + "/webtest"
)

// TestSurfaceImports fails when a package under app/web other than app/web itself imports a
// surface it is not: one surface never imports another, and the kits (htmx, sse, jsonbody,
// routenames, ...) import no surface. Test files count too, except app/web's own. Only
// webtest, the test environment that builds the whole server, may import app/web, and only
// test files import webtest.
func TestSurfaceImports(t *testing.T) {
	isSurface := map[string]bool{}
	for _, s := range surfaces {
		isSurface[webPkg+"/"+s] = true
	}
	checked := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		dir := filepath.ToSlash(filepath.Dir(path))
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		isTest := strings.HasSuffix(path, "_test.go")
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		if dir == "." { // app/web mounts the surfaces
			for _, imp := range f.Imports {
				if p, _ := strconv.Unquote(imp.Path.Value); p == testPkg && !isTest {
					t.Errorf("%s imports webtest: only test files may", path)
				}
			}
			return nil
		}
		pkg := webPkg + "/" + dir
		checked++
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if p == testPkg && !isTest && pkg != testPkg {
				t.Errorf("%s imports webtest: only test files may", path)
			}
			if p == webPkg {
				if !isTest && pkg != testPkg {
					t.Errorf("%s imports app/web: only the server may mount the surfaces", path)
				}
				continue
			}
			if isSurface[p] && p != pkg {
				if isSurface[pkg] {
					t.Errorf("%s: surface %s imports surface %s", path, pkg, p)
				} else {
					t.Errorf("%s: kit %s imports surface %s", path, pkg, p)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked == 0 {
		t.Fatal("no package under app/web was checked")
	}
}
