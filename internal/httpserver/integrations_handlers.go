package httpserver

import (
	"net/http"
	"strconv"

	"parley/internal/integration"
	"parley/internal/problem"
	"parley/web"
)

func (s *Server) integrationsPage(w http.ResponseWriter, r *http.Request) {
	list, err := s.Integrations.List(r.Context(), signed(r).Tenant.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	views := make([]web.IntegrationView, len(list))
	for i, ig := range list {
		views[i] = web.IntegrationView{Integration: ig, WebhookURL: s.Integrations.WebhookURL(ig)}
	}
	s.render(w, r, http.StatusOK, web.IntegrationsPage(s.page(r, "Integrations", "settings"), views))
}

func (s *Server) twilioFormPage(w http.ResponseWriter, r *http.Request) {
	s.renderTwilioForm(w, r, http.StatusOK, web.Form{})
}

func (s *Server) renderTwilioForm(w http.ResponseWriter, r *http.Request, status int, f web.Form) {
	groups, err := s.Tenants.Groups(r.Context(), signed(r).Tenant.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, status, web.TwilioForm(s.page(r, "Connect WhatsApp", "settings"), groups, f))
}

func (s *Server) connectTwilio(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	groupID, _ := strconv.ParseInt(r.PostFormValue("default_group"), 10, 64)
	ig, err := s.Integrations.ConnectTwilio(r.Context(), signed(r).Tenant.ID, integration.TwilioForm{
		AccountSID:     r.PostFormValue("account_sid"),
		AuthToken:      r.PostFormValue("auth_token"),
		Sender:         r.PostFormValue("sender"),
		DefaultGroupID: groupID,
	})
	if p, ok := problem.As(err); ok && (p.Kind == problem.Invalid || p.Kind == problem.Unavailable) {
		s.renderTwilioForm(w, r, statusOf(p.Kind), formOf(r, err, "account_sid", "sender", "default_group"))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	redirect(w, r, "/settings/integrations/"+strconv.FormatInt(ig.ID, 10))
}

func (s *Server) integrationPage(w http.ResponseWriter, r *http.Request) {
	s.renderIntegration(w, r, http.StatusOK, web.Form{}, r.URL.Query().Get("saved") == "1")
}

func (s *Server) renderIntegration(w http.ResponseWriter, r *http.Request, status int, f web.Form, saved bool) {
	id, err := idParam(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	tid := signed(r).Tenant.ID
	ig, err := s.Integrations.Get(r.Context(), tid, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	groups, err := s.Tenants.Groups(r.Context(), tid)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if f.Values == nil {
		f.Values = map[string]string{"sender": ig.Sender, "default_group": strconv.FormatInt(ig.DefaultGroupID, 10)}
	}
	v := web.IntegrationView{Integration: ig, WebhookURL: s.Integrations.WebhookURL(ig)}
	s.render(w, r, status, web.IntegrationPage(s.page(r, "Integration", "settings"), v, groups, f, saved))
}

func (s *Server) updateIntegration(w http.ResponseWriter, r *http.Request) {
	id, ok := s.idForm(w, r)
	if !ok {
		return
	}
	groupID, _ := strconv.ParseInt(r.PostFormValue("default_group"), 10, 64)
	err := s.Integrations.UpdateTwilio(r.Context(), signed(r).Tenant.ID, id, integration.TwilioForm{
		AuthToken: r.PostFormValue("auth_token"), Sender: r.PostFormValue("sender"), DefaultGroupID: groupID,
	})
	if p, ok := problem.As(err); ok && (p.Kind == problem.Invalid || p.Kind == problem.Unavailable) {
		s.renderIntegration(w, r, statusOf(p.Kind), formOf(r, err, "sender", "default_group"), false)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	redirect(w, r, "/settings/integrations/"+strconv.FormatInt(id, 10)+"?saved=1")
}

func (s *Server) setIntegrationEnabled(w http.ResponseWriter, r *http.Request) {
	id, ok := s.idForm(w, r)
	if !ok {
		return
	}
	if err := s.Integrations.SetEnabled(r.Context(), signed(r).Tenant.ID, id, r.PostFormValue("enabled") == "true"); err != nil {
		s.fail(w, r, err)
		return
	}
	redirect(w, r, "/settings/integrations/"+strconv.FormatInt(id, 10))
}

func (s *Server) deleteIntegration(w http.ResponseWriter, r *http.Request) {
	id, err := idParam(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.Integrations.Delete(r.Context(), signed(r).Tenant.ID, id); err != nil {
		s.fail(w, r, err)
		return
	}
	redirect(w, r, "/settings/integrations")
}
