package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/foyerhq/foyer/queue"
)

// Runtime rooms (issue 15): rooms created from a template (room_templates: in the YAML) and
// deleted through the admin API, with no restart. The queue keeps their definitions in a
// registry in Redis and announces each change; every gateway applies it here (syncRooms)
// within a second. The YAML's rooms stay a way to seed rooms, and they win: a runtime room
// cannot take a configured room's name (409), a configured room cannot be deleted through the
// API (409), and a replica whose YAML configures a room the registry also defines serves its
// own configuration and logs a warning.

// roomSet is the gateway's rooms at one moment, never changed once published (copy on write):
// a request loads it once (Server.roomSet), a change builds the next one under setMu.
type roomSet struct {
	rooms map[string]*room // served: configured and runtime rooms
	// closing are deleted runtime rooms in their closing period: their visitors' polls are
	// answered "closed" (the engine retired them), nothing routes to them, no admin list shows them.
	closing map[string]*room
	routes  []route // protected path prefixes of rooms, longest first
}

func (set *roomSet) route() {
	set.routes = set.routes[:0:0]
	for _, rm := range set.rooms {
		for _, p := range rm.cfg.Paths {
			set.routes = append(set.routes, route{prefix: p, room: rm})
		}
	}
	sort.Slice(set.routes, func(i, j int) bool {
		if len(set.routes[i].prefix) != len(set.routes[j].prefix) {
			return len(set.routes[i].prefix) > len(set.routes[j].prefix)
		}
		return set.routes[i].prefix < set.routes[j].prefix
	})
}

func (set *roomSet) clone() *roomSet {
	return &roomSet{rooms: maps.Clone(set.rooms), closing: maps.Clone(set.closing)}
}

// roomSet returns the rooms in force now.
func (s *Server) roomSet() *roomSet { return s.set.Load() }

// change applies f to a copy of the rooms and publishes it. f runs under setMu.
func (s *Server) change(f func(next *roomSet)) {
	s.setMu.Lock()
	defer s.setMu.Unlock()
	next := s.roomSet().clone()
	f(next)
	next.route()
	s.set.Store(next)
}

// runtimeSpec is what the registry keeps of a runtime room: the room as built from its
// template when it was created (a later change of the template does not change it) and who
// created it. JSON, opaque to the queue.
type runtimeSpec struct {
	Template  string    `json:"template"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	// Settings are the overrides sent with the creation (the PATCH fields), kept so a replica
	// that creates the room's keys again (after they expired) seeds the same rules.
	Settings json.RawMessage `json:"settings,omitempty"`
	Room     RoomConfig      `json:"room"`
}

// seed is the room's settings before defaults: the template's, with the overrides.
func (sp *runtimeSpec) seed() (queue.Settings, error) {
	st := sp.Room.Settings(sp.CreatedAt)
	if len(sp.Settings) == 0 {
		return st, nil
	}
	p, bad, err := parsePatch(sp.Settings)
	if err != nil {
		return st, err
	}
	if len(bad) > 0 {
		return st, fmt.Errorf("settings: %v", bad)
	}
	return st.WithPatch(p), nil
}

// roomPlaceholder in a template's paths, backend, return URLs, outcome paths and display
// names is replaced by the created room's name.
const roomPlaceholder = "{room}"

// instantiate builds room name from template t.
func instantiate(t RoomConfig, name string) RoomConfig {
	sub := func(v string) string { return strings.ReplaceAll(v, roomPlaceholder, name) }
	subs := func(vs []string) []string {
		if vs == nil {
			return nil
		}
		out := make([]string, len(vs))
		for i, v := range vs {
			out[i] = sub(v)
		}
		return out
	}
	rc := t
	rc.Name = name
	rc.DisplayName = sub(t.DisplayName)
	rc.Paths = subs(t.Paths)
	rc.Backend = sub(t.Backend)
	rc.ReturnURLs = subs(t.ReturnURLs)
	rc.Outcomes.Payment = subs(t.Outcomes.Payment)
	rc.Outcomes.Confirm = subs(t.Outcomes.Confirm)
	if t.DisplayNames != nil {
		rc.DisplayNames = map[string]string{}
		for k, v := range t.DisplayNames {
			rc.DisplayNames[k] = sub(v)
		}
	}
	if t.Texts != nil {
		rc.Texts = map[string]map[string]string{}
		for lang, m := range t.Texts {
			rc.Texts[lang] = maps.Clone(m)
		}
	}
	return rc
}

// template returns the named room template.
func (c *Config) template(name string) (RoomConfig, bool) {
	for _, t := range c.RoomTemplates {
		if t.Name == name {
			return t, true
		}
	}
	return RoomConfig{}, false
}

// roomProblems lists what Validate would say of rc as a room, each naming its field under
// field (room_templates[i], or the created room's name).
func (c *Config) roomProblems(rc RoomConfig, field string) []string {
	one := *c
	one.Rooms, one.RoomTemplates = []RoomConfig{rc}, nil
	var ce *ConfigError
	if err := one.Validate(); !errors.As(err, &ce) {
		return nil
	}
	var out []string
	for _, p := range ce.Problems {
		if rest, ok := strings.CutPrefix(p, "rooms[0]"); ok {
			out = append(out, field+rest)
		}
	}
	return out
}

// fillTemplates completes the templates as FillDefaults completes rooms (a template's display
// name defaults to the room's name).
func (c *Config) fillTemplates() {
	if len(c.RoomTemplates) == 0 {
		return
	}
	for i := range c.RoomTemplates {
		if c.RoomTemplates[i].DisplayName == "" {
			c.RoomTemplates[i].DisplayName = roomPlaceholder
		}
	}
	rooms, tpls := c.Rooms, c.RoomTemplates
	c.Rooms, c.RoomTemplates = tpls, nil // FillDefaults is idempotent on the rest
	c.FillDefaults()
	c.Rooms, c.RoomTemplates = rooms, tpls
}

// templateProblems checks the room templates: unique names, and each a valid room once
// instantiated (with the name "template-check").
func (c *Config) templateProblems() []string {
	var p []string
	seen := map[string]bool{}
	for i, t := range c.RoomTemplates {
		f := fmt.Sprintf("room_templates[%d]", i)
		if !roomName.MatchString(t.Name) {
			p = append(p, fmt.Sprintf("%s.name: must match [a-z0-9-]{1,64}, got %q", f, t.Name))
		} else if seen[t.Name] {
			p = append(p, fmt.Sprintf("%s.name: %q is used twice", f, t.Name))
		}
		seen[t.Name] = true
		for _, pr := range c.roomProblems(instantiate(t, "template-check"), f) {
			if !strings.HasPrefix(pr, f+".name:") {
				p = append(p, pr)
			}
		}
		if t.Mode == "proxy" {
			for j, path := range t.Paths {
				if !strings.Contains(path, roomPlaceholder) {
					p = append(p, fmt.Sprintf("%s.paths[%d]: must contain %s (two rooms from the template would protect the same path), got %q",
						f, j, roomPlaceholder, path))
				}
			}
		}
	}
	return p
}

// createRequest is the body of POST /foyer/admin/v1/rooms.
type createRequest struct {
	Name        string          `json:"name"`
	Template    string          `json:"template"`
	DisplayName string          `json:"display_name"`
	Settings    json.RawMessage `json:"settings"`
}

var createFields = []string{"name", "template", "display_name", "settings"}

// readAdminJSON reads an admin request's JSON body within the body bound.
func (s *Server) readAdminJSON(c echo.Context) ([]byte, error) {
	r := c.Request()
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return nil, httpError(http.StatusUnsupportedMediaType, "unsupported_media_type", "send the body as application/json")
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, s.cfg.Limits.MaxBodyBytes+1))
	var tooLarge *http.MaxBytesError
	if err != nil && !errors.As(err, &tooLarge) {
		return nil, httpError(http.StatusBadRequest, "invalid", "could not read the body")
	}
	if tooLarge != nil || int64(len(data)) > s.cfg.Limits.MaxBodyBytes {
		return nil, httpError(http.StatusRequestEntityTooLarge, "too_large", "the body is too large")
	}
	return data, nil
}

func invalid(msg string, fields map[string]string) error {
	return &Error{Status: http.StatusBadRequest, Code: "invalid", Message: msg, Fields: fields}
}

func conflict(code, msg string) error {
	return httpError(http.StatusConflict, code, msg)
}

// parseCreate decodes and checks a creation request: every bad field is named at once.
func (s *Server) parseCreate(data []byte, now time.Time) (runtimeSpec, queue.Settings, error) {
	var body map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&body); err != nil || body == nil || dec.More() {
		return runtimeSpec{}, queue.Settings{}, invalid("the body must be one JSON object: {\"name\": ..., \"template\": ..., \"settings\": {...}}", nil)
	}
	bad := map[string]string{}
	for k := range body {
		if !slices.Contains(createFields, k) {
			bad[k] = "unknown field; allowed: " + strings.Join(createFields, ", ")
		}
	}
	var req createRequest
	for k, dst := range map[string]*string{"name": &req.Name, "template": &req.Template, "display_name": &req.DisplayName} {
		if raw := body[k]; raw != nil {
			if err := json.Unmarshal(raw, dst); err != nil {
				bad[k] = "must be a string"
			}
		}
	}
	req.Settings = body["settings"]
	switch {
	case req.Name == "" && bad["name"] == "":
		bad["name"] = "is required: 1 to 64 characters of a-z, 0-9 and -"
	case bad["name"] == "" && !queue.ValidRoomName(req.Name):
		bad["name"] = "must be 1 to 64 characters of a-z, 0-9 and -"
	}
	tpl, ok := s.cfg.template(req.Template)
	switch {
	case bad["template"] != "":
	case len(s.cfg.RoomTemplates) == 0:
		bad["template"] = "the configuration has no room_templates: add one to create rooms at runtime"
	case req.Template == "":
		bad["template"] = "is required; configured: " + strings.Join(s.templateNames(), ", ")
	case !ok:
		bad["template"] = fmt.Sprintf("unknown template %q; configured: %s", req.Template, strings.Join(s.templateNames(), ", "))
	}
	if len(req.DisplayName) > 200 {
		bad["display_name"] = "must be at most 200 characters"
	}
	if len(bytes.TrimSpace(req.Settings)) > 0 && string(bytes.TrimSpace(req.Settings)) != "{}" && string(bytes.TrimSpace(req.Settings)) != "null" {
		_, pbad, err := parsePatch(req.Settings)
		if err != nil {
			bad["settings"] = err.Error()
		}
		for k, v := range pbad {
			bad["settings."+k] = v
		}
	} else {
		req.Settings = nil
	}
	if len(bad) > 0 {
		return runtimeSpec{}, queue.Settings{}, invalid("some fields are not valid; nothing was created", bad)
	}
	rc := instantiate(tpl, req.Name)
	if req.DisplayName != "" {
		rc.DisplayName = req.DisplayName
	}
	for _, pr := range s.cfg.roomProblems(rc, "room") {
		field, msg, _ := strings.Cut(pr, ": ")
		bad[field] = msg
	}
	spec := runtimeSpec{Template: req.Template, CreatedAt: now.UTC().Truncate(time.Second), Settings: req.Settings, Room: rc}
	seed, _ := spec.seed()
	var ve *queue.ValidationError
	if err := seed.WithDefaults().Validate(); errors.As(err, &ve) {
		for k, v := range ve.Fields {
			bad["settings."+k] = v
		}
	}
	if len(bad) > 0 {
		return runtimeSpec{}, queue.Settings{}, invalid("some fields are not valid; nothing was created", bad)
	}
	return spec, seed, nil
}

func (s *Server) templateNames() []string {
	out := make([]string, 0, len(s.cfg.RoomTemplates))
	for _, t := range s.cfg.RoomTemplates {
		out = append(out, t.Name)
	}
	return out
}

// clash says why rc cannot join set: a room of that name, or a protected path taken.
func (s *Server) clash(set *roomSet, rc RoomConfig) error {
	if rm, ok := set.rooms[rc.Name]; ok {
		if !rm.runtime {
			return conflict("room_exists", "a room of that name is configured in the YAML")
		}
		return conflict("room_exists", "a room of that name exists")
	}
	if rm, ok := set.closing[rc.Name]; ok {
		return conflict("room_exists", "a room of that name was deleted at "+rm.deletedAt().UTC().Format(time.RFC3339)+
			"; the name is free again at "+rm.deletedAt().Add(queue.ClosingPeriod).UTC().Format(time.RFC3339))
	}
	for _, p := range rc.Paths {
		for _, r := range set.routes {
			if r.prefix == p {
				return conflict("path_taken", fmt.Sprintf("the path %s is already protected by room %s", p, r.room.cfg.Name))
			}
		}
	}
	return nil
}

// handleAdminCreate: POST /foyer/admin/v1/rooms {"name", "template", "display_name",
// "settings": {PATCH fields}}: creates a room from a template, on every replica within a
// second. 201 with the room; 400 naming every bad field; 409 when the name or a path is taken.
func (s *Server) handleAdminCreate(c echo.Context) error {
	data, err := s.readAdminJSON(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	spec, seed, err := s.parseCreate(data, s.now())
	if err != nil {
		return err
	}
	actor, _ := c.Get("actor").(string)
	spec.CreatedBy = actor
	name := spec.Room.Name
	rm, err := s.newRoom(spec.Room)
	if err != nil {
		return invalid(err.Error(), nil)
	}
	rm.runtime, rm.spec = true, &spec
	raw, err := json.Marshal(spec)
	if err != nil {
		return internalError(err)
	}
	s.setMu.Lock() // no other change of the rooms between the checks and the publication
	defer s.setMu.Unlock()
	if err := s.clash(s.roomSet(), spec.Room); err != nil {
		return err
	}
	at := s.now().UTC()
	st, err := s.engine.CreateRoom(ctx, name, raw, seed, func(after queue.Settings) []byte {
		b, _ := json.Marshal(auditEntry{At: at, Actor: actor, Room: name, Reason: "room created from template " + spec.Template,
			After: toAdminSettings(after, rm.loc)})
		return b
	})
	var ve *queue.ValidationError
	switch {
	case errors.Is(err, queue.ErrRoomExists):
		return conflict("room_exists", "a room of that name exists (in another replica's configuration, or deleted less than "+
			queue.ClosingPeriod.String()+" ago and not expired yet)")
	case errors.As(err, &ve):
		fields := map[string]string{}
		for k, v := range ve.Fields {
			fields["settings."+k] = v
		}
		return invalid("some fields are not valid; nothing was created", fields)
	case err != nil && st.Version == 0:
		return s.storeErr("create_room", err)
	case err != nil: // created, but its audit entry could not be written
		s.log.Error().Err(err).Str("room", name).Str("actor", actor).Msg("room created without its audit entry")
	}
	next := s.roomSet().clone()
	next.rooms[name] = rm
	next.route()
	s.set.Store(next)
	s.log.Info().Str("room", name).Str("actor", actor).Str("template", spec.Template).
		Int("rate_per_minute", st.RatePerMinute).Int("max_active", st.MaxActive).Msg("room created")
	a, err := s.adminRoomView(ctx, name, rm)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Location", s.cfg.Prefix+"/admin/v1/rooms/"+name)
	return c.JSON(http.StatusCreated, a)
}

// templateView is one room template in the admin API: what a room created from it gets
// ({room} still in place), its settings with the defaults filled in.
type templateView struct {
	Name        string        `json:"name"`
	DisplayName string        `json:"display_name"`
	Mode        string        `json:"mode"`
	Paths       []string      `json:"paths"`
	ReturnURLs  []string      `json:"return_urls"`
	Settings    adminSettings `json:"settings"`
}

// handleAdminTemplates: GET /foyer/admin/v1/room-templates: the templates rooms can be created
// from (for the dashboard and scripts).
func (s *Server) handleAdminTemplates(c echo.Context) error {
	out := struct {
		Templates []templateView `json:"templates"`
	}{Templates: []templateView{}}
	for _, t := range s.cfg.RoomTemplates {
		loc, err := time.LoadLocation(t.TimeZone)
		if err != nil {
			loc = time.UTC
		}
		v := templateView{Name: t.Name, DisplayName: t.DisplayName, Mode: t.Mode, Paths: t.Paths, ReturnURLs: t.ReturnURLs,
			Settings: toAdminSettings(t.Settings(s.now()).WithDefaults(), loc)}
		if v.Paths == nil {
			v.Paths = []string{}
		}
		if v.ReturnURLs == nil {
			v.ReturnURLs = []string{}
		}
		out.Templates = append(out.Templates, v)
	}
	return c.JSON(http.StatusOK, out)
}

// deletedRoom is the answer to a deletion.
type deletedRoom struct {
	Name      string `json:"name"`
	State     string `json:"state"`
	DeletedAt string `json:"deleted_at"`
	// ClosesAt is when the room's visitors stop being told it is closed, its keys expire and its
	// name is free again.
	ClosesAt string `json:"closes_at"`
}

// handleAdminDelete: DELETE /foyer/admin/v1/rooms/{room}: closes a runtime room (audited as a
// change of state to closed, so its waiting visitors are told at their next poll), removes it
// from the registry, and stops routing and stepping it on every replica within a second.
func (s *Server) handleAdminDelete(c echo.Context) error {
	name := c.Param("room")
	if !queue.ValidRoomName(name) {
		return httpError(http.StatusBadRequest, "bad_room", "room names are 1 to 64 characters of a-z, 0-9 and -")
	}
	set := s.roomSet()
	rm, ok := set.rooms[name]
	if !ok {
		if gone, ok := set.closing[name]; ok {
			return httpError(http.StatusNotFound, "unknown_room", "the room was deleted at "+gone.deletedAt().UTC().Format(time.RFC3339))
		}
		return httpError(http.StatusNotFound, "unknown_room", "there is no room with that name")
	}
	if !rm.runtime {
		return conflict("configured_room", "the room is configured in the YAML: remove it there (and close it first with PATCH state closed)")
	}
	ctx := c.Request().Context()
	actor, _ := c.Get("actor").(string)
	closed := queue.StateClosed
	if _, err := s.applyPatch(ctx, rm, queue.SettingsPatch{State: &closed}, 0, actor, "room deleted"); err != nil {
		return err
	}
	def, err := s.engine.DeleteRoom(ctx, name)
	if errors.Is(err, queue.ErrUnknownRoom) {
		return httpError(http.StatusNotFound, "unknown_room", "the room was deleted meanwhile")
	}
	if err != nil {
		return s.storeErr("delete_room", err)
	}
	s.retire(ctx, rm, def.DeletedAt)
	s.log.Info().Str("room", name).Str("actor", actor).Time("closes_at", def.ClosesAt()).Msg("room deleted")
	return c.JSON(http.StatusOK, deletedRoom{Name: name, State: string(queue.StateClosed),
		DeletedAt: def.DeletedAt.UTC().Format(time.RFC3339), ClosesAt: def.ClosesAt().UTC().Format(time.RFC3339)})
}

// deletedAt is when the room was deleted (zero: it was not).
func (rm *room) deletedAt() time.Time {
	if ns := rm.deleted.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// liveRoomParam is roomParam for the admin API's reads and changes of a room: a deleted
// room (in its closing period) is not found there, with the time it was deleted.
func (s *Server) liveRoomParam(c echo.Context) (*room, error) {
	rm, err := s.roomParam(c)
	if err == nil && !rm.deletedAt().IsZero() {
		return nil, httpError(http.StatusNotFound, "unknown_room", "the room was deleted at "+rm.deletedAt().UTC().Format(time.RFC3339))
	}
	return rm, err
}

// retire moves a deleted room to the closing rooms and has the engine stop its work on it.
func (s *Server) retire(ctx context.Context, rm *room, deletedAt time.Time) {
	name := rm.cfg.Name
	s.change(func(next *roomSet) {
		if cur, ok := next.rooms[name]; ok && cur == rm {
			delete(next.rooms, name)
		}
		rm.deleted.Store(deletedAt.UnixNano())
		next.closing[name] = rm
	})
	if err := s.engine.RetireRoom(ctx, name, deletedAt.Add(queue.ClosingPeriod)); err != nil {
		s.log.Warn().Err(err).Str("room", name).Msg("cannot shorten a deleted room's keys yet; the next sync tries again")
	}
}

// syncRooms applies the registry to this gateway: one room (name) as announced, or all of
// them (name ""). It returns an error when something could not be applied, to be tried again.
func (s *Server) syncRooms(ctx context.Context, name string) error {
	var defs []queue.RoomDef
	if name != "" {
		d, ok, err := s.engine.RoomDef(ctx, name)
		if err != nil {
			return err
		}
		if ok {
			defs = []queue.RoomDef{d}
		}
	} else {
		var err error
		if defs, err = s.engine.RoomDefs(ctx); err != nil {
			return err
		}
	}
	var firstErr error
	listed := map[string]bool{}
	for _, d := range defs {
		listed[d.Name] = true
		if err := s.applyDef(ctx, d); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	set := s.roomSet()
	// A runtime room served here that the registry lists neither as defined nor as deleted:
	// the registry lost data (a Redis restart without persistence). Write it back from here,
	// as the queue restores a room's keys from the gateway's cache.
	for n, rm := range set.rooms {
		if rm.runtime && !listed[n] && (name == "" || n == name) {
			raw, err := json.Marshal(rm.spec)
			if err == nil {
				err = s.engine.DefineRoom(ctx, n, raw)
			}
			if err != nil && firstErr == nil {
				firstErr = err
			}
			s.log.Warn().Err(err).Str("room", n).Msg("a runtime room was missing from the registry; written back from this gateway")
		}
	}
	// closing rooms no longer listed: their period ended
	var ended []string
	for n := range set.closing {
		if !listed[n] && (name == "" || n == name) {
			ended = append(ended, n)
		}
	}
	s.endClosing(ended)
	return firstErr
}

// endClosing forgets deleted rooms whose closing period ended: no longer served at all, and
// their metric series dropped, so a platform that creates a room per screening does not grow
// its scrape for ever.
func (s *Server) endClosing(ended []string) {
	if len(ended) == 0 {
		return
	}
	s.change(func(next *roomSet) {
		for _, n := range ended {
			delete(next.closing, n)
		}
	})
	for _, n := range ended {
		if _, ok := s.roomSet().rooms[n]; !ok { // not created again meanwhile
			s.m.forgetRoom(n)
			s.obs.forgetRoom(n)
		}
	}
}

// applyDef makes one registry entry true here.
func (s *Server) applyDef(ctx context.Context, d queue.RoomDef) error {
	set := s.roomSet()
	if rm, ok := set.rooms[d.Name]; ok && !rm.runtime {
		if !rm.warned.Swap(true) {
			s.log.Warn().Str("room", d.Name).Msg("a runtime room has the name of a room in this gateway's configuration; the configuration wins here")
		}
		return nil
	}
	if d.Deleted() {
		if _, ok := set.closing[d.Name]; ok {
			return nil
		}
		rm, ok := set.rooms[d.Name]
		if !ok {
			var err error
			if rm, err = s.roomFromDef(d); err != nil {
				s.badDef(d, err)
				return nil
			}
		}
		s.retire(ctx, rm, d.DeletedAt)
		return nil
	}
	if _, ok := set.rooms[d.Name]; ok {
		return nil // a room's definition never changes; its settings are the engine's
	}
	if _, ok := set.closing[d.Name]; ok {
		return nil // a definition read before the room's deletion: the deletion is newer
	}
	rm, err := s.roomFromDef(d)
	if err == nil {
		_, err = rm.spec.seed()
	}
	if err != nil {
		s.badDef(d, err)
		return nil
	}
	seed, _ := rm.spec.seed()
	// the room's keys exist (they outlive the definition by the closing period), so this only
	// loads it; after a data loss or the keys' expiry it seeds them again
	if _, err := s.engine.EnsureRoom(ctx, d.Name, seed); err != nil {
		return fmt.Errorf("gateway: runtime room %s: %w", d.Name, err)
	}
	s.change(func(next *roomSet) {
		_, served := next.rooms[d.Name]
		_, closing := next.closing[d.Name] // deleted while this definition was being applied
		if !served && !closing {
			next.rooms[d.Name] = rm
		}
	})
	s.log.Info().Str("room", d.Name).Str("template", rm.spec.Template).Msg("runtime room added")
	return nil
}

// badDef logs a registry entry this gateway cannot use (written by a newer or broken version):
// it is skipped, and does not stop the other rooms.
func (s *Server) badDef(d queue.RoomDef, err error) {
	s.log.Error().Err(err).Str("room", d.Name).Msg("cannot use a runtime room's definition; the room is not served here")
}

func (s *Server) roomFromDef(d queue.RoomDef) (*room, error) {
	var spec runtimeSpec
	if err := json.Unmarshal(d.Spec, &spec); err != nil {
		return nil, fmt.Errorf("gateway: runtime room %s: definition: %w", d.Name, err)
	}
	if spec.Room.Name != d.Name {
		return nil, fmt.Errorf("gateway: runtime room %s: definition names %q", d.Name, spec.Room.Name)
	}
	rm, err := s.newRoom(spec.Room)
	if err != nil {
		return nil, err
	}
	rm.runtime, rm.spec = true, &spec
	return rm, nil
}

// runRooms applies the registry's changes as the engine hears of them, until ctx ends; a
// failed sync is tried again (in full) a second later. Closing rooms whose period ended are
// dropped.
func (s *Server) runRooms(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	retry := false
	for {
		select {
		case <-ctx.Done():
			return
		case name := <-s.engine.RoomChanges():
			if err := s.syncRooms(ctx, name); err != nil && ctx.Err() == nil {
				retry = true
				s.log.Warn().Err(err).Str("room", name).Msg("cannot apply a runtime room change yet; retrying")
			}
		case <-tick.C:
			if retry {
				retry = s.syncRooms(ctx, "") != nil
			}
			now := time.Now()
			var ended []string
			for n, rm := range s.roomSet().closing {
				if now.After(rm.deletedAt().Add(queue.ClosingPeriod)) {
					ended = append(ended, n)
				}
			}
			s.endClosing(ended)
		}
	}
}
