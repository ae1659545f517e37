// Package cloudstorage is a tenant's cloud storage integration: its own
// S3-compatible bucket (Settings → Integrations → Cloud storage). With it
// connected, an agent can send a file over WhatsApp's 16 MB: the file is
// streamed into the bucket and the client gets its name, size and a
// presigned, time-limited link.
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
	// ProbeTimeout bounds Connect's probe (0: 20 s).
	ProbeTimeout time.Duration
}

// NewService returns the cloud storage service.
func NewService(db *postgres.DB, sealer *credential.Sealer) *Service {
	return &Service{db: db, sealer: sealer}
}

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
	cs, err := s.Get(ctx, tid)
	if err != nil {
		return Link{}, err
	}
	if size > cs.MaxBytes {
		return Link{}, tooLarge(cs.MaxBytes, size)
	}
	secret, err := s.sealer.Open(cs.secret, ad(tid, cs.Bucket))
	if err != nil {
		return Link{}, err
	}
	st, err := media.OpenBucket(ctx, media.Bucket{Endpoint: cs.Endpoint, Region: cs.Region, Name: cs.Bucket, AccessKey: cs.AccessKey, Secret: secret})
	if err != nil {
		return Link{}, problem.New(problem.Unavailable, "Your cloud storage could not be opened: "+media.StoreWords(err)+". Nothing was sent.")
	}
	defer st.Close()
	key := media.NewKey(tid) + "/" + safeName(filename)
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
	url, err := st.SignedURL(ctx, key, cs.LinkExpiry())
	if err != nil {
		_ = st.Delete(context.WithoutCancel(ctx), key)
		return Link{}, problem.New(problem.Unavailable, "A link to the file could not be made: "+media.StoreWords(err)+". Nothing was sent.")
	}
	return Link{Key: key, Filename: filename, Size: info.Size, URL: url, Expires: now.Add(cs.LinkExpiry())}, nil
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
	cs, err := s.Get(ctx, tid)
	if err != nil {
		return err
	}
	secret, err := s.sealer.Open(cs.secret, ad(tid, cs.Bucket))
	if err != nil {
		return err
	}
	st, err := media.OpenBucket(ctx, media.Bucket{Endpoint: cs.Endpoint, Region: cs.Region, Name: cs.Bucket, AccessKey: cs.AccessKey, Secret: secret})
	if err != nil {
		return err
	}
	defer st.Close()
	return st.Delete(ctx, key)
}
