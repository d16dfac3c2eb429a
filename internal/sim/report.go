package sim

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
)

// row is one line of the comparison table.
type row struct {
	Name  string
	Cells []string
}

func comparisonRows(runs []*Result) []row {
	cell := func(f func(*Result) string) []string {
		out := make([]string, len(runs))
		for i, r := range runs {
			out[i] = f(r)
		}
		return out
	}
	var rows []row
	add := func(name string, f func(*Result) string) { rows = append(rows, row{name, cell(f)}) }
	add("backend peak concurrency / capacity", func(r *Result) string {
		if r.Backend == nil {
			return "n/a"
		}
		return fmt.Sprintf("%s / %s", num(r.Backend.PeakConcurrency), num(r.Backend.Capacity.Workers))
	})
	add("charged but not booked (customers)", func(r *Result) string {
		if r.Backend == nil {
			return "n/a"
		}
		return fmt.Sprintf("%s (%s)", num(int(r.Backend.ChargedNotBooked)), num(int(r.Backend.CustomersChargedNotBooked)))
	})
	add("  of which by load (timed out after payment)", func(r *Result) string {
		if r.Backend == nil {
			return "n/a"
		}
		return num(int(r.Backend.ChargedNotBooked - r.Backend.FailedAfterPayment))
	})
	add("  of which failed after payment (configured)", func(r *Result) string {
		if r.Backend == nil {
			return "n/a"
		}
		return num(int(r.Backend.FailedAfterPayment))
	})
	add("people owed a refund: box office / foyer's list", func(r *Result) string {
		if r.Backend == nil {
			return "n/a"
		}
		s := num(int(r.Backend.CustomersRefundDue)) + " / "
		switch {
		case r.Flagged < 0:
			return s + "n/a"
		case r.Flagged == r.Backend.CustomersRefundDue:
			return s + num(int(r.Flagged)) + " (match)"
		case r.Backend.ReleasesLost > 0:
			return s + num(int(r.Flagged)) + fmt.Sprintf(" (MISMATCH; %s reports to foyer lost)", num(int(r.Backend.ReleasesLost)))
		default:
			return s + num(int(r.Flagged)) + " (MISMATCH)"
		}
	})
	add("bookings completed", func(r *Result) string { return num(r.Outcomes[Booked.String()]) })
	add("backend latency p50 / p95 / p99", func(r *Result) string {
		if r.Backend == nil {
			return "n/a"
		}
		l := r.Backend.Latency
		return fmt.Sprintf("%s / %s / %s", dur(l.P50/1000), dur(l.P95/1000), dur(l.P99/1000))
	})
	add("visitors who got in", func(r *Result) string { return num(r.GotIn) })
	add("wait to get in p50 / p90 / p99", func(r *Result) string {
		return fmt.Sprintf("%s / %s / %s", dur(r.Wait.P50), dur(r.Wait.P90), dur(r.Wait.P99))
	})
	add("late arrivals let in out of order", func(r *Result) string {
		f := r.Fairness
		if f.LatePairs == 0 {
			return "n/a"
		}
		s := fmt.Sprintf("%s of %s pairs ≥%s apart", pct(f.LateCertain), short(f.LatePairs), dur(f.Tolerance))
		if f.Basis == "places" {
			s += fmt.Sprintf(" (seen: %s)", pct(f.SeenCertain))
		}
		return s
	})
	add("pre-queue order vs arrival (Spearman, χ² p)", func(r *Result) string {
		f := r.Fairness
		if f.PreN < 2 {
			return "n/a"
		}
		return fmt.Sprintf("%+.3f, p=%.2f (n=%s)", f.PreSpearman, f.PreP, num(f.PreN))
	})
	foyerOnly := func(f func(*Result) string) func(*Result) string {
		return func(r *Result) string {
			if r.Mode != Foyer {
				return "n/a"
			}
			return f(r)
		}
	}
	add("ETA range held: at join / at each poll", foyerOnly(func(r *Result) string {
		e := r.ETA
		if e.JoinN == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%s of %s / %s of %s", pct(e.JoinCovered), num(e.JoinN), pct(e.PollCovered), short(int64(e.PollN)))
	}))
	add("ETA at join: early / late; width p50", foyerOnly(func(r *Result) string {
		e := r.ETA
		return fmt.Sprintf("%s / %s; ±%.0f%% (%s)", pct(e.JoinEarly), pct(e.JoinLate), 50*e.JoinWidthP50, dur(e.JoinWidthSecP50))
	}))
	add("ETA error |actual-mid|/actual p50 / p90: join; polls", foyerOnly(func(r *Result) string {
		e := r.ETA
		return fmt.Sprintf("%.0f%% / %.0f%%; %.0f%% / %.0f%%", 100*e.JoinErrP50, 100*e.JoinErrP90, 100*e.PollErrP50, 100*e.PollErrP90)
	}))
	add("skipped and back / left and back (admitted)", foyerOnly(func(r *Result) string {
		return fmt.Sprintf("%s / %s", num(r.ETA.Skipped), num(r.ETA.Left))
	}))
	add("place rises seen (must be 0)", foyerOnly(func(r *Result) string {
		s := fmt.Sprintf("%s of %s places", num(int(r.PlaceRises)), short(r.PlacesSeen))
		if r.Notices > 0 {
			s += fmt.Sprintf(", %s notices", num(int(r.Notices)))
		}
		return s
	}))
	add("admitted in order, returners included", foyerOnly(func(r *Result) string {
		if r.InOrderN == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%s of %s", pct(r.InOrder), num(r.InOrderN))
	}))
	add("Redis round trips per status poll", foyerOnly(func(r *Result) string {
		if r.RedisRoundTrips < 0 {
			return "not measured"
		}
		return fmt.Sprintf("%.4f (%s for %s polls)", r.RoundTripsPerPoll, short(r.RedisRoundTrips), short(r.StatusPolls))
	}))
	add("errors seen by visitors", func(r *Result) string {
		if r.ErrorsTotal == 0 {
			return "0"
		}
		return fmt.Sprintf("%s (%s)", num(int(r.ErrorsTotal)), topErrors(r.Errors, 3))
	})
	add("gave up / abandoned / sold out", func(r *Result) string {
		s := fmt.Sprintf("%s / %s / %s", num(r.Outcomes[GaveUp.String()]), num(r.Outcomes[Abandoned.String()]),
			num(r.Outcomes[SoldOut.String()]))
		if b := r.Outcomes[Bot.String()]; b > 0 {
			s += fmt.Sprintf(" (bots: %s)", num(b))
		}
		return s
	})
	add("requests made", func(r *Result) string {
		var n int64
		for _, c := range r.Requests {
			n += c
		}
		return short(n)
	})
	add("sale time played / wall time", func(r *Result) string {
		return fmt.Sprintf("%s / %.0f s", dur(r.SaleEnd-r.SaleStart), r.WallSeconds)
	})
	add("simulator CPU / goroutines / heap", func(r *Result) string {
		o := r.Overhead
		return fmt.Sprintf("%.1f s / %s / %.0f MB", o.CPUSeconds, num(o.MaxGoroutines), o.PeakHeapMB)
	})
	add("simulator lag p50 / p99 (wall)", func(r *Result) string {
		return fmt.Sprintf("%.1f / %.0f ms", r.Overhead.LagP50Ms, r.Overhead.LagP99Ms)
	})
	add("late sends / box office timers, p99 (wall)", func(r *Result) string {
		s := fmt.Sprintf("%.0f ms / ", r.Overhead.SendLateP99Ms)
		if r.Backend == nil {
			return s + "n/a"
		}
		return s + fmt.Sprintf("%.0f ms", r.Backend.TimerLateP99Ms)
	})
	add("CPU starvation (heartbeat late, p99; CPU pressure)", func(r *Result) string {
		s := fmt.Sprintf("%.0f ms", r.Overhead.StarvedP99Ms)
		if p := r.Overhead.CPUPressure; p >= 0 {
			s += fmt.Sprintf("; %.0f%%", 100*p)
		}
		if r.Distorted != "" {
			s += "  DISTORTED"
		}
		return s
	})
	return rows
}

// WriteTable prints the runs side by side, then any warning that a run's timings are distorted.
func WriteTable(w io.Writer, runs []*Result) error {
	defer func() {
		for _, r := range runs {
			if r.Distorted != "" {
				fmt.Fprintf(w, "\nwarning: %s: %s\n", r.Label, r.Distorted)
			}
		}
	}()
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	head := []string{""}
	for _, r := range runs {
		head = append(head, r.Label)
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, rw := range comparisonRows(runs) {
		fmt.Fprintln(tw, rw.Name+"\t"+strings.Join(rw.Cells, "\t"))
	}
	return tw.Flush()
}

func topErrors(m map[string]int64, n int) string {
	type kv struct {
		k string
		v int64
	}
	var kvs []kv
	for k, v := range m {
		kvs = append(kvs, kv{k, v})
	}
	sort.Slice(kvs, func(i, j int) bool { return kvs[i].v > kvs[j].v || kvs[i].v == kvs[j].v && kvs[i].k < kvs[j].k })
	var parts []string
	for i, e := range kvs {
		if i == n {
			break
		}
		parts = append(parts, fmt.Sprintf("%s %s", e.k, short(e.v)))
	}
	return strings.Join(parts, ", ")
}

func num(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + num(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func short(n int64) string {
	switch {
	case n >= 10_000_000:
		return fmt.Sprintf("%.0fM", float64(n)/1e6)
	case n >= 1_000_000:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 10_000:
		return fmt.Sprintf("%.0fk", float64(n)/1e3)
	}
	return num(int(n))
}

func pct(x float64) string {
	if x > 0 && x < 0.0001 {
		return "<0.01%"
	}
	return fmt.Sprintf("%.2f%%", x*100)
}

// dur formats sale seconds.
func dur(s float64) string {
	switch {
	case s < 1:
		return fmt.Sprintf("%.0f ms", s*1000)
	case s < 100:
		return fmt.Sprintf("%.1f s", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", int(s)/60, int(s)%60)
	}
	return fmt.Sprintf("%dh%02dm", int(s)/3600, int(s)%3600/60)
}

// Report is the HTML report's content.
type Report struct {
	Title    string
	Subtitle string
	Runs     []*Result
	Notes    []string
	// Rehearsal, when set, adds the rehearsal's trials and recommendation.
	Rehearsal *Rehearsal
}

var palette = []string{"#b3122e", "#1f6fb2", "#2a9d5b", "#8a5cc2"}

type series struct {
	Name, Color string
	X, Y        []float64
}

// svgChart draws a line chart of the series: x in sale minutes from the opening.
func svgChart(title, yLabel string, ss []series) template.HTML {
	const W, H, L, R, T, B = 560.0, 220.0, 56.0, 12.0, 28.0, 34.0
	xmin, xmax, ymax := math.Inf(1), math.Inf(-1), 0.0
	for _, s := range ss {
		for i := range s.X {
			xmin, xmax = math.Min(xmin, s.X[i]), math.Max(xmax, s.X[i])
			ymax = math.Max(ymax, s.Y[i])
		}
	}
	if math.IsInf(xmin, 1) {
		return ""
	}
	if xmax <= xmin {
		xmax = xmin + 1
	}
	ystep := niceStep(ymax / 4)
	if ymax <= 0 {
		ymax, ystep = 1, 0.25
	}
	ytop := math.Ceil(ymax/ystep) * ystep
	px := func(x float64) float64 { return L + (x-xmin)/(xmax-xmin)*(W-L-R) }
	py := func(y float64) float64 { return H - B - y/ytop*(H-T-B) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg viewBox="0 0 %.0f %.0f" width="100%%" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg" font-family="system-ui,sans-serif" font-size="11">`, W, H, template.HTMLEscapeString(title))
	fmt.Fprintf(&b, `<text x="%.0f" y="16" font-size="13" font-weight="600">%s</text>`, L, template.HTMLEscapeString(title))
	for y := 0.0; y <= ytop+1e-9; y += ystep {
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#e3e3e3"/>`, L, W-R, py(y), py(y))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end" fill="#555">%s</text>`, L-4, py(y)+4, short(int64(math.Round(y))))
	}
	xstep := niceStep((xmax - xmin) / 6)
	for x := math.Ceil(xmin/xstep) * xstep; x <= xmax+1e-9; x += xstep {
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#eee"/>`, px(x), px(x), T, H-B)
		label := fmt.Sprintf("%+.0f", x)
		if math.Abs(x) < xstep/2 {
			label = "0"
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#555">%s</text>`, px(x), H-B+14, label)
	}
	if xmin < 0 && xmax > 0 {
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#999" stroke-dasharray="3 3"/>`, px(0), px(0), T, H-B)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" fill="#777">opening</text>`, px(0)+3, T+10)
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#555">minutes from the opening (sale time)</text>`, (L+W-R)/2, H-4)
	fmt.Fprintf(&b, `<text transform="translate(12 %.1f) rotate(-90)" text-anchor="middle" fill="#555">%s</text>`, (T+H-B)/2, template.HTMLEscapeString(yLabel))
	for i, s := range ss {
		var pts strings.Builder
		for j := range s.X {
			fmt.Fprintf(&pts, "%.1f,%.1f ", px(s.X[j]), py(s.Y[j]))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.8" points="%s"/>`, s.Color, strings.TrimSpace(pts.String()))
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="10" height="3" fill="%s"/><text x="%.0f" y="%.0f">%s</text>`,
			W-R-200, T+4+float64(i)*14, s.Color, W-R-186, T+8+float64(i)*14, template.HTMLEscapeString(s.Name))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func niceStep(x float64) float64 {
	if x <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= x {
			return m * p
		}
	}
	return 10 * p
}

func runSeries(runs []*Result, pick func(Point) float64) []series {
	var ss []series
	for i, r := range runs {
		s := series{Name: r.Label, Color: palette[i%len(palette)]}
		for _, p := range r.Series {
			s.X = append(s.X, p.T/60)
			s.Y = append(s.Y, pick(p))
		}
		ss = append(ss, s)
	}
	return ss
}

type htmlData struct {
	Report
	Head   []string
	Rows   []row
	Charts []template.HTML
	Errors []string
}

var reportTmpl = template.Must(template.New("report").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{{.Title}}</title>
<style>body{font:15px/1.45 system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;color:#1d1d1f}
h1{color:#b3122e;margin-bottom:.2rem}.sub{color:#555;margin-top:0}
table{border-collapse:collapse;margin:1rem 0}td,th{padding:.3rem .7rem;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
th{background:#f6f6f6}td:first-child{color:#444}.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(30rem,1fr));gap:1rem}
.notes li{color:#444}code{background:#f3f3f3;padding:0 .2rem}</style></head>
<body><h1>{{.Title}}</h1><p class="sub">{{.Subtitle}}</p>
{{range .Runs}}{{if .Distorted}}<p style="background:#fff3cd;padding:.5rem .8rem;border-left:4px solid #b3122e"><strong>{{.Label}}: timings distorted.</strong> {{.Distorted}}.</p>{{end}}{{end}}
<table><tr>{{range .Head}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr><td>{{.Name}}</td>{{range .Cells}}<td>{{.}}</td>{{end}}</tr>{{end}}</table>
<div class="charts">{{range .Charts}}<div>{{.}}</div>{{end}}</div>
{{with .Rehearsal}}<h2>Rehearsal</h2><p>{{.Summary}}</p>
<table><tr><th>rate (per minute)</th><th>backend p95</th><th>charged but not booked</th><th>errors</th><th>verdict</th></tr>
{{range .Trials}}<tr><td>{{.Rate}}</td><td>{{printf "%.0f ms" .P95Ms}}</td><td>{{.ChargedNotBooked}}</td><td>{{.Errors}}</td><td>{{if .Pass}}passes{{else}}fails{{end}}</td></tr>{{end}}</table>{{end}}
{{if .Errors}}<h2>First answer seen per error</h2><ul class="notes">{{range .Errors}}<li><code>{{.}}</code></li>{{end}}</ul>{{end}}
{{if .Notes}}<h2>How to read this</h2><ul class="notes">{{range .Notes}}<li>{{.}}</li>{{end}}</ul>{{end}}
</body></html>`))

// WriteHTML writes a self-contained HTML report: the table, and charts of the line's length,
// admissions per minute and backend load, every run on the same axes.
func WriteHTML(w io.Writer, rep Report) error {
	d := htmlData{Report: rep, Head: []string{""}}
	for _, r := range rep.Runs {
		d.Head = append(d.Head, r.Label)
	}
	d.Rows = append(d.Rows, comparisonRows(rep.Runs)...)
	d.Charts = []template.HTML{
		svgChart("Line length", "visitors waiting", runSeries(rep.Runs, func(p Point) float64 { return float64(p.Waiting) })),
		svgChart("Getting in", "visitors per minute", runSeries(rep.Runs, func(p Point) float64 { return p.GotInPerMin })),
		svgChart("Backend load", "requests inside (busy + queued)", runSeries(rep.Runs, func(p Point) float64 {
			return float64(p.BackendBusy + p.BackendQueued)
		})),
		svgChart("Bookings", "bookings per minute", runSeries(rep.Runs, func(p Point) float64 { return p.BookedPerMin })),
		svgChart("Errors seen by visitors", "errors per minute", runSeries(rep.Runs, func(p Point) float64 { return p.ErrorsPerMin })),
		svgChart("Backend p95 latency", "ms (sale time)", runSeries(rep.Runs, func(p Point) float64 { return p.BackendP95Ms })),
	}
	for _, r := range rep.Runs {
		keys := make([]string, 0, len(r.ErrorSamples))
		for k := range r.ErrorSamples {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			d.Errors = append(d.Errors, fmt.Sprintf("%s, %s: %s", r.Label, k, r.ErrorSamples[k]))
		}
	}
	return reportTmpl.Execute(w, d)
}
