package rule

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"parley/internal/conversation"
	"parley/internal/macro"
	"parley/internal/problem"
	"parley/internal/ruleevent"
	"parley/internal/tenant"
)

// eventFailed is an error of one event's rules, not of reading them.
type eventFailed struct{ error }

func (e eventFailed) Unwrap() error { return e.error }

// event is a recorded rule event as a run reads it: ID is its change's
// row and ord its place there (from 1); with its message's text (and the
// text in lower case).
type event struct {
	ruleevent.Event
	ord         int
	text, lower string
}

// candidates are the tenant's enabled rules that ev runs (those of its
// trigger, or for a waiting trigger the one whose wait is over) and whose
// text conditions let it through: the only ones that may fire. Most
// messages have none.
func (st setup) candidates(ev event) []*Rule {
	var rules []*Rule
	all := st.byTrigger[ev.Trigger]
	for i, r := range all {
		if (ev.RuleID == 0 || r.ID == ev.RuleID) && matches(r, nil, ev, time.Time{}, st.patterns) {
			rules = append(rules, &all[i])
		}
	}
	return rules
}

// run runs, for each event in turn, its candidate rules in order, and
// records each run in the conversation. A rule that ends the chat stops
// the rules after it. A rule whose group, integration or macro was deleted
// (ref holds those left) is skipped, with the reason recorded. The rules
// come from the cache; the chats are read once for all the events, and
// only those of events that have candidates. It returns how many events
// ran: all of them, or those before the one that failed.
func (s *Service) run(ctx context.Context, tid uuid.UUID, ref refs, events []event) (int, error) {
	st, err := s.cache.get(ctx, tid)
	if err != nil {
		return 0, fmt.Errorf("rules: %w", err)
	}
	broken := map[int64]string{} // why, by rule
	for _, rules := range st.byTrigger {
		for _, r := range rules {
			if why := ref.broken(r); why != "" {
				broken[r.ID] = why
			}
		}
	}
	candidates := make([][]*Rule, len(events))
	var caseIDs []int64
	for i, ev := range events {
		if candidates[i] = st.candidates(ev); len(candidates[i]) > 0 {
			caseIDs = append(caseIDs, ev.CaseID)
		}
	}
	slices.Sort(caseIDs)
	caseIDs = slices.Compact(caseIDs) // a chat's events share its read
	if len(caseIDs) == 0 {
		return len(events), nil
	}
	cases, err := s.conv.CasesByID(ctx, tid, caseIDs)
	if err != nil {
		return 0, fmt.Errorf("rules: %w", err)
	}
	for i, ev := range events {
		c, ok := cases[ev.CaseID]
		if !ok || len(candidates[i]) == 0 {
			continue // no rule may fire for it, or the chat was deleted meanwhile
		}
		// The next event of the same chat sees what these rules changed.
		if cases[c.ID], err = s.runEvent(ctx, tid, candidates[i], broken, st, c, ev); err != nil {
			return i, eventFailed{fmt.Errorf("rules for %s: %w", ev.Trigger, err)}
		}
	}
	return len(events), nil
}

// runEvent runs an event's candidate rules on chat c, and returns the
// chat as the rules left it.
func (s *Service) runEvent(ctx context.Context, tid uuid.UUID, rules []*Rule, broken map[int64]string, st setup, c conversation.Case, ev event) (conversation.Case, error) {
	live := c.State == conversation.StateLive
	now := s.clock.Now().In(st.loc)
	var err error
	for _, r := range rules {
		if live && c.State != conversation.StateLive {
			return c, nil // a rule before ended the chat
		}
		if why := broken[r.ID]; why != "" {
			if err := s.conv.RecordEvent(ctx, tid, c.ID, fmt.Sprintf("Rule '%s' was skipped: %s", r.Name, why)); err != nil {
				return c, err
			}
			continue
		}
		if !matches(*r, &c, ev, now, st.patterns) {
			continue
		}
		if first, err := s.firstInChain(ctx, tid, ev.Chain, r.ID); err != nil || !first {
			if err != nil {
				return c, err
			}
			continue // the rule fired earlier in this chain
		}
		rctx := ruleevent.WithChain(ctx, ev.Chain)
		for _, a := range r.Actions {
			if err := s.act(rctx, tid, *r, a, c, ev.MessageID); err != nil {
				return c, err
			}
		}
		// The rules after this one see what its actions changed.
		if c, err = s.conv.Case(ctx, tid, c.ID); err != nil {
			return c, err
		}
	}
	return c, nil
}

// matches says whether chat c and the event meet r's conditions at now, in
// the tenant's time zone. With c nil (not read), it says whether they may:
// the text conditions are told, the others taken to hold. The rule is a
// cached one: its texts to look for and its tags are in lower case already.
func matches(r Rule, c *conversation.Case, ev event, now time.Time, patterns map[string]*regexp.Regexp) bool {
	if len(r.Conditions) == 0 {
		return true
	}
	any := r.Match == "any"
	for _, cond := range r.Conditions {
		ok := true
		switch cond.Field {
		case "text_contains":
			ok = strings.Contains(ev.lower, cond.Value)
		case "text_matches":
			re := patterns[cond.Value]
			ok = re != nil && re.MatchString(ev.text)
		default:
			if c != nil {
				ok = holds(cond, *c, now)
			}
		}
		if ok && any {
			return true
		}
		if !ok && !any {
			return false
		}
	}
	return !any
}

// holds says whether a condition on the chat holds at now.
func holds(cond Condition, c conversation.Case, now time.Time) bool {
	switch cond.Field {
	case "integration":
		return c.IntegrationID != nil && strconv.FormatInt(*c.IntegrationID, 10) == cond.Value
	case "group":
		return strconv.FormatInt(c.GroupID, 10) == cond.Value
	case "window":
		return c.WindowOpen(now) == (cond.Value == "open")
	case "status":
		return c.Status == cond.Value
	case "assignee":
		return (c.AssigneeID == nil && cond.Value == "none") || (c.AssigneeID != nil && strconv.FormatInt(*c.AssigneeID, 10) == cond.Value)
	case "tag":
		return slices.Contains(c.Tags, cond.Value)
	case "client_has":
		return map[string]bool{"name": c.ClientName != "", "email": c.ClientEmail != nil, "phone": c.ClientPhone != nil, "whatsapp": c.ClientWhatsApp != nil}[cond.Value]
	case "hours", "outside_hours":
		return withinHours(cond.Value, now) == (cond.Field == "hours")
	case "weekdays":
		return weekdaySet(cond.Value)[now.Weekday()]
	}
	return false
}

// act runs one action; problems a person can act on are recorded in the
// conversation, not retried.
func (s *Service) act(ctx context.Context, tid uuid.UUID, r Rule, a Action, c conversation.Case, messageID int64) error {
	by := "rule '" + r.Name + "'"
	var err error
	switch a.Kind {
	case "end_chat":
		err = s.conv.EndChat(ctx, tid, c.ID, a.Value, by)
	case "set_status":
		err = s.conv.SetStatus(ctx, tid, c.ID, a.Value, by)
	case "assign_group":
		g, _ := strconv.ParseInt(a.Value, 10, 64)
		err = s.conv.Assign(ctx, tid, c.ID, g, nil, by)
	case "assign_agent":
		var agent int64
		if agent, err = s.pickAgent(ctx, tid, c, a.Value); err == nil {
			err = s.conv.Assign(ctx, tid, c.ID, c.GroupID, &agent, by)
		}
	case "add_note":
		err = s.conv.AddNote(ctx, tid, 0, c.ID, a.Value)
	case "add_tag", "remove_tag":
		err = s.conv.Tag(ctx, tid, c.ID, a.Value, a.Kind == "remove_tag", by)
	case "send_macro":
		err = s.sendMacro(ctx, tid, r, a, c, messageID)
	}
	if p, ok := problem.As(err); ok {
		return s.conv.RecordEvent(ctx, tid, c.ID, fmt.Sprintf("Rule '%s' could not %s: %s", r.Name, label(a.Kind), p.Msg))
	}
	return err
}

// pickAgent is the agent an assign action names, or for round_robin the
// online member of the chat's group (one of their pages is open, see
// tenant.MarkOnline) who is not away, with the fewest live chats (the one
// assigned longest ago among equals). With nobody there the chat stays in
// its group.
func (s *Service) pickAgent(ctx context.Context, tid uuid.UUID, c conversation.Case, value string) (int64, error) {
	if value != "round_robin" {
		return strconv.ParseInt(value, 10, 64)
	}
	var id int64
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT a.id FROM agents a JOIN group_members m ON m.agent_id = a.id AND m.group_id = $1
			WHERE a.active AND a.seen_at > $2 AND NOT a.away
			ORDER BY (SELECT count(*) FROM cases x WHERE x.assignee_id = a.id AND x.state = 'live'),
				(SELECT max(x.created_at) FROM cases x WHERE x.assignee_id = a.id) NULLS FIRST, a.id
			LIMIT 1`, c.GroupID, tenant.OnlineSince(s.clock.Now())).Scan(&id)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, problem.New(problem.Conflict, "no agent of the group is online and not away; the chat waits in the group")
	}
	return id, err
}

// sendMacro sends a general macro (once per rule and event: a retried
// job sends nothing twice) to the client inside the 24-hour window;
// outside it nothing goes to the provider and the rule's run says why.
func (s *Service) sendMacro(ctx context.Context, tid uuid.UUID, r Rule, a Action, c conversation.Case, messageID int64) error {
	id, err := strconv.ParseInt(a.Value, 10, 64)
	if err != nil {
		return problem.New(problem.NotFound, "the macro was deleted")
	}
	var body string
	err = s.db.InTenant(ctx, tid, func(tx pgx.Tx) (err error) { body, err = macro.GeneralBodyTx(ctx, tx, id); return err })
	if errors.Is(err, pgx.ErrNoRows) {
		return problem.New(problem.NotFound, "the macro was deleted")
	}
	if err != nil {
		return err
	}
	if !c.WindowOpen(s.clock.Now()) {
		return problem.New(problem.Conflict, "the 24-hour window is closed")
	}
	_, err = s.conv.SendReply(ctx, tid, 0, c.ID, conversation.Reply{Body: body, IdempotencyKey: fmt.Sprintf("rule-%d-message-%d-macro-%s", r.ID, messageID, a.Value)})
	return err
}

// firstInChain records that rule fires in chain, and says whether this is
// the first time: a rule fires at most once per chain of events, whichever
// run gets there first.
func (s *Service) firstInChain(ctx context.Context, tid uuid.UUID, chain ruleevent.Chain, ruleID int64) (bool, error) {
	var first bool
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO rule_chain_fires (tenant_id, chain, rule_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, tid, chain.ID, ruleID)
		first = tag.RowsAffected() == 1
		return err
	})
	return first, err
}

// PurgeExpired forgets the rule chains of more than a day ago (the
// periodic purge calls it).
func (s *Service) PurgeExpired(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.InSystem(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT purge_rule_chain_fires($1)`, s.clock.Now().Add(-24*time.Hour)).Scan(&n)
	})
	return n, err
}
