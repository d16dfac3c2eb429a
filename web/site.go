package web

import (
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"os"
	"path"
)

//go:embed templates i18n static
var embedded embed.FS

// Template file names, under templates/ (embedded or in Config.OverrideDir).
const (
	tmplPartials  = "partials.html"
	tmplQueue     = "queue.html"
	tmplError     = "error.html"
	tmplDashboard = "dashboard.html"
	tmplFairness  = "fairness.html" // the public fairness record (fairness.go)
	tmplFeedback  = "feedback.html" // the visitor feedback prompt (fairness.go)
)

// Config configures a Site. The zero value serves the embedded pages.
type Config struct {
	// OverrideDir, when set, is a directory whose files replace the embedded
	// ones of the same path: templates/{partials,queue,error,dashboard}.html,
	// static/<any file> (new files are served too, e.g. a logo), and
	// i18n/{en,ko}.json (only the keys given are replaced; unknown keys are
	// an error). Files are read once, by New.
	OverrideDir string
}

// Site renders foyer's browser pages and serves their static files. It is
// built once by New and is safe for concurrent use.
type Site struct {
	pages    map[string]*template.Template
	catalogs map[string]catalog
	assets   *assets
}

// New loads the templates, catalogues and static files, applying the
// overrides of cfg, and checks that every template parses.
func New(cfg Config) (*Site, error) {
	var over fs.FS
	if cfg.OverrideDir != "" {
		st, err := os.Stat(cfg.OverrideDir)
		if err != nil {
			return nil, fmt.Errorf("web: override dir: %w", err)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("web: override dir %q is not a directory", cfg.OverrideDir)
		}
		over = os.DirFS(cfg.OverrideDir)
	}
	cats, err := loadCatalogs(embedded, over)
	if err != nil {
		return nil, err
	}
	as, err := loadAssets(embedded, over)
	if err != nil {
		return nil, err
	}
	s := &Site{pages: map[string]*template.Template{}, catalogs: cats, assets: as}
	partials, err := readLayered(embedded, over, "templates/"+tmplPartials)
	if err != nil {
		return nil, err
	}
	for _, name := range []string{tmplQueue, tmplError, tmplDashboard, tmplFairness, tmplFeedback} {
		src, err := readLayered(embedded, over, "templates/"+name)
		if err != nil {
			return nil, err
		}
		t, err := template.New(name).Parse(string(partials))
		if err != nil {
			return nil, fmt.Errorf("web: parse %s: %w", tmplPartials, err)
		}
		if _, err := t.Parse(string(src)); err != nil {
			return nil, fmt.Errorf("web: parse %s: %w", name, err)
		}
		s.pages[name] = t
	}
	return s, nil
}

// readLayered reads name from the override FS when it has it, else from base.
func readLayered(base, over fs.FS, name string) ([]byte, error) {
	if over != nil {
		b, err := fs.ReadFile(over, name)
		if err == nil {
			return b, nil
		}
		if !isNotExist(err) {
			return nil, fmt.Errorf("web: read override %s: %w", name, err)
		}
	}
	b, err := fs.ReadFile(base, name)
	if err != nil {
		return nil, fmt.Errorf("web: read %s: %w", name, err)
	}
	return b, nil
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// cleanPrefix normalises a path prefix: leading slash, no trailing slash,
// default /foyer.
func cleanPrefix(p string) string {
	if p == "" {
		return "/foyer"
	}
	p = path.Clean("/" + p)
	if p == "/" {
		return ""
	}
	return p
}
