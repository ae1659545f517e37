package httpserver

import (
	"net/http"
	"net/url"
	"strconv"

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
	s.render(w, r, http.StatusOK, web.CasesPage(s.page(r, "All cases", "cases"), v))
}

func (s *Server) casePage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tid := signed(r).Tenant.ID
	id, err := idParam(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	c, err := s.Conversations.Case(ctx, tid, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if c.State == conversation.StateLive {
		redirect(w, r, "/chats/"+strconv.FormatInt(id, 10))
		return
	}
	ms, err := s.Conversations.Messages(ctx, tid, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	others, err := s.Conversations.ClientCases(ctx, tid, c.ClientID, c.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, web.CasePage(s.page(r, "Case #"+strconv.FormatInt(c.Number, 10), "cases"), s.Clock.Now(), c, ms, others))
}

func (s *Server) chatSettingsPage(w http.ResponseWriter, r *http.Request) {
	st, err := s.Tenants.ChatSettings(r.Context(), signed(r).Tenant.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f := web.Form{Values: map[string]string{"idle_minutes": strconv.Itoa(st.IdleMinutes), "end_status": st.EndStatus}}
	s.render(w, r, http.StatusOK, web.ChatSettingsPage(s.page(r, "Chats", "settings"), f, r.URL.Query().Get("saved") == "1"))
}

func (s *Server) updateChatSettings(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	minutes, err := strconv.Atoi(r.PostFormValue("idle_minutes"))
	if err != nil {
		minutes = -1
	}
	err = s.Tenants.UpdateChatSettings(r.Context(), signed(r).Tenant.ID, tenant.ChatSettings{IdleMinutes: minutes, EndStatus: r.PostFormValue("end_status")}, conversation.ValidStatus)
	if problem.Is(err, problem.Invalid) {
		s.render(w, r, http.StatusUnprocessableEntity, web.ChatSettingsPage(s.page(r, "Chats", "settings"), formOf(r, err, "idle_minutes", "end_status"), false))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	redirect(w, r, "/settings/chats?saved=1")
}
