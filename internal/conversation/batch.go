package conversation

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"parley/internal/channel"
	"parley/internal/integration"
	"parley/internal/postgres"
	"parley/internal/realtime"
)

// Group commit for the common inbound message: a client who already has a
// live chat on the integration writes again. Messages that arrive while
// another batch is being stored wait for it and are then stored together,
// in one transaction per tenant and one statement for all of them, instead
// of a transaction each. A lone message is stored at once, as before; under
// load the batches grow by themselves. Everything else (a new client, a new
// chat, a file, an echo) and every message of a batch whose transaction
// failed is stored on its own by receiveTx, so a batch never loses or
// refuses what the single path would have stored.
//
// There are no background goroutines: the first caller to find no batch in
// flight stores the waiting messages itself, and on finishing hands the
// next waiting messages to the first of them, which leads that batch. A
// second batch starts beside one in flight only once minBeside messages
// wait: a batch costs a round trip, a statement's start and a commit
// whatever its size, so a second batch of one or two would spend the CPU
// that the first needs. Each caller gets exactly one message on its
// channel: its result, or the batch it is to lead (its own message is in it).

const (
	maxLeaders  = 2   // batches in flight at once
	minBeside   = 8   // messages waiting before a batch starts beside another
	maxBatch    = 128 // messages in one batch
	batchBudget = 15 * time.Second
)

type batcher struct {
	mu      sync.Mutex
	pending []*inboundReq
	leaders int
	store   func(context.Context, []*inboundReq)
}

// inboundReq is one message waiting in a batch, and what became of it.
type inboundReq struct {
	ig     integration.Integration
	in     channel.Inbound
	res    Received
	single bool               // not stored by the batch: store it alone
	done   chan []*inboundReq // nil: res/single are set; else: lead this batch
}

// submit returns once r has been stored by a batch, or marked single.
func (b *batcher) submit(r *inboundReq) {
	r.done = make(chan []*inboundReq, 1)
	b.mu.Lock()
	b.pending = append(b.pending, r)
	var batch []*inboundReq
	if b.leaders == 0 || (b.leaders < maxLeaders && len(b.pending) >= minBeside) {
		b.leaders++
		batch = b.takeLocked()
	}
	b.mu.Unlock()
	if batch == nil {
		if batch = <-r.done; batch == nil {
			return
		}
	}
	b.lead(batch, r)
}

// lead stores batch and answers it.
func (b *batcher) lead(batch []*inboundReq, leader *inboundReq) {
	ctx, cancel := context.WithTimeout(context.Background(), batchBudget)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			// A bug, not a database error: the batch's messages are stored
			// one by one (what a committed part stored is then recognised
			// as a duplicate), the lead is passed on, and the panic goes on
			// to the leader's request.
			for _, r := range batch {
				r.res, r.single = Received{}, true
			}
			b.answer(batch, leader)
			panic(p)
		}
	}()
	b.store(ctx, batch)
	b.answer(batch, leader)
}

// answer tells the batch's members other than the leader that their
// results are set, and hands the messages that arrived meanwhile to the
// first of them.
func (b *batcher) answer(batch []*inboundReq, leader *inboundReq) {
	for _, r := range batch {
		if r != leader {
			r.done <- nil
		}
	}
	b.mu.Lock()
	next := b.takeLocked()
	if next == nil {
		b.leaders--
	}
	b.mu.Unlock()
	if next != nil {
		next[0].done <- next
	}
}

func (b *batcher) takeLocked() []*inboundReq {
	n := min(len(b.pending), maxBatch)
	if n == 0 {
		return nil
	}
	batch := make([]*inboundReq, n)
	copy(batch, b.pending)
	b.pending = append(b.pending[:0], b.pending[n:]...)
	return batch
}

// batchable says whether a message can be stored by a batch: a client's
// own message without files (files need their download jobs).
func batchable(in channel.Inbound, echo bool) bool {
	return !echo && len(in.Media) == 0
}

// storeBatch stores a batch, one transaction per tenant.
func (s *Service) storeBatch(ctx context.Context, batch []*inboundReq) {
	byTenant := map[uuid.UUID][]*inboundReq{}
	for _, r := range batch {
		byTenant[r.ig.TenantID] = append(byTenant[r.ig.TenantID], r)
	}
	for tid, reqs := range byTenant {
		if err := s.storeTenantBatch(ctx, tid, reqs); err != nil {
			s.log.WarnContext(ctx, "inbound batch not stored: its messages are stored one by one", "tenant_id", tid, "messages", len(reqs), "err", err)
			for _, r := range reqs {
				r.res, r.single = Received{}, true
			}
		}
	}
}

// storeTenantBatch stores, in one statement, the messages of one tenant
// whose client has a live chat on the integration, with their chats'
// activity, the browsers' notifications and the rules' events, as
// receiveTx does for one; it marks the others single. A message stored
// before (or by a concurrent delivery) inserts nothing and is reported a
// duplicate.
//
// The statement is the whole transaction, sent with its tenant scoping in
// one round trip, unless the messages' rule events need the tenant's rule
// run queued (River's InsertTx, after the statement): then the statement
// refuses (migration 00012), and the batch is stored again in an ordinary
// transaction that queues the run. Under load a run is nearly always
// queued already, so nearly every batch takes one round trip.
func (s *Service) storeTenantBatch(ctx context.Context, tid uuid.UUID, reqs []*inboundReq) error {
	// A message delivered twice within the batch is stored once.
	type key struct {
		ig  int64
		sid string
	}
	seen := map[key]bool{}
	reqs = slices.DeleteFunc(slices.Clone(reqs), func(r *inboundReq) bool {
		k := key{r.ig.ID, r.in.ProviderMessageID}
		r.res.Duplicate = seen[k]
		seen[k] = true
		return r.res.Duplicate
	})
	n := len(reqs)
	var (
		igs                                        = make([]int64, n)
		nums, sids, kinds, bodies, metas, previews = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		mayFire                                    = make([]bool, n) // some rule may fire for it
	)
	for i, r := range reqs {
		kind, body, meta := inboundContent(r.in, false)
		mb, err := json.Marshal(meta)
		if err != nil {
			return err
		}
		igs[i], nums[i], sids[i] = r.ig.ID, r.in.From, r.in.ProviderMessageID
		kinds[i], bodies[i], metas[i], previews[i] = kind, body, string(mb), previewOf(kind, body)
		mayFire[i] = s.rulesMayFire(ctx, tid, body)
	}
	stmt, args := storeBatchSQL, []any{tid, igs, nums, sids, kinds, bodies, metas, previews, s.clock.Now(), realtime.Channel, RuleClientMessage, mayFire, true}
	if !slices.Contains(mayFire, true) {
		stmt, args = storeBatchNoRulesSQL, args[:10]
	}
	b := &pgx.Batch{}
	b.Queue(stmt, args...).Query(func(rows pgx.Rows) error {
		_, err := readStoredBatch(rows, reqs)
		return err
	})
	if err := s.db.InTenantBatch(ctx, tid, b); !postgres.HasCode(err, ruleRunRefused) {
		return err
	}
	args[len(args)-1] = false // queue the run instead of refusing
	return s.db.InTenantGenericPlans(ctx, tid, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, storeBatchSQL, args...)
		queue, err := readStoredBatch(rows, reqs)
		if err != nil || !queue {
			return err
		}
		return s.queueRuleRun(ctx, tx, tid)
	})
}

// ruleRunRefused is the SQLSTATE of refuse_rule_run: the statement's rule
// events need a rule run queued, which its transaction cannot do.
const ruleRunRefused = "PR001"

// storeBatchSQL stores a batch's messages; storeTenantBatch builds its
// arguments and readStoredBatch reads its rows. With $13 true it refuses
// when a rule run must be queued. The notification is realtime.Event's JSON,
// one for the batch: at most maxBatch chats, well within NOTIFY's 8000 bytes.
// Its rule events row is record_rule_events's (migration 00013), written in
// the statement rather than through that PL/pgSQL call, which cost each
// batch a statement start per step: a change to one is a change to both.
//
// storeBatchNoRulesSQL is the same without the rule events, for a batch
// that no rule may fire for (most, in a tenant without rules): a batch pays
// for each node of its plan when the statement starts. Its arguments are
// the first ten.
var storeBatchSQL, storeBatchNoRulesSQL = batchSQL(true), batchSQL(false)

// batchSQL writes the statement, with or without the rule events.
func batchSQL(rules bool) string {
	mayFire, mayFireCol, ev, queue := "", "", "", "false"
	if rules {
		mayFire, mayFireCol = ", $12::bool[]", " may_fire,"
		ev = `,
		ev AS (
			INSERT INTO rule_events (tenant_id, trigger, case_ids, message_ids)
			SELECT $1, $11, array_agg(case_id ORDER BY ord), array_agg(id ORDER BY ord) FROM j
			WHERE j.may_fire AND EXISTS (SELECT FROM rules WHERE enabled AND trigger = $11) HAVING count(*) > 0
			RETURNING queue_rule_run() AS queue)`
		queue = `coalesce((SELECT CASE WHEN $13 THEN refuse_rule_run(queue) ELSE queue END FROM ev), false)`
	}
	return `WITH u AS (
			SELECT u.*, (SELECT c.id FROM cases c WHERE c.integration_id = u.ig AND c.state = 'live'
					AND c.client_id = (SELECT cl.id FROM clients cl WHERE cl.whatsapp = u.num)) AS case_id
			FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[]` + mayFire + `)
				WITH ORDINALITY AS u(ig, num, sid, kind, body, meta, preview,` + mayFireCol + ` ord)),
		m AS (
			INSERT INTO messages (tenant_id, case_id, integration_id, direction, kind, body, status, provider_message_id, meta, created_at, updated_at)
			SELECT $1, case_id, ig, 'in', kind, body, 'received', sid, meta::jsonb, $9, $9 FROM u WHERE case_id IS NOT NULL ORDER BY ord
			ON CONFLICT (integration_id, provider_message_id) WHERE provider_message_id IS NOT NULL DO NOTHING
			RETURNING id, integration_id, provider_message_id),
		j AS (SELECT u.*, m.id FROM m JOIN u ON u.ig = m.integration_id AND u.sid = m.provider_message_id),
		c AS (
			UPDATE cases SET last_activity_at = $9, last_client_message_at = $9, unread = unread + x.n, preview = x.preview
			FROM (SELECT case_id, count(*) AS n, (array_agg(preview ORDER BY ord DESC))[1] AS preview FROM j GROUP BY case_id) x
			WHERE cases.tenant_id = $1 AND cases.id = x.case_id),
		sent AS (
			SELECT pg_notify($10, json_build_object('t', $1::uuid, 'k', 'message', 'cs', array_agg(DISTINCT case_id))::text) FROM j
			HAVING count(*) > 0)` + ev + `
		SELECT u.ord, u.case_id, j.id, ` + queue + `, (SELECT count(*) FROM sent)
		FROM u LEFT JOIN j ON j.ord = u.ord ORDER BY u.ord`
}

// readStoredBatch sets each message's result from the statement's rows and
// says whether the messages' rule events call for a rule run.
func readStoredBatch(rows pgx.Rows, reqs []*inboundReq) (queue bool, err error) {
	var (
		ord    int
		caseID *int64
		msgID  *int64
	)
	_, err = pgx.ForEachRow(rows, []any{&ord, &caseID, &msgID, &queue, nil}, func() error {
		r := reqs[ord-1]
		r.res, r.single = Received{}, false
		switch {
		case caseID == nil:
			r.single = true
		case msgID == nil:
			r.res.Duplicate = true
		default:
			r.res = Received{CaseID: *caseID, MessageID: *msgID}
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("store messages: %w", err)
	}
	return queue, nil
}
