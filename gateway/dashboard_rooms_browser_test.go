package gateway

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestDashboardRoomsPanel drives the dashboard's rooms panel (dash-rooms.js) in headless
// Chromium against a real gateway with room templates, at a phone's 390 px, in English and
// in Korean: a bad name is refused with the field's error in words, a taken name is told, a
// room created through the form is in the room list and served by the API, and deleting it
// (after a confirmation that says its waiting visitors are told it is closed) takes it out
// of the list. A room configured in the YAML has no delete button.
func TestDashboardRoomsPanel(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpt{mod: withTemplates})
	api := h.srv.URL + "/foyer/admin/v1/rooms"
	// the 400 and 409 below are answers the test provokes
	ctx := browserTab(t, "status of 400 (Bad Request) "+api, "status of 409 (Conflict) "+api)
	browse(t, ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))

	for _, c := range []struct {
		lang, room                                                     string
		badName, invalid, taken, created, confirm, deleted, deleteWord string
	}{
		{"en", "screen-en", "1 to 64 characters", "Nothing was created: 1 field(s)", "is taken", "Room screen-en created.",
			"will be told the room is closed", "Room screen-en deleted", "Delete screen-en"},
		{"ko", "screen-ko", "1~64자를 쓰세요", "만들지 않았습니다. 고칠 항목 1개.", "이미 쓰이고 있거나", "screen-ko 대기실을 만들었습니다.",
			"대기실이 닫혔다고 안내됩니다", "screen-ko 대기실을 삭제했습니다", "screen-ko 삭제"},
	} {
		browse(t, ctx, chromedp.Navigate(h.srv.URL+"/foyer/admin/?foyer_lang="+c.lang))
		if c.lang == "en" {
			waitJS(t, ctx, "the sign-in form", `!document.getElementById('signin').hidden`, 10*time.Second)
			browse(t, ctx, chromedp.SendKeys(chromedp.CSS("#token"), testAdminToken+"\n"))
		}
		waitJS(t, ctx, c.lang+": the overview and the templates", `!document.getElementById('dash').hidden && document.documentElement.lang === '`+c.lang+`' && document.querySelector('#rooms tbody button')?.innerText.includes('festival') && document.querySelectorAll('#rm-template option').length === 2`, 10*time.Second)
		if n := jsEval[int](t, ctx, `document.querySelectorAll('#rm-list button').length`); n != 0 {
			t.Errorf("%s: %d delete buttons with only the YAML room", c.lang, n)
		}
		if ph := jsEval[string](t, ctx, `document.getElementById('rm-rate').placeholder`); ph != "60" {
			t.Errorf("%s: rate placeholder %q, want the template's 60", c.lang, ph)
		}

		// a bad name: told in words next to the field; nothing created
		fill := func(name, cap string) {
			browse(t, ctx, chromedp.Evaluate[chromedp.Void](`['rm-name','rm-cap'].forEach(i => { document.getElementById(i).value = ''; })`),
				chromedp.SendKeys(chromedp.CSS("#rm-name"), name))
			if cap != "" {
				browse(t, ctx, chromedp.SendKeys(chromedp.CSS("#rm-cap"), cap))
			}
			browse(t, ctx, chromedp.Click(chromedp.CSS("#rm-form button")))
		}
		fill("Screen 7", "")
		waitJS(t, ctx, c.lang+": the name's error", `document.getElementById('e-rm-name').innerText.includes('`+c.badName+`') && document.getElementById('rm-name').getAttribute('aria-invalid') === 'true' && document.activeElement.id === 'rm-name' && document.getElementById('rm-status').innerText.includes('`+c.invalid+`')`, 10*time.Second)
		if code, _ := h.admin(http.MethodGet, "/foyer/admin/v1/rooms/screen-7", "", nil); code != http.StatusNotFound {
			t.Errorf("%s: a room was created from a bad form: %d", c.lang, code)
		}
		if over := jsEval[string](t, ctx, overflowJS); over != "" {
			t.Errorf("%s at 390 px with the errors shown: %s", c.lang, over)
		}
		shoot(t, ctx, "gateway-dashboard-rooms-400-"+c.lang)
		// a good name with a bad cap: the cap's error (the API's words), the name's cleared
		fill(c.room, "-1")
		waitJS(t, ctx, c.lang+": the cap's error", `document.getElementById('e-rm-cap').innerText !== '' && document.getElementById('rm-cap').getAttribute('aria-invalid') === 'true' && document.getElementById('e-rm-name').innerText === '' && document.getElementById('rm-status').innerText.includes('`+c.invalid+`')`, 10*time.Second)
		if code, _ := h.admin(http.MethodGet, "/foyer/admin/v1/rooms/"+c.room, "", nil); code != http.StatusNotFound {
			t.Errorf("%s: a room was created with a bad cap: %d", c.lang, code)
		}

		// a good one: created, in the room list, a delete button
		fill(c.room, "")
		waitJS(t, ctx, c.lang+": created", `document.getElementById('rm-status').innerText === '`+c.created+`' && document.getElementById('e-rm-name').innerText === '' && document.getElementById('e-rm-cap').innerText === ''`, 10*time.Second)
		waitJS(t, ctx, c.lang+": the new room in the list", `[...document.querySelectorAll('#rooms tbody button')].some(b => b.innerText.includes('(`+c.room+`)')) && document.querySelector('#rm-list button')?.innerText === '`+c.deleteWord+`'`, 10*time.Second)
		if code, body := h.admin(http.MethodGet, "/foyer/admin/v1/rooms/"+c.room, "", nil); code != http.StatusOK || !strings.Contains(string(body), `"runtime":true`) {
			t.Fatalf("%s: the created room through the API: %d %s", c.lang, code, body)
		}

		// the same name again: taken
		fill(c.room, "")
		waitJS(t, ctx, c.lang+": name taken", `document.getElementById('e-rm-name').innerText.includes('`+c.taken+`')`, 10*time.Second)

		// delete: confirmed first, then gone from the list and the API
		browse(t, ctx, chromedp.Click(chromedp.CSS("#rm-list button")))
		waitJS(t, ctx, c.lang+": the confirmation", `document.getElementById('confirm').open && document.getElementById('confirm-text').innerText.includes('`+c.confirm+`')`, 5*time.Second)
		if code, _ := h.admin(http.MethodGet, "/foyer/admin/v1/rooms/"+c.room, "", nil); code != http.StatusOK {
			t.Fatalf("%s: the room went before the confirmation: %d", c.lang, code)
		}
		shoot(t, ctx, "gateway-dashboard-rooms-confirm-"+c.lang)
		browse(t, ctx, chromedp.Click(chromedp.CSS("#confirm-ok")))
		waitJS(t, ctx, c.lang+": deleted", `document.getElementById('rm-status').innerText.includes('`+c.deleted+`') && ![...document.querySelectorAll('#rooms tbody button')].some(b => b.innerText.includes('`+c.room+`')) && document.querySelectorAll('#rm-list button').length === 0`, 10*time.Second)
		if code, _ := h.admin(http.MethodGet, "/foyer/admin/v1/rooms/"+c.room, "", nil); code != http.StatusNotFound {
			t.Errorf("%s: the deleted room through the API: %d", c.lang, code)
		}
	}
	// a gateway without templates: the panel says how to add them, and offers no form
	bare := newHarness(t, harnessOpt{})
	browse(t, ctx, chromedp.Navigate(bare.srv.URL+"/foyer/admin/?foyer_lang=en"))
	waitJS(t, ctx, "the sign-in form (no templates)", `!document.getElementById('signin').hidden`, 10*time.Second)
	browse(t, ctx, chromedp.SendKeys(chromedp.CSS("#token"), testAdminToken+"\n"))
	waitJS(t, ctx, "no templates told", `!document.getElementById('dash').hidden && document.getElementById('rm-form').hidden && document.getElementById('rm-status').innerText.includes('room_templates')`, 10*time.Second)
}

// TestDashboardServedGzipped: the dashboard page goes out gzipped to a client that accepts
// it (the 30 KB first-load budget counts it so: web.TestDashboardBudget), plain otherwise.
func TestDashboardServedGzipped(t *testing.T) {
	h := newHarness(t, harnessOpt{})
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	for ae, want := range map[string]bool{"gzip, deflate, br": true, "": false, "br;q=1, gzip;q=0": false, "GZIP;q=0.5": true, "*": true, "gzip;q=0.0": false, "identity": false} {
		req, _ := http.NewRequest(http.MethodGet, h.srv.URL+"/foyer/admin/", nil)
		if ae != "" {
			req.Header.Set("Accept-Encoding", ae)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		gz := resp.Header.Get("Content-Encoding") == "gzip"
		if resp.StatusCode != http.StatusOK || gz != want || gz != bytes.HasPrefix(body, []byte{0x1f, 0x8b}) {
			t.Errorf("Accept-Encoding %q: %d, Content-Encoding %q, body starts %q", ae, resp.StatusCode, resp.Header.Get("Content-Encoding"), body[:min(len(body), 4)])
		}
	}
}
