package httpserver

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"

	"github.com/a-h/templ"
	"github.com/go-chi/chi/v5/middleware"

	"parley/internal/problem"
	"parley/web"
)

// render writes a component with status, buffering it so that a rendering
// error still yields a clean 500 page rather than half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	var buf bytes.Buffer
	if err := c.Render(r.Context(), &buf); err != nil {
		s.Log.ErrorContext(r.Context(), "render", "request_id", middleware.GetReqID(r.Context()), "err", err)
		http.Error(w, "Something went wrong while drawing this page.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// Pages are per agent and live: never cached, and kept out of the
	// back-forward cache, which would hold their event streams open and
	// use up the browser's six connections per host.
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// page is the shell data for a page of the signed-in agent (if any).
func (s *Server) page(r *http.Request, title, nav string) web.Page {
	p := web.Page{Title: title, Nav: nav, Events: "/events"}
	if sg := signed(r); sg.Agent.ID != 0 {
		p.Agent = &sg.Agent
		p.Tenant = sg.Tenant.Name
		// The indicator's first number; a failure only shows 0 until the
		// first live update.
		p.ChatCount, _ = s.Conversations.WaitingCount(r.Context(), sg.Tenant.ID, sg.Agent.ID)
		p.Alerts, _ = s.Tenants.AlertsOf(r.Context(), sg.Tenant.ID, sg.Agent.ID)
	}
	return p
}

func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, status int, heading, msg string) {
	if r.Header.Get("HX-Request") == "true" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		fmt.Fprint(w, msg)
		return
	}
	s.render(w, r, status, web.ErrorPage(s.page(r, heading, ""), status, heading, msg))
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.errorPage(w, r, http.StatusNotFound, "Not found", "There is nothing here. It may have been removed, or the link is mistyped.")
}

func (s *Server) tooLarge(w http.ResponseWriter, r *http.Request, limit int64) {
	s.errorPage(w, r, http.StatusRequestEntityTooLarge, "Too large",
		fmt.Sprintf("What you sent is larger than the %d MB this page accepts. Nothing was saved.", limit>>20))
}

// statusOf maps a problem kind to its HTTP status.
func statusOf(k problem.Kind) int {
	switch k {
	case problem.Invalid:
		return http.StatusUnprocessableEntity
	case problem.NotFound:
		return http.StatusNotFound
	case problem.Conflict:
		return http.StatusConflict
	case problem.Forbidden:
		return http.StatusForbidden
	case problem.TooLarge:
		return http.StatusRequestEntityTooLarge
	case problem.Unavailable:
		return http.StatusBadGateway
	case problem.Unauthorized:
		return http.StatusUnauthorized
	case problem.Gone:
		return http.StatusGone
	}
	return http.StatusInternalServerError
}

// fail answers err: a problem in its own words and status, anything else
// as a logged 500.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if p, ok := problem.As(err); ok {
		if p.Kind == problem.NotFound {
			s.errorPage(w, r, http.StatusNotFound, "Not found", p.Msg)
			return
		}
		s.errorPage(w, r, statusOf(p.Kind), "Cannot do that", p.Msg)
		return
	}
	s.Log.ErrorContext(r.Context(), "request failed", "request_id", middleware.GetReqID(r.Context()), "err", err)
	s.errorPage(w, r, http.StatusInternalServerError, "Something went wrong", "We could not complete this request. It has been logged; please try again.")
}

// parseForm parses a posted form; a body over the limit answers 413 and a
// malformed one 400, and parseForm returns false.
func (s *Server) parseForm(w http.ResponseWriter, r *http.Request) bool {
	err := r.ParseForm()
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		s.tooLarge(w, r, tooBig.Limit)
		return false
	case err != nil:
		s.errorPage(w, r, http.StatusBadRequest, "Bad request", "The form could not be read. Reload the page and try again.")
		return false
	}
	return true
}

// idForm reads the {id} of a form route and parses the posted form. When
// either fails it has answered, and ok is false.
func (s *Server) idForm(w http.ResponseWriter, r *http.Request) (id int64, ok bool) {
	id, err := idParam(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return 0, false
	}
	return id, s.parseForm(w, r)
}

// formOf turns a posted form and a validation problem into what the page
// shows back: the person's input kept, each problem next to its field.
func formOf(r *http.Request, err error, keep ...string) web.Form {
	f := web.Form{Values: map[string]string{}}
	for _, k := range keep {
		f.Values[k] = r.PostFormValue(k)
	}
	if p, ok := problem.As(err); ok {
		f.Errors = p.Fields
		if len(p.Fields) == 0 {
			f.Msg = p.Msg
		}
	}
	return f
}
