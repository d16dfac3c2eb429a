package web

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Room names and words per language come from the room's configuration: DisplayNames
// ({"ko": "부산국제영화제 2026", "en": "Busan International Film Festival 2026"}) picks the
// heading by page language, and Texts replaces queue-page messages for one room
// ({"en": {"q_closed_body": "..."}}). CheckRoomTexts validates both at configuration time.

// maxRoomText bounds one configured message.
const maxRoomText = 2000

var embeddedCatalogs = sync.OnceValues(func() (map[string]catalog, error) { return loadCatalogs(embedded, nil) })

// roomTextKey reports whether a room may replace the message key: the queue page's own
// words (q_..., qjs_...).
func roomTextKey(k string) bool { return strings.HasPrefix(k, "q_") || strings.HasPrefix(k, "qjs_") }

// CheckRoomTexts reports every problem in a room's per-language names and texts, each
// naming its field: languages must be supported ("en", "ko"), names and texts non-empty
// and at most 2,000 bytes, keys must be queue-page messages (q_... or qjs_..., as in
// i18n/en.json) and a text may only use the placeholders ({place}, ...) of the message
// it replaces. Field names are relative to the room (display_names.ko, texts.en.q_closed_body).
func CheckRoomTexts(names map[string]string, texts map[string]map[string]string) []string {
	cats, err := embeddedCatalogs()
	if err != nil {
		return []string{"texts: " + err.Error()}
	}
	var probs []string
	for _, l := range sortedKeys(names) {
		f := "display_names." + l
		if _, ok := cats[l]; !ok {
			probs = append(probs, fmt.Sprintf("%s: unsupported language %q (want one of %s)", f, l, strings.Join(langs, ", ")))
		}
		if v := strings.TrimSpace(names[l]); v == "" || len(v) > 200 {
			probs = append(probs, f+": must be 1 to 200 bytes")
		}
	}
	for _, l := range sortedKeys(texts) {
		c, ok := cats[l]
		if !ok {
			probs = append(probs, fmt.Sprintf("texts.%s: unsupported language %q (want one of %s)", l, l, strings.Join(langs, ", ")))
			continue
		}
		for _, k := range sortedKeys(texts[l]) {
			f, v := "texts."+l+"."+k, texts[l][k]
			orig, known := c[k]
			switch {
			case !known || !roomTextKey(k):
				probs = append(probs, f+": not a queue page message (see web/i18n/en.json, keys q_... and qjs_...)")
			case strings.TrimSpace(v) == "" || len(v) > maxRoomText:
				probs = append(probs, fmt.Sprintf("%s: must be 1 to %d bytes", f, maxRoomText))
			default:
				if extra := extraPlaceholders(v, orig); len(extra) > 0 {
					probs = append(probs, fmt.Sprintf("%s: placeholder %s is not one of the message's (%s)", f, strings.Join(extra, ", "), strings.Join(placeholders(orig), ", ")))
				}
			}
		}
	}
	return probs
}

func placeholders(s string) []string {
	var out []string
	for _, m := range strings.Split(s, "{")[1:] {
		if name, _, ok := strings.Cut(m, "}"); ok {
			out = append(out, "{"+name+"}")
		}
	}
	return out
}

func extraPlaceholders(v, orig string) []string {
	have := map[string]bool{}
	for _, p := range placeholders(orig) {
		have[p] = true
	}
	var extra []string
	for _, p := range placeholders(v) {
		if !have[p] {
			extra = append(extra, p)
		}
	}
	return extra
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// pickName is the room's name in lang: names[lang], else name, else dflt.
func pickName(names map[string]string, lang, name, dflt string) string {
	if v := strings.TrimSpace(names[normLang(lang)]); v != "" {
		return v
	}
	if name != "" {
		return name
	}
	return dflt
}

// withTexts is c with the room's messages for its language laid over it (only queue-page
// keys the catalogue has); c itself when there are none.
func (c catalog) withTexts(over map[string]string) catalog {
	if len(over) == 0 {
		return c
	}
	out := make(catalog, len(c))
	for k, v := range c {
		out[k] = v
	}
	for k, v := range over {
		if _, ok := c[k]; ok && roomTextKey(k) && strings.TrimSpace(v) != "" {
			out[k] = v
		}
	}
	return out
}
