// Package cloudstorage is a tenant's cloud storage integration: its own
// S3-compatible bucket (Settings → Integrations → Cloud storage). With it
// connected, an agent can send a file over WhatsApp's 16 MB: the file is
// streamed into the bucket and the client gets its name, size and a
// time-limited link. The link is Parley's (/files/…, signed): opening it
// redirects to a presigned URL of the store that lives a few minutes, and
// after the link's expiry it shows a page that says so, not the store's
// XML error.
package cloudstorage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"parley/internal/credential"
	"parley/internal/media"
	"parley/internal/postgres"
	"parley/internal/problem"
)

// Defaults and bounds of the admin's settings.
const (
	DefaultMaxBytes = 2 << 30 // 2 GB
	DefaultLinkDays = 7
	// MaxLinkDays is the longest a presigned link (SigV4) can live.
	MaxLinkDays = 7
	// MinMaxBytes is the smallest limit: above WhatsApp's 16 MB, or the
	// store would never be used.
	MinMaxBytes = 16<<20 + 1
)

// Storage is a tenant's connected bucket, without its secret.
type Storage struct {
	Endpoint, Region, Bucket, AccessKey string
	SecretHint                          string
	MaxBytes                            int64
	LinkDays                            int
	ConnectedAt                         time.Time

	secret []byte // sealed
}

// LinkExpiry is how long a link lives.
func (s Storage) LinkExpiry() time.Duration { return time.Duration(s.LinkDays) * 24 * time.Hour }

// Form is what an admin fills to connect a bucket.
type Form struct {
	media.Bucket
	MaxBytes int64
	LinkDays int
}

// Service keeps tenants' cloud storage.
type Service struct {
	db     *postgres.DB
	sealer *credential.Sealer
	// baseURL and linkKey make and check the file links clients get.
	baseURL string
	linkKey []byte
	// ProbeTimeout bounds Connect's probe (0: 20 s).
	ProbeTimeout time.Duration
}

// NewService returns the cloud storage service; baseURL is
// PARLEY_BASE_URL and linkKey signs file links.
func NewService(db *postgres.DB, sealer *credential.Sealer, baseURL string, linkKey []byte) *Service {
	return &Service{db: db, sealer: sealer, baseURL: baseURL, linkKey: linkKey}
}

// redirectTTL is how long the store's own link lives once a client opens
// Parley's: long enough to start the download.
const redirectTTL = 5 * time.Minute

// ad binds a sealed secret to its tenant and bucket.
func ad(tid uuid.UUID, bucket string) string { return "cloud-storage:" + tid.String() + ":" + bucket }

// Check says what is wrong in f, by field.
func Check(f Form) problem.Fields {
	errs := problem.Fields{}
	for k, v := range f.Bucket.Check() {
		errs.Add(k, v)
	}
	if f.MaxBytes < MinMaxBytes {
		errs.Add("max_mb", "Give a limit above 16 MB (files up to 16 MB go through WhatsApp itself).")
	}
	if f.LinkDays < 1 || f.LinkDays > MaxLinkDays {
		errs.Add("link_days", fmt.Sprintf("Give between 1 and %d days (S3 signs links for at most 7 days).", MaxLinkDays))
	}
	return errs
}

// Connect probes the bucket by writing, reading and deleting an object
// and, if the store allowed all three, saves it (replacing the tenant's
// previous one). Nothing is saved otherwise; the error carries the
// store's own words.
func (s *Service) Connect(ctx context.Context, tid uuid.UUID, f Form) (Storage, error) {
	f.Endpoint = strings.TrimRight(strings.TrimSpace(f.Endpoint), "/")
	f.Region, f.Name, f.AccessKey = strings.TrimSpace(f.Region), strings.TrimSpace(f.Name), strings.TrimSpace(f.AccessKey)
	if err := Check(f).Err(); err != nil {
		return Storage{}, err
	}
	timeout := s.ProbeTimeout
	if timeout == 0 {
		timeout = 20 * time.Second
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	st, err := media.OpenBucket(pctx, f.Bucket)
	if err != nil {
		return Storage{}, problem.New(problem.Unavailable, "The bucket could not be opened: "+media.StoreWords(err))
	}
	defer st.Close()
	if err := st.Probe(pctx); err != nil {
		return Storage{}, problem.New(problem.Unavailable, "The store refused: "+media.StoreWords(err)+". Nothing was saved.")
	}
	sealed, err := s.sealer.Seal(f.Secret, ad(tid, f.Name))
	if err != nil {
		return Storage{}, fmt.Errorf("seal cloud storage secret: %w", err)
	}
	err = s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO cloud_storage (tenant_id, endpoint, region, bucket, access_key, secret, secret_hint, max_bytes, link_days)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (tenant_id) DO UPDATE SET endpoint = $2, region = $3, bucket = $4, access_key = $5, secret = $6,
				secret_hint = $7, max_bytes = $8, link_days = $9, connected_at = now()`,
			tid, f.Endpoint, f.Region, f.Name, f.AccessKey, sealed, credential.Hint(f.Secret), f.MaxBytes, f.LinkDays)
		return err
	})
	if err != nil {
		return Storage{}, fmt.Errorf("save cloud storage: %w", err)
	}
	return s.Get(ctx, tid)
}

// SetLimits changes the size limit and link expiry of the connected bucket.
func (s *Service) SetLimits(ctx context.Context, tid uuid.UUID, maxBytes int64, linkDays int) error {
	errs := Check(Form{Bucket: media.Bucket{Region: "x", Name: "x", AccessKey: "x", Secret: "x"}, MaxBytes: maxBytes, LinkDays: linkDays})
	if err := errs.Err(); err != nil {
		return err
	}
	return s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE cloud_storage SET max_bytes = $1, link_days = $2`, maxBytes, linkDays)
		if err == nil && tag.RowsAffected() == 0 {
			return problem.New(problem.NotFound, "Cloud storage is not connected.")
		}
		return err
	})
}

// Disconnect forgets the tenant's bucket; files in it stay (they are the
// tenant's), and links already sent work until they expire.
func (s *Service) Disconnect(ctx context.Context, tid uuid.UUID) error {
	return s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM cloud_storage`)
		return err
	})
}

// ErrNotConnected is Get's answer when the tenant has no cloud storage.
var ErrNotConnected = problem.New(problem.NotFound, "Cloud storage is not connected.")

// Get returns the tenant's connected bucket, or ErrNotConnected.
func (s *Service) Get(ctx context.Context, tid uuid.UUID) (Storage, error) {
	var st Storage
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT endpoint, region, bucket, access_key, secret, secret_hint, max_bytes, link_days, connected_at
			FROM cloud_storage`).Scan(&st.Endpoint, &st.Region, &st.Bucket, &st.AccessKey, &st.secret, &st.SecretHint,
			&st.MaxBytes, &st.LinkDays, &st.ConnectedAt)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Storage{}, ErrNotConnected
	}
	if err != nil {
		return Storage{}, fmt.Errorf("load cloud storage: %w", err)
	}
	return st, nil
}

// Connected says whether the tenant has cloud storage (false on error).
func (s *Service) Connected(ctx context.Context, tid uuid.UUID) bool {
	_, err := s.Get(ctx, tid)
	return err == nil
}

// Link is a file stored in the tenant's bucket, to send as a link.
type Link struct {
	Key      string // in the tenant's bucket
	Filename string
	Size     int64
	URL      string
	Expires  time.Time
}

// Text is the message the client gets: the file's name, size and link.
func (l Link) Text() string {
	return fmt.Sprintf("%s (%s)\n%s\nThe link works until %s.", l.Filename, sizeWords(l.Size), l.URL, l.Expires.UTC().Format("2 Jan 2006 15:04 UTC"))
}

func sizeWords(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	default:
		return fmt.Sprintf("%d KB", (n+1023)/1024)
	}
}

// Upload streams r (a file named filename, of the declared size, or -1
// when unknown) into the tenant's bucket and returns its link. A file over
// the admin's limit is refused (TooLarge) and nothing is left in the
// bucket; so is a failed upload. now is the clock's time.
func (s *Service) Upload(ctx context.Context, tid uuid.UUID, filename, contentType string, size int64, r io.Reader, now time.Time) (Link, error) {
	cs, st, err := s.open(ctx, tid)
	if err != nil {
		return Link{}, err
	}
	defer st.Close()
	if size > cs.MaxBytes {
		return Link{}, tooLarge(cs.MaxBytes, size)
	}
	// The key is tenant/random/name: the link signs tenant/random, so the
	// name in it can only ever pick this one file.
	dir, name := media.NewKey(tid), safeName(filename)
	key := dir + "/" + name
	lr := &limitReader{r: r, left: cs.MaxBytes}
	info, err := st.Put(ctx, key, contentType, lr)
	if lr.over {
		return Link{}, tooLarge(cs.MaxBytes, 0)
	}
	if err != nil {
		if ctx.Err() != nil {
			return Link{}, ctx.Err()
		}
		return Link{}, problem.New(problem.Unavailable, "Your cloud storage refused the file: "+media.StoreWords(err)+". Nothing was sent.")
	}
	expires := now.Add(cs.LinkExpiry())
	url := s.baseURL + "/files/" + media.SignToken(s.linkKey, dir, expires) + "/" + name
	return Link{Key: key, Filename: filename, Size: info.Size, URL: url, Expires: expires}, nil
}

// Link errors: what a client who opens a file link is told.
var (
	ErrNoSuchLink = problem.New(problem.NotFound, "There is no file at this link. Check that the whole link was copied.")
	ErrFileGone   = problem.New(problem.Gone, "This file is no longer available. Ask the company that sent it to send it again.")
)

// Open resolves a file link (/files/{tenant}/{token}/{name}, as Upload made
// it) at now: the store's presigned URL of the file, valid a few minutes.
// A forged or altered link is ErrNoSuchLink; an expired one, a file no
// longer in the bucket or a bucket disconnected are Gone, in words that
// say which.
func (s *Service) Open(ctx context.Context, tenant, token, name string, now time.Time) (string, error) {
	dir, expires, ok := media.TokenExpiry(s.linkKey, tenant+"/"+token)
	tid, err := uuid.Parse(tenant)
	if !ok || err != nil || name != safeName(name) {
		return "", ErrNoSuchLink
	}
	if !now.Before(expires) {
		return "", problem.New(problem.Gone, "This link to a file expired on "+expires.UTC().Format("2 Jan 2006 15:04 UTC")+". Ask the company that sent it to send it again.")
	}
	_, st, err := s.open(ctx, tid)
	if errors.Is(err, ErrNotConnected) {
		return "", ErrFileGone
	}
	if err != nil {
		return "", err
	}
	defer st.Close()
	key := dir + "/" + name
	exists, err := st.Exists(ctx, key)
	if err != nil {
		return "", problem.New(problem.Unavailable, "The file cannot be reached right now. Try again in a few minutes.")
	}
	if !exists {
		return "", ErrFileGone
	}
	return st.SignedURL(ctx, key, redirectTTL)
}

// open returns the tenant's bucket, opened with its secret.
func (s *Service) open(ctx context.Context, tid uuid.UUID) (Storage, *media.Store, error) {
	cs, err := s.Get(ctx, tid)
	if err != nil {
		return cs, nil, err
	}
	secret, err := s.sealer.Open(cs.secret, ad(tid, cs.Bucket))
	if err != nil {
		return cs, nil, err
	}
	st, err := media.OpenBucket(ctx, media.Bucket{Endpoint: cs.Endpoint, Region: cs.Region, Name: cs.Bucket, AccessKey: cs.AccessKey, Secret: secret})
	if err != nil {
		return cs, nil, problem.New(problem.Unavailable, "Your cloud storage could not be opened: "+media.StoreWords(err)+". Nothing was sent.")
	}
	return cs, st, nil
}

func tooLarge(limit, size int64) error {
	this := "larger"
	if size > 0 {
		this = sizeWords(size)
	}
	return problem.New(problem.TooLarge, fmt.Sprintf("Your cloud storage takes files up to %s (Settings → Integrations → Cloud storage); this one is %s. Nothing was sent.", sizeWords(limit), this))
}

// safeName keeps a file's name readable in its link (the key's last part).
func safeName(name string) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteRune('_')
		}
	}
	s := strings.Trim(b.String(), "._")
	if s == "" || strings.Contains(s, "..") {
		s = "file"
	}
	if len(s) > 100 {
		s = s[len(s)-100:]
	}
	return s
}

// limitReader fails once more than left bytes were read.
type limitReader struct {
	r    io.Reader
	left int64
	over bool
}

var errOverLimit = errors.New("file over the cloud storage limit")

func (l *limitReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		l.over = true
		return 0, errOverLimit
	}
	return n, err
}

// Delete removes a file Upload stored whose message was then not sent.
func (s *Service) Delete(ctx context.Context, tid uuid.UUID, key string) error {
	_, st, err := s.open(ctx, tid)
	if err != nil {
		return err
	}
	defer st.Close()
	return st.Delete(ctx, key)
}
