package httpserver

import (
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"parley/internal/problem"
	"parley/internal/tenant"
	"parley/web"
)

func (s *Server) settingsHome(w http.ResponseWriter, r *http.Request) {
	redirect(w, r, "/settings/agents")
}

// idParam reads a numeric id from the URL; anything else is not found.
func idParam(r *http.Request, name string) (int64, error) {
	id, err := strconv.ParseInt(chi.URLParam(r, name), 10, 64)
	if err != nil || id <= 0 {
		return 0, problem.New(problem.NotFound, "There is nothing here.")
	}
	return id, nil
}

func (s *Server) agentsPage(w http.ResponseWriter, r *http.Request) {
	s.renderAgents(w, r, http.StatusOK, web.Form{}, web.Invite{})
}

func (s *Server) renderAgents(w http.ResponseWriter, r *http.Request, status int, f web.Form, invite web.Invite) {
	agents, err := s.Tenants.Agents(r.Context(), signed(r).Tenant.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, status, web.AgentsPage(s.page(r, "Agents", "settings"), agents, f, invite))
}

func (s *Server) createAgent(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	a, token, err := s.Tenants.CreateAgent(r.Context(), signed(r).Tenant.ID, tenant.NewAgentForm{
		Email:    r.PostFormValue("email"),
		Name:     r.PostFormValue("name"),
		Role:     r.PostFormValue("role"),
		Password: r.PostFormValue("password"),
		Invite:   r.PostFormValue("invite") == "true",
	})
	if problem.Is(err, problem.Invalid) {
		s.renderAgents(w, r, http.StatusUnprocessableEntity, formOf(r, err, "name", "email", "role", "invite"), web.Invite{})
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if token != "" {
		// Mailed, the link goes only to the agent's inbox; otherwise the
		// admin passes it on.
		invite := web.Invite{SentTo: a.Email}
		if !s.Tenants.MailEnabled() {
			invite = web.Invite{Link: s.Config.BaseURL + "/invite/" + token}
		} else if err := s.Tenants.SendInvitation(r.Context(), signed(r).Tenant.Name, a, token); err != nil {
			s.Log.Error("invitation not mailed", "agent", a.ID, "err", err)
			invite = web.Invite{Link: s.Config.BaseURL + "/invite/" + token, MailErr: "the mail server refused it"}
		}
		s.renderAgents(w, r, http.StatusOK, web.Form{}, invite)
		return
	}
	redirect(w, r, "/settings/agents")
}

func (s *Server) setAgentActive(w http.ResponseWriter, r *http.Request) {
	id, ok := s.idForm(w, r)
	if !ok {
		return
	}
	sg := signed(r)
	if err := s.Tenants.SetAgentActive(r.Context(), sg.Tenant.ID, sg.Agent.ID, id, r.PostFormValue("active") == "true"); err != nil {
		s.fail(w, r, err)
		return
	}
	redirect(w, r, "/settings/agents")
}

func (s *Server) groupsPage(w http.ResponseWriter, r *http.Request) {
	s.renderGroups(w, r, http.StatusOK, web.Form{}, -1)
}

// renderGroups draws the groups page; editing names the group whose form
// carries f (0: the new-group form, -1: none).
func (s *Server) renderGroups(w http.ResponseWriter, r *http.Request, status int, f web.Form, editing int64) {
	tid := signed(r).Tenant.ID
	groups, err := s.Tenants.Groups(r.Context(), tid)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	agents, err := s.Tenants.Agents(r.Context(), tid)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, status, web.GroupsPage(s.page(r, "Groups", "settings"), groups, agents, f, editing))
}

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	_, err := s.Tenants.CreateGroup(r.Context(), signed(r).Tenant.ID, r.PostFormValue("name"))
	if problem.Is(err, problem.Invalid) {
		s.renderGroups(w, r, http.StatusUnprocessableEntity, formOf(r, err, "name"), 0)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	redirect(w, r, "/settings/groups")
}

func (s *Server) updateGroup(w http.ResponseWriter, r *http.Request) {
	id, ok := s.idForm(w, r)
	if !ok {
		return
	}
	var members []int64
	for _, v := range r.PostForm["member"] {
		if m, err := strconv.ParseInt(v, 10, 64); err == nil {
			members = append(members, m)
		}
	}
	err := s.Tenants.UpdateGroup(r.Context(), signed(r).Tenant.ID, id, r.PostFormValue("name"), members)
	if problem.Is(err, problem.Invalid) {
		s.renderGroups(w, r, http.StatusUnprocessableEntity, formOf(r, err, "name"), id)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	redirect(w, r, "/settings/groups")
}
