package media_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"parley/internal/media"
	"parley/internal/media/s3test"
)

func testBucket(t *testing.T, name string) media.Bucket {
	return media.Bucket{Endpoint: s3test.Endpoint(), Region: s3test.Region, Name: name, AccessKey: "tenant-key", Secret: "tenant-secret"}
}

// A tenant's bucket is checked by writing, reading and deleting an object;
// a bucket that does not exist is refused with the store's words.
func TestProbeOfATenantsBucket(t *testing.T) {
	ctx := context.Background()
	s, err := media.OpenBucket(ctx, testBucket(t, s3test.Bucket(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Probe(ctx); err != nil {
		t.Fatalf("probe of a good bucket: %v", err)
	}
	if keys, err := s.Keys(ctx); err != nil || len(keys) != 0 {
		t.Fatalf("the probe left %v (%v)", keys, err)
	}
	missing, err := media.OpenBucket(ctx, testBucket(t, "no-such-bucket"))
	if err != nil {
		t.Fatal(err)
	}
	defer missing.Close()
	err = missing.Probe(ctx)
	if err == nil || !strings.Contains(media.StoreWords(err), "NoSuchBucket") {
		t.Fatalf("probe of a missing bucket: %v (%q)", err, media.StoreWords(err))
	}
	if errs := (media.Bucket{Endpoint: "s3.example.com"}).Check(); len(errs) != 5 {
		t.Fatalf("settings check: %v", errs)
	}
}

// A file in a tenant's bucket is reachable by its presigned link, with no
// sign-in, and holds what was stored.
func TestSignedLinkDownloadsTheFile(t *testing.T) {
	ctx := context.Background()
	s, err := media.OpenBucket(ctx, testBucket(t, s3test.Bucket(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	data := bytes.Repeat([]byte("video"), 100_000)
	key := media.NewKey(uuid.New())
	if _, err := s.PutBytes(ctx, key, "video/mp4", data); err != nil {
		t.Fatal(err)
	}
	link, err := s.SignedURL(ctx, key, 7*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(link, "X-Amz-Expires=604800") || !strings.Contains(link, "X-Amz-Signature=") {
		t.Fatalf("link %s is not a 7-day presigned link", link)
	}
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, data) {
		t.Fatalf("link: %d, %d bytes", resp.StatusCode, len(got))
	}
}
