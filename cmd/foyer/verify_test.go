package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// vectors loads the published shuffle test vectors.
func vectors(t *testing.T) []struct {
	Seed, Commitment string
	P                int64
	Pairs            [][2]int64
} {
	t.Helper()
	b, err := os.ReadFile("../../queue/testdata/shuffle-vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Vectors []struct {
			Seed, Commitment string
			P                int64
			Pairs            [][2]int64
		}
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v.Vectors
}

// foyer verify reproduces the published vectors from a fairness URL and from flags, and fails
// (exit 1) on a seed that is not the commitment's or a place that is not the shuffle's.
func TestVerifyCommand(t *testing.T) {
	vs := vectors(t)
	x := vs[len(vs)/2+3] // a vector with a large P
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, body)
	}))
	defer srv.Close()
	body = fmt.Sprintf(`{"room":"r","commitment":%q,"opened":true,"seed":%q,"prequeue_size":%d,"record":{}}`, x.Commitment, x.Seed, x.P)
	for _, p := range x.Pairs {
		var out, errb bytes.Buffer
		code := run([]string{"verify", "--url", srv.URL, "--ticket", fmt.Sprint(p[0]), "--place", fmt.Sprint(p[1])}, &out, &errb)
		if code != 0 || !strings.Contains(out.String(), fmt.Sprintf("place %d of %d", p[1], x.P)) || !strings.Contains(out.String(), ": OK") {
			t.Fatalf("ticket %d: exit %d\n%s%s", p[0], code, out.String(), errb.String())
		}
	}
	cases := []struct {
		name string
		args []string
		body string
		code int
		says string
	}{
		{"flags", []string{"--seed", x.Seed, "--commitment", x.Commitment, "--size", fmt.Sprint(x.P), "--ticket", fmt.Sprint(x.Pairs[0][0])}, "", 0,
			fmt.Sprintf("place %d of %d", x.Pairs[0][1], x.P)},
		{"wrong place", []string{"--url", srv.URL, "--ticket", fmt.Sprint(x.Pairs[0][0]), "--place", fmt.Sprint(x.Pairs[0][1]%x.P + 1)}, "", 1, "MISMATCH"},
		{"wrong commitment", []string{"--seed", x.Seed, "--commitment", vs[0].Commitment, "--size", "10", "--ticket", "3"}, "", 1, "MISMATCH"},
		{"not opened", []string{"--url", srv.URL, "--ticket", "1"}, `{"room":"r","commitment":"ab","opened":false,"prequeue_size":0}`, 2, "has not opened yet"},
		{"beyond P", []string{"--url", srv.URL, "--ticket", fmt.Sprint(x.P + 1)}, "", 2, "not in the pre-queue"},
		{"bad seed", []string{"--seed", "zz", "--commitment", "ab", "--size", "3", "--ticket", "1"}, "", 2, "hex"},
		{"no ticket", []string{"--url", srv.URL}, "", 2, "usage"},
	}
	good := body
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body = good
			if c.body != "" {
				body = c.body
			}
			var out, errb bytes.Buffer
			code := run(append([]string{"verify"}, c.args...), &out, &errb)
			if code != c.code || !strings.Contains(out.String()+errb.String(), c.says) {
				t.Fatalf("exit %d (want %d), output lacks %q:\n%s%s", code, c.code, c.says, out.String(), errb.String())
			}
		})
	}
}
