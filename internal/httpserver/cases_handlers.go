package httpserver

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"parley/internal/conversation"
	"parley/internal/problem"
	"parley/internal/tenant"
	"parley/web"
)

// casesPageSize is how many cases a page of All cases shows.
const casesPageSize = 50

func (s *Server) casesPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tid := signed(r).Tenant.ID
	q := r.URL.Query()
	num := func(k string) int64 { n, _ := strconv.ParseInt(q.Get(k), 10, 64); return n }
	f := conversation.CaseFilter{
		Status: q.Get("status"), GroupID: num("group"), AssigneeID: num("assignee"), Channel: q.Get("channel"),
		Client: q.Get("client"), Text: q.Get("text"), After: conversation.ParseCursor(q.Get("after")),
	}
	cases, next, err := s.Conversations.Cases(ctx, tid, f, casesPageSize)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := web.CasesView{Now: s.Clock.Now(), Cases: cases, Filter: q}
	if next.ID != 0 {
		nq := url.Values{}
		for k, vs := range q {
			nq[k] = vs
		}
		nq.Set("after", next.String())
		v.Next = "/cases?" + nq.Encode()
	}
	if v.Groups, err = s.Tenants.Groups(ctx, tid); err != nil {
		s.fail(w, r, err)
		return
	}
	if v.Agents, err = s.Tenants.Agents(ctx, tid); err != nil {
		s.fail(w, r, err)
		return
	}
	if v.Statuses, err = s.Tenants.Statuses(ctx, tid); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, web.CasesPage(s.page(r, "All cases", "cases"), v))
}

func (s *Server) casePage(w http.ResponseWriter, r *http.Request) {
	id, err := idParam(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.renderCase(w, r, http.StatusOK, id, web.Form{})
}

// renderCase draws a case's page, with f's problem next to its form; a
// live chat is shown on the chats page instead.
func (s *Server) renderCase(w http.ResponseWriter, r *http.Request, status int, id int64, f web.Form) {
	ctx := r.Context()
	tid := signed(r).Tenant.ID
	c, err := s.Conversations.Case(ctx, tid, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if c.State == conversation.StateLive && status == http.StatusOK {
		redirect(w, r, "/chats/"+strconv.FormatInt(id, 10))
		return
	}
	v, err := s.caseView(r, c, f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := s.page(r, "Case #"+strconv.FormatInt(c.Number, 10), "cases")
	q := url.Values{"view": {"case"}}
	if err := openStreamQuery(r.Context(), q, c, v.Now, v.Messages, caseFragments(v.Now, v)); err != nil {
		s.fail(w, r, err)
		return
	}
	p.Events = "/events?" + q.Encode()
	s.render(w, r, status, web.CasePage(p, v))
}

// caseView gathers a case's page for c, with f's problem next to its form.
func (s *Server) caseView(r *http.Request, c conversation.Case, f web.Form) (web.CaseView, error) {
	ctx := r.Context()
	tid := signed(r).Tenant.ID
	v := web.CaseView{Now: s.Clock.Now(), Case: c, Form: f}
	var err error
	if v.Messages, v.MoreBefore, err = s.Conversations.MessagePage(ctx, tid, c.ID, 0, web.MessagesShown); err != nil {
		return v, err
	}
	if v.Others, err = s.Conversations.ClientCases(ctx, tid, c.ClientID, c.ID); err != nil {
		return v, err
	}
	if err := s.caseChoices(ctx, tid, &v); err != nil {
		return v, err
	}
	v.Composer, err = s.composerFor(r, c, web.Form{})
	return v, err
}

// caseChoices fills in what a case's controls offer: the tenant's groups,
// agents and statuses.
func (s *Server) caseChoices(ctx context.Context, tid uuid.UUID, v *web.CaseView) error {
	var err error
	if v.Groups, err = s.Tenants.Groups(ctx, tid); err != nil {
		return err
	}
	if v.Agents, err = s.Tenants.Agents(ctx, tid); err != nil {
		return err
	}
	v.Statuses, err = s.Tenants.Statuses(ctx, tid)
	return err
}

// caseChange runs one change an agent makes on a case's page, then shows
// the page again: a refused change comes back with its problem next to its
// form (field) and what the agent typed; anything else as an error page.
func (s *Server) caseChange(field string, change func(r *http.Request, id int64) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := s.idForm(w, r)
		if !ok {
			return
		}
		err := change(r, id)
		if p, isProblem := problem.As(err); isProblem && p.Kind != problem.NotFound {
			f := web.Form{Values: map[string]string{field: r.PostFormValue(field)}, Errors: p.Fields}
			if len(p.Fields) == 0 {
				f.Errors = map[string]string{field: p.Msg}
			}
			s.renderCase(w, r, statusOf(p.Kind), id, f)
			return
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		redirect(w, r, "/cases/"+strconv.FormatInt(id, 10))
	}
}

func (s *Server) setCaseStatus(r *http.Request, id int64) error {
	sg := signed(r)
	return s.Conversations.SetStatus(r.Context(), sg.Tenant.ID, id, r.PostFormValue("status"), sg.Agent.Name)
}

// assignCase gives a case to "g<group>" or "g<group>a<agent>".
func (s *Server) assignCase(r *http.Request, id int64) error {
	var groupID, agentID int64
	if n, _ := fmt.Sscanf(r.PostFormValue("to"), "g%da%d", &groupID, &agentID); n == 0 || groupID <= 0 {
		return problem.Field("to", "Choose a group, or an agent of it.")
	}
	var agent *int64
	if agentID > 0 {
		agent = &agentID
	}
	sg := signed(r)
	return s.Conversations.Assign(r.Context(), sg.Tenant.ID, id, groupID, agent, sg.Agent.Name)
}

func (s *Server) tagCase(remove bool) func(r *http.Request, id int64) error {
	return func(r *http.Request, id int64) error {
		sg := signed(r)
		return s.Conversations.Tag(r.Context(), sg.Tenant.ID, id, r.PostFormValue("tag"), remove, sg.Agent.Name)
	}
}

func (s *Server) noteCase(r *http.Request, id int64) error {
	sg := signed(r)
	return s.Conversations.AddNote(r.Context(), sg.Tenant.ID, sg.Agent.ID, id, r.PostFormValue("note"))
}

func (s *Server) chatSettingsPage(w http.ResponseWriter, r *http.Request) {
	st, err := s.Tenants.ChatSettings(r.Context(), signed(r).Tenant.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f := web.Form{Values: map[string]string{"idle_minutes": strconv.Itoa(st.IdleMinutes), "end_status": st.EndStatus}}
	s.renderChatSettings(w, r, http.StatusOK, f, r.URL.Query().Get("saved") == "1")
}

func (s *Server) renderChatSettings(w http.ResponseWriter, r *http.Request, status int, f web.Form, saved bool) {
	statuses, err := s.Tenants.Statuses(r.Context(), signed(r).Tenant.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, status, web.ChatSettingsPage(s.page(r, "Chats", "settings"), f, saved, statuses))
}

func (s *Server) updateChatSettings(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	minutes, err := strconv.Atoi(r.PostFormValue("idle_minutes"))
	if err != nil {
		minutes = -1
	}
	err = s.Tenants.UpdateChatSettings(r.Context(), signed(r).Tenant.ID, tenant.ChatSettings{IdleMinutes: minutes, EndStatus: r.PostFormValue("end_status")})
	if problem.Is(err, problem.Invalid) {
		s.renderChatSettings(w, r, http.StatusUnprocessableEntity, formOf(r, err, "idle_minutes", "end_status"), false)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	redirect(w, r, "/settings/chats?saved=1")
}

func (s *Server) statusesPage(w http.ResponseWriter, r *http.Request) {
	st, err := s.Tenants.Statuses(r.Context(), signed(r).Tenant.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f := web.Form{Values: map[string]string{"statuses": strings.Join(st, "\n")}}
	s.render(w, r, http.StatusOK, web.StatusesPage(s.page(r, "Statuses", "settings"), f, r.URL.Query().Get("saved") == "1"))
}

func (s *Server) updateStatuses(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	err := s.Tenants.UpdateStatuses(r.Context(), signed(r).Tenant.ID, strings.Split(r.PostFormValue("statuses"), "\n"))
	if problem.Is(err, problem.Invalid) {
		s.render(w, r, http.StatusUnprocessableEntity, web.StatusesPage(s.page(r, "Statuses", "settings"), formOf(r, err, "statuses"), false))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	redirect(w, r, "/settings/statuses?saved=1")
}
