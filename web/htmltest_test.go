package web

import (
	"bytes"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// Small helpers over golang.org/x/net/html so the template tests read the
// rendered document, not the template source.

func parseHTML(t *testing.T, b []byte) *html.Node {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("parse html: %v", err)
	}
	return doc
}

func findAll(n *html.Node, pred func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && pred(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

func tag(name string) func(*html.Node) bool {
	return func(n *html.Node) bool { return n.Data == name }
}

func withAttr(key, val string) func(*html.Node) bool {
	return func(n *html.Node) bool { v, ok := attr(n, key); return ok && v == val }
}

func byID(t *testing.T, doc *html.Node, id string) *html.Node {
	t.Helper()
	ns := findAll(doc, withAttr("id", id))
	if len(ns) != 1 {
		t.Fatalf("want one element #%s, got %d", id, len(ns))
	}
	return ns[0]
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

// textOf is the text of n with whitespace collapsed, leaving out hidden
// descendants (as a browser's innerText would).
func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
			b.WriteByte(' ')
		}
		if n.Type == html.ElementNode {
			if _, h := attr(n, "hidden"); h {
				return
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

// shown reports whether neither n nor an ancestor has the hidden attribute.
func shown(n *html.Node) bool {
	for ; n != nil; n = n.Parent {
		if n.Type == html.ElementNode {
			if _, h := attr(n, "hidden"); h {
				return false
			}
		}
	}
	return true
}

// noscriptMeta returns the content of <noscript><meta http-equiv=refresh>.
// The parser keeps noscript content in head as raw text when scripting is
// on, so parse it again.
func noscriptRefresh(t *testing.T, doc *html.Node) (string, bool) {
	t.Helper()
	for _, ns := range findAll(doc, tag("noscript")) {
		inner := ""
		for c := ns.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.TextNode {
				inner += c.Data
			}
		}
		if inner == "" {
			continue
		}
		sub := parseHTML(t, []byte(inner))
		for _, m := range findAll(sub, withAttr("http-equiv", "refresh")) {
			v, _ := attr(m, "content")
			return html.UnescapeString(v), true
		}
	}
	return "", false
}
