// Package rule holds automation rules: a trigger (a chat started, a client
// wrote), conditions that must all or any hold, and actions run in order —
// among them "end chat and set status", which puts chats straight into All
// cases. Rules run in a River job recorded with the event that fired them;
// each run is recorded in the conversation.
package rule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"parley/internal/clock"
	"parley/internal/conversation"
	"parley/internal/postgres"
	"parley/internal/problem"
	"parley/internal/ruleevent"
	"parley/internal/tenant"
)

// Triggers, conditions and actions a rule can have.
var (
	Triggers = []Choice{
		{ruleevent.ChatStarted, "A chat started"},
		{ruleevent.ClientMessage, "A client's message was received"},
		{ruleevent.AgentMessage, "An agent's message was sent"},
		{ruleevent.ChatEnded, "A chat ended"},
		{ruleevent.StatusChanged, "A case's status changed"},
		{ruleevent.MessageFailed, "A message failed to send"},
		{ruleevent.NoClientReply, "The client has not replied for … minutes"},
		{ruleevent.NoAgentReply, "No agent has replied for … minutes"},
	}
	ConditionFields = []Choice{
		{"integration", "The WhatsApp number (integration) is"},
		{"group", "The group is"},
		{"status", "The status is"},
		{"assignee", "The assignee is (an agent's id, or none)"},
		{"text_contains", "The message contains"},
		{"text_matches", "The message matches the regular expression"},
		{"client_has", "The client has a (name, email, phone, whatsapp)"},
		{"tag", "The chat has the tag"},
		{"window", "The 24-hour window is (open / closed)"},
		{"hours", "The time is within (e.g. 09:00-18:00, tenant's time zone)"},
		{"outside_hours", "The time is outside (e.g. 09:00-18:00)"},
		{"weekdays", "The day is one of (e.g. mon-fri, or sat,sun)"},
	}
	ActionKinds = []Choice{
		{"end_chat", "End the chat and set status"},
		{"set_status", "Set status"},
		{"assign_group", "Move to group"},
		{"assign_agent", "Assign to an agent (an agent's id, or round_robin among the group's online agents)"},
		{"add_note", "Add an internal note"},
		{"add_tag", "Add the tag"},
		{"remove_tag", "Remove the tag"},
		{"send_macro", "Send a macro to the client"},
	}
)

// Choice is a value and how people read it.
type Choice struct{ Value, Label string }

// Condition is one test of a rule.
type Condition struct {
	Field string `json:"field"`
	Value string `json:"value"`
}

// Action is one thing a rule does.
type Action struct {
	Kind  string `json:"kind"`
	Value string `json:"value"`
}

// Rule is one automation rule.
type Rule struct {
	ID         int64
	Name       string
	Enabled    bool
	Trigger    string
	Minutes    int    // for the waiting triggers
	Match      string // "all" or "any"
	Conditions []Condition
	Actions    []Action
	// Broken says why the rule cannot run (a group, integration or macro
	// it names was deleted); set by List and Run.
	Broken string
}

// Service is the rule domain.
type Service struct {
	db     *postgres.DB
	conv   *conversation.Service
	cache  *Cache
	events *ruleevent.Recorder
	clock  clock.Clock
	log    *slog.Logger
}

// NewService returns the rule service: it runs the rules in cache, whose
// actions change conversations through conv, and records the events of
// waiting rules with events.
func NewService(db *postgres.DB, conv *conversation.Service, cache *Cache, events *ruleevent.Recorder, c clock.Clock, log *slog.Logger) *Service {
	return &Service{db: db, conv: conv, cache: cache, events: events, clock: c, log: log}
}

const selectRule = `SELECT id, name, enabled, trigger, coalesce(minutes, 0), match, conditions, actions FROM rules`

func scan(row pgx.CollectableRow) (Rule, error) {
	var r Rule
	err := row.Scan(&r.ID, &r.Name, &r.Enabled, &r.Trigger, &r.Minutes, &r.Match, &r.Conditions, &r.Actions)
	return r, err
}

// List returns the tenant's rules in the order they run.
func (s *Service) List(ctx context.Context, tid uuid.UUID) ([]Rule, error) {
	var rs []Rule
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, selectRule+` ORDER BY position, id`)
		var err error
		if rs, err = pgx.CollectRows(rows, scan); err != nil {
			return err
		}
		ref, err := loadRefs(ctx, tx)
		for i := range rs {
			rs[i].Broken = ref.broken(rs[i])
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list rules: %w", err)
	}
	return rs, nil
}

// refs are the ids of the tenant's groups, integrations, general macros
// and agents that rules may name, read once for a check, a listing or a run.
type refs map[string]map[string]bool

const selectRefs = `SELECT 'group', id::text FROM groups UNION ALL SELECT 'integration', id::text FROM integrations
	UNION ALL SELECT 'macro', id::text FROM macros WHERE owner_id IS NULL UNION ALL SELECT 'agent', id::text FROM agents`

func loadRefs(ctx context.Context, tx pgx.Tx) (refs, error) {
	rows, _ := tx.Query(ctx, selectRefs)
	return scanRefs(rows)
}

func scanRefs(rows pgx.Rows) (refs, error) {
	out := refs{"group": {}, "integration": {}, "macro": {}, "agent": {}}
	var kind, id string
	_, err := pgx.ForEachRow(rows, []any{&kind, &id}, func() error {
		out[kind][id] = true
		return nil
	})
	return out, err
}

// broken says which group, integration or macro a rule names that no
// longer exists, or "".
func (ref refs) broken(r Rule) string {
	for _, c := range r.Conditions {
		if (c.Field == "integration" || c.Field == "group") && !ref[c.Field][c.Value] {
			return "its " + c.Field + " was deleted"
		}
	}
	for _, a := range r.Actions {
		switch {
		case a.Kind == "assign_group" && !ref["group"][a.Value]:
			return "its group was deleted"
		case a.Kind == "send_macro" && !ref["macro"][a.Value]:
			return "its macro was deleted"
		}
	}
	return ""
}

// SetEnabled turns a rule on or off.
func (s *Service) SetEnabled(ctx context.Context, tid uuid.UUID, id int64, on bool) error {
	return s.cache.change(ctx, tid, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE rules SET enabled = $2 WHERE id = $1`, id, on)
		if err == nil && tag.RowsAffected() == 0 {
			return problem.New(problem.NotFound, "No such rule.")
		}
		return err
	})
}

// Move swaps a rule with the one before it (up) or after it in the order
// rules run.
func (s *Service) Move(ctx context.Context, tid uuid.UUID, id int64, up bool) error {
	return s.cache.change(ctx, tid, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT id FROM rules ORDER BY position, id FOR UPDATE`)
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		i := slices.Index(ids, id)
		if i < 0 {
			return problem.New(problem.NotFound, "No such rule.")
		}
		j := i + 1
		if up {
			j = i - 1
		}
		if j < 0 || j >= len(ids) {
			return nil
		}
		ids[i], ids[j] = ids[j], ids[i]
		_, err = tx.Exec(ctx, `UPDATE rules SET position = array_position($1::bigint[], id)`, ids)
		return err
	})
}

// Save creates (id 0) or changes a rule after checking it.
func (s *Service) Save(ctx context.Context, tid uuid.UUID, id int64, r Rule) (int64, error) {
	if err := s.check(ctx, tid, &r); err != nil {
		return 0, err
	}
	conds, _ := json.Marshal(r.Conditions)
	acts, _ := json.Marshal(r.Actions)
	err := s.cache.change(ctx, tid, func(tx pgx.Tx) error {
		if id == 0 {
			return tx.QueryRow(ctx, `INSERT INTO rules (tenant_id, name, enabled, position, trigger, minutes, match, conditions, actions)
				VALUES ($1, $2, $3, (SELECT coalesce(max(position), 0) + 1 FROM rules), $4, nullif($8, 0), $5, $6, $7) RETURNING id`,
				tid, r.Name, r.Enabled, r.Trigger, r.Match, conds, acts, r.Minutes).Scan(&id)
		}
		tag, err := tx.Exec(ctx, `UPDATE rules SET name = $2, enabled = $3, trigger = $4, match = $5, conditions = $6, actions = $7, minutes = nullif($8, 0) WHERE id = $1`,
			id, r.Name, r.Enabled, r.Trigger, r.Match, conds, acts, r.Minutes)
		if err == nil && tag.RowsAffected() == 0 {
			return problem.New(problem.NotFound, "No such rule.")
		}
		return err
	})
	return id, err
}

// Delete removes a rule.
func (s *Service) Delete(ctx context.Context, tid uuid.UUID, id int64) error {
	return s.cache.change(ctx, tid, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM rules WHERE id = $1`, id)
		if err == nil && tag.RowsAffected() == 0 {
			return problem.New(problem.NotFound, "No such rule.")
		}
		return err
	})
}

// check validates a rule: a name, a known trigger, conditions and actions
// that exist and refer to things of this tenant.
func (s *Service) check(ctx context.Context, tid uuid.UUID, r *Rule) error {
	var ref refs
	if err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) (err error) { ref, err = loadRefs(ctx, tx); return err }); err != nil {
		return err
	}
	errs := problem.Fields{}
	r.Name = strings.TrimSpace(r.Name)
	if n := utf8.RuneCountInString(r.Name); n == 0 || n > 100 {
		errs.Add("name", "Give the rule a name of at most 100 characters.")
	}
	switch {
	case !known(Triggers, r.Trigger):
		errs.Add("trigger", "Choose when the rule runs.")
	case waiting(r.Trigger) && (r.Minutes < 1 || r.Minutes > 10080):
		errs.Add("minutes", "Say how many minutes to wait: 1 to 10,080 (a week).")
	case !waiting(r.Trigger):
		r.Minutes = 0
	}
	if r.Match != "any" {
		r.Match = "all"
	}
	var conds []Condition
	for i, c := range r.Conditions {
		c.Value = strings.TrimSpace(c.Value)
		if c.Field == "" {
			continue
		}
		field := "condition_" + strconv.Itoa(i)
		switch {
		case !known(ConditionFields, c.Field):
			errs.Add(field, "Choose a condition.")
		case c.Value == "" || utf8.RuneCountInString(c.Value) > 500:
			errs.Add(field, "Give the condition a value (at most 500 characters).")
		case c.Field == "window" && c.Value != "open" && c.Value != "closed":
			errs.Add(field, "The window is open or closed.")
		case (c.Field == "integration" || c.Field == "group") && !ref[c.Field][c.Value]:
			errs.Add(field, "Choose one of your "+c.Field+"s.")
		case (c.Field == "text_contains" || c.Field == "text_matches") && !messageTrigger(r.Trigger):
			errs.Add(field, "Only a rule that runs on a message can test its text.")
		case c.Field == "text_matches" && !validRegexp(c.Value):
			errs.Add(field, "This is not a valid regular expression.")
		case c.Field == "status" && !conversation.ValidStatus(c.Value):
			errs.Add(field, "Choose a status.")
		case c.Field == "assignee" && c.Value != "none" && !ref["agent"][c.Value]:
			errs.Add(field, "Choose one of your agents, or none.")
		case c.Field == "client_has" && !slices.Contains([]string{"name", "email", "phone", "whatsapp"}, c.Value):
			errs.Add(field, "A client field is name, email, phone or whatsapp.")
		case (c.Field == "hours" || c.Field == "outside_hours") && !validHours(c.Value):
			errs.Add(field, "Write the hours as 09:00-18:00.")
		case c.Field == "weekdays" && weekdaySet(c.Value) == nil:
			errs.Add(field, "Write the days as mon-fri, or as sat,sun.")
		}
		conds = append(conds, c)
	}
	var acts []Action
	for i, a := range r.Actions {
		a.Value = strings.TrimSpace(a.Value)
		if a.Kind == "" {
			continue
		}
		field := "action_" + strconv.Itoa(i)
		switch a.Kind {
		case "end_chat", "set_status":
			if !conversation.ValidStatus(a.Value) {
				errs.Add(field, "Choose the status to set.")
			}
		case "assign_group":
			if !ref["group"][a.Value] {
				errs.Add(field, "Choose one of your groups.")
			}
		case "assign_agent":
			if a.Value != "round_robin" && !ref["agent"][a.Value] {
				errs.Add(field, "Choose one of your agents, or round_robin.")
			}
		case "send_macro":
			if !ref["macro"][a.Value] {
				errs.Add(field, "Choose one of the general macros.")
			}
		case "add_note":
			if a.Value == "" || utf8.RuneCountInString(a.Value) > 10000 {
				errs.Add(field, "Write the note (at most 10,000 characters).")
			}
		case "add_tag", "remove_tag":
			if a.Value == "" || utf8.RuneCountInString(a.Value) > 50 {
				errs.Add(field, "Write the tag (at most 50 characters).")
			}
		default:
			errs.Add(field, "Choose an action.")
		}
		acts = append(acts, a)
	}
	if len(acts) == 0 {
		errs.Add("action_0", "A rule needs at least one action.")
	}
	r.Conditions, r.Actions = conds, acts
	return errs.Err()
}

func known(cs []Choice, v string) bool {
	for _, c := range cs {
		if c.Value == v {
			return true
		}
	}
	return false
}

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
	var body string
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT body FROM macros WHERE id = $1 AND owner_id IS NULL`, a.Value).Scan(&body)
	})
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

func waiting(t string) bool {
	return t == ruleevent.NoClientReply || t == ruleevent.NoAgentReply
}

func messageTrigger(t string) bool {
	return t == ruleevent.ClientMessage || t == ruleevent.AgentMessage || t == ruleevent.MessageFailed
}

func validRegexp(s string) bool {
	_, err := regexp.Compile(s)
	return err == nil
}

// parseHours reads "09:00-18:00" into minutes of the day; a range that
// wraps midnight ("22:00-06:00") is allowed.
func parseHours(s string) (from, to int, ok bool) {
	a, b, found := strings.Cut(strings.ReplaceAll(s, " ", ""), "-")
	if !found {
		return 0, 0, false
	}
	minutes := func(hm string) (int, bool) {
		t, err := time.Parse("15:04", hm)
		return t.Hour()*60 + t.Minute(), err == nil
	}
	from, ok1 := minutes(a)
	to, ok2 := minutes(b)
	return from, to, ok1 && ok2 && from != to
}

func validHours(s string) bool { _, _, ok := parseHours(s); return ok }

// withinHours says whether now's wall-clock time falls in the range.
func withinHours(s string, now time.Time) bool {
	from, to, ok := parseHours(s)
	if !ok {
		return false
	}
	m := now.Hour()*60 + now.Minute()
	if from < to {
		return m >= from && m < to
	}
	return m >= from || m < to
}

var weekdayNames = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// weekdaySet reads "mon-fri" or "sat,sun" (or a mix); nil when it cannot.
func weekdaySet(s string) map[time.Weekday]bool {
	set := map[time.Weekday]bool{}
	for _, part := range strings.Split(strings.ToLower(strings.ReplaceAll(s, " ", "")), ",") {
		a, b, isRange := strings.Cut(part, "-")
		i, j := slices.Index(weekdayNames, a), slices.Index(weekdayNames, b)
		switch {
		case i < 0 || (isRange && j < 0):
			return nil
		case !isRange:
			set[time.Weekday(i)] = true
		default:
			for d := i; ; d = (d + 1) % 7 {
				set[time.Weekday(d)] = true
				if d == j {
					break
				}
			}
		}
	}
	return set
}

// label names an action in a sentence: "could not assign to an agent".
func label(kind string) string {
	for _, c := range ActionKinds {
		if c.Value == kind {
			l, _, _ := strings.Cut(c.Label, " (")
			return strings.ToLower(l)
		}
	}
	return kind
}

// TimeZone is the tenant's time zone for business hours (IANA name).
func (s *Service) TimeZone(ctx context.Context, tid uuid.UUID) (string, error) {
	var z string
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT time_zone FROM tenants WHERE id = $1`, tid).Scan(&z)
	})
	return z, err
}

// SetTimeZone changes it; the name must be one Go knows (IANA, e.g.
// "Europe/Berlin").
func (s *Service) SetTimeZone(ctx context.Context, tid uuid.UUID, zone string) error {
	zone = strings.TrimSpace(zone)
	if _, err := time.LoadLocation(zone); err != nil || zone == "" || zone == "Local" {
		return problem.Field("time_zone", "Write a time zone such as Europe/Berlin or America/New_York.")
	}
	return s.cache.change(ctx, tid, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE tenants SET time_zone = $2 WHERE id = $1`, tid, zone)
		return err
	})
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

// drainChunk is how many events a run reads at once; drainFor is how long
// one rule job takes events before it leaves the rest to the next (River
// gives a job a minute); an event whose rules failed maxEventAttempts times
// is dropped (and logged), so that it does not hold up the tenant's others.
const (
	drainChunk       = 2000
	drainFor         = 20 * time.Second
	maxEventAttempts = 5
)

// Drain runs the tenant's recorded rule events in the order they were
// recorded (the rule job calls it). Runs of one tenant take turns: while
// another run is taking the events, Drain returns ErrBusy.
func (s *Service) Drain(ctx context.Context, tid uuid.UUID) (err error) {
	err = s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		// Exclusive: the transactions that recorded events and saw this run
		// queued have committed; those that come after see it started.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('rule_queue ' || current_tenant(), 0))`); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `UPDATE rule_queues SET queued = false, draining_until = now() + $1::interval
			WHERE tenant_id = current_tenant() AND (draining_until IS NULL OR draining_until < now()) RETURNING true`,
			2*drainFor).Scan(nil)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrBusy
	}
	if err != nil {
		return fmt.Errorf("start rule run: %w", err)
	}
	more := true
	defer func() {
		// Let the next run in; if this one stopped early, queue it.
		ctx := context.WithoutCancel(ctx)
		end := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `UPDATE rule_queues SET draining_until = NULL WHERE tenant_id = current_tenant()`); err != nil {
				return err
			}
			if more {
				return s.events.QueueRun(ctx, tx, tid)
			}
			return nil
		})
		if end != nil && err == nil {
			err = fmt.Errorf("end rule run: %w", end)
		}
	}()
	for stop := time.Now().Add(drainFor); more && time.Now().Before(stop); {
		var (
			evs []event
			ref refs
		)
		err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
			b := &pgx.Batch{}
			// The first drainChunk events waiting: those of the first rows
			// that hold as many (or of all rows), cut at drainChunk.
			b.Queue(`WITH upto AS (
					SELECT id FROM (SELECT id, sum(cardinality(case_ids) - done) OVER w AS n, lead(id) OVER w IS NULL AS last
						FROM rule_events WINDOW w AS (ORDER BY id)) r
					WHERE n >= $1 OR last ORDER BY id LIMIT 1)
				SELECT e.id, e.ord, e.trigger, e.case_id, coalesce(e.message_id, 0), coalesce(e.rule_id, 0), e.chain, e.depth, coalesce(m.body, '')
				FROM (SELECT * FROM rule_event_list WHERE id <= (SELECT id FROM upto) ORDER BY id, ord LIMIT $1) e
				LEFT JOIN messages m ON m.tenant_id = e.tenant_id AND m.id = e.message_id
				ORDER BY e.id, e.ord`, drainChunk).Query(func(rows pgx.Rows) (err error) {
				evs, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (ev event, err error) {
					err = row.Scan(&ev.ID, &ev.ord, &ev.Trigger, &ev.CaseID, &ev.MessageID, &ev.RuleID, &ev.Chain.ID, &ev.Chain.Depth, &ev.text)
					ev.lower = strings.ToLower(ev.text)
					return ev, err
				})
				return err
			})
			b.Queue(selectRefs).Query(func(rows pgx.Rows) (err error) { ref, err = scanRefs(rows); return err })
			return tx.SendBatch(ctx, b).Close()
		})
		if err != nil {
			return fmt.Errorf("read rule events: %w", err)
		}
		if len(evs) == 0 {
			more = false
			break
		}
		n, runErr := s.run(ctx, tid, ref, evs)
		if err := s.forget(ctx, tid, evs[:n]); err != nil {
			return err
		}
		if errors.As(runErr, new(eventFailed)) {
			if err := s.failed(ctx, tid, evs[n], runErr); err != nil {
				return errors.Join(runErr, err)
			}
		}
		if runErr != nil {
			return runErr
		}
		more = len(evs) == drainChunk
	}
	return nil
}

// forget takes the events that ran (in the order they were read) off
// their rows, and deletes the rows none of whose events wait any more.
func (s *Service) forget(ctx context.Context, tid uuid.UUID, evs []event) error {
	if len(evs) == 0 {
		return nil
	}
	err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error { return forgetTx(ctx, tx, evs) })
	if err != nil {
		return fmt.Errorf("forget rule events that ran: %w", err)
	}
	return nil
}

func forgetTx(ctx context.Context, tx pgx.Tx, evs []event) error {
	var rows []int64
	var upto []int32 // the last event of each row that ran
	for _, ev := range evs {
		if n := len(rows); n > 0 && rows[n-1] == ev.ID {
			upto[n-1] = int32(ev.ord)
		} else {
			rows, upto = append(rows, ev.ID), append(upto, int32(ev.ord))
		}
	}
	_, err := tx.Exec(ctx, `WITH ran AS (SELECT * FROM unnest($1::bigint[], $2::int[]) AS r(id, upto)),
			gone AS (DELETE FROM rule_events e USING ran WHERE e.id = ran.id AND ran.upto >= cardinality(e.case_ids))
		UPDATE rule_events e SET done = ran.upto, attempts = 0 FROM ran WHERE e.id = ran.id AND ran.upto < cardinality(e.case_ids)`, rows, upto)
	return err
}

// failed counts a failed attempt at ev's rules (ev is its row's next
// event), and drops the event after maxEventAttempts.
func (s *Service) failed(ctx context.Context, tid uuid.UUID, ev event, why error) error {
	ctx = context.WithoutCancel(ctx)
	return s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
		var attempts int
		err := tx.QueryRow(ctx, `UPDATE rule_events SET attempts = attempts + 1 WHERE id = $1 RETURNING attempts`, ev.ID).Scan(&attempts)
		if err != nil || attempts < maxEventAttempts {
			return err
		}
		s.log.ErrorContext(ctx, "rules: event dropped after failed runs", "tenant_id", tid, "case_id", ev.CaseID, "trigger", ev.Trigger, "attempts", attempts, "err", why)
		return forgetTx(ctx, tx, []event{ev})
	})
}

// ErrBusy says another run is taking the tenant's rule events.
var ErrBusy = errors.New("another rule run is taking the events")

// waitingChats finds, for one waiting rule, the live chats whose wait is
// over and that the rule has not fired for in this waiting period: no
// agent reply since the client's last message, or no client reply since
// the agents' last message, for the rule's minutes.
const waitingChats = `
WITH last AS (
	SELECT c.id AS case_id, c.last_client_message_at AS client_at,
		(SELECT max(m.created_at) FROM messages m WHERE m.tenant_id = c.tenant_id AND m.case_id = c.id AND m.direction = 'out') AS agent_at
	FROM cases c WHERE c.state = 'live'),
w AS (SELECT *, CASE WHEN $2 = 'no_agent_reply' THEN client_at ELSE agent_at END AS since FROM last)
INSERT INTO rule_fires (tenant_id, rule_id, case_id, period_start)
SELECT current_tenant(), $1, w.case_id, w.since FROM w
WHERE w.since IS NOT NULL AND w.since <= $3::timestamptz - make_interval(mins => $4)
	AND CASE WHEN $2 = 'no_agent_reply' THEN w.agent_at IS NULL OR w.agent_at < w.client_at
	         ELSE w.client_at IS NULL OR w.client_at < w.agent_at END
ON CONFLICT DO NOTHING
RETURNING case_id`

// SweepWaiting fires the waiting rules whose wait is over, each once per
// waiting period, as rule events recorded with the firing. A periodic job
// calls it.
func (s *Service) SweepWaiting(ctx context.Context) (int, error) {
	var tenants []uuid.UUID
	err := s.db.InSystem(ctx, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT * FROM waiting_rule_tenants()`)
		var err error
		tenants, err = pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("tenants with waiting rules: %w", err)
	}
	fired := 0
	for _, tid := range tenants {
		err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) error {
			rows, _ := tx.Query(ctx, selectRule+` WHERE enabled AND trigger IN ('no_client_reply', 'no_agent_reply') ORDER BY position, id`)
			rules, err := pgx.CollectRows(rows, scan)
			if err != nil {
				return err
			}
			for _, r := range rules {
				rows, _ := tx.Query(ctx, waitingChats, r.ID, r.Trigger, s.clock.Now(), r.Minutes)
				cases, err := pgx.CollectRows(rows, pgx.RowTo[int64])
				if err != nil {
					return fmt.Errorf("waiting chats of rule %d: %w", r.ID, err)
				}
				if len(cases) == 0 {
					continue
				}
				evs := make([]ruleevent.Event, len(cases))
				for i, c := range cases {
					evs[i] = ruleevent.Event{CaseID: c, Chain: ruleevent.NewChain()}
				}
				if err := s.events.Record(ctx, tx, tid, r.Trigger, r.ID, evs); err != nil {
					return err
				}
				fired += len(cases)
			}
			return nil
		})
		if err != nil {
			return fired, err
		}
	}
	return fired, nil
}

// SeedExamples gives a new tenant two ready rules, turned off, and the
// macro the first one sends: "After hours: send the after-hours macro"
// and "No agent reply for 5 minutes: move to the group".
func (s *Service) SeedExamples(ctx context.Context, tid uuid.UUID) error {
	return s.cache.change(ctx, tid, func(tx pgx.Tx) error {
		var macroID, groupID int64
		if err := tx.QueryRow(ctx, `SELECT min(id) FROM groups`).Scan(&groupID); err != nil {
			return fmt.Errorf("example rules: %w", err)
		}
		if err := tx.QueryRow(ctx, `INSERT INTO macros (tenant_id, title, body) VALUES ($1, 'After hours',
			'Thanks for your message! We are away now and answer from 9:00 to 18:00, Monday to Friday.') RETURNING id`, tid).Scan(&macroID); err != nil {
			return fmt.Errorf("after-hours macro: %w", err)
		}
		m, g := strconv.FormatInt(macroID, 10), strconv.FormatInt(groupID, 10)
		examples := []Rule{
			{Name: "After hours: send the after-hours macro", Trigger: ruleevent.ChatStarted, Match: "any",
				Conditions: []Condition{{"outside_hours", "09:00-18:00"}, {"weekdays", "sat,sun"}},
				Actions:    []Action{{"send_macro", m}}},
			{Name: "No agent reply for 5 minutes: move to the group", Trigger: ruleevent.NoAgentReply, Minutes: 5, Match: "all",
				Actions: []Action{{"assign_group", g}}},
		}
		for i, r := range examples {
			conds, _ := json.Marshal(r.Conditions)
			acts, _ := json.Marshal(r.Actions)
			if _, err := tx.Exec(ctx, `INSERT INTO rules (tenant_id, name, enabled, position, trigger, minutes, match, conditions, actions)
				VALUES ($1, $2, false, $3, $4, nullif($5, 0), $6, $7, $8)`, tid, r.Name, i+1, r.Trigger, r.Minutes, r.Match, conds, acts); err != nil {
				return fmt.Errorf("example rule: %w", err)
			}
		}
		return nil
	})
}
