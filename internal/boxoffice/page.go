package boxoffice

import (
	"fmt"
	"html/template"
	"net/http"
	"time"
)

var (
	adjectives = []string{"Quiet", "Last", "Salt", "Paper", "Northern", "Borrowed", "Blue", "Winter",
		"Small", "Burning", "Silent", "Distant", "Little", "Second", "Hidden", "Golden", "Open", "Late"}
	nouns = []string{"Harbour", "Ferry", "Garden", "Alley", "Lighthouse", "Season", "Market", "River",
		"Letter", "Island", "Bridge", "Kitchen", "Tide", "Mountain", "Station", "Orchard", "Window"}
	venues = []string{"Busan Cinema Center", "CGV Centum City", "Lotte Cinema Centum", "Megabox Haeundae",
		"Sohyang Theater", "Outdoor Theater"}
)

// makeScreenings builds n screenings of seats seats each, deterministically.
func makeScreenings(n, seats int) []screening {
	day := time.Date(2026, 10, 2, 10, 0, 0, 0, time.FixedZone("KST", 9*3600))
	out := make([]screening, n)
	for i := range out {
		a := adjectives[(i*7)%len(adjectives)]
		b := nouns[(i*5+i/len(adjectives))%len(nouns)]
		start := day.Add(time.Duration(i/len(venues)%10) * 24 * time.Hour).
			Add(time.Duration(i%5) * 150 * time.Minute)
		out[i].ID = i + 1
		out[i].Title = fmt.Sprintf("The %s %s", a, b)
		out[i].Venue = venues[i%len(venues)]
		out[i].Start = start.Format(time.RFC3339)
		out[i].left.Store(int64(seats))
	}
	return out
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{{.Title}}</title>
<style>body{font:16px/1.45 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#1d1d1f}
h1{color:#b3122e}table{border-collapse:collapse;width:100%}td,th{padding:.35rem .5rem;border-bottom:1px solid #ddd;text-align:left}
button{background:#b3122e;color:#fff;border:0;border-radius:4px;padding:.3rem .7rem}select{padding:.2rem}</style></head>
<body><h1>{{.Title}}</h1>{{if .Message}}<p>{{.Message}}</p><p><a href="{{.Base}}/">Back to the programme</a></p>{{end}}
{{if .Screenings}}<p>Demo box office (부산 영화제 예매 데모). Pick a screening; a booking reserves seats, takes a simulated payment, then confirms.</p>
<table><tr><th>Film</th><th>Venue</th><th>Starts</th><th>Left</th><th></th></tr>
{{range .Screenings}}<tr><td>{{.Title}}</td><td>{{.Venue}}</td><td>{{.Start}}</td><td>{{.Left}}</td>
<td><form method="post" action="{{$.Base}}/confirm"><input type="hidden" name="screening" value="{{.ID}}">
<input type="hidden" name="customer" value="{{$.Customer}}"><select name="seats"><option>1</option><option selected>2</option><option>3</option><option>4</option></select>
<button>Book</button></form></td></tr>{{end}}</table>{{end}}
</body></html>`))

type pageRow struct {
	ID                  int
	Title, Venue, Start string
	Left                int64
}

type pageData struct {
	Title, Message, Base, Customer string
	Screenings                     []pageRow
}

func (o *Office) handlePage(w http.ResponseWriter, r *http.Request) {
	req, cancel, ok := o.admit(r)
	defer cancel()
	defer o.finish(req)
	if !ok || !o.step(req, 0) {
		if ok {
			req.out.status, req.out.stage = timeoutStatus(req.ctx), "page"
		}
		o.pool.releaseIf(ok)
		o.writePage(w, req.out.status, "The box office is overloaded", "Please try again in a moment.")
		return
	}
	defer o.pool.release()
	req.out.status = http.StatusOK
	d := pageData{Title: "Festival box office", Base: o.cfg.BasePath, Customer: fmt.Sprintf("web-%d", time.Now().UnixNano())}
	for i := range o.screenings {
		s := &o.screenings[i]
		if left := s.left.Load(); left > 0 && len(d.Screenings) < 40 {
			d.Screenings = append(d.Screenings, pageRow{s.ID, s.Title, s.Venue, s.Start[:16], left})
		}
	}
	if len(d.Screenings) == 0 {
		d.Message = "Every screening is sold out."
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = pageTmpl.Execute(w, d)
}

func (o *Office) writePage(w http.ResponseWriter, status int, title, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = pageTmpl.Execute(w, pageData{Title: title, Message: msg, Base: o.cfg.BasePath})
}
