package httpserver

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"

	"parley/internal/problem"
	"parley/internal/tenant"
	"parley/web"
)

func (s *Server) signUpPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, web.SignUp(s.page(r, "Sign up", ""), web.Form{}))
}

func (s *Server) signUp(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	a, err := s.Tenants.SignUp(r.Context(), tenant.SignUpForm{
		Company:  r.PostFormValue("company"),
		Name:     r.PostFormValue("name"),
		Email:    r.PostFormValue("email"),
		Password: r.PostFormValue("password"),
	})
	if problem.Is(err, problem.Invalid) {
		s.render(w, r, http.StatusUnprocessableEntity, web.SignUp(s.page(r, "Sign up", ""), formOf(r, err, "company", "name", "email")))
		return
	}
	if err == nil && a.ID != 0 {
		err = s.Rules.SeedExamples(r.Context(), a.TenantID)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if s.Tenants.MailEnabled() {
		// The same answer whether the email was new or registered: the
		// mail tells its owner which.
		s.render(w, r, http.StatusOK, web.Notice(s.page(r, "Check your mail", ""), "Check your mail",
			"We have sent a mail to "+strings.TrimSpace(r.PostFormValue("email"))+". Open its link to confirm your email and start using Parley.", "/login", "Log in"))
		return
	}
	s.signIn(w, r, a)
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, web.Login(s.page(r, "Log in", ""), web.Form{}))
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	key := loginKey(r)
	if d, err := s.Throttle.LoginWait(r.Context(), key); err != nil || d > 0 {
		if err != nil {
			s.fail(w, r, err)
		} else {
			s.loginWait(w, r, d)
		}
		return
	}
	a, err := s.Tenants.Authenticate(r.Context(), r.PostFormValue("email"), r.PostFormValue("password"))
	if errors.Is(err, tenant.ErrBadCredentials) {
		if _, ferr := s.Throttle.LoginFailed(r.Context(), key); ferr != nil {
			s.fail(w, r, ferr)
			return
		}
	}
	if p, ok := problem.As(err); ok {
		s.render(w, r, statusOf(p.Kind), web.Login(s.page(r, "Log in", ""), formOf(r, err, "email")))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.Throttle.LoginSucceeded(r.Context(), key); err != nil {
		s.fail(w, r, err)
		return
	}
	if a.HasTOTP {
		if err := s.Sessions.BeginSecondFactor(r.Context(), a); err != nil {
			s.fail(w, r, err)
			return
		}
		redirect(w, r, "/login/code")
		return
	}
	s.signIn(w, r, a)
}

// tooManyLogins answers an address over its sign-in attempts a minute,
// whatever the emails.
func (s *Server) tooManyLogins(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Retry-After", "60")
	f := formOf(r, problem.New(problem.Invalid, "Too many sign-in attempts from your address. Wait a minute and try again."), "email")
	s.render(w, r, http.StatusTooManyRequests, web.Login(s.page(r, "Log in", ""), f))
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if err := s.Sessions.SignOut(r.Context()); err != nil {
		s.fail(w, r, err)
		return
	}
	redirect(w, r, "/login")
}

func (s *Server) invitationPage(w http.ResponseWriter, r *http.Request) {
	token := chi.URLParam(r, "token")
	inv, err := s.Tenants.LookUpInvitation(r.Context(), token)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, web.AcceptInvitation(s.page(r, "Join "+inv.Tenant.Name, ""), token, inv.Tenant.Name, inv.Agent.Name, web.Form{}))
}

func (s *Server) acceptInvitation(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	token := chi.URLParam(r, "token")
	a, err := s.Tenants.AcceptInvitation(r.Context(), token, r.PostFormValue("password"))
	if problem.Is(err, problem.Invalid) {
		inv, lerr := s.Tenants.LookUpInvitation(r.Context(), token)
		if lerr != nil {
			s.fail(w, r, lerr)
			return
		}
		s.render(w, r, http.StatusUnprocessableEntity, web.AcceptInvitation(s.page(r, "Join", ""), token, inv.Tenant.Name, inv.Agent.Name, formOf(r, err)))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.signIn(w, r, a)
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	redirect(w, r, "/chats")
}

// signIn starts the agent's session and sends them in.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request, a tenant.Agent) {
	if err := s.Sessions.SignIn(r.Context(), a); err != nil {
		s.fail(w, r, err)
		return
	}
	redirect(w, r, "/")
}

// setAway records that the signed-in agent is away, or back, and returns
// to the page they were on.
// setEnterKey saves what Enter does in the agent's reply box ("send" or
// "newline") and goes back to the page the agent was on.
func (s *Server) setEnterKey(w http.ResponseWriter, r *http.Request) {
	sg := signed(r)
	var breaks bool
	switch r.PostFormValue("enter") {
	case "send":
	case "newline":
		breaks = true
	default:
		s.fail(w, r, problem.New(problem.Invalid, "Choose what Enter does: send, or break the line."))
		return
	}
	if err := s.Tenants.SetEnterBreaksLine(r.Context(), sg.Tenant.ID, sg.Agent.ID, breaks); err != nil {
		s.fail(w, r, err)
		return
	}
	back := "/chats"
	if u, err := url.Parse(r.Referer()); err == nil && u.Path != "" && strings.HasPrefix(u.Path, "/") && !strings.HasPrefix(u.Path, "//") {
		back = u.RequestURI()
	}
	redirect(w, r, back)
}

func (s *Server) setAway(w http.ResponseWriter, r *http.Request) {
	sg := signed(r)
	if err := s.Tenants.SetAway(r.Context(), sg.Tenant.ID, sg.Agent.ID, r.PostFormValue("away") == "true"); err != nil {
		s.fail(w, r, err)
		return
	}
	back := "/chats"
	if u, err := url.Parse(r.Referer()); err == nil && u.Path != "" && strings.HasPrefix(u.Path, "/") && !strings.HasPrefix(u.Path, "//") {
		back = u.RequestURI()
	}
	redirect(w, r, back)
}
