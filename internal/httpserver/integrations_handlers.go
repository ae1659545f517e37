package httpserver

import (
	"net/http"
	"strconv"
	"sync"

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
	var wg sync.WaitGroup
	for i, ig := range list {
		views[i] = web.IntegrationView{Integration: ig, WebhookURL: s.Integrations.WebhookURL(ig)}
		if ig.Provider == integration.OneMsg && ig.Enabled {
			// Each 1msg channel is asked at once, all within the short
			// settings timeout, so that the list says which ones have
			// their delivery statuses off.
			wg.Go(func() {
				st := s.Integrations.CheckDeliveryStatuses(r.Context(), ig)
				views[i].Acks = &st
			})
		}
	}
	wg.Wait()
	s.render(w, r, http.StatusOK, web.IntegrationsPage(s.page(r, "Integrations", "settings"), views))
}

func (s *Server) twilioFormPage(w http.ResponseWriter, r *http.Request) {
	s.renderConnectForm(w, r, http.StatusOK, integration.Twilio, web.Form{})
}

func (s *Server) oneMsgFormPage(w http.ResponseWriter, r *http.Request) {
	s.renderConnectForm(w, r, http.StatusOK, integration.OneMsg, web.Form{})
}

// renderConnectForm draws a provider's connect form.
func (s *Server) renderConnectForm(w http.ResponseWriter, r *http.Request, status int, provider string, f web.Form) {
	groups, err := s.Tenants.Groups(r.Context(), signed(r).Tenant.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	tid := signed(r).Tenant.ID
	// The form shown again after a problem keeps the webhook URL it
	// showed (the admin may have pasted it into Twilio already).
	hook, _, ok := s.Integrations.Webhook(tid, provider, r.PostFormValue("webhook"))
	if !ok {
		if hook, err = s.Integrations.NewWebhook(tid, provider); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	p := s.page(r, "Connect WhatsApp", "settings")
	if provider == integration.OneMsg {
		s.render(w, r, status, web.OneMsgForm(p, groups, f, hook))
		return
	}
	s.render(w, r, status, web.TwilioForm(p, groups, f, hook))
}

// connected answers a connect form: the new integration's page, or the
// form again with what went wrong.
func (s *Server) connected(w http.ResponseWriter, r *http.Request, provider string, ig integration.Integration, err error, keep ...string) {
	if p, ok := problem.As(err); ok && (p.Kind == problem.Invalid || p.Kind == problem.Unavailable || p.Kind == problem.Conflict) {
		s.renderConnectForm(w, r, statusOf(p.Kind), provider, formOf(r, err, keep...))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	redirect(w, r, "/settings/integrations/"+strconv.FormatInt(ig.ID, 10))
}

func (s *Server) connectOneMsg(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	groupID, _ := strconv.ParseInt(r.PostFormValue("default_group"), 10, 64)
	ig, err := s.Integrations.ConnectOneMsg(r.Context(), signed(r).Tenant.ID, integration.OneMsgForm{
		APIURL:         r.PostFormValue("api_url"),
		Token:          r.PostFormValue("token"),
		Phone:          r.PostFormValue("phone"),
		DefaultGroupID: groupID,
		Webhook:        r.PostFormValue("webhook"),
	})
	s.connected(w, r, integration.OneMsg, ig, err, "api_url", "phone", "default_group")
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
		Webhook:        r.PostFormValue("webhook"),
	})
	s.connected(w, r, integration.Twilio, ig, err, "account_sid", "sender", "default_group")
}

func (s *Server) integrationPage(w http.ResponseWriter, r *http.Request) {
	s.renderIntegration(w, r, http.StatusOK, web.Form{}, r.URL.Query().Get("saved") == "1")
}

func (s *Server) renderIntegration(w http.ResponseWriter, r *http.Request, status int, f web.Form, saved bool) {
	s.renderIntegrationAcks(w, r, status, f, saved, "")
}

// renderIntegrationAcks draws an integration's page. A 1msg channel's
// delivery statuses are checked with 1msg now, within a short timeout;
// acksErr is why turning them on just failed.
func (s *Server) renderIntegrationAcks(w http.ResponseWriter, r *http.Request, status int, f web.Form, saved bool, acksErr string) {
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
		f.Values = map[string]string{"sender": ig.Sender, "phone": ig.Sender, "default_group": strconv.FormatInt(ig.DefaultGroupID, 10)}
	}
	v := web.IntegrationView{Integration: ig, WebhookURL: s.Integrations.WebhookURL(ig), AcksError: acksErr}
	if ig.Provider == integration.OneMsg && ig.Enabled {
		st := s.Integrations.CheckDeliveryStatuses(r.Context(), ig)
		v.Acks = &st
	}
	s.render(w, r, status, web.IntegrationPage(s.page(r, "Integration", "settings"), v, groups, f, saved))
}

// turnOnDeliveryStatuses turns a 1msg channel's delivery statuses on
// again after someone turned them off in 1msg.
func (s *Server) turnOnDeliveryStatuses(w http.ResponseWriter, r *http.Request) {
	id, ok := s.idForm(w, r)
	if !ok {
		return
	}
	err := s.Integrations.TurnOnDeliveryStatuses(r.Context(), signed(r).Tenant.ID, id)
	if p, ok := problem.As(err); ok && (p.Kind == problem.Unavailable || p.Kind == problem.Invalid) {
		msg := p.Msg
		for _, m := range p.Fields {
			msg = m
		}
		s.renderIntegrationAcks(w, r, statusOf(p.Kind), web.Form{}, false, msg)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	redirect(w, r, "/settings/integrations/"+strconv.FormatInt(id, 10))
}

func (s *Server) updateIntegration(w http.ResponseWriter, r *http.Request) {
	id, ok := s.idForm(w, r)
	if !ok {
		return
	}
	tid := signed(r).Tenant.ID
	ig, err := s.Integrations.Get(r.Context(), tid, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	groupID, _ := strconv.ParseInt(r.PostFormValue("default_group"), 10, 64)
	if ig.Provider == integration.OneMsg {
		err = s.Integrations.UpdateOneMsg(r.Context(), tid, id, integration.OneMsgForm{
			Token: r.PostFormValue("token"), Phone: r.PostFormValue("phone"), DefaultGroupID: groupID,
		})
	} else {
		err = s.Integrations.UpdateTwilio(r.Context(), tid, id, integration.TwilioForm{
			AuthToken: r.PostFormValue("auth_token"), Sender: r.PostFormValue("sender"), DefaultGroupID: groupID,
		})
	}
	if p, ok := problem.As(err); ok && (p.Kind == problem.Invalid || p.Kind == problem.Unavailable) {
		s.renderIntegration(w, r, statusOf(p.Kind), formOf(r, err, "sender", "phone", "default_group"), false)
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
