package httpserver

import (
	"net/http"
	"slices"
	"strconv"

	"parley/internal/macro"
	"parley/internal/problem"
	"parley/internal/rule"
	"parley/web"
)

// rulesPage is Settings → Rules with the form for a new rule.
func (s *Server) rulesPage(w http.ResponseWriter, r *http.Request) {
	s.renderRules(w, r, http.StatusOK, &rule.Rule{Enabled: true}, web.Form{})
}

// rulePage is Settings → Rules with one rule in the form.
func (s *Server) rulePage(w http.ResponseWriter, r *http.Request) {
	id, err := idParam(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.renderRules(w, r, http.StatusOK, &rule.Rule{ID: id}, web.Form{})
}

func (s *Server) renderRules(w http.ResponseWriter, r *http.Request, status int, editing *rule.Rule, f web.Form) {
	ctx := r.Context()
	tid := signed(r).Tenant.ID
	v := web.RulesView{Editing: editing, Form: f}
	var err error
	if v.Rules, err = s.Rules.List(ctx, tid); err != nil {
		s.fail(w, r, err)
		return
	}
	// A rule opened for editing (its id, no form yet) is read from the list.
	if editing.ID != 0 && f.Values == nil {
		i := slices.IndexFunc(v.Rules, func(ru rule.Rule) bool { return ru.ID == editing.ID })
		if i < 0 {
			s.fail(w, r, problem.New(problem.NotFound, "No such rule."))
			return
		}
		*editing = v.Rules[i]
	}
	if v.Groups, err = s.Tenants.Groups(ctx, tid); err != nil {
		s.fail(w, r, err)
		return
	}
	if v.Integrations, err = s.Integrations.List(ctx, tid); err != nil {
		s.fail(w, r, err)
		return
	}
	if v.Agents, err = s.Tenants.Agents(ctx, tid); err != nil {
		s.fail(w, r, err)
		return
	}
	if v.Macros, err = s.Macros.List(ctx, tid, macro.General); err != nil {
		s.fail(w, r, err)
		return
	}
	if v.Form.Values == nil {
		v.Form.Values = ruleValues(*editing)
	}
	if v.TimeZone, err = s.Tenants.TimeZone(ctx, tid); err != nil {
		s.fail(w, r, err)
		return
	}
	if v.Statuses, err = s.Tenants.Statuses(ctx, tid); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, status, web.RulesPage(s.page(r, "Rules", "settings"), v))
}

// ruleValues draws a rule into the form's fields.
func ruleValues(ru rule.Rule) map[string]string {
	vals := map[string]string{"name": ru.Name, "trigger": ru.Trigger, "match": ru.Match}
	if ru.Minutes > 0 {
		vals["minutes"] = strconv.Itoa(ru.Minutes)
	}
	if ru.Enabled {
		vals["enabled"] = "true"
	}
	put := func(kind string, i int, what, value string) {
		k := kind + "_" + strconv.Itoa(i)
		vals[k] = what
		if what == "text_contains" || what == "text_matches" || what == "add_note" || what == "tag" || what == "add_tag" || what == "remove_tag" ||
			what == "hours" || what == "outside_hours" || what == "weekdays" {
			vals[k+"_text"] = value
		} else {
			vals[k+"_pick"] = value
		}
	}
	for i, c := range ru.Conditions {
		put("condition", i, c.Field, c.Value)
	}
	for i, a := range ru.Actions {
		put("action", i, a.Kind, a.Value)
	}
	return vals
}

// ruleOf reads the rule form: each row's value is the typed text when
// there is one, else the picked value.
func ruleOf(r *http.Request) rule.Rule {
	ru := rule.Rule{Name: r.PostFormValue("name"), Enabled: r.PostFormValue("enabled") == "true",
		Trigger: r.PostFormValue("trigger"), Match: r.PostFormValue("match")}
	ru.Minutes, _ = strconv.Atoi(r.PostFormValue("minutes"))
	value := func(k string) string {
		if t := r.PostFormValue(k + "_text"); t != "" {
			return t
		}
		return r.PostFormValue(k + "_pick")
	}
	for i := range 3 {
		k := "condition_" + strconv.Itoa(i)
		ru.Conditions = append(ru.Conditions, rule.Condition{Field: r.PostFormValue(k), Value: value(k)})
		k = "action_" + strconv.Itoa(i)
		ru.Actions = append(ru.Actions, rule.Action{Kind: r.PostFormValue(k), Value: value(k)})
	}
	return ru
}

func (s *Server) createRule(w http.ResponseWriter, r *http.Request) {
	if s.parseForm(w, r) {
		s.saveRule(w, r, 0)
	}
}

func (s *Server) updateRule(w http.ResponseWriter, r *http.Request) {
	if id, ok := s.idForm(w, r); ok {
		s.saveRule(w, r, id)
	}
}

// saveRule creates (id 0) or changes a rule from the posted form.
func (s *Server) saveRule(w http.ResponseWriter, r *http.Request, id int64) {
	ru := ruleOf(r)
	_, err := s.Rules.Save(r.Context(), signed(r).Tenant.ID, id, ru)
	if problem.Is(err, problem.Invalid) {
		ru.ID = id
		keep := []string{"name", "enabled", "trigger", "match", "minutes"}
		for i := range 3 {
			for _, k := range []string{"condition_", "action_"} {
				k += strconv.Itoa(i)
				keep = append(keep, k, k+"_pick", k+"_text")
			}
		}
		s.renderRules(w, r, http.StatusUnprocessableEntity, &ru, formOf(r, err, keep...))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	redirect(w, r, "/settings/rules")
}

func (s *Server) deleteRule(w http.ResponseWriter, r *http.Request) {
	id, ok := s.idForm(w, r)
	if !ok {
		return
	}
	if err := s.Rules.Delete(r.Context(), signed(r).Tenant.ID, id); err != nil {
		s.fail(w, r, err)
		return
	}
	redirect(w, r, "/settings/rules")
}

func (s *Server) setRuleEnabled(w http.ResponseWriter, r *http.Request) {
	id, ok := s.idForm(w, r)
	if !ok {
		return
	}
	if err := s.Rules.SetEnabled(r.Context(), signed(r).Tenant.ID, id, r.PostFormValue("enabled") == "true"); err != nil {
		s.fail(w, r, err)
		return
	}
	redirect(w, r, "/settings/rules")
}

func (s *Server) moveRule(w http.ResponseWriter, r *http.Request) {
	id, ok := s.idForm(w, r)
	if !ok {
		return
	}
	if err := s.Rules.Move(r.Context(), signed(r).Tenant.ID, id, r.PostFormValue("to") == "up"); err != nil {
		s.fail(w, r, err)
		return
	}
	redirect(w, r, "/settings/rules")
}

func (s *Server) setTimeZone(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	err := s.Rules.SetTimeZone(r.Context(), signed(r).Tenant.ID, r.PostFormValue("time_zone"))
	if p, ok := problem.As(err); ok && p.Kind == problem.Invalid {
		ru := &rule.Rule{Enabled: true}
		f := web.Form{Values: ruleValues(*ru), Errors: p.Fields}
		f.Values["time_zone"] = r.PostFormValue("time_zone")
		s.renderRules(w, r, http.StatusUnprocessableEntity, ru, f)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	redirect(w, r, "/settings/rules")
}
