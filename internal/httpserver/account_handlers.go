package httpserver

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"parley/internal/problem"
	"parley/web"
)

func (s *Server) forgotPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, web.ForgotPassword(s.page(r, "Reset your password", ""), web.Form{}, false))
}

// forgot mails a reset link; the answer is the same for an unknown email.
func (s *Server) forgot(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	err := s.Tenants.RequestPasswordReset(r.Context(), r.PostFormValue("email"))
	if problem.Is(err, problem.Invalid) {
		s.render(w, r, http.StatusUnprocessableEntity, web.ForgotPassword(s.page(r, "Reset your password", ""), formOf(r, err, "email"), false))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, web.ForgotPassword(s.page(r, "Reset your password", ""), formOf(r, nil, "email"), true))
}

func (s *Server) resetPage(w http.ResponseWriter, r *http.Request) {
	token := chi.URLParam(r, "token")
	if err := s.Tenants.CheckResetLink(r.Context(), token); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, web.ResetPassword(s.page(r, "Choose a new password", ""), token, web.Form{}))
}

// reset sets the new password and sends the agent to log in with it (and
// their second factor, if they have one).
func (s *Server) reset(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	token := chi.URLParam(r, "token")
	_, err := s.Tenants.ResetPassword(r.Context(), token, r.PostFormValue("password"))
	if problem.Is(err, problem.Invalid) {
		s.render(w, r, http.StatusUnprocessableEntity, web.ResetPassword(s.page(r, "Choose a new password", ""), token, formOf(r, err)))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, web.Notice(s.page(r, "Password changed", ""), "Password changed",
		"Your new password is set. Log in with it.", "/login", "Log in"))
}

// verify confirms the email of the agent a mailed link is for.
func (s *Server) verify(w http.ResponseWriter, r *http.Request) {
	if _, err := s.Tenants.VerifyEmail(r.Context(), chi.URLParam(r, "token")); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, web.Notice(s.page(r, "Email confirmed", ""), "Email confirmed",
		"Thank you: your email is confirmed.", "/", "Go to Parley"))
}

func (s *Server) tooManyResets(w http.ResponseWriter, r *http.Request) {
	f := formOf(r, problem.New(problem.Invalid, "Too many reset requests. Wait a minute and try again."), "email")
	s.render(w, r, http.StatusTooManyRequests, web.ForgotPassword(s.page(r, "Reset your password", ""), f, false))
}
