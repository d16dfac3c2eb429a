package web

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// Supported page languages.
const (
	LangEnglish = "en"
	LangKorean  = "ko"
)

// LangCookieName is the cookie that remembers the visitor's chosen language.
const LangCookieName = "foyer_lang"

// LangQueryParam is the query parameter the language links use when
// JavaScript is off; see RequestLang.
const LangQueryParam = "foyer_lang"

// maxAcceptLanguage bounds the header we are willing to parse.
const maxAcceptLanguage = 512

var langs = []string{LangEnglish, LangKorean}

// Langs returns the supported language codes, English first.
func Langs() []string { return append([]string(nil), langs...) }

func supported(l string) (string, bool) {
	l = strings.ToLower(strings.TrimSpace(l))
	if i := strings.IndexAny(l, "-_"); i >= 0 {
		l = l[:i]
	}
	for _, s := range langs {
		if l == s {
			return s, true
		}
	}
	return "", false
}

// normLang maps anything unsupported to English.
func normLang(l string) string {
	if s, ok := supported(l); ok {
		return s
	}
	return LangEnglish
}

// NegotiateLang picks the page language: the cookie value when it names a
// supported language, otherwise the supported language the Accept-Language
// header ranks highest (q-values honoured, ties in header order), otherwise
// English. It never fails; malformed input falls back to English.
func NegotiateLang(acceptLanguage, cookie string) string {
	if l, ok := supported(cookie); ok && cookie != "" {
		return l
	}
	if len(acceptLanguage) > maxAcceptLanguage {
		acceptLanguage = acceptLanguage[:maxAcceptLanguage]
	}
	best, bestQ := "", 0.0
	for _, part := range strings.Split(acceptLanguage, ",") {
		tag, params, _ := strings.Cut(part, ";")
		l, ok := supported(tag)
		if !ok || strings.TrimSpace(tag) == "" {
			continue
		}
		q := 1.0
		if k, v, ok := strings.Cut(strings.TrimSpace(params), "="); ok && strings.TrimSpace(k) == "q" {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || f < 0 || f > 1 {
				continue
			}
			q = f
		}
		if q > bestQ {
			best, bestQ = l, q
		}
	}
	if best == "" {
		return LangEnglish
	}
	return best
}

// RequestLang picks the page language for r: the foyer_lang query parameter
// (the no-JavaScript language links), then the foyer_lang cookie, then
// Accept-Language. When the query parameter chose it, the caller should
// remember the choice with LangCookie.
func RequestLang(r *http.Request) string {
	if l, ok := supported(r.URL.Query().Get(LangQueryParam)); ok {
		return l
	}
	cookie := ""
	if c, err := r.Cookie(LangCookieName); err == nil {
		cookie = c.Value
	}
	return NegotiateLang(r.Header.Get("Accept-Language"), cookie)
}

// LangCookie returns the cookie that remembers lang for a year. The page's
// script sets the same cookie itself (so it is not HttpOnly: it holds no
// secret).
func LangCookie(lang string, secure bool) *http.Cookie {
	return &http.Cookie{
		Name: LangCookieName, Value: normLang(lang), Path: "/",
		MaxAge: 365 * 24 * 3600, SameSite: http.SameSiteLaxMode, Secure: secure,
	}
}

// catalog holds the messages of one language.
type catalog map[string]string

// text returns the message key with {name} placeholders filled from the
// name/value pairs in args. A missing key shows itself, so a gap is visible
// in review rather than silently blank.
func (c catalog) text(key string, args ...string) string {
	m, ok := c[key]
	if !ok {
		return key
	}
	if len(args) == 0 {
		return m
	}
	pairs := make([]string, 0, len(args))
	for i := 0; i+1 < len(args); i += 2 {
		pairs = append(pairs, "{"+args[i]+"}", args[i+1])
	}
	return strings.NewReplacer(pairs...).Replace(m)
}

// subset returns the messages whose keys start with prefix, for a page's
// script.
func (c catalog) subset(prefix string) map[string]string {
	out := map[string]string{}
	for k, v := range c {
		if strings.HasPrefix(k, prefix) {
			out[strings.TrimPrefix(k, prefix)] = v
		}
	}
	return out
}

// loadCatalogs reads i18n/<lang>.json from the embedded files and merges the
// override directory's files on top. An override may only replace known keys,
// so a typo is an error rather than a silently ignored message. Both
// languages must have the same keys.
func loadCatalogs(base, override fs.FS) (map[string]catalog, error) {
	out := map[string]catalog{}
	for _, l := range langs {
		name := "i18n/" + l + ".json"
		b, err := fs.ReadFile(base, name)
		if err != nil {
			return nil, fmt.Errorf("web: read %s: %w", name, err)
		}
		c := catalog{}
		if err := json.Unmarshal(b, &c); err != nil {
			return nil, fmt.Errorf("web: parse %s: %w", name, err)
		}
		if override != nil {
			ob, err := fs.ReadFile(override, name)
			if err == nil {
				oc := catalog{}
				if err := json.Unmarshal(ob, &oc); err != nil {
					return nil, fmt.Errorf("web: parse override %s: %w", name, err)
				}
				var unknown []string
				for k, v := range oc {
					if _, ok := c[k]; !ok {
						unknown = append(unknown, k)
						continue
					}
					c[k] = v
				}
				if len(unknown) > 0 {
					sort.Strings(unknown)
					return nil, fmt.Errorf("web: override %s: unknown keys %s", name, strings.Join(unknown, ", "))
				}
			} else if !isNotExist(err) {
				return nil, fmt.Errorf("web: read override %s: %w", name, err)
			}
		}
		out[l] = c
	}
	var missing []string
	for k := range out[LangEnglish] {
		if _, ok := out[LangKorean][k]; !ok {
			missing = append(missing, "ko:"+k)
		}
	}
	for k := range out[LangKorean] {
		if _, ok := out[LangEnglish][k]; !ok {
			missing = append(missing, "en:"+k)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("web: catalogues differ, missing %s", strings.Join(missing, ", "))
	}
	return out, nil
}
