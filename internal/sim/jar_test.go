package sim

import (
	"net/http"
	"testing"
)

func TestJar(t *testing.T) {
	var j jar
	h := http.Header{}
	h.Add("Set-Cookie", "foyer_visitor=v1; Path=/; HttpOnly")
	h.Add("Set-Cookie", "foyer_ticket_biff=t1; Path=/foyer/v1/rooms/biff")
	j.update(h)
	tests := []struct {
		path, want string
	}{
		{"/book/api/screenings", "foyer_visitor=v1"},
		{"/foyer/v1/rooms/biff/status", "foyer_visitor=v1; foyer_ticket_biff=t1"},
		{"/foyer/v1/rooms/biffy/status", "foyer_visitor=v1"},
	}
	for _, tt := range tests {
		if got := j.header(tt.path); got != tt.want {
			t.Errorf("header(%q) = %q, want %q", tt.path, got, tt.want)
		}
	}
	h = http.Header{}
	h.Add("Set-Cookie", "foyer_visitor=v2; Path=/")
	h.Add("Set-Cookie", "foyer_ticket_biff=; Path=/foyer/v1/rooms/biff; Max-Age=0")
	h.Add("Set-Cookie", "foyer_admission=tok; Path=/")
	j.update(h)
	if got := j.header("/foyer/v1/rooms/biff/status"); got != "foyer_visitor=v2; foyer_admission=tok" {
		t.Fatalf("after update: %q", got)
	}
	if j.get("foyer_admission") != "tok" || j.get("nope") != "" {
		t.Fatal("get")
	}
}
