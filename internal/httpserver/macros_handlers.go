package httpserver

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"parley/internal/channel"
	"parley/internal/conversation"
	"parley/internal/macro"
	"parley/internal/problem"
	"parley/web"
)

// macroPages serves one owner's macros: the general ones in Settings
// (admins) or an agent's own.
type macroPages struct {
	s        *Server
	personal bool
}

func (m macroPages) owner(r *http.Request) macro.Owner {
	if m.personal {
		return macro.Owner{Agent: signed(r).Agent.ID}
	}
	return macro.General
}

func (m macroPages) list(w http.ResponseWriter, r *http.Request) {
	m.render(w, r, http.StatusOK, web.Form{}, 0)
}

func (m macroPages) render(w http.ResponseWriter, r *http.Request, status int, f web.Form, editing int64) {
	ms, err := m.s.Macros.List(r.Context(), signed(r).Tenant.ID, m.owner(r))
	if err != nil {
		m.s.fail(w, r, err)
		return
	}
	v := web.MacrosView{Personal: m.personal, Macros: ms, Form: f, Editing: editing}
	if v.Statuses, err = m.s.Tenants.Statuses(r.Context(), signed(r).Tenant.ID); err != nil {
		m.s.fail(w, r, err)
		return
	}
	if m.personal {
		m.s.render(w, r, status, web.PersonalMacrosPage(m.s.page(r, "My macros", ""), v))
		return
	}
	m.s.render(w, r, status, web.GeneralMacrosPage(m.s.page(r, "Macros", "settings"), v))
}

func (m macroPages) base() string {
	if m.personal {
		return "/me/macros"
	}
	return "/settings/macros"
}

func macroForm(r *http.Request) macro.Form {
	return macro.Form{Title: r.PostFormValue("title"), Body: r.PostFormValue("body"), Status: r.PostFormValue("status")}
}

func (m macroPages) create(w http.ResponseWriter, r *http.Request) {
	if !m.s.parseForm(w, r) {
		return
	}
	_, err := m.s.Macros.Create(r.Context(), signed(r).Tenant.ID, m.owner(r), macroForm(r))
	m.done(w, r, err, 0)
}

func (m macroPages) update(w http.ResponseWriter, r *http.Request) {
	id, ok := m.s.idForm(w, r)
	if !ok {
		return
	}
	m.done(w, r, m.s.Macros.Update(r.Context(), signed(r).Tenant.ID, m.owner(r), id, macroForm(r)), id)
}

func (m macroPages) delete(w http.ResponseWriter, r *http.Request) {
	id, ok := m.s.idForm(w, r)
	if !ok {
		return
	}
	m.done(w, r, m.s.Macros.Delete(r.Context(), signed(r).Tenant.ID, m.owner(r), id), id)
}

// done answers a change: back to the list, or the list with the form's
// problems next to its fields.
func (m macroPages) done(w http.ResponseWriter, r *http.Request, err error, id int64) {
	if p, ok := problem.As(err); ok && p.Kind == problem.Invalid {
		m.render(w, r, http.StatusUnprocessableEntity, formOf(r, err, "title", "body", "status"), id)
		return
	}
	if err != nil {
		m.s.fail(w, r, err)
		return
	}
	redirect(w, r, m.base())
}

// macrosPanel is the composer's macros panel for a chat.
func (s *Server) macrosPanel(w http.ResponseWriter, r *http.Request) {
	id, err := idParam(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sg := signed(r)
	c, err := s.Conversations.Case(r.Context(), sg.Tenant.ID, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := web.PanelView{WindowOpen: c.WindowOpen(s.Clock.Now())}
	if v.Macros, err = s.Macros.ForAgent(r.Context(), sg.Tenant.ID, sg.Agent.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	if c.IntegrationID != nil {
		v.TemplatesURL = "/templates?integration=" + strconv.FormatInt(*c.IntegrationID, 10)
	}
	s.render(w, r, http.StatusOK, web.MacrosPanel(v))
}

// templates lists an integration's approved templates, asking the
// provider now; a provider's failure is said in the panel.
func (s *Server) templates(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.URL.Query().Get("integration"), 10, 64)
	if err != nil || id <= 0 {
		s.fail(w, r, problem.New(problem.NotFound, "No such integration."))
		return
	}
	ts, err := s.Integrations.Templates(r.Context(), signed(r).Tenant.ID, id)
	var se *channel.SendError
	switch {
	case errors.As(err, &se):
		s.Log.WarnContext(r.Context(), "template list failed", "integration_id", id, "err", err)
		s.render(w, r, http.StatusOK, web.TemplateList(web.TemplatesView{
			Err: "The provider could not list the approved templates just now (" + strings.TrimSuffix(se.Message, ".") + "). Close the panel and open it again to retry; your macros still work.",
		}))
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, web.TemplateList(web.TemplatesView{Templates: ts}))
}

// templateUse reads the template a form names (its id, a var_<key> field
// per variable, its media), or nil when there is none. The template
// itself is the provider's, asked now through the integration: the
// browser's copy of it is never trusted.
func (s *Server) templateUse(r *http.Request, integrationID *int64) (*conversation.TemplateUse, error) {
	id := r.FormValue("template_id")
	if id == "" {
		return nil, nil
	}
	if integrationID == nil || *integrationID <= 0 {
		return nil, problem.Field("integration", "Choose a WhatsApp integration.")
	}
	t, err := s.Integrations.Template(r.Context(), signed(r).Tenant.ID, *integrationID, id)
	if problem.Is(err, problem.NotFound) {
		return nil, problem.Field("integration", "Choose a WhatsApp integration.")
	}
	if err != nil {
		return nil, err
	}
	u := &conversation.TemplateUse{Template: t, Values: map[string]string{}, MediaURL: r.FormValue("template_media_url")}
	for _, v := range t.Variables {
		u.Values[v.Key] = r.FormValue(conversation.VariableField(v.Key))
	}
	if f, ok := formUpload(r, "template_media_file"); ok {
		u.File = f
	}
	return u, nil
}

// keepTemplate returns the form's values for a template, to show it back.
func keepTemplate(r *http.Request, f *web.Form, u *conversation.TemplateUse) *channel.Template {
	if u == nil {
		return nil
	}
	if f.Values == nil {
		f.Values = map[string]string{}
	}
	for k, v := range u.Values {
		f.Values[conversation.VariableField(k)] = v
	}
	f.Values["template_media_url"] = u.MediaURL // a file must be attached again
	return &u.Template
}

// startPage is the form that starts a WhatsApp conversation with an
// approved template, from the chats page or a client's page.
func (s *Server) startPage(w http.ResponseWriter, r *http.Request) {
	f := web.Form{Values: map[string]string{}}
	var clientID int64
	if c := r.URL.Query().Get("client"); c != "" {
		id, err := strconv.ParseInt(c, 10, 64)
		if err != nil {
			s.fail(w, r, problem.New(problem.NotFound, "No such client."))
			return
		}
		clientID = id
	}
	s.renderStart(w, r, http.StatusOK, clientID, f, nil)
}

func (s *Server) renderStart(w http.ResponseWriter, r *http.Request, status int, clientID int64, f web.Form, t *channel.Template) {
	ctx := r.Context()
	tid := signed(r).Tenant.ID
	v := web.StartView{ClientID: clientID, Form: f, Template: t, Key: uuid.NewString()}
	if clientID != 0 {
		c, err := s.Clients.Get(ctx, tid, clientID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		v.ClientName = c.Name
		if _, set := f.Values["number"]; !set {
			switch {
			case c.WhatsApp != nil:
				f.Values["number"] = *c.WhatsApp
			case c.Phone != nil:
				f.Values["number"] = *c.Phone
			}
		}
	}
	igs, err := s.Integrations.List(ctx, tid)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for _, ig := range igs {
		if ig.Enabled {
			v.Integrations = append(v.Integrations, ig)
		}
	}
	s.render(w, r, status, web.StartPage(s.page(r, "New conversation", "chats"), v))
}

// start sends the template and opens the chat.
func (s *Server) start(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseMultipartForm(1 << 20); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.tooLarge(w, r, tooBig.Limit)
			return
		}
		s.errorPage(w, r, http.StatusBadRequest, "Bad request", "The form could not be read. Reload the page and try again.")
		return
	} else if errors.Is(err, http.ErrNotMultipart) && !s.parseForm(w, r) {
		return
	}
	sg := signed(r)
	clientID, _ := strconv.ParseInt(r.PostFormValue("client"), 10, 64)
	igID, _ := strconv.ParseInt(r.PostFormValue("integration"), 10, 64)
	u, err := s.templateUse(r, &igID)
	if err == nil && u == nil {
		err = problem.Field("template", "Pick an approved template.")
	}
	var caseID int64
	if err == nil {
		caseID, err = s.Conversations.StartConversation(r.Context(), sg.Tenant.ID, sg.Agent.ID, conversation.Start{
			IntegrationID: igID, ClientID: clientID, Number: r.PostFormValue("number"),
			Template: *u, IdempotencyKey: r.PostFormValue("key"),
		})
	}
	if p, ok := problem.As(err); ok && p.Kind != problem.NotFound {
		f := formOf(r, err, "number", "integration")
		s.renderStart(w, r, statusOf(p.Kind), clientID, f, keepTemplate(r, &f, u))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	redirect(w, r, "/chats/"+strconv.FormatInt(caseID, 10))
}
