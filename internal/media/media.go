// Package media stores attachments: files clients send (downloaded from the
// provider) and files agents send (served to the provider by an unguessable
// URL). Files live in a bucket named by PARLEY_MEDIA_URL through
// gocloud.dev/blob: a local directory (file://, the default) or an
// S3-compatible object store (s3://) that every replica shares.
//
// A file is streamed in and out, never held whole in memory; Put reports
// its size and SHA-256, which the attachment's row records. A file is
// written before the row that points to it commits; Sweep removes files
// whose row never committed (a crash, a refused message).
package media

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob" // file:// buckets
	_ "gocloud.dev/blob/s3blob"   // s3:// buckets
	"gocloud.dev/gcerrors"
)

// Store keeps files by key in one bucket.
type Store struct {
	b   *blob.Bucket
	url string
}

// Info is what Put learnt of a file while writing it.
type Info struct {
	Size   int64
	SHA256 string // hex
}

// Open opens the bucket at rawURL: file://DIR (a relative DIR is written
// file://./DIR; the directory is created) or s3://BUCKET?region=…&endpoint=…
// (credentials from the environment, as the AWS SDK reads them:
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY).
func Open(ctx context.Context, rawURL string) (*Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("media URL %q: %w", rawURL, err)
	}
	switch u.Scheme {
	case "file":
		// Parley's defaults for a directory: write beside the final file
		// (the rename is atomic; os.TempDir may be another mount), keep no
		// sidecar files (the database has the type and name).
		q := u.Query()
		for k, v := range map[string]string{"create_dir": "true", "no_tmp_dir": "true", "metadata": "skip"} {
			if !q.Has(k) {
				q.Set(k, v)
			}
		}
		u.RawQuery = q.Encode()
	case "s3":
		if u.Host == "" {
			return nil, fmt.Errorf("media URL %q names no bucket (s3://BUCKET?region=…)", rawURL)
		}
		// S3-compatible stores (an endpoint of their own) differ in the
		// checksums they send back, a ranged read's especially; Parley
		// records its own SHA-256, so the SDK checks only what S3 requires.
		q := u.Query()
		if q.Has("endpoint") {
			for _, k := range []string{"request_checksum_calculation", "response_checksum_validation"} {
				if !q.Has(k) {
					q.Set(k, "when_required")
				}
			}
		}
		u.RawQuery = q.Encode()
	default:
		return nil, fmt.Errorf("media URL %q: the scheme must be file:// or s3://", rawURL)
	}
	b, err := blob.OpenBucket(ctx, u.String())
	if err != nil {
		return nil, fmt.Errorf("media URL %q: %w", rawURL, err)
	}
	return &Store{b: b, url: rawURL}, nil
}

// NewStore wraps an open bucket (a tenant's own, for instance).
func NewStore(b *blob.Bucket, name string) *Store { return &Store{b: b, url: name} }

// Close releases the bucket.
func (s *Store) Close() error { return s.b.Close() }

// String names the bucket (for logs; no credentials).
func (s *Store) String() string {
	if u, err := url.Parse(s.url); err == nil {
		u.User = nil
		return u.Scheme + "://" + u.Host + u.Path
	}
	return "media store"
}

// NewKey makes a key for a new file of tenant tid.
func NewKey(tid uuid.UUID) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return tid.String() + "/" + hex.EncodeToString(b)
}

func checkKey(key string) error {
	if key == "" || strings.Contains(key, "..") || strings.HasPrefix(key, "/") {
		return fmt.Errorf("bad media key %q", key)
	}
	return nil
}

// Put streams r into the file key. The file appears whole or not at all:
// when r fails, or ctx ends, nothing is left under key.
func (s *Store) Put(ctx context.Context, key, contentType string, r io.Reader) (Info, error) {
	if err := checkKey(key); err != nil {
		return Info{}, err
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := s.b.NewWriter(wctx, key, &blob.WriterOptions{ContentType: contentTypeOr(contentType)})
	if err != nil {
		return Info{}, fmt.Errorf("store %s: %w", key, err)
	}
	h := sha256.New()
	n, err := io.Copy(w, io.TeeReader(r, h))
	if err != nil {
		// Cancelling before Close abandons the write (gocloud.dev/blob).
		cancel()
		_ = w.Close()
		return Info{}, fmt.Errorf("store %s: %w", key, err)
	}
	if err := w.Close(); err != nil {
		return Info{}, fmt.Errorf("store %s: %w", key, err)
	}
	return Info{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// PutBytes stores a file already in memory (a small one).
func (s *Store) PutBytes(ctx context.Context, key, contentType string, data []byte) (Info, error) {
	return s.Put(ctx, key, contentType, bytes.NewReader(data))
}

func contentTypeOr(ct string) string {
	if ct == "" {
		return "application/octet-stream"
	}
	return ct
}

// File is an open stored file: it reads and seeks (ranges are fetched
// from the store as they are read).
type File interface {
	io.ReadSeekCloser
	Size() int64
}

// Open opens a stored file.
func (s *Store) Open(ctx context.Context, key string) (File, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	r, err := s.b.NewReader(ctx, key, nil)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	return r, nil
}

// Delete removes a file; one already gone is no error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := s.b.Delete(ctx, key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// IsNotFound says whether err is a file that is not in the store.
func IsNotFound(err error) bool { return gcerrors.Code(err) == gcerrors.NotFound }

// Known says which of keys an attachment row points to.
type Known func(ctx context.Context, keys []string) (map[string]bool, error)

// sweepPage is how many keys a sweep lists at a time, and one Known call
// checks.
const sweepPage = 500

// Sweep deletes the files last written before cutoff that no row points
// to: files whose row never committed. Files written after cutoff are
// left alone (their row may be about to commit). It returns how many it
// deleted.
func (s *Store) Sweep(ctx context.Context, cutoff time.Time, known Known) (int, error) {
	n, _, err := s.SweepFrom(ctx, cutoff, known, nil, time.Time{})
	return n, err
}

// SweepFrom is Sweep in parts, for a store too large to list within a
// job's time: it lists from page token from (nil: the first page), stops
// after the page during which until passed (zero: never), and returns the
// token to go on from (nil: the whole store is swept).
func (s *Store) SweepFrom(ctx context.Context, cutoff time.Time, known Known, from []byte, until time.Time) (int, []byte, error) {
	deleted := 0
	token := from
	if token == nil {
		token = blob.FirstPageToken
	}
	for {
		objs, next, err := s.b.ListPage(ctx, token, sweepPage, nil)
		if err != nil {
			return deleted, token, fmt.Errorf("list %s: %w", s, err)
		}
		var old []string
		for _, obj := range objs {
			if !obj.IsDir && obj.ModTime.Before(cutoff) {
				old = append(old, obj.Key)
			}
		}
		if len(old) > 0 {
			k, err := known(ctx, old)
			if err != nil {
				return deleted, token, err
			}
			for _, key := range old {
				if k[key] {
					continue
				}
				if err := s.Delete(ctx, key); err != nil {
					return deleted, token, err
				}
				deleted++
			}
		}
		if len(next) == 0 {
			return deleted, nil, nil
		}
		token = next
		if !until.IsZero() && time.Now().After(until) {
			return deleted, token, nil
		}
	}
}

// Keys lists every file in the store (for checks and tests; the sweep
// pages through them itself).
func (s *Store) Keys(ctx context.Context) ([]string, error) {
	var keys []string
	it := s.b.List(nil)
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return keys, nil
		}
		if err != nil {
			return keys, fmt.Errorf("list %s: %w", s, err)
		}
		if !obj.IsDir {
			keys = append(keys, obj.Key)
		}
	}
}
