package gateway

import (
	"cmp"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The configuration is decoded through yaml.Node rather than straight into Config, so that
// check-config can report every problem at once, each with its line and the field's name as
// written in the YAML ("line 12: rooms[0].colour: unknown field"), rather than stopping at the
// first and naming Go types. The walk follows Config's yaml tags by reflection, so a field
// added to Config is decoded (and located) with no change here.

// configSource remembers where each field of a decoded file is, and which fields failed to
// decode (their validation problems would only repeat the decode problem).
type configSource struct {
	lines  map[string]int  // field path → line of its key (or list item)
	failed map[string]bool // field paths whose value could not be decoded
	syntax bool            // the YAML could not be read at all: validating the rest would mislead
}

// problem is one thing wrong with a configuration, at a line of the file (0: not in the file).
type problem struct {
	line int
	text string // "field: message"
}

func (p problem) String() string {
	if p.line > 0 {
		return fmt.Sprintf("line %d: %s", p.line, p.text)
	}
	return p.text
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	timeType     = reflect.TypeFor[time.Time]()
	yamlErrLine  = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
)

// decodeConfig decodes data on top of cfg, collecting every problem rather than stopping at the
// first. A syntax error (the YAML cannot be read at all) is the only problem reported alone.
func decodeConfig(data []byte, cfg *Config) (*configSource, []problem) {
	src := &configSource{lines: map[string]int{}, failed: map[string]bool{}}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		src.syntax = true
		msg := err.Error()
		if m := yamlErrLine.FindStringSubmatch(msg); m != nil {
			n, _ := strconv.Atoi(m[1])
			return src, []problem{{line: n, text: "not valid YAML: " + m[2]}}
		}
		return src, []problem{{text: "not valid YAML: " + strings.TrimPrefix(msg, "yaml: ")}}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 { // an empty file: the defaults
		return src, nil
	}
	d := decoder{src: src}
	d.value(doc.Content[0], reflect.ValueOf(cfg).Elem(), "")
	return src, d.problems
}

type decoder struct {
	src      *configSource
	problems []problem
}

func (d *decoder) bad(line int, path, format string, args ...any) {
	d.src.failed[path] = true
	d.problems = append(d.problems, problem{line: line, text: path + ": " + fmt.Sprintf(format, args...)})
}

// value decodes n into v, the field at path.
func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // "key:" with nothing after it leaves the default
	}
	t := v.Type()
	switch {
	case t == durationType || t == timeType || t.Kind() != reflect.Struct && t.Kind() != reflect.Slice && t.Kind() != reflect.Map:
		d.leaf(n, v, path)
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			d.bad(n.Line, path, "must be a mapping of fields, found %s", nodeKind(n))
			return
		}
		d.fields(n, v, path)
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.bad(n.Line, path, "must be a list, found %s", nodeKind(n))
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			d.src.lines[p] = item.Line
			d.value(item, s.Index(i), p)
		}
		v.Set(s)
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.bad(n.Line, path, "must be a mapping, found %s", nodeKind(n))
			return
		}
		if t.Key().Kind() != reflect.String {
			d.leaf(n, v, path)
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(t))
		}
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			p := path + "." + k.Value
			if first, dup := seen[k.Value]; dup {
				d.bad(k.Line, p, "is set twice (first at line %d)", first)
				continue
			}
			seen[k.Value] = k.Line
			d.src.lines[p] = k.Line
			elem := reflect.New(t.Elem()).Elem()
			d.value(val, elem, p)
			v.SetMapIndex(reflect.ValueOf(k.Value).Convert(t.Key()), elem)
		}
	}
}

// fields decodes a mapping into the struct v by its yaml tags.
func (d *decoder) fields(n *yaml.Node, v reflect.Value, path string) {
	byName := map[string]int{}
	var names []string
	for i := range v.NumField() {
		f := v.Type().Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "-" || name == "" {
			continue
		}
		byName[name] = i
		names = append(names, name)
	}
	seen := map[string]int{}
	// Merge keys ("<<: *defaults") first, so keys written here win, as in YAML.
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Value == "<<" && k.Tag == "!!merge" {
			val := n.Content[i+1]
			for val.Kind == yaml.AliasNode && val.Alias != nil {
				val = val.Alias
			}
			srcs := []*yaml.Node{val}
			if val.Kind == yaml.SequenceNode {
				srcs = val.Content
			}
			for _, m := range srcs {
				for m.Kind == yaml.AliasNode && m.Alias != nil {
					m = m.Alias
				}
				if m.Kind == yaml.MappingNode {
					d.fields(m, v, path)
				}
			}
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Value == "<<" && k.Tag == "!!merge" {
			continue
		}
		p := join(path, k.Value)
		idx, ok := byName[k.Value]
		if !ok {
			if s := closest(k.Value, names); s != "" {
				d.bad(k.Line, p, "unknown field (did you mean %s?)", s)
			} else {
				d.bad(k.Line, p, "unknown field")
			}
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.bad(k.Line, p, "is set twice (first at line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		d.src.lines[p] = k.Line
		d.value(val, v.Field(idx), p)
	}
}

// leaf decodes a scalar (or anything yaml decodes itself) into v.
func (d *decoder) leaf(n *yaml.Node, v reflect.Value, path string) {
	tmp := reflect.New(v.Type())
	if err := n.Decode(tmp.Interface()); err != nil {
		found := nodeKind(n)
		if n.Kind == yaml.ScalarNode {
			found = strconv.Quote(n.Value)
		}
		d.bad(n.Line, path, "must be %s, found %s", want(v.Type()), found)
		return
	}
	v.Set(tmp.Elem())
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return strconv.Quote(n.Value)
}

// want says in words what a field of type t takes.
func want(t reflect.Type) string {
	switch {
	case t == durationType:
		return "a duration such as 90s, 10m or 1h30m"
	case t == timeType:
		return "a time such as 2026-10-02T14:00:00+09:00"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number, not negative"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Map:
		return "a mapping"
	case reflect.Slice:
		return "a list"
	}
	return "a " + t.String()
}

// closest returns the known name nearest to s when it is near enough to be a typo.
func closest(s string, names []string) string {
	best, bestD := "", 3
	for _, n := range names {
		if dd := editDistance(s, n); dd < bestD {
			best, bestD = n, dd
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// locate gives a validation problem ("field: message") the line of its field, or of the
// nearest enclosing field the file sets (a missing backend is reported at its room). It
// returns false when the field failed to decode: the decode problem already says so.
func (src *configSource) locate(text string) (problem, bool) {
	field, _, ok := strings.Cut(text, ": ")
	if !ok {
		return problem{text: text}, true
	}
	for p := field; p != ""; p = parentPath(p) {
		if src.failed[p] {
			return problem{}, false
		}
	}
	for p := field; p != ""; p = parentPath(p) {
		if line, ok := src.lines[p]; ok {
			return problem{line: line, text: text}, true
		}
	}
	return problem{text: text}, true
}

// parentPath strips the last ".name" or "[i]" of a field path.
func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

// sortProblems orders problems by line (those outside the file, from the environment, last),
// keeping the order of problems on one line.
func sortProblems(ps []problem) []string {
	slices.SortStableFunc(ps, func(a, b problem) int {
		if (a.line == 0) != (b.line == 0) {
			return cmp.Compare(b.line, a.line) // the one with a line first
		}
		return cmp.Compare(a.line, b.line)
	})
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

// withLines gives each problem of a validation error its line in the file, drops those about
// fields that failed to decode, and adds the decode problems.
func withLines(src *configSource, decode []problem, err error) ([]string, error) {
	ps := slices.Clone(decode)
	if err != nil && !src.syntax {
		var ce *ConfigError
		if !errors.As(err, &ce) {
			return nil, err
		}
		for _, text := range ce.Problems {
			if p, ok := src.locate(text); ok {
				ps = append(ps, p)
			}
		}
	}
	return sortProblems(ps), nil
}
