package archtest

import (
	"bytes"
	"encoding/json"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/foyerhq/foyer"

// pkg is what `go list -json` says of a package that this test reads.
type pkg struct {
	ImportPath string
	Dir        string
	Doc        string
	Name       string
	Imports    []string
}

// listPackages runs `go list -json ./...` at the module root.
func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = filepath.Join("..", "..")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("go list: %v\n%s", err, errb.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(&out)
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 5 {
		t.Fatalf("go list found %d packages: run from the repository", len(pkgs))
	}
	return pkgs
}

// rel is a package's path inside the module ("gateway", "cmd/foyer", ...).
func rel(importPath string) string {
	return strings.TrimPrefix(strings.TrimPrefix(importPath, module), "/")
}

// allowed says which of the project's packages each part may import (production code; tests
// may also use queue/redistest). A prefix ending in "/" covers everything under it.
var allowed = []struct {
	from string
	to   []string
}{
	{"admission", nil},
	{"queue", nil},
	{"web", nil},
	{"queue/redistest", []string{"internal/redisproc"}},
	{"gateway", []string{"admission", "queue", "web"}},
	{"internal/", []string{"admission", "queue", "web", "gateway", "internal/"}},
	{"cmd/", []string{"admission", "queue", "web", "gateway", "internal/"}},
	// deploy's chart test checks the rendered config with gateway's parser; its crowd driver is
	// a stand-alone HTTP client
	{"deploy", []string{"gateway", "admission"}},
	{"deploy/", nil},
}

func matches(pattern, path string) bool {
	if strings.HasSuffix(pattern, "/") {
		return strings.HasPrefix(path, pattern)
	}
	return path == pattern
}

// rule returns the allowed imports of a package, and false when the table has no row for it.
func rule(path string) ([]string, bool) {
	for _, r := range allowed {
		if matches(r.from, path) {
			return r.to, true
		}
	}
	return nil, false
}

// TestImportsPointTheDeclaredWay: cmd -> gateway -> admission, queue, web; queue, web and
// admission import nothing of the project; internal/ only from cmd, internal and test helpers.
func TestImportsPointTheDeclaredWay(t *testing.T) {
	for _, p := range listPackages(t) {
		from := rel(p.ImportPath)
		to, ok := rule(from)
		if !ok {
			t.Errorf("%s: no import rule for this package: add it to the table in %s", from, "internal/archtest")
			continue
		}
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module+"/") && imp != module {
				continue
			}
			target := rel(imp)
			ok := false
			for _, pat := range to {
				if matches(pat, target) {
					ok = true
				}
			}
			if !ok {
				t.Errorf("%s imports %s: not allowed (it may import %v)", from, target, to)
			}
		}
	}
}

// TestRuleTable: the table rejects what the design forbids, so the test above can fail.
func TestRuleTable(t *testing.T) {
	forbidden := [][2]string{
		{"queue", "gateway"}, {"queue", "admission"}, {"web", "queue"}, {"admission", "gateway"},
		{"gateway", "cmd/foyer"}, {"gateway", "internal/boxoffice"}, {"queue", "internal/redisproc"},
		{"internal/sim", "cmd/foyer-sim"},
	}
	for _, f := range forbidden {
		to, _ := rule(f[0])
		for _, pat := range to {
			if matches(pat, f[1]) {
				t.Errorf("the table lets %s import %s", f[0], f[1])
			}
		}
	}
	if _, ok := rule("newpkg"); ok {
		t.Error("a package with no row must be reported")
	}
}

// TestEveryPackageHasADocComment: `go doc` and pkg.go.dev show something for every package.
func TestEveryPackageHasADocComment(t *testing.T) {
	for _, p := range listPackages(t) {
		if strings.TrimSpace(p.Doc) == "" {
			t.Errorf("%s (%s): no package comment", rel(p.ImportPath), p.Dir)
		}
		if p.Name == "main" && !strings.HasPrefix(p.Doc, "Command ") {
			t.Errorf("%s: a command's comment starts with \"Command %s\"", rel(p.ImportPath), filepath.Base(p.Dir))
		}
	}
}
