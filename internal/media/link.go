package media

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// A public link's token is the attachment's stored token, the moment the
// link stops working and a signature over both:
// "<token>.<expiry, unix seconds base 36>.<signature>". Providers fetch a
// sent file at once; a link that leaks (a log, a forwarded payload) works
// only until it expires, and its expiry cannot be changed without the key.

// SignToken makes the link token for the stored token, working until expires.
func SignToken(key []byte, token string, expires time.Time) string {
	exp := strconv.FormatInt(expires.Unix(), 36)
	return token + "." + exp + "." + linkMAC(key, token, exp)
}

// OpenToken checks a link token's signature and expiry at now and returns
// the stored token; ok is false for a forged, altered or expired link.
func OpenToken(key []byte, signed string, now time.Time) (token string, ok bool) {
	token, expires, ok := TokenExpiry(key, signed)
	if !ok || !now.Before(expires) {
		return "", false
	}
	return token, true
}

// TokenExpiry checks a link token's signature only and returns the stored
// token and when the link expires (or expired): a page can then tell an
// expired link from a forged one.
func TokenExpiry(key []byte, signed string) (token string, expires time.Time, ok bool) {
	token, rest, found := strings.Cut(signed, ".")
	if !found {
		return "", time.Time{}, false
	}
	exp, sig, found := strings.Cut(rest, ".")
	if !found || !hmac.Equal([]byte(sig), []byte(linkMAC(key, token, exp))) {
		return "", time.Time{}, false
	}
	unix, err := strconv.ParseInt(exp, 36, 64)
	if err != nil {
		return "", time.Time{}, false
	}
	return token, time.Unix(unix, 0), true
}

func linkMAC(key []byte, token, exp string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("parley public media link\x00" + token + "\x00" + exp))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}
