package rule

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"parley/internal/problem"
	"parley/internal/ruleevent"
	"parley/internal/tenant"
)

// check validates a rule: a name, a known trigger, conditions and actions
// that exist and refer to things of this tenant.
func (s *Service) check(ctx context.Context, tid uuid.UUID, r *Rule) error {
	var (
		ref      refs
		statuses []string
	)
	if err := s.db.InTenant(ctx, tid, func(tx pgx.Tx) (err error) {
		if ref, err = loadRefs(ctx, tx); err != nil {
			return err
		}
		statuses, err = tenant.StatusesTx(ctx, tx)
		return err
	}); err != nil {
		return err
	}
	validStatus := func(s string) bool { return slices.Contains(statuses, s) }
	notAStatus := func(s string) string {
		return "“" + s + "” is not one of this workspace's statuses (" + strings.Join(statuses, ", ") + ")."
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
		case c.Field == "status" && !validStatus(c.Value):
			errs.Add(field, notAStatus(c.Value))
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
			if a.Value == "" {
				errs.Add(field, "Choose the status to set.")
			} else if !validStatus(a.Value) {
				errs.Add(field, notAStatus(a.Value))
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
