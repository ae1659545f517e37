package httpserver

import (
	"net/http"
	"net/url"
	"strconv"

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

func (s *Server) clientPage(w http.ResponseWriter, r *http.Request) {
	id, err := idParam(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	tid := signed(r).Tenant.ID
	c, err := s.Clients.Get(r.Context(), tid, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	history, err := s.Conversations.ClientCases(r.Context(), tid, id, 0)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, web.ClientPage(s.page(r, c.Name, "clients"), s.Clock.Now(), c, history))
}
