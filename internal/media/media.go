// Package media stores attachments: files clients send (downloaded from the
// provider) and files agents send (served to the provider by an unguessable
// URL). The default store is a local directory; replicas share it through a
// shared volume.
package media

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/uuid"
)

// Store keeps files by key.
type Store interface {
	Put(ctx context.Context, key string, data []byte) error
	Open(ctx context.Context, key string) (*os.File, error)
}

// Dir is a Store in a local directory.
type Dir struct{ root string }

// NewDir uses (and creates) root.
func NewDir(root string) (*Dir, error) {
	if err := os.MkdirAll(root, 0o750); err != nil {
		return nil, fmt.Errorf("media directory %s: %w", root, err)
	}
	return &Dir{root: root}, nil
}

// NewKey makes a key for a new file of tenant tid.
func NewKey(tid uuid.UUID) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return tid.String() + "/" + hex.EncodeToString(b)
}

func (d *Dir) path(key string) (string, error) {
	if key == "" || strings.Contains(key, "..") || strings.HasPrefix(key, "/") {
		return "", fmt.Errorf("bad media key %q", key)
	}
	return filepath.Join(d.root, filepath.FromSlash(key)), nil
}

// Put writes the file atomically (temp file, then rename).
func (d *Dir) Put(_ context.Context, key string, data []byte) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return fmt.Errorf("store %s: %w", key, err)
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, data, 0o640); err != nil {
		return fmt.Errorf("store %s: %w", key, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("store %s: %w", key, err)
	}
	return nil
}

// Open opens a stored file.
func (d *Dir) Open(_ context.Context, key string) (*os.File, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, err
	}
	return os.Open(p)
}
