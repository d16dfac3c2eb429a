package web

import (
	"regexp"
	"testing"
)

// rootColours reads the custom properties of the first :root rule of a
// stylesheet.
func rootColours(t *testing.T, s *Site, name string) map[string]string {
	t.Helper()
	css, ok := s.Asset(name)
	if !ok {
		t.Fatalf("no %s", name)
	}
	root := regexp.MustCompile(`:root\{([^}]*)\}`).FindSubmatch(css)
	if root == nil {
		t.Fatalf("%s has no :root rule", name)
	}
	out := map[string]string{"#fff": "#ffffff"}
	for _, m := range regexp.MustCompile(`--([a-z0-9-]+):(#[0-9a-fA-F]{3,6})`).FindAllSubmatch(root[1], -1) {
		out["--"+string(m[1])] = string(m[2])
	}
	return out
}

// TestPaletteContrast holds the default colours to WCAG AA (4.5:1) for
// every text/background pair the stylesheets use.
func TestPaletteContrast(t *testing.T) {
	s := newSite(t)
	check := func(sheet string, pairs [][2]string) {
		c := rootColours(t, s, sheet)
		for _, p := range pairs {
			fg, bg := c[p[0]], c[p[1]]
			if fg == "" || bg == "" {
				t.Errorf("%s: colour %s or %s not defined", sheet, p[0], p[1])
				continue
			}
			if r := contrast(fg, bg); r < 4.5 {
				t.Errorf("%s: %s on %s contrast %.2f:1 < 4.5:1", sheet, p[0], p[1], r)
			}
		}
	}
	check("foyer.css", [][2]string{
		{"--fg", "--bg"}, {"--fg", "--card"}, {"--muted", "--bg"}, {"--muted", "--card"},
		{"--accent", "--bg"}, {"--accent", "--card"}, {"--bg", "--accent"}, {"--fg", "--warn"},
	})
	check("dash.css", [][2]string{
		{"--fg", "--bg"}, {"--fg", "--card"}, {"--muted", "--bg"}, {"--muted", "--card"},
		{"--accent", "--card"}, {"#fff", "--accent"}, {"#fff", "--bad"}, {"--bad", "--card"}, {"--good", "--card"},
	})
}
