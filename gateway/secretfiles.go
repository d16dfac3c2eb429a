package gateway

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// maxSecretFileBytes bounds a secret file: a token or a password, never more.
const maxSecretFileBytes = 64 << 10

// readSecretFiles fills each secret whose *_file field is set from that file (a mounted
// Kubernetes Secret, a systemd credential), trimming surrounding white space, and returns the
// problems, each naming its field. LoadConfig calls it before the environment is applied, so
// FOYER_REDIS_PASSWORD and FOYER_ADMIN_TOKEN still win.
func (c *Config) readSecretFiles() []string {
	var p []string
	read := func(field string, value *string, path string, minLen int) {
		if path == "" {
			return
		}
		if *value != "" {
			p = append(p, fmt.Sprintf("%s_file: set %s or %s_file, not both", field, lastPart(field), lastPart(field)))
			return
		}
		s, err := readSecretFile(path)
		switch {
		case err != nil:
			p = append(p, fmt.Sprintf("%s_file: %v", field, err))
		case s == "":
			p = append(p, fmt.Sprintf("%s_file: %s is empty", field, path))
		case len(s) < minLen:
			p = append(p, fmt.Sprintf("%s_file: the secret in %s must be at least %d characters", field, path, minLen))
		default:
			*value = s
		}
	}
	read("redis.password", &c.Redis.Password, c.Redis.PasswordFile, 1)
	for i := range c.Admin.Tokens {
		t := &c.Admin.Tokens[i]
		read(fmt.Sprintf("admin.tokens[%d].token", i), &t.Token, t.TokenFile, 16)
	}
	for i := range c.BackendKeys {
		k := &c.BackendKeys[i]
		read(fmt.Sprintf("backend_keys[%d].key", i), &k.Key, k.KeyFile, 32)
	}
	for i := range c.Tickets.Secrets {
		s := &c.Tickets.Secrets[i]
		read(fmt.Sprintf("tickets.secrets[%d].secret", i), &s.Secret, s.SecretFile, 32)
	}
	return p
}

func lastPart(field string) string {
	return field[strings.LastIndexByte(field, '.')+1:]
}

func readSecretFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("cannot read: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFileBytes+1))
	if err != nil {
		return "", fmt.Errorf("cannot read %s: %w", path, err)
	}
	if len(b) > maxSecretFileBytes {
		return "", fmt.Errorf("%s is larger than %d bytes: not a secret", path, maxSecretFileBytes)
	}
	return strings.TrimSpace(string(b)), nil
}
