package gateway

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestDashboardRefundListAndSoldOut: in real Chromium against the real gateway, a visitor
// charged but not booked (payment 200, confirmation 504) shows in the dashboard's refund list
// with its order reference and reason; marking it refunded (confirmed) takes it off and is
// audited; the sold-out button makes the room sold out.
func TestDashboardRefundListAndSoldOut(t *testing.T) {
	t.Parallel()
	h, failConfirm := outcomesHarness(t)
	v := h.visitor()
	v.join(testRoom)
	v.waitAdmitted(testRoom, 5*time.Second)
	failConfirm.Store(true)
	for _, p := range []string{"/book/pay", "/book/confirm"} {
		v.do(http.MethodPost, p, "application/json", strings.NewReader("{}"), nil)
	}
	h.flaggedNow(t, 1)

	ctx := browserTab(t)
	browse(t, ctx, chromedp.Navigate(h.srv.URL+"/foyer/admin/"))
	waitJS(t, ctx, "the sign-in form", `!document.getElementById('signin').hidden`, 10*time.Second)
	browse(t, ctx, chromedp.SendKeys(chromedp.CSS("#token"), testAdminToken+"\n"))
	waitJS(t, ctx, "the overview", `document.querySelector('#rooms tbody button')?.innerText.includes('festival')`, 10*time.Second)
	browse(t, ctx, chromedp.Click(chromedp.CSS("#rooms tbody button")))
	waitJS(t, ctx, "the refund list", `document.querySelector('#room [data-k=flagged]')?.innerText === '1' &&
		document.getElementById('refund-count').innerText === '(1)' &&
		document.querySelector('#refunds tbody tr')?.innerText.includes('ORD-A') &&
		document.querySelector('#refunds tbody tr')?.innerText.includes('confirmation timed out') &&
		document.getElementById('refund-none').hidden`, 10*time.Second)
	shoot(t, ctx, "gateway-dashboard-refunds")
	browse(t, ctx, chromedp.Click(chromedp.CSS(`#refunds button[data-resolve=refunded]`)))
	waitJS(t, ctx, "the confirmation", `document.getElementById('confirm').open && document.getElementById('confirm-text').innerText.includes('ORD-A')`, 5*time.Second)
	browse(t, ctx, chromedp.Click(chromedp.CSS("#confirm-ok")))
	waitJS(t, ctx, "the list emptied", `document.getElementById('refund-count').innerText === '(0)' &&
		!document.querySelector('#refunds tbody tr') && !document.getElementById('refund-none').hidden`, 10*time.Second)
	au := h.call(adminCall{method: http.MethodGet, path: adminPath + "/audit"})
	if !strings.Contains(string(au.body), `"resolution":"refunded"`) || !strings.Contains(string(au.body), `"actor":"tester"`) {
		t.Fatalf("resolution not audited: %s", au.body)
	}

	// sold out from the dashboard
	browse(t, ctx, chromedp.Click(chromedp.CSS("#soldout")))
	waitJS(t, ctx, "the sold-out confirmation", `document.getElementById('confirm').open`, 5*time.Second)
	browse(t, ctx, chromedp.Click(chromedp.CSS("#confirm-ok")))
	waitJS(t, ctx, "sold out shown", `document.querySelector('#room [data-k=remaining]')?.innerText === 'sold out' && document.getElementById('soldout').hidden && !document.getElementById('unsold').hidden`, 10*time.Second)
	if st := h.stored(testRoom); st.Remaining != 0 {
		t.Fatalf("stored remaining %d after the sold-out button", st.Remaining)
	}
}
