package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

// asset is one static file held in memory.
type asset struct {
	name      string // logical name, e.g. queue.js
	versioned string // e.g. queue.3f2a9c1b7d.js
	body      []byte
	gz        []byte // nil when gzip does not make it smaller
	ctype     string
	etag      string
}

// assets indexes the static files by logical and versioned name.
type assets struct {
	byName      map[string]*asset
	byVersioned map[string]*asset
}

// Cache-Control values of the static handler.
const (
	cacheImmutable = "public, max-age=31536000, immutable"
	cacheShort     = "public, max-age=300"
)

func loadAssets(base, over fs.FS) (*assets, error) {
	files := map[string][]byte{}
	read := func(fsys fs.FS, own bool) error {
		ents, err := fs.ReadDir(fsys, "static")
		if err != nil {
			if isNotExist(err) {
				return nil
			}
			return err
		}
		for _, e := range ents {
			if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			b, err := fs.ReadFile(fsys, "static/"+e.Name())
			if err != nil {
				return err
			}
			if own && path.Ext(e.Name()) == ".js" {
				b = trimJS(b)
			}
			files[e.Name()] = b
		}
		return nil
	}
	if err := read(base, true); err != nil {
		return nil, fmt.Errorf("web: read static: %w", err)
	}
	if over != nil {
		if err := read(over, false); err != nil {
			return nil, fmt.Errorf("web: read override static: %w", err)
		}
	}
	as := &assets{byName: map[string]*asset{}, byVersioned: map[string]*asset{}}
	for name, body := range files {
		sum := sha256.Sum256(body)
		h := hex.EncodeToString(sum[:])[:10]
		ext := path.Ext(name)
		a := &asset{
			name:      name,
			versioned: strings.TrimSuffix(name, ext) + "." + h + ext,
			body:      body,
			ctype:     mime.TypeByExtension(ext),
			etag:      `"` + h + `"`,
		}
		if a.ctype == "" {
			a.ctype = "application/octet-stream"
		}
		if compressible(a.ctype) {
			var buf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
			_, _ = zw.Write(body)
			_ = zw.Close()
			if buf.Len() < len(body) {
				a.gz = buf.Bytes()
			}
		}
		as.byName[name] = a
		as.byVersioned[a.versioned] = a
	}
	return as, nil
}

// trimJS drops what a browser does not need from foyer's own scripts: indentation, blank
// lines and comments that fill whole lines (// lines and /* */ blocks that start a line).
// It keeps the page inside its weight budget while the source stays commented. Safe for
// scripts without multi-line template literals, which foyer's scripts do not use; an
// operator's override files are served as they are.
func trimJS(b []byte) []byte {
	out := make([]byte, 0, len(b))
	inBlock := false
	for _, line := range bytes.Split(b, []byte("\n")) {
		l := bytes.TrimSpace(line)
		if inBlock {
			i := bytes.Index(l, []byte("*/"))
			if i < 0 {
				continue
			}
			inBlock, l = false, bytes.TrimSpace(l[i+2:])
		}
		if bytes.HasPrefix(l, []byte("/*")) {
			if i := bytes.Index(l[2:], []byte("*/")); i >= 0 {
				l = bytes.TrimSpace(l[i+4:])
			} else {
				inBlock = true
				continue
			}
		}
		if len(l) == 0 || bytes.HasPrefix(l, []byte("//")) {
			continue
		}
		out = append(append(out, l...), '\n')
	}
	return out
}

func compressible(ctype string) bool {
	return strings.HasPrefix(ctype, "text/") || strings.Contains(ctype, "javascript") ||
		strings.Contains(ctype, "json") || strings.Contains(ctype, "svg")
}

// url returns the versioned URL of the logical name under prefix.
func (as *assets) url(prefix, name string) string {
	a, ok := as.byName[name]
	if !ok {
		return prefix + "/static/" + name
	}
	return prefix + "/static/" + a.versioned
}

// AssetURL returns the versioned URL of the static file name (e.g.
// "queue.js") under prefix (e.g. "/foyer"): "/foyer/static/queue.3f2a9c1b7d.js".
func (s *Site) AssetURL(prefix, name string) string {
	return s.assets.url(cleanPrefix(prefix), name)
}

// Asset returns the content of the static file name (logical, not
// versioned), for tests and tools that total page weight.
func (s *Site) Asset(name string) ([]byte, bool) {
	a, ok := s.assets.byName[name]
	if !ok {
		return nil, false
	}
	return a.body, true
}

// Static returns the handler for the static files. It serves the last path
// element of the request, so it can be mounted at {prefix}/static/ with or
// without stripping the prefix. A versioned name (queue.3f2a9c1b7d.js) is
// served with a one-year immutable cache; a plain name (queue.js, or an
// operator's logo.png) with a five-minute cache. Gzip is used when the
// client accepts it. Only GET and HEAD are allowed.
func (s *Site) Static() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := path.Base(r.URL.Path)
		cache := cacheImmutable
		a, ok := s.assets.byVersioned[name]
		if !ok {
			a, ok = s.assets.byName[name]
			cache = cacheShort
		}
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Cache-Control", cache)
		h.Set("Content-Type", a.ctype)
		h.Set("ETag", a.etag)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Vary", "Accept-Encoding")
		if inm := r.Header.Get("If-None-Match"); inm != "" && strings.Contains(inm, a.etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		body := a.body
		if a.gz != nil && acceptsGzip(r.Header.Get("Accept-Encoding")) {
			h.Set("Content-Encoding", "gzip")
			body = a.gz
		}
		h.Set("Content-Length", fmt.Sprint(len(body)))
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(body)
	})
}

func acceptsGzip(ae string) bool {
	for _, part := range strings.Split(ae, ",") {
		enc, params, _ := strings.Cut(part, ";")
		if strings.TrimSpace(enc) != "gzip" {
			continue
		}
		params = strings.ReplaceAll(params, " ", "")
		return params != "q=0" && params != "q=0.0" && params != "q=0.00" && params != "q=0.000"
	}
	return false
}
