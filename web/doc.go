// Package web renders foyer's browser pages, the queue page, the browser
// error page and the organisers' dashboard, and serves their static files.
// Templates, message catalogues (Korean and English) and static files are
// embedded; an operator can replace any of them from a directory
// (Config.OverrideDir). The package imports nothing of the project: the
// gateway hands it plain data.
//
// # API
//
//	func New(cfg Config) (*Site, error)
//	func (s *Site) QueuePage(w io.Writer, d QueuePageData) error
//	func (s *Site) ErrorPage(w io.Writer, d ErrorPageData) error
//	func (s *Site) DashboardPage(w io.Writer, d DashboardData) error
//	func (s *Site) ServeQueuePage(w http.ResponseWriter, code int, d QueuePageData) error
//	func (s *Site) ServeErrorPage(w http.ResponseWriter, code int, d ErrorPageData) error
//	func (s *Site) ServeDashboard(w http.ResponseWriter, d DashboardData) error
//	func (s *Site) Static() http.Handler
//	func (s *Site) AssetURL(prefix, name string) string
//	func NegotiateLang(acceptLanguage, cookie string) string
//	func RequestLang(r *http.Request) string
//	func LangCookie(lang string, secure bool) *http.Cookie
//	func SetPageHeaders(h http.Header, nonce string)
//	func (t Theme) Check() error
//
// The Serve methods render into a buffer first (a template error writes
// nothing), generate a CSP nonce, and set the page headers: Cache-Control
// no-store, a strict Content-Security-Policy (same-origin scripts, styles
// and fetches only; the optional inline theme style carries the nonce), and
// nosniff. Static files are served under {prefix}/static/ with content-hashed
// names and a one-year immutable cache.
//
// # The queue page
//
// The page is rendered with the visitor's current status, so it is right
// before any script runs; without scripts a <noscript> meta refresh reloads
// it (every Status.PollAfter, 5 s to 60 s; at once to the redirect when
// admitted). Its script (static/queue.js, no framework, no third-party
// request) then:
//
//   - POSTs {prefix}/v1/rooms/{room}/join first when QueuePageData.HasTicket
//     is false (or polls with a ticket it kept in sessionStorage from an
//     earlier join in this tab, sent as the Foyer-Ticket header);
//   - polls GET {prefix}/v1/rooms/{room}/status (credentials same-origin,
//     Accept: application/json) every poll_after_ms (clamped to 1 s..60 s);
//   - on a network error or a 5xx shows "reconnecting" with the last known
//     place and backs off exponentially with jitter (up to 60 s); on 429
//     says so in words (never a status code) and waits Retry-After plus up
//     to half again; only on 401 or error code no_ticket/bad_ticket does it
//     drop the ticket and join again; on error code room_closed shows the
//     closed panel;
//   - polls at once when the page is visible again, restored from the
//     back-forward cache, thawed or back online, and sends one keepalive
//     status request when it is hidden (figures and sources in
//     docs/queue.md, "The queue page");
//   - near the front (place <= 5 or ETA <= 1 min) changes the title, plays a
//     tone, vibrates and, if the visitor opted in, notifies;
//   - keeps {position, place at join, best place} in localStorage, so the
//     progress bar and the never-rising place survive reloads, unless the
//     status says notice "place_rose";
//   - says stalled ("sessions": no ETA number; "paused"), returning and
//     sold_out in words, and a second chance after a failed booking
//     ("reentry": in its line, or going back in, after 5 s rather than 0.6 s);
//   - shows one panel per state: joining (also at the opening, until the
//     gateway says open), pre (scheduled/prequeue: opening
//     time in the room's zone, a countdown against the server's clock, the
//     random-place promise and the fairness link), wait (place, people
//     ahead, ETA range, progress from joined_place to the front, last
//     update), turn (goes to redirect by itself after 0.6 s, with a button),
//     paused, sold out, closed; a reconnecting banner over any of them;
//   - announces in an aria-live region only what matters: a new panel, the
//     connection lost or back, the place when it is 10 or less, fell by 10%
//     since the last announcement, or two minutes have passed;
//   - never shows a place higher than one it showed (until it joins again);
//   - switches language by setting the foyer_lang cookie and reloading.
//
// The status JSON it reads (fields it does not know are ignored):
//
//	{"room","state","place","ahead","joined_place","eta_seconds":{"low","high"} or null,
//	 "poll_after_ms","admitted","redirect","opens_at","updated_at","reconnecting",
//	 "position","stalled","returning","notice","reentry","ticket" (join only)}
//
// The join request is prepared by prepareJoin in queue.js: the hook for a join
// challenge. Room names and queue-page messages per language come from
// QueuePageData.DisplayNames and Texts (checked by CheckRoomTexts).
//
// # Languages
//
// English ("en") and Korean ("ko"). RequestLang picks, in order, the
// foyer_lang query parameter (the language links work without scripts),
// the foyer_lang cookie, then Accept-Language; English otherwise. Numbers
// and times are formatted in Go for the first render and with Intl in the
// browser, both in the room's time zone (QueuePageData.TimeZone, an IANA
// name; time/tzdata is embedded so zones work in a scratch image).
//
// # The dashboard
//
// DashboardPage renders the shell of /foyer/admin/; its script signs in with
// an admin token kept in sessionStorage and sent only as an Authorization
// header, polls GET {api}/rooms every second and GET {api}/rooms/{room}/history
// ?since= for the open room, draws the last 30 minutes as inline SVG, and
// sends each confirmed change as PATCH {api}/rooms/{room} with If-Match.
//
// # Weight
//
// A first load of the queue page (HTML, CSS, script; the heaviest state) is
// about 25.0 KB in English and 26.2 KB in Korean uncompressed (9.8 KB gzip);
// foyer's own scripts are served without indentation and whole-line comments;
// the dashboard about 25 KB (9 KB gzip). TestQueuePageBudget and
// TestDashboardBudget hold each to 30,000 bytes uncompressed, fetching every
// file the page references through Static.
package web
