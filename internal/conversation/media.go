package conversation

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"parley/internal/channel"
	"parley/internal/integration"
	"parley/internal/media"
	"parley/internal/problem"
	"parley/internal/realtime"
)

// FetchMedia downloads a client's file from the provider into the media
// store; the fetch job calls it. A file over 25 MB is not downloaded: the
// message says how large it was. It is idempotent.
func (s *Service) FetchMedia(ctx context.Context, tid uuid.UUID, attID int64, lastAttempt bool) error {
	var (
		a      Attachment
		source *string
		caseID int64
		ig     integration.Integration
	)
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		var igID *int64
		err := tx.QueryRow(ctx, `SELECT t.id, t.message_id, t.state, t.source_url, t.content_type, t.filename, m.case_id, m.integration_id
			FROM attachments t JOIN messages m ON m.tenant_id = t.tenant_id AND m.id = t.message_id WHERE t.id = $1`, attID).
			Scan(&a.ID, &a.MessageID, &a.State, &source, &a.ContentType, &a.Filename, &caseID, &igID)
		if err != nil {
			return err
		}
		if igID == nil {
			return errors.New("integration deleted")
		}
		ig, err = integration.GetTx(ctx, tx, *igID)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && (a.State != "pending" || source == nil)) {
		return nil
	}
	if err != nil {
		return s.finishAttachment(ctx, tid, attID, caseID, "failed", nil, "The file could not be downloaded: "+err.Error())
	}
	prov, err := s.integrations.Provider(ig)
	if err != nil {
		return s.finishAttachment(ctx, tid, attID, caseID, "failed", nil, "The file could not be downloaded: the integration's credentials cannot be read.")
	}
	m, err := prov.FetchMedia(ctx, *source, channel.MaxInboundFileBytes)
	var tooLarge *channel.TooLargeError
	switch {
	case errors.As(err, &tooLarge):
		return s.finishAttachment(ctx, tid, attID, caseID, "too_large", &tooLarge.Size,
			fmt.Sprintf("file too large (%s); files up to 25 MB are accepted", megabytes(tooLarge.Size)))
	case errors.Is(err, channel.ErrMediaGone):
		return s.finishAttachment(ctx, tid, attID, caseID, "failed", nil, "The link to this file expired before Parley could download it; ask the client to send it again.")
	case err != nil && !lastAttempt:
		return err
	case err != nil:
		return s.finishAttachment(ctx, tid, attID, caseID, "failed", nil, "The file could not be downloaded from the provider.")
	}
	// The file keeps the provider's name (the webhook's, else the
	// download's Content-Disposition) and type; a type that says nothing
	// is read from the name and the bytes.
	declared := m.ContentType
	if t := channel.BareType(declared); t == "" || t == "application/octet-stream" || t == "binary/octet-stream" {
		declared = a.ContentType
	}
	ct, name := channel.FileType(declared, cmp.Or(a.Filename, m.Filename), m.Data)
	var contacts []channel.Contact
	if channel.IsVCard(ct) {
		contacts = channel.ParseVCards(string(m.Data))
	}
	// The file is written before the row that points to it commits; a
	// crash between the two leaves a file the orphan sweep removes.
	key := media.NewKey(tid)
	info, err := s.media.PutBytes(ctx, key, ct, m.Data)
	if err != nil {
		return err
	}
	return s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE attachments SET state = 'stored', storage_key = $2, size = $3, content_type = $4, filename = $5, sha256 = $6
			WHERE id = $1 AND state = 'pending'`, attID, key, info.Size, ct, name, info.SHA256); err != nil {
			return fmt.Errorf("record stored attachment %d: %w", attID, err)
		}
		if len(contacts) > 0 {
			// A shared contact (Twilio sends it as a text/vcard file): the
			// conversation shows it as a card.
			cb, err := json.Marshal(contacts)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE messages SET kind = 'contact', meta = jsonb_set(meta, '{contacts}', $2::jsonb)
				WHERE id = $1 AND direction = 'in'`, a.MessageID, string(cb)); err != nil {
				return fmt.Errorf("record contact card of message %d: %w", a.MessageID, err)
			}
		}
		return realtime.Notify(ctx, tx, realtime.Event{TenantID: tid, Kind: "message", CaseID: caseID})
	})
}

func (s *Service) finishAttachment(ctx context.Context, tid uuid.UUID, attID, caseID int64, state string, size *int64, msg string) error {
	return s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE attachments SET state = $2, size = $3, error = $4 WHERE id = $1 AND state = 'pending'`,
			attID, state, size, msg); err != nil {
			return fmt.Errorf("record attachment %d %s: %w", attID, state, err)
		}
		if caseID == 0 {
			return nil
		}
		return realtime.Notify(ctx, tx, realtime.Event{TenantID: tid, Kind: "message", CaseID: caseID})
	})
}

// OpenAttachment opens a stored file of the tenant for its agents.
func (s *Service) OpenAttachment(ctx context.Context, tid uuid.UUID, id int64) (Attachment, media.File, error) {
	var a Attachment
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT id, message_id, filename, content_type, size, state, error, storage_key, public_token
			FROM attachments WHERE id = $1 AND state = 'stored'`, id)
		var err error
		a, err = pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Attachment])
		return notFound(err, "No such file.")
	})
	if err != nil {
		return a, nil, err
	}
	f, err := s.media.Open(ctx, deref(a.StorageKey))
	if err != nil {
		return a, nil, fmt.Errorf("open attachment %d: %w", id, err)
	}
	return a, f, nil
}

// OpenPublicAttachment opens an outgoing file by the signed token in the
// URL the provider fetches it from; a forged or expired link is not found.
func (s *Service) OpenPublicAttachment(ctx context.Context, signed string) (Attachment, media.File, error) {
	var (
		tid uuid.UUID
		id  int64
	)
	token, ok := media.OpenToken(s.linkKey, signed, s.clock.Now())
	if !ok {
		return Attachment{}, nil, problem.New(problem.NotFound, "This link has expired or is not valid.")
	}
	err := s.db.InSystem(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT tenant_id, attachment_id FROM attachment_by_public_token($1)`, token).Scan(&tid, &id)
		return notFound(err, "No such file.")
	})
	if err != nil {
		return Attachment{}, nil, err
	}
	return s.OpenAttachment(ctx, tid, id)
}

// orphanAge is how old a file no row points to must be before the sweep
// deletes it: far longer than any upload's transaction.
const orphanAge = time.Hour

// SweepOrphanFiles deletes stored files whose attachment row never
// committed (a crash between writing the file and committing its row, a
// send refused after the file was written), once they are orphanAge old.
// The periodic media sweep calls it, in parts: it starts at page token
// from (nil: the first) and stops once until has passed, returning how
// many it deleted and where to go on from (nil: done).
func (s *Service) SweepOrphanFiles(ctx context.Context, from []byte, until time.Time) (int, []byte, error) {
	return s.media.SweepFrom(ctx, s.clock.Now().Add(-orphanAge), s.knownKeys, from, until)
}

// knownKeys says which keys an attachment row points to; a key starts
// with its tenant's id, and each tenant's rows are read in its own
// transaction. A key that names no tenant is no attachment's.
func (s *Service) knownKeys(ctx context.Context, keys []string) (map[string]bool, error) {
	byTenant := map[uuid.UUID][]string{}
	for _, k := range keys {
		t, _, ok := strings.Cut(k, "/")
		tid, err := uuid.Parse(t)
		if !ok || err != nil {
			continue
		}
		byTenant[tid] = append(byTenant[tid], k)
	}
	known := map[string]bool{}
	for tid, ks := range byTenant {
		err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
			rows, _ := tx.Query(ctx, `SELECT storage_key FROM attachments WHERE tenant_id = $1 AND storage_key = ANY($2)`, tid, ks)
			var k string
			_, err := pgx.ForEachRow(rows, []any{&k}, func() error { known[k] = true; return nil })
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("known media keys: %w", err)
		}
	}
	return known, nil
}
