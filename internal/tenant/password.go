package tenant

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
)

// MinPasswordLen is the shortest password accepted.
const MinPasswordLen = 10

// argon2id parameters: OWASP's minimum recommendation (19 MiB, 2 passes).
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

// releasing: a release of argon2's memory is scheduled.
var releasing atomic.Bool

// releaseArgonMemory gives the 19 MiB each argon2 hash takes back to the
// system a second after the last of a burst of sign-ins, rather than when
// the runtime gets round to it (minutes on an idle server): a server's
// resident memory stays at what it uses.
func releaseArgonMemory() {
	if releasing.CompareAndSwap(false, true) {
		time.AfterFunc(time.Second, func() {
			releasing.Store(false)
			debug.FreeOSMemory()
		})
	}
}

// hashPassword returns a PHC-formatted argon2id hash.
func hashPassword(pw string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	releaseArgonMemory()
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemory, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// checkPassword reports whether pw matches the PHC hash.
func checkPassword(hash, pw string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errors.New("unknown password hash format")
	}
	var m uint32
	var t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false, fmt.Errorf("password hash parameters: %w", err)
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false, fmt.Errorf("password hash salt: %w", err)
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil {
		return false, fmt.Errorf("password hash key: %w", err)
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	releaseArgonMemory()
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// dummyHash is compared against when an email is unknown, so that a wrong
// email and a wrong password take the same time.
var dummyHash, _ = hashPassword("parley-timing-equaliser")
