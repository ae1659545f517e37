package cloudstorage_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"parley/internal/clock"
	"parley/internal/cloudstorage"
	"parley/internal/credential"
	"parley/internal/media"
	"parley/internal/media/s3test"
	"parley/internal/postgres/pgtest"
	"parley/internal/problem"
	"parley/internal/tenant"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type fixture struct {
	svc  *cloudstorage.Service
	a, b uuid.UUID
}

func setup(t *testing.T) fixture {
	t.Helper()
	db, _ := pgtest.New(t)
	sealer, err := credential.NewSealer(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	ts := tenant.NewService(db, clock.NewFake(time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)))
	var ids []uuid.UUID
	for _, c := range []string{"Acme", "Globex"} {
		ag, err := ts.SignUp(context.Background(), tenant.SignUpForm{Company: c, Name: "Admin", Email: strings.ToLower(c) + "@example.com", Password: "correct horse battery"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ag.TenantID)
	}
	return fixture{svc: cloudstorage.NewService(db, sealer, "https://help.example", []byte("link key of the tests, 32 bytes!")), a: ids[0], b: ids[1]}
}

// otherMAC changes the first character of a link token's MAC (the last
// one holds only two bits, so changing it may change nothing).
func otherMAC(token string) string {
	i := strings.LastIndex(token, ".") + 1
	c := byte('A')
	if token[i] == 'A' {
		c = 'B'
	}
	return token[:i] + string(c) + token[i+1:]
}

// linkParts splits a file link (base/files/{tenant}/{token}/{name}).
func linkParts(t *testing.T, link string) (tenant, token, name string) {
	t.Helper()
	_, path, ok := strings.Cut(link, "/files/")
	parts := strings.Split(path, "/")
	if !ok || len(parts) != 3 {
		t.Fatalf("not a file link: %s", link)
	}
	return parts[0], parts[1], parts[2]
}

func form(bucket, key string) cloudstorage.Form {
	return cloudstorage.Form{
		Bucket:   media.Bucket{Endpoint: s3test.Endpoint(), Region: s3test.Region, Name: bucket, AccessKey: key, Secret: "their-secret-key-1234"},
		MaxBytes: cloudstorage.DefaultMaxBytes, LinkDays: cloudstorage.DefaultLinkDays,
	}
}

func storeKeys(t *testing.T, bucket string) []string {
	t.Helper()
	s, err := media.OpenBucket(context.Background(), form(bucket, "reader").Bucket)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	keys, err := s.Keys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// Connect probes the bucket and saves it with its secret sealed; a missing
// bucket or a wrong key is refused with the store's words and saves
// nothing; another tenant sees nothing of it.
func TestConnectProbesAndSeals(t *testing.T) {
	f := setup(t)
	ctx := context.Background()

	_, err := f.svc.Connect(ctx, f.a, form("no-such-bucket", "k1"))
	if p, ok := problem.As(err); !ok || p.Kind != problem.Unavailable || !strings.Contains(p.Msg, "NoSuchBucket") {
		t.Fatalf("missing bucket: %v", err)
	}
	s3test.DenyKey(t, "wrong-key")
	_, err = f.svc.Connect(ctx, f.a, form(s3test.Bucket(t), "wrong-key"))
	if p, ok := problem.As(err); !ok || !strings.Contains(p.Msg, "InvalidAccessKeyId") {
		t.Fatalf("wrong key: %v", err)
	}
	bad := form("b", "k")
	bad.MaxBytes, bad.LinkDays = 10<<20, 30
	if _, err := f.svc.Connect(ctx, f.a, bad); !problem.Is(err, problem.Invalid) {
		t.Fatalf("limits of 10 MB and 30 days: %v", err)
	}
	if f.svc.Connected(ctx, f.a) {
		t.Fatal("a refused bucket was saved")
	}

	bucket := s3test.Bucket(t)
	st, err := f.svc.Connect(ctx, f.a, form(bucket, "k1"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Bucket != bucket || st.SecretHint != "••••••••1234" || st.MaxBytes != 2<<30 || st.LinkDays != 7 {
		t.Fatalf("saved %+v", st)
	}
	if keys := storeKeys(t, bucket); len(keys) != 0 {
		t.Fatalf("the probe left %v", keys)
	}
	if f.svc.Connected(ctx, f.b) {
		t.Fatal("another tenant sees the bucket")
	}
	if err := f.svc.SetLimits(ctx, f.a, 100<<20, 2); err != nil {
		t.Fatal(err)
	}
	if st, _ := f.svc.Get(ctx, f.a); st.MaxBytes != 100<<20 || st.LinkDays != 2 {
		t.Fatalf("limits not saved: %+v", st)
	}
	if err := f.svc.SetLimits(ctx, f.b, 100<<20, 2); !problem.Is(err, problem.NotFound) {
		t.Fatalf("limits of a tenant with no storage: %v", err)
	}
	if err := f.svc.Disconnect(ctx, f.a); err != nil {
		t.Fatal(err)
	}
	if f.svc.Connected(ctx, f.a) {
		t.Fatal("still connected after Disconnect")
	}
}

// A file streams into the bucket and its link downloads it whole; a file
// over the admin's limit, or a key revoked later, leaves nothing behind.
func TestUploadGivesALink(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	bucket := s3test.Bucket(t)
	if _, err := f.svc.Connect(ctx, f.a, form(bucket, "k-upload")); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	data := bytes.Repeat([]byte("0123456789abcdef"), 17<<16) // 17 MB
	l, err := f.svc.Upload(ctx, f.a, "holiday video.mp4", "video/mp4", -1, bytes.NewReader(data), now)
	if err != nil {
		t.Fatal(err)
	}
	if l.Size != int64(len(data)) || !strings.Contains(l.URL, "holiday_video.mp4") || !l.Expires.Equal(now.Add(7*24*time.Hour)) {
		t.Fatalf("link %+v", l)
	}
	if txt := l.Text(); !strings.Contains(txt, "holiday video.mp4 (17.0 MB)") || !strings.Contains(txt, l.URL) {
		t.Fatalf("message %q", txt)
	}
	// The link is Parley's: opened, it leads to the store for a few
	// minutes, and the file comes whole.
	tenant, token, name := linkParts(t, l.URL)
	store, err := f.svc.Open(ctx, tenant, token, name, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(store, "X-Amz-Expires=300") {
		t.Fatalf("the store's link %s does not live 5 minutes", store)
	}
	resp, err := http.Get(store)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, data) {
		t.Fatalf("link answered %d with %d bytes", resp.StatusCode, len(got))
	}
	// After its expiry it says so, with the date; an altered link, or the
	// same token under another tenant, finds nothing.
	_, err = f.svc.Open(ctx, tenant, token, name, now.Add(7*24*time.Hour))
	if p, ok := problem.As(err); !ok || p.Kind != problem.Gone || !strings.Contains(p.Msg, "expired on 10 Dec 2026 09:00 UTC") {
		t.Fatalf("an expired link: %v", err)
	}
	if _, err := f.svc.Open(ctx, tenant, token, "other.mp4", now); !errors.Is(err, cloudstorage.ErrFileGone) {
		t.Errorf("another name under the link: %v", err) // the token picks the folder; it holds one file
	}
	for _, forged := range [][3]string{
		{tenant, otherMAC(token), name},
		{f.b.String(), token, name},
		{tenant, strings.Replace(token, ".", "x.", 1), name},
	} {
		if _, err := f.svc.Open(ctx, forged[0], forged[1], forged[2], now); !errors.Is(err, cloudstorage.ErrNoSuchLink) {
			t.Errorf("forged link %v: %v", forged, err)
		}
	}

	if err := f.svc.SetLimits(ctx, f.a, 20<<20, 7); err != nil {
		t.Fatal(err)
	}
	big := io.LimitReader(zeros{}, 21<<20)
	_, err = f.svc.Upload(ctx, f.a, "big.bin", "", -1, big, now)
	if p, ok := problem.As(err); !ok || p.Kind != problem.TooLarge || !strings.Contains(p.Msg, "20.0 MB") {
		t.Fatalf("over the limit: %v", err)
	}
	if _, err = f.svc.Upload(ctx, f.a, "big.bin", "", 21<<20, big, now); !problem.Is(err, problem.TooLarge) {
		t.Fatalf("declared over the limit: %v", err)
	}
	if keys := storeKeys(t, bucket); len(keys) != 1 {
		t.Fatalf("bucket holds %v, want only the first file", keys)
	}

	s3test.DenyKey(t, "k-upload")
	_, err = f.svc.Upload(ctx, f.a, "late.bin", "", -1, bytes.NewReader(data), now)
	if p, ok := problem.As(err); !ok || p.Kind != problem.Unavailable || !strings.Contains(p.Msg, "InvalidAccessKeyId") {
		t.Fatalf("revoked key: %v", err)
	}
	if _, err := f.svc.Upload(ctx, f.b, "x", "", -1, bytes.NewReader(data), now); !problem.Is(err, problem.NotFound) {
		t.Fatalf("tenant with no storage: %v", err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
