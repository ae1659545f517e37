package media_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"parley/internal/config"
	"parley/internal/media"
	"parley/internal/media/s3test"
)

// stores are the backends every test runs against: a directory and an
// S3-compatible server.
func stores(t *testing.T) map[string]*media.Store {
	t.Helper()
	dir, err := media.Open(context.Background(), config.DirURL(filepath.Join(t.TempDir(), "media")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dir.Close() })
	s3, err := media.Open(context.Background(), s3test.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s3.Close() })
	return map[string]*media.Store{"dir": dir, "s3": s3}
}

// failing reads n bytes, then fails: an upload cut off midway.
type failing struct{ n int }

func (f *failing) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errors.New("connection reset")
	}
	k := min(len(p), f.n)
	for i := range p[:k] {
		p[i] = 'x'
	}
	f.n -= k
	return k, nil
}

func TestAFileIsStoredWithItsSizeAndChecksumAndReadBack(t *testing.T) {
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			data := bytes.Repeat([]byte("parley "), 300_000) // 2.1 MB: more than one S3 part
			key := media.NewKey(uuid.New())
			info, err := s.Put(ctx, key, "text/plain", bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(data)
			if info.Size != int64(len(data)) || info.SHA256 != hex.EncodeToString(sum[:]) {
				t.Fatalf("stored %+v, want %d bytes, sha256 %x", info, len(data), sum)
			}
			f, err := s.Open(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Size() != int64(len(data)) {
				t.Fatalf("size %d, want %d", f.Size(), len(data))
			}
			// A range, as a browser or the provider asks for one.
			if _, err := f.Seek(1_000_000, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(f)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data[1_000_000:]) {
				t.Fatalf("read back %d bytes from 1,000,000, not the file's", len(got))
			}
		})
	}
}

func TestAnUploadCutOffLeavesNoFile(t *testing.T) {
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			key := media.NewKey(uuid.New())
			if _, err := s.Put(ctx, key, "video/mp4", &failing{n: 6 << 20}); err == nil {
				t.Fatal("a failed upload was stored")
			}
			if _, err := s.Open(ctx, key); !media.IsNotFound(err) {
				t.Fatalf("after a failed upload, open gives %v, want not found", err)
			}
			n, err := s.Sweep(ctx, time.Now().Add(time.Hour), func(context.Context, []string) (map[string]bool, error) { return nil, nil })
			if err != nil || n != 0 {
				t.Fatalf("sweep after a failed upload deleted %d (%v), want nothing left to delete", n, err)
			}
		})
	}
}

func TestTheSweepDeletesOnlyOldFilesNoRowPointsTo(t *testing.T) {
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			tid := uuid.New()
			kept, orphan := media.NewKey(tid), media.NewKey(tid)
			for _, k := range []string{kept, orphan} {
				if _, err := s.PutBytes(ctx, k, "text/plain", []byte("hello")); err != nil {
					t.Fatal(err)
				}
			}
			known := func(_ context.Context, keys []string) (map[string]bool, error) {
				return map[string]bool{kept: true}, nil
			}
			// Files written since the cutoff may be about to get their row.
			if n, err := s.Sweep(ctx, time.Now().Add(-time.Hour), known); err != nil || n != 0 {
				t.Fatalf("sweep of new files deleted %d (%v), want none", n, err)
			}
			if n, err := s.Sweep(ctx, time.Now().Add(time.Hour), known); err != nil || n != 1 {
				t.Fatalf("sweep deleted %d (%v), want the orphan", n, err)
			}
			if _, err := s.Open(ctx, orphan); !media.IsNotFound(err) {
				t.Fatalf("the orphan is still there: %v", err)
			}
			f, err := s.Open(ctx, kept)
			if err != nil {
				t.Fatalf("the file a row points to is gone: %v", err)
			}
			f.Close()
		})
	}
}

func TestBadKeysAndURLsAreRefused(t *testing.T) {
	ctx := context.Background()
	for name, s := range stores(t) {
		for _, k := range []string{"", "../etc/passwd", "/abs"} {
			if _, err := s.PutBytes(ctx, k, "", []byte("x")); err == nil {
				t.Errorf("%s: key %q accepted", name, k)
			}
		}
	}
	for _, u := range []string{"ftp://x", "s3://?region=x", "gs//"} {
		if _, err := media.Open(ctx, u); err == nil {
			t.Errorf("media URL %q accepted", u)
		}
	}
}

// A store too large to sweep in one job's time is swept in parts, each
// going on from where the last stopped, until every orphan is gone.
func TestTheSweepGoesOnFromWhereItStopped(t *testing.T) {
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			tid := uuid.New()
			kept := media.NewKey(tid)
			for i := range 1001 { // three pages of 500
				k := kept
				if i > 0 {
					k = media.NewKey(tid)
				}
				if _, err := s.PutBytes(ctx, k, "text/plain", []byte("hello")); err != nil {
					t.Fatal(err)
				}
			}
			known := func(_ context.Context, keys []string) (map[string]bool, error) {
				return map[string]bool{kept: true}, nil
			}
			var (
				from    []byte
				deleted int
				parts   int
			)
			for {
				// Its time is up at once: each part lists one page.
				n, next, err := s.SweepFrom(ctx, time.Now().Add(time.Hour), known, from, time.Now())
				if err != nil {
					t.Fatal(err)
				}
				deleted += n
				parts++
				if next == nil {
					break
				}
				if parts > 10 {
					t.Fatal("the sweep does not end")
				}
				from = next
			}
			if deleted != 1000 || parts != 3 {
				t.Fatalf("the sweep deleted %d in %d parts, want the 1,000 orphans in 3", deleted, parts)
			}
			if _, err := s.Open(ctx, kept); err != nil {
				t.Fatalf("the file a row points to is gone: %v", err)
			}
		})
	}
}
