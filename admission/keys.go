package admission

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/rs/zerolog"
)

// Algorithm is a JWS signing algorithm ("alg") that admission tokens may use.
type Algorithm string

// The supported algorithms. "none" and every other value are refused everywhere.
const (
	// EdDSA is Ed25519 (RFC 8037), the default: small keys, small and fast signatures.
	EdDSA Algorithm = "EdDSA"
	// RS256 is RSASSA-PKCS1-v1_5 with SHA-256, for backends whose JWT library lacks EdDSA.
	RS256 Algorithm = "RS256"
	// HS256 is HMAC-SHA256 with a shared secret; its keys are never published in the JWKS.
	HS256 Algorithm = "HS256"
)

// Key file conventions inside a key directory (see LoadKeyDir).
const (
	// PEMExt is the extension of Ed25519 and RSA key files: "<kid>.pem".
	PEMExt = ".pem"
	// SecretExt is the extension of HS256 secret files: "<kid>.secret", base64 of at least 32 bytes.
	SecretExt = ".secret"
	// CurrentFile, when present in a key directory, holds the kid of the key that signs.
	CurrentFile = "current"
)

const (
	minRSABits      = 2048
	genRSABits      = 2048
	minSecretBytes  = 32
	genSecretBytes  = 32
	maxKIDLen       = 64
	maxKeyFileBytes = 64 << 10
)

// ErrNoSigningKey is returned when a key set that can only verify is asked to sign.
var ErrNoSigningKey = errors.New("admission: key set has no signing key")

func (a Algorithm) method() jwt.SigningMethod {
	switch a {
	case EdDSA:
		return jwt.SigningMethodEdDSA
	case RS256:
		return jwt.SigningMethodRS256
	case HS256:
		return jwt.SigningMethodHS256
	}
	return nil
}

// Valid reports whether a is one of the supported algorithms.
func (a Algorithm) Valid() bool { return a.method() != nil }

// ParseAlgorithm returns the Algorithm named s (exact, case-sensitive, as in a JWS header).
func ParseAlgorithm(s string) (Algorithm, error) {
	a := Algorithm(s)
	if !a.Valid() {
		return "", fmt.Errorf("admission: unsupported algorithm %q (want EdDSA, RS256 or HS256)", s)
	}
	return a, nil
}

// Key is one admission key: an identifier (kid), an algorithm, and its key material. A Key
// with private material (or an HS256 secret) can sign; one with only a public key can only
// verify. A Key is immutable and safe for concurrent use.
type Key struct {
	id      string
	alg     Algorithm
	method  jwt.SigningMethod
	private any    // ed25519.PrivateKey, *rsa.PrivateKey, []byte (HS256), or nil
	public  any    // ed25519.PublicKey, *rsa.PublicKey, []byte (HS256)
	header  string // base64url of the JWS header, followed by '.'; used by Issue
	sigLen  int    // signature length in bytes
}

// ID returns the key id, the "kid" header of the tokens it signs.
func (k *Key) ID() string { return k.id }

// Algorithm returns the algorithm the key signs and verifies with; a key is used with no other.
func (k *Key) Algorithm() Algorithm { return k.alg }

// CanSign reports whether the key holds private material.
func (k *Key) CanSign() bool { return k.private != nil }

// Public returns the public key (ed25519.PublicKey or *rsa.PublicKey), or nil for HS256 keys,
// whose material is secret.
func (k *Key) Public() crypto.PublicKey {
	if k.alg == HS256 {
		return nil
	}
	return k.public
}

// ValidKID reports whether s is usable as a kid: 1 to 64 of [A-Za-z0-9._-], not starting with
// a dot. The same rule makes it safe as a file name.
func ValidKID(s string) bool {
	if len(s) == 0 || len(s) > maxKIDLen || s[0] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// NewKID returns a fresh key id that sorts by creation time: "20260301T140502Z-3fa9c1".
func NewKID(now time.Time) string {
	var r [3]byte
	rand.Read(r[:]) // never fails: since Go 1.24 a broken entropy source crashes the program

	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(r[:])
}

func newKey(kid string, alg Algorithm, private, public any) (*Key, error) {
	if !ValidKID(kid) {
		return nil, fmt.Errorf("admission: invalid kid %q (want 1-64 of [A-Za-z0-9._-])", kid)
	}
	k := &Key{id: kid, alg: alg, method: alg.method(), private: private, public: public}
	switch alg {
	case EdDSA:
		k.sigLen = ed25519.SignatureSize
	case RS256:
		k.sigLen = public.(*rsa.PublicKey).Size()
	case HS256:
		k.sigLen = 32
	}
	hdr, err := json.Marshal(struct {
		Alg Algorithm `json:"alg"`
		Kid string    `json:"kid"`
		Typ string    `json:"typ"`
	}{alg, kid, "JWT"})
	if err != nil {
		return nil, fmt.Errorf("admission: encode header: %w", err)
	}
	k.header = base64.RawURLEncoding.EncodeToString(hdr) + "."
	return k, nil
}

// GenerateKey returns a new signing key for alg: Ed25519, RSA 2048, or a 32-byte HS256 secret.
func GenerateKey(alg Algorithm, kid string) (*Key, error) {
	switch alg {
	case EdDSA:
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("admission: generate ed25519 key: %w", err)
		}
		return newKey(kid, alg, priv, pub)
	case RS256:
		priv, err := rsa.GenerateKey(rand.Reader, genRSABits)
		if err != nil {
			return nil, fmt.Errorf("admission: generate rsa key: %w", err)
		}
		return newKey(kid, alg, priv, &priv.PublicKey)
	case HS256:
		secret := make([]byte, genSecretBytes)
		if _, err := rand.Read(secret); err != nil {
			return nil, fmt.Errorf("admission: generate secret: %w", err)
		}
		return newKey(kid, alg, secret, secret)
	}
	return nil, fmt.Errorf("admission: unsupported algorithm %q", alg)
}

// NewEd25519Key wraps an Ed25519 private key (signs) or public key (verifies only).
func NewEd25519Key(kid string, key crypto.PublicKey) (*Key, error) {
	switch k := key.(type) {
	case ed25519.PrivateKey:
		if len(k) != ed25519.PrivateKeySize {
			return nil, errors.New("admission: bad ed25519 private key size")
		}
		return newKey(kid, EdDSA, k, k.Public())
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return nil, errors.New("admission: bad ed25519 public key size")
		}
		return newKey(kid, EdDSA, nil, k)
	}
	return nil, fmt.Errorf("admission: %T is not an ed25519 key", key)
}

// NewRSAKey wraps an RSA private key (signs) or public key (verifies only), for RS256. Keys
// under 2048 bits are refused.
func NewRSAKey(kid string, key crypto.PublicKey) (*Key, error) {
	var pub *rsa.PublicKey
	var priv *rsa.PrivateKey
	switch k := key.(type) {
	case *rsa.PrivateKey:
		priv, pub = k, &k.PublicKey
	case *rsa.PublicKey:
		pub = k
	default:
		return nil, fmt.Errorf("admission: %T is not an rsa key", key)
	}
	if pub.N == nil || pub.N.BitLen() < minRSABits {
		return nil, fmt.Errorf("admission: rsa key of %d bits is too small (minimum %d)", pub.N.BitLen(), minRSABits)
	}
	if pub.E < 3 || pub.E%2 == 0 {
		return nil, errors.New("admission: bad rsa public exponent")
	}
	if priv != nil {
		return newKey(kid, RS256, priv, pub)
	}
	return newKey(kid, RS256, nil, pub)
}

// NewHMACKey wraps an HS256 secret of at least 32 bytes. The secret is copied.
func NewHMACKey(kid string, secret []byte) (*Key, error) {
	if len(secret) < minSecretBytes {
		return nil, fmt.Errorf("admission: hs256 secret of %d bytes is too short (minimum %d)", len(secret), minSecretBytes)
	}
	s := bytes.Clone(secret)
	return newKey(kid, HS256, s, s)
}

// ParsePEMKey parses one PEM block: "PRIVATE KEY" (PKCS #8, Ed25519 or RSA), "RSA PRIVATE KEY"
// (PKCS #1), "PUBLIC KEY" (PKIX, Ed25519 or RSA) or "RSA PUBLIC KEY" (PKCS #1).
func ParsePEMKey(kid string, data []byte) (*Key, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("admission: no PEM block found")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(block.Bytes)
	default:
		return nil, fmt.Errorf("admission: unsupported PEM block %q", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("admission: parse %s: %w", strings.ToLower(block.Type), err)
	}
	switch k := key.(type) {
	case ed25519.PrivateKey, ed25519.PublicKey:
		return NewEd25519Key(kid, k)
	case *rsa.PrivateKey, *rsa.PublicKey:
		return NewRSAKey(kid, k)
	}
	return nil, fmt.Errorf("admission: unsupported key type %T (want Ed25519 or RSA)", key)
}

// ParseSecret parses the content of an HS256 secret file: the secret in base64 (standard or
// URL alphabet, padded or not), surrounding white space ignored.
func ParseSecret(kid string, data []byte) (*Key, error) {
	s := strings.TrimSpace(string(data))
	s = strings.TrimRight(s, "=")
	s = strings.NewReplacer("+", "-", "/", "_").Replace(s)
	secret, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("admission: secret is not base64: %w", err)
	}
	return NewHMACKey(kid, secret)
}

// MarshalPEM returns the key in the form LoadKeyFile reads: a PKCS #8 "PRIVATE KEY" block when
// the key can sign, a PKIX "PUBLIC KEY" block when it cannot, and the base64url secret
// (one line) for HS256.
func (k *Key) MarshalPEM() ([]byte, error) {
	if k.alg == HS256 {
		return []byte(base64.RawURLEncoding.EncodeToString(k.private.([]byte)) + "\n"), nil
	}
	if k.private != nil {
		der, err := x509.MarshalPKCS8PrivateKey(k.private)
		if err != nil {
			return nil, fmt.Errorf("admission: marshal private key: %w", err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
	}
	return k.MarshalPublicPEM()
}

// MarshalPublicPEM returns the public key as a PKIX "PUBLIC KEY" PEM block. HS256 keys have none.
func (k *Key) MarshalPublicPEM() ([]byte, error) {
	if k.alg == HS256 {
		return nil, errors.New("admission: hs256 keys have no public part")
	}
	der, err := x509.MarshalPKIXPublicKey(k.public)
	if err != nil {
		return nil, fmt.Errorf("admission: marshal public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// FileName returns the file name the key is stored under in a key directory:
// "<kid>.pem", or "<kid>.secret" for HS256.
func (k *Key) FileName() string {
	if k.alg == HS256 {
		return k.id + SecretExt
	}
	return k.id + PEMExt
}

// WriteKeyFile writes k to path with mode 0600, failing if the file already exists. The file
// appears whole or not at all.
func WriteKeyFile(path string, k *Key) error {
	data, err := k.MarshalPEM()
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".keygen-*")
	if err != nil {
		return fmt.Errorf("admission: write key: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op once linked and removed below
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("admission: write key: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("admission: write key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("admission: write key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("admission: write key: %w", err)
	}
	// Link, unlike rename, refuses to replace an existing key.
	if err := os.Link(tmp.Name(), path); err != nil {
		return fmt.Errorf("admission: write key: %w", err)
	}
	return nil
}

// LoadKeyFile reads one key file. The kid is the file name without its extension; a ".secret"
// file is an HS256 secret, anything else is parsed as PEM.
func LoadKeyFile(path string) (*Key, error) {
	kid, isSecret := kidFromFileName(filepath.Base(path))
	if kid == "" {
		kid = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	data, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	var k *Key
	if isSecret {
		k, err = ParseSecret(kid, data)
	} else {
		k, err = ParsePEMKey(kid, data)
	}
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return k, nil
}

func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("admission: read key: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("admission: read key: %w", err)
	}
	if len(data) > maxKeyFileBytes {
		return nil, fmt.Errorf("admission: key file %s is larger than %d bytes", path, maxKeyFileBytes)
	}
	return data, nil
}

// kidFromFileName returns the kid for a key file name, or "" if the name is not a key file.
func kidFromFileName(name string) (kid string, secret bool) {
	switch {
	case strings.HasSuffix(name, PEMExt):
		kid = strings.TrimSuffix(name, PEMExt)
	case strings.HasSuffix(name, SecretExt):
		kid, secret = strings.TrimSuffix(name, SecretExt), true
	default:
		return "", false
	}
	if !ValidKID(kid) {
		return "", false
	}
	return kid, secret
}

// KeySet is the keys foyer signs and verifies admission tokens with: at most one signing key
// and any number of verify-only keys, so that a key can be replaced without logging out the
// visitors whose tokens the old key signed. A KeySet is immutable and safe for concurrent use;
// to rotate, build a new one.
type KeySet struct {
	signing *Key
	keys    map[string]*Key
	ordered []*Key // signing key first, then by kid
	jwks    []byte
}

// NewKeySet returns a set in which signing (may be nil, for a verify-only set) signs and every
// key verifies. Key ids must be distinct.
func NewKeySet(signing *Key, verifyOnly ...*Key) (*KeySet, error) {
	ks := &KeySet{keys: make(map[string]*Key, len(verifyOnly)+1)}
	if signing != nil {
		if !signing.CanSign() {
			return nil, fmt.Errorf("admission: key %q cannot sign: it has no private part", signing.id)
		}
		ks.signing = signing
		ks.keys[signing.id] = signing
	}
	rest := slices.Clone(verifyOnly)
	slices.SortFunc(rest, func(a, b *Key) int { return strings.Compare(a.id, b.id) })
	for _, k := range rest {
		if k == nil {
			return nil, errors.New("admission: nil key")
		}
		if _, dup := ks.keys[k.id]; dup {
			return nil, fmt.Errorf("admission: duplicate kid %q", k.id)
		}
		ks.keys[k.id] = k
	}
	if signing != nil {
		ks.ordered = append(ks.ordered, signing)
	}
	ks.ordered = append(ks.ordered, rest...)
	if len(ks.ordered) == 0 {
		return nil, errors.New("admission: empty key set")
	}
	jwks, err := marshalJWKS(ks.ordered)
	if err != nil {
		return nil, err
	}
	ks.jwks = jwks
	return ks, nil
}

// SigningKey returns the key that signs, or nil for a verify-only set.
func (ks *KeySet) SigningKey() *Key { return ks.signing }

// Keys returns every key, the signing key first.
func (ks *KeySet) Keys() []*Key { return slices.Clone(ks.ordered) }

// Key returns the key with the given kid, or an error wrapping ErrUnknownKey. It makes KeySet
// a KeySource.
func (ks *KeySet) Key(kid string) (*Key, error) {
	if k := ks.keys[kid]; k != nil {
		return k, nil
	}
	return nil, ErrUnknownKey
}

// lookup is Key without the string conversion, for the verify hot path.
func (ks *KeySet) lookup(kid []byte) *Key { return ks.keys[string(kid)] }

// JWKS returns the JSON Web Key Set (RFC 7517) of the set's public keys, as served at
// /.well-known/jwks.json. HS256 keys are never included. The caller must not modify it.
func (ks *KeySet) JWKS() []byte { return ks.jwks }

// LoadKeyFiles loads a key set from files: signing (a private key, or "" for a verify-only
// set) and the verify-only keys. See LoadKeyFile for the file formats.
func LoadKeyFiles(signing string, verifyOnly ...string) (*KeySet, error) {
	var sk *Key
	if signing != "" {
		k, err := LoadKeyFile(signing)
		if err != nil {
			return nil, err
		}
		sk = k
	}
	var rest []*Key
	for _, p := range verifyOnly {
		k, err := LoadKeyFile(p)
		if err != nil {
			return nil, err
		}
		rest = append(rest, k)
	}
	return NewKeySet(sk, rest...)
}

// LoadKeyDir loads every key in dir. Conventions:
//
//   - "<kid>.pem" is an Ed25519 or RSA key (private: PKCS #8 or PKCS #1; public: PKIX);
//     "<kid>.secret" is an HS256 secret (base64). The kid is the file name without the
//     extension. Other files, and names starting with a dot, are ignored.
//   - The signing key is the one whose kid is in the file "current", if there is one;
//     otherwise the private key whose kid sorts last. Kids from NewKID (and so from
//     `foyer keygen`) sort by creation time, so a newly generated key takes over signing
//     and the older ones keep verifying until they are deleted.
//   - A directory with public keys only gives a verify-only set (for backends).
func LoadKeyDir(dir string) (*KeySet, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("admission: read key directory: %w", err)
	}
	var keys []*Key
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if kid, _ := kidFromFileName(e.Name()); kid == "" {
			continue
		}
		k, err := LoadKeyFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("admission: no keys in %s (want <kid>.pem or <kid>.secret files)", dir)
	}
	var current string
	if b, err := os.ReadFile(filepath.Join(dir, CurrentFile)); err == nil {
		current = strings.TrimSpace(string(b))
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("admission: read %s: %w", CurrentFile, err)
	}
	signIdx := -1
	for i, k := range keys {
		if current != "" {
			if k.id == current {
				signIdx = i
			}
			continue
		}
		if k.CanSign() && (signIdx < 0 || k.id > keys[signIdx].id) {
			signIdx = i
		}
	}
	if current != "" {
		if signIdx < 0 {
			return nil, fmt.Errorf("admission: %s names kid %q, which is not in %s", CurrentFile, current, dir)
		}
		if !keys[signIdx].CanSign() {
			return nil, fmt.Errorf("admission: %s names kid %q, which has no private key", CurrentFile, current)
		}
	}
	if signIdx < 0 {
		return NewKeySet(nil, keys...)
	}
	signing := keys[signIdx]
	rest := slices.Delete(slices.Clone(keys), signIdx, signIdx+1)
	return NewKeySet(signing, rest...)
}

// LoadOrGenerate loads the key set in dir, or, when dir holds no key yet (or does not exist),
// generates a key for alg, writes it there (directory 0700, file 0600) and logs that it did.
// It is meant for first local runs; production deployments provision keys with `foyer keygen`
// and share the directory between gateway replicas.
func LoadOrGenerate(dir string, alg Algorithm, log zerolog.Logger) (*KeySet, error) {
	if alg == "" {
		alg = EdDSA
	}
	if !alg.Valid() {
		return nil, fmt.Errorf("admission: unsupported algorithm %q", alg)
	}
	if hasKeys, err := dirHasKeys(dir); err != nil {
		return nil, err
	} else if hasKeys {
		return LoadKeyDir(dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("admission: create key directory: %w", err)
	}
	k, err := GenerateKey(alg, NewKID(time.Now()))
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, k.FileName())
	if err := WriteKeyFile(path, k); err != nil {
		return nil, err
	}
	log.Warn().Str("kid", k.id).Str("alg", string(alg)).Str("path", path).
		Msg("generated a new admission signing key; keep it, and share it between gateway replicas")
	// Load back rather than use k: a replica that raced us may have written a key too, and
	// everyone must settle on the same signing key (the last kid).
	return LoadKeyDir(dir)
}

func dirHasKeys(dir string) (bool, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("admission: read key directory: %w", err)
	}
	for _, e := range entries {
		if kid, _ := kidFromFileName(e.Name()); kid != "" && !e.IsDir() {
			return true, nil
		}
	}
	return false, nil
}

// jwk is one JSON Web Key (RFC 7517), OKP as in RFC 8037 or RSA as in RFC 7518.
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	Kid string `json:"kid"`
	Alg string `json:"alg,omitempty"`
	Use string `json:"use,omitempty"`
}

type jwkSet struct {
	Keys []jwk `json:"keys"`
}

func marshalJWKS(keys []*Key) ([]byte, error) {
	set := jwkSet{Keys: []jwk{}}
	for _, k := range keys {
		switch pub := k.public.(type) {
		case ed25519.PublicKey:
			set.Keys = append(set.Keys, jwk{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(pub),
				Kid: k.id, Alg: string(k.alg), Use: "sig"})
		case *rsa.PublicKey:
			set.Keys = append(set.Keys, jwk{Kty: "RSA", N: base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
				E:   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
				Kid: k.id, Alg: string(k.alg), Use: "sig"})
		}
		// HS256 secrets are never published.
	}
	b, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("admission: encode jwks: %w", err)
	}
	return b, nil
}
