package queue

import (
	"context"
	"embed"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

//go:embed scripts/*.lua scripts/lib/*.lua
var scriptFS embed.FS

// mustScript loads scripts/<name>.lua, after the shared helpers in scripts/lib/<lib>.lua.
func mustScript(name string, libs ...string) *redis.Script {
	var src []byte
	for _, f := range append(libs, name) {
		path := "scripts/" + f + ".lua"
		if f != name {
			path = "scripts/lib/" + f + ".lua"
		}
		b, err := scriptFS.ReadFile(path)
		if err != nil {
			panic("queue: missing embedded script " + path) // build-time invariant
		}
		src = append(src, b...)
	}
	return redis.NewScript(string(src))
}

// One script per atomic operation; see each file's header for KEYS, ARGV and the reply.
var (
	createScript  = mustScript("create")
	joinScript    = mustScript("join")
	stepScript    = mustScript("step", "room")
	claimScript   = mustScript("claim", "room")
	releaseScript = mustScript("release")
	extendScript  = mustScript("extend")
	markScript    = mustScript("mark")
	updateScript  = mustScript("update")
	restoreScript = mustScript("restore")
	spendScript   = mustScript("spend")

	allScripts = []*redis.Script{createScript, joinScript, stepScript, claimScript, releaseScript,
		extendScript, markScript, updateScript, restoreScript, spendScript}
)

// loadScripts loads every script (on every shard of a cluster).
func loadScripts(ctx context.Context, rdb redis.Scripter) error {
	for _, s := range allScripts {
		if err := s.Load(ctx, rdb).Err(); err != nil {
			return err
		}
	}
	return nil
}

// scriptsLoaded reports whether Redis still holds every script (on every shard of a cluster),
// in one SCRIPT EXISTS.
func scriptsLoaded(ctx context.Context, rdb redis.Scripter) (bool, error) {
	hashes := make([]string, len(allScripts))
	for i, s := range allScripts {
		hashes[i] = s.Hash()
	}
	have, err := rdb.ScriptExists(ctx, hashes...).Result()
	if err != nil {
		return false, err
	}
	for _, ok := range have {
		if !ok {
			return false, nil
		}
	}
	return len(have) == len(hashes), nil
}

// reply helpers: checked conversions of script replies.

type replyErr struct{ what string }

func (e replyErr) Error() string { return "queue: unexpected script reply: " + e.what }

func asSlice(v any, min int) ([]any, error) {
	s, ok := v.([]any)
	if !ok || len(s) < min {
		return nil, replyErr{fmt.Sprintf("want array of >= %d, got %T %v", min, v, v)}
	}
	return s, nil
}

func asString(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	}
	return "", replyErr{fmt.Sprintf("want string, got %T", v)}
}

func asInt(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return 0, replyErr{"want integer, got " + strconv.Quote(x)}
		}
		return n, nil
	}
	return 0, replyErr{fmt.Sprintf("want integer, got %T", v)}
}

func asMap(v any) (map[string]string, error) {
	s, ok := v.([]any)
	if !ok || len(s)%2 != 0 {
		return nil, replyErr{fmt.Sprintf("want flat field/value array, got %T", v)}
	}
	m := make(map[string]string, len(s)/2)
	for i := 0; i < len(s); i += 2 {
		k, err := asString(s[i])
		if err != nil {
			return nil, err
		}
		val, err := asString(s[i+1])
		if err != nil {
			return nil, err
		}
		m[k] = val
	}
	return m, nil
}

// tagOf returns the reply's leading status word.
func tagOf(s []any) (string, error) { return asString(s[0]) }
