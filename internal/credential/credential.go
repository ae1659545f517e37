// Package credential seals provider credentials for storage (AES-256-GCM
// with PARLEY_SECRET_KEY) so that a copy of the database does not carry
// usable tokens, and makes the masked hint shown in Settings.
package credential

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Sealer encrypts and decrypts credentials with one key.
type Sealer struct{ aead cipher.AEAD }

// NewSealer uses a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != 32 {
		return nil, errors.New("credential key must be 32 bytes")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plain; ad binds the ciphertext to its owner (for example
// the integration's webhook token), so it cannot be moved to another row.
func (s *Sealer) Seal(plain, ad string) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	return s.aead.Seal(nonce, nonce, []byte(plain), []byte(ad)), nil
}

// Open decrypts what Seal produced with the same ad.
func (s *Sealer) Open(sealed []byte, ad string) (string, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return "", errors.New("sealed credential too short")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(ad))
	if err != nil {
		return "", errors.New("cannot decrypt credential: wrong PARLEY_SECRET_KEY or damaged data")
	}
	return string(plain), nil
}

// Hint masks a secret for display: dots and its last four characters.
func Hint(secret string) string {
	if utf8.RuneCountInString(secret) <= 8 {
		return strings.Repeat("•", 8)
	}
	r := []rune(secret)
	return strings.Repeat("•", 8) + string(r[len(r)-4:])
}
