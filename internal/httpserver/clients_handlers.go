package httpserver

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"parley/internal/client"
	"parley/internal/phone"
	"parley/internal/problem"
	"parley/web"
)

func (s *Server) clientsPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query().Get("q")
	after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	cs, next, err := s.Clients.List(r.Context(), signed(r).Tenant.ID, q, after, 50)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	nextURL := ""
	if next != 0 {
		nextURL = "/clients?" + url.Values{"q": {q}, "after": {strconv.FormatInt(next, 10)}}.Encode()
	}
	s.render(w, r, http.StatusOK, web.ClientsPage(s.page(r, "Clients", "clients"), q, cs, nextURL))
}

// clientPage is a client's profile. A profile merged into another one
// leads to the profile that holds it now.
func (s *Server) clientPage(w http.ResponseWriter, r *http.Request) {
	id, err := idParam(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f := web.Form{}
	q := r.URL.Query()
	v := web.ClientView{Saved: q.Get("saved") == "1", Query: strings.TrimSpace(q.Get("merge_q"))}
	for _, d := range strings.Split(q.Get("dup"), ",") {
		if n, err := strconv.ParseInt(d, 10, 64); err == nil {
			if c, err := s.Clients.Get(r.Context(), signed(r).Tenant.ID, n); err == nil && c.MergedInto == nil {
				v.Dups = append(v.Dups, c)
			}
		}
	}
	s.renderClient(w, r, http.StatusOK, id, f, v)
}

func (s *Server) renderClient(w http.ResponseWriter, r *http.Request, status int, id int64, f web.Form, v web.ClientView) {
	ctx := r.Context()
	tid := signed(r).Tenant.ID
	c, err := s.Clients.Get(ctx, tid, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if c.MergedInto != nil {
		to, err := s.Clients.Resolve(ctx, tid, id)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		http.Redirect(w, r, "/clients/"+strconv.FormatInt(to, 10), http.StatusFound)
		return
	}
	v.Client = c
	if v.More, err = s.Clients.MoreNumbers(ctx, tid, id); err != nil {
		s.fail(w, r, err)
		return
	}
	if v.History, err = s.Conversations.ClientCases(ctx, tid, id, 0); err != nil {
		s.fail(w, r, err)
		return
	}
	if v.Merges, err = s.Clients.Merges(ctx, tid, id); err != nil {
		s.fail(w, r, err)
		return
	}
	// The merge offer stands as long as another profile shares a number
	// with this one: on every load, not only right after a save.
	nums := []string{deref(c.WhatsApp), deref(c.Phone)}
	for _, n := range v.More {
		nums = append(nums, n.Number)
	}
	dups, err := s.Clients.Duplicates(ctx, tid, id, nums...)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for _, d := range dups {
		if !slices.ContainsFunc(v.Dups, func(x client.Client) bool { return x.ID == d.ID }) {
			v.Dups = append(v.Dups, d)
		}
	}
	if v.Query != "" {
		cands, _, err := s.Clients.List(ctx, tid, v.Query, 0, 20)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		for _, cand := range cands {
			if cand.ID != id {
				v.Candidates = append(v.Candidates, cand)
			}
		}
	}
	if f.Values == nil {
		f.Values = map[string]string{"name": c.Name, "whatsapp": deref(c.WhatsApp), "phone": deref(c.Phone), "email": deref(c.Email), "notes": c.Notes}
	}
	v.Form = f
	version, err := s.Clients.Version(ctx, tid, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := s.page(r, c.Name, "clients")
	p.Events = "/events?" + url.Values{"client": {strconv.FormatInt(id, 10)}, "clientv": {version}}.Encode()
	s.render(w, r, status, web.ClientPage(p, s.Clock.Now(), v))
}

func (s *Server) newClientPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, web.NewClientPage(s.page(r, "Add client", "clients"), web.Form{}, nil))
}

// createClient adds a client by hand; a number another client has brings
// the offer to add the details to them instead (a merge).
func (s *Server) createClient(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	into, _ := strconv.ParseInt(r.PostFormValue("into"), 10, 64)
	sg := signed(r)
	id, dups, err := s.Clients.Create(r.Context(), sg.Tenant.ID, sg.Agent.ID, client.Form{
		Name: r.PostFormValue("name"), Email: r.PostFormValue("email"), Phone: r.PostFormValue("phone"), WhatsApp: r.PostFormValue("whatsapp"),
	}, into)
	if p, ok := problem.As(err); ok && (p.Kind == problem.Invalid || p.Kind == problem.Conflict) {
		s.render(w, r, statusOf(p.Kind), web.NewClientPage(s.page(r, "Add client", "clients"), formOf(r, err, "name", "email", "phone", "whatsapp"), dups))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	redirect(w, r, "/clients/"+strconv.FormatInt(id, 10)+"?saved=1")
}

// updateClient saves the profile's fields; a number another profile has
// brings the offer to merge the two.
func (s *Server) updateClient(w http.ResponseWriter, r *http.Request) {
	id, ok := s.idForm(w, r)
	if !ok {
		return
	}
	dups, err := s.Clients.Update(r.Context(), signed(r).Tenant.ID, id, client.Form{
		Name: r.PostFormValue("name"), Email: r.PostFormValue("email"), Phone: r.PostFormValue("phone"),
		WhatsApp: r.PostFormValue("whatsapp"), Notes: r.PostFormValue("notes"),
	})
	if p, ok := problem.As(err); ok && p.Kind == problem.Invalid {
		s.renderClient(w, r, http.StatusUnprocessableEntity, id, formOf(r, err, "name", "email", "phone", "whatsapp", "notes"), web.ClientView{Dups: dups})
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	to := "/clients/" + strconv.FormatInt(id, 10) + "?saved=1"
	if len(dups) > 0 {
		ids := make([]string, len(dups))
		for i, d := range dups {
			ids[i] = strconv.FormatInt(d.ID, 10)
		}
		to += "&dup=" + strings.Join(ids, ",")
	}
	redirect(w, r, to)
}

// mergePage confirms merging {other} into {id}.
func (s *Server) mergePage(w http.ResponseWriter, r *http.Request) {
	s.renderMerge(w, r, http.StatusOK, web.Form{})
}

func (s *Server) renderMerge(w http.ResponseWriter, r *http.Request, status int, f web.Form) {
	id, err := idParam(r, "id")
	if err == nil {
		var other int64
		if other, err = idParam(r, "other"); err == nil {
			var pv client.MergePreview
			if pv, err = s.Clients.PreviewMerge(r.Context(), signed(r).Tenant.ID, id, other); err == nil {
				s.render(w, r, status, web.MergePage(s.page(r, "Merge profiles", "clients"), pv, f))
				return
			}
		}
	}
	s.fail(w, r, err)
}

func (s *Server) merge(w http.ResponseWriter, r *http.Request) {
	id, ok := s.idForm(w, r)
	if !ok {
		return
	}
	other, err := idParam(r, "other")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	choose := map[string]string{}
	for _, f := range client.MergeFields {
		if v := r.PostFormValue("choose_" + f); v != "" {
			choose[f] = v
		}
	}
	sg := signed(r)
	_, err = s.Clients.Merge(r.Context(), sg.Tenant.ID, sg.Agent.ID, id, other, choose)
	if p, ok := problem.As(err); ok && p.Kind == problem.Invalid {
		keep := make([]string, 0, len(client.MergeFields))
		for _, f := range client.MergeFields {
			keep = append(keep, "choose_"+f)
		}
		s.renderMerge(w, r, http.StatusUnprocessableEntity, formOf(r, err, keep...))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	redirect(w, r, "/clients/"+strconv.FormatInt(id, 10))
}

func (s *Server) undoMerge(w http.ResponseWriter, r *http.Request) {
	id, ok := s.idForm(w, r)
	if !ok {
		return
	}
	mergeID, err := idParam(r, "merge")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sg := signed(r)
	if err := s.Clients.Undo(r.Context(), sg.Tenant.ID, sg.Agent.ID, mergeID); err != nil {
		s.fail(w, r, err)
		return
	}
	redirect(w, r, "/clients/"+strconv.FormatInt(id, 10))
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (s *Server) clientSettingsPage(w http.ResponseWriter, r *http.Request) {
	c, err := s.Clients.DefaultCountry(r.Context(), signed(r).Tenant.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f := web.Form{Values: map[string]string{"default_country": c}}
	s.render(w, r, http.StatusOK, web.ClientSettingsPage(s.page(r, "Clients", "settings"), phone.Regions(), f, r.URL.Query().Get("saved") == "1"))
}

func (s *Server) updateClientSettings(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	err := s.Clients.SetDefaultCountry(r.Context(), signed(r).Tenant.ID, r.PostFormValue("default_country"))
	if problem.Is(err, problem.Invalid) {
		s.render(w, r, http.StatusUnprocessableEntity, web.ClientSettingsPage(s.page(r, "Clients", "settings"), phone.Regions(), formOf(r, err, "default_country"), false))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	redirect(w, r, "/settings/clients?saved=1")
}
