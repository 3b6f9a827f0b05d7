// Package static embeds Parley's assets: vendored htmx and its SSE extension, the stylesheet,
// the dashboard script and the widget loader. Every file is served at a content-hashed path
// (/static/h/<hash>/<name>, cached for a year) and at its plain path (/static/<name>, cached
// briefly: the widget snippet that businesses paste points there).
//
// Front-end files come from the npm registry, pinned and vendored under vendor/; nothing is
// loaded from a CDN. It imports nothing of Parley.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"path"
	"strings"
)

//go:embed *.css *.js vendor/*.js
var files embed.FS

// Pinned vendored files.
const (
	HTMX    = "vendor/htmx-2.0.11.min.js"
	HTMXSSE = "vendor/htmx-ext-sse-2.2.4.min.js"
)

var hashes = map[string]string{}

func init() {
	_ = fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		hashes[p] = hex.EncodeToString(sum[:])[:12]
		return nil
	})
}

// FS is the embedded file system.
func FS() fs.FS { return files }

// Path returns the content-hashed URL of an asset, e.g. /static/h/0a1b2c3d4e5f/app.css.
// It panics on a name that is not embedded, so a typo fails every test that renders a page.
func Path(name string) string {
	h, ok := hashes[name]
	if !ok {
		panic("static: no such asset " + name)
	}
	return "/static/h/" + h + "/" + name
}

// Lookup resolves a request path below /static/ to an asset name, and reports whether the
// path was the hashed (immutable) form with the right hash.
func Lookup(p string) (name string, immutable bool, ok bool) {
	p = strings.TrimPrefix(path.Clean("/"+p), "/")
	if rest, found := strings.CutPrefix(p, "h/"); found {
		h, n, found := strings.Cut(rest, "/")
		if !found {
			return "", false, false
		}
		want, exists := hashes[n]
		if !exists {
			return "", false, false
		}
		return n, want == h, true
	}
	_, exists := hashes[p]
	return p, false, exists
}
