// Package admission issues and verifies foyer's admission tokens, and gives booking backends
// what they need to check them: an offline verifier, a JWKS fetcher, HTTP middleware, and a
// client for the release call.
//
// An admission token is a JWT (RFC 7519) signed with EdDSA (Ed25519, the default), RS256 or
// HS256, with a "kid" header naming the key and these claims:
//
//	iss  the foyer deployment (default "foyer")
//	aud  the room the visitor was admitted to
//	sub  an opaque visitor id (not a credential)
//	cnf  {"s256": Commitment(secret)}: the secret the token is bound to (Claims.Confirms)
//	jti  the id of the admission lease, used to release it
//	iat, nbf, exp  issue time, start and end of validity (seconds since the epoch)
//
// Keys live in a KeySet: one signing key and any number of verify-only keys, so keys rotate
// without logging anyone out. The gateway serves KeySet.JWKS at /.well-known/jwks.json;
// HS256 secrets are never published. See LoadKeyDir for the key directory conventions.
//
// A Verifier pins the algorithm: the kid's key decides it, "none" is never accepted, and a
// public key is never used as an HMAC secret. It requires exp, checks aud, iss, nbf and iat with
// at most 30 s of leeway, and says why it refused with an error wrapping ErrExpired,
// ErrNotYetValid, ErrWrongRoom, ErrWrongIssuer, ErrUnknownKey, ErrBadSignature, ErrMalformed or
// ErrAlgorithm. Verify and Issue take no clock of their own: callers pass the time.
//
// A token is only good with the secret its cnf commits to: the visitor's secret (the
// VisitorCookieName cookie, or VisitorSecretHeader for apps; MiddlewareConfig.BindVisitor) or,
// in token mode, the site's own session (MiddlewareConfig.BindSession, bound through BindParam
// on the queue URL). Nothing readable from a token lets anyone present that secret.
//
// Booking backends use Middleware (net/http) or EchoMiddleware with a Verifier over
// RemoteKeys, which follows foyer's JWKS, and ReleaseClient to free a visitor's slot when they
// are done; the package example shows the few lines it takes, and docs/backend-integration.md
// in the repository covers backends in other languages.
//
// Signing and signature verification use github.com/golang-jwt/jwt/v5's signing methods. The
// token envelope is read by a small strict parser of this package instead of jwt.Parser, so
// that the gateway's hot path allocates little (see the benchmarks); tests check that both
// directions interoperate with golang-jwt.
package admission
