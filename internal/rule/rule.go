// Package rule holds automation rules: a trigger (a chat started, a client
// wrote), conditions that must all or any hold, and actions run in order —
// among them "end chat and set status", which puts chats straight into All
// cases. Rules run in a River job recorded with the event that fired them;
// each run is recorded in the conversation.
package rule

import (
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5"

	"parley/internal/clock"
	"parley/internal/conversation"
	"parley/internal/postgres"
	"parley/internal/ruleevent"
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
		{"assignee", "The assignee is"},
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
		{"assign_agent", "Assign to an agent"},
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

func known(cs []Choice, v string) bool {
	for _, c := range cs {
		if c.Value == v {
			return true
		}
	}
	return false
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
