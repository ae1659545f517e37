package httpserver

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"parley/internal/problem"
	"parley/internal/tenant"
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

// verify confirms the email of the agent a mailed link is for, and signs
// them in: a new company's admin starts here. One with a second factor
// logs in as usual.
func (s *Server) verify(w http.ResponseWriter, r *http.Request) {
	a, err := s.Tenants.VerifyEmail(r.Context(), chi.URLParam(r, "token"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if a.HasTOTP {
		s.render(w, r, http.StatusOK, web.Notice(s.page(r, "Email confirmed", ""), "Email confirmed",
			"Thank you: your email is confirmed.", "/login", "Log in"))
		return
	}
	s.signIn(w, r, a)
}

func (s *Server) tooManyResets(w http.ResponseWriter, r *http.Request) {
	f := formOf(r, problem.New(problem.Invalid, "Too many reset requests. Wait a minute and try again."), "email")
	s.render(w, r, http.StatusTooManyRequests, web.ForgotPassword(s.page(r, "Reset your password", ""), f, false))
}

func (s *Server) codePage(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := s.Sessions.PendingSecondFactor(r.Context()); !ok {
		redirect(w, r, "/login")
		return
	}
	s.render(w, r, http.StatusOK, web.SecondFactorLogin(s.page(r, "Enter your code", ""), web.Form{}))
}

// code finishes a log-in with the second factor's code.
func (s *Server) code(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	ctx := r.Context()
	tid, id, ok := s.Sessions.PendingSecondFactor(ctx)
	if !ok {
		redirect(w, r, "/login")
		return
	}
	err := s.Tenants.CheckTOTP(ctx, tid, id, r.PostFormValue("code"))
	if problem.Is(err, problem.Invalid) {
		if !s.Sessions.WrongCode(ctx) {
			f := formOf(r, problem.New(problem.Unauthorized, "Too many wrong codes. Log in again."), "email")
			s.render(w, r, http.StatusUnauthorized, web.Login(s.page(r, "Log in", ""), f))
			return
		}
		s.render(w, r, http.StatusUnauthorized, web.SecondFactorLogin(s.page(r, "Enter your code", ""), formOf(r, err)))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	a, err := s.Tenants.Agent(ctx, tid, id)
	if err == nil && !a.Active {
		err = problem.New(problem.Unauthorized, "This account has been deactivated. Ask an admin of your company.")
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.signIn(w, r, a)
}

const sessionNewTOTP = "totp_new" // the key being set up, until its first code

func (s *Server) secondFactorPage(w http.ResponseWriter, r *http.Request) {
	s.renderSecondFactor(w, r, http.StatusOK, web.Form{})
}

func (s *Server) renderSecondFactor(w http.ResponseWriter, r *http.Request, status int, f web.Form) {
	sg := signed(r)
	st := web.SecondFactor{On: sg.Agent.HasTOTP, Required: sg.Tenant.RequireTOTP, Admin: sg.Agent.IsAdmin()}
	if !st.On {
		// A fresh key at every visit until one is confirmed: the one shown
		// is the one the next code is checked against.
		k, err := tenant.NewTOTPKey(sg.Tenant.Name, sg.Agent.Email)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.Sessions.Put(r.Context(), sessionNewTOTP, k.Secret)
		st.Secret, st.URL, st.QR = k.Secret, k.URL, k.QR
	}
	s.render(w, r, status, web.SecondFactorPage(s.page(r, "Second factor", ""), st, f))
}

func (s *Server) setSecondFactor(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	sg := signed(r)
	var err error
	if r.PostFormValue("action") == "off" {
		err = s.Tenants.DisableTOTP(r.Context(), sg.Tenant.ID, sg.Agent.ID, r.PostFormValue("code"))
	} else {
		err = s.Tenants.EnableTOTP(r.Context(), sg.Tenant.ID, sg.Agent.ID, s.Sessions.GetString(r.Context(), sessionNewTOTP), r.PostFormValue("code"))
	}
	if problem.Is(err, problem.Invalid) {
		s.renderSecondFactor(w, r, http.StatusUnprocessableEntity, formOf(r, err))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.Sessions.Remove(r.Context(), sessionNewTOTP)
	redirect(w, r, "/me/2fa")
}

func (s *Server) requireSecondFactor(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	if err := s.Tenants.SetRequireTOTP(r.Context(), signed(r).Tenant.ID, r.PostFormValue("require") == "true"); err != nil {
		s.fail(w, r, err)
		return
	}
	redirect(w, r, "/me/2fa")
}
