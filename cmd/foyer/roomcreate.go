package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// create: foyer room create NAME --template T [--display-name D] [key=value...]
func (c *roomCLI) create(args []string) int {
	if len(args) < 1 || c.template == "" {
		fmt.Fprintln(c.stderr, "usage: foyer room create NAME --template T [--display-name D] [key=value...] (keys as for set)")
		return 2
	}
	body := map[string]any{"name": args[0], "template": c.template}
	if c.display != "" {
		body["display_name"] = c.display
	}
	if len(args) > 1 {
		settings, err := parseAssignments(args[1:])
		if err != nil {
			fmt.Fprintln(c.stderr, "foyer room create:", err)
			return 2
		}
		body["settings"] = settings
	}
	b, ok := c.do(http.MethodPost, "/rooms", body, nil)
	if !ok {
		return 1
	}
	if c.asJSON {
		_, _ = c.stdout.Write(append(b, '\n'))
		return 0
	}
	var r roomJSON
	if err := json.Unmarshal(b, &r); err != nil {
		fmt.Fprintln(c.stderr, "foyer room: unexpected answer:", err)
		return 1
	}
	where := strings.Join(r.Paths, ", ")
	if where == "" {
		where = "its page " + strings.TrimSuffix(c.base, "/admin/v1") + "/rooms/" + url.PathEscape(r.Name)
	}
	fmt.Fprintf(c.stdout, "created room %s (%s) from template %s: %s, %d a minute, at most %d at once; serves %s\n",
		r.Name, r.DisplayName, c.template, r.State, r.Settings.RatePerMinute, r.Settings.MaxActive, where)
	return 0
}

// delete: foyer room delete NAME
func (c *roomCLI) delete(name string) int {
	b, ok := c.do(http.MethodDelete, "/rooms/"+url.PathEscape(name), nil, nil)
	if !ok {
		return 1
	}
	if c.asJSON {
		_, _ = c.stdout.Write(append(b, '\n'))
		return 0
	}
	var d struct {
		Name     string `json:"name"`
		ClosesAt string `json:"closes_at"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		fmt.Fprintln(c.stderr, "foyer room: unexpected answer:", err)
		return 1
	}
	fmt.Fprintf(c.stdout, "deleted room %s: it is closed, its waiting visitors are told so until %s; then its data expires and the name is free again\n",
		d.Name, d.ClosesAt)
	return 0
}
