package tenant_test

import (
	"context"
	"testing"
	"time"

	"parley/internal/clock"
	"parley/internal/postgres/pgtest"
	"parley/internal/problem"
	"parley/internal/tenant"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func newService(t *testing.T) (*tenant.Service, *clock.Fake) {
	t.Helper()
	db, _ := pgtest.New(t)
	c := clock.NewFake(time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC))
	return tenant.NewService(db, c), c
}

func signUp(t *testing.T, s *tenant.Service, company, email string) tenant.Agent {
	t.Helper()
	a, err := s.SignUp(context.Background(), tenant.SignUpForm{Company: company, Name: "Ada Admin", Email: email, Password: "correct horse battery"})
	if err != nil {
		t.Fatalf("sign up %s: %v", email, err)
	}
	return a
}

func fieldProblem(t *testing.T, err error, field string) string {
	t.Helper()
	p, ok := problem.As(err)
	if !ok || p.Kind != problem.Invalid || p.Fields[field] == "" {
		t.Fatalf("want a problem with field %q, got %v", field, err)
	}
	return p.Fields[field]
}

func TestSignUpCreatesTenantAdminAndGroup(t *testing.T) {
	t.Parallel()
	s, _ := newService(t)
	ctx := context.Background()
	a := signUp(t, s, "Acme", "  Ada@Acme.test ")
	if a.Role != tenant.RoleAdmin || a.Email != "ada@acme.test" || !a.Active || !a.HasPassword {
		t.Fatalf("first agent = %+v, want an active admin with the normalised email", a)
	}
	tn, err := s.Tenant(ctx, a.TenantID)
	if err != nil || tn.Name != "Acme" {
		t.Fatalf("tenant = %+v, %v", tn, err)
	}
	groups, err := s.Groups(ctx, a.TenantID)
	if err != nil || len(groups) != 1 || len(groups[0].MemberIDs) != 1 || groups[0].MemberIDs[0] != a.ID {
		t.Fatalf("groups = %+v, %v; want one default group with the admin in it", groups, err)
	}
}

func TestSignUpRefusesBadInputAndChangesNothing(t *testing.T) {
	t.Parallel()
	s, _ := newService(t)
	ctx := context.Background()
	signUp(t, s, "Acme", "ada@acme.test")
	cases := []struct {
		name  string
		form  tenant.SignUpForm
		field string
	}{
		{"short password", tenant.SignUpForm{Company: "B", Name: "B", Email: "b@b.test", Password: "123456789"}, "password"},
		{"bad email", tenant.SignUpForm{Company: "B", Name: "B", Email: "not-an-email", Password: "long enough pw"}, "email"},
		{"no company", tenant.SignUpForm{Company: " ", Name: "B", Email: "b@b.test", Password: "long enough pw"}, "company"},
		{"email taken", tenant.SignUpForm{Company: "B", Name: "B", Email: "ADA@acme.test", Password: "long enough pw"}, "email"},
	}
	for _, c := range cases {
		_, err := s.SignUp(ctx, c.form)
		fieldProblem(t, err, c.field)
	}
	if _, err := s.Authenticate(ctx, "b@b.test", "long enough pw"); !problem.Is(err, problem.Unauthorized) {
		t.Fatalf("a refused sign-up must not create an agent; authenticate = %v", err)
	}
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	s, _ := newService(t)
	ctx := context.Background()
	a := signUp(t, s, "Acme", "ada@acme.test")
	got, err := s.Authenticate(ctx, "ADA@acme.test ", "correct horse battery")
	if err != nil || got.ID != a.ID {
		t.Fatalf("authenticate = %+v, %v", got, err)
	}
	for _, c := range []struct{ email, pw string }{{"ada@acme.test", "wrong password"}, {"nobody@acme.test", "correct horse battery"}} {
		if _, err := s.Authenticate(ctx, c.email, c.pw); err != tenant.ErrBadCredentials {
			t.Errorf("authenticate(%s) = %v, want the one bad-credentials answer", c.email, err)
		}
	}
}

func TestDeactivatedAgentCannotSignIn(t *testing.T) {
	t.Parallel()
	s, _ := newService(t)
	ctx := context.Background()
	admin := signUp(t, s, "Acme", "ada@acme.test")
	bob, _, err := s.CreateAgent(ctx, admin.TenantID, tenant.NewAgentForm{Email: "bob@acme.test", Name: "Bob", Role: "agent", Password: "bobs password"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetAgentActive(ctx, admin.TenantID, admin.ID, bob.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "bob@acme.test", "bobs password"); !problem.Is(err, problem.Unauthorized) {
		t.Fatalf("deactivated agent signed in: %v", err)
	}
	if _, err := s.SignedIn(ctx, admin.TenantID, bob.ID); !problem.Is(err, problem.NotFound) {
		t.Fatalf("a deactivated agent's session must end: %v", err)
	}
	if err := s.SetAgentActive(ctx, admin.TenantID, admin.ID, admin.ID, false); !problem.Is(err, problem.Conflict) {
		t.Fatalf("an admin deactivating themselves = %v, want a conflict", err)
	}
}

func TestInvitationSetsPasswordOnceAndExpires(t *testing.T) {
	t.Parallel()
	s, clk := newService(t)
	ctx := context.Background()
	admin := signUp(t, s, "Acme", "ada@acme.test")
	cara, token, err := s.CreateAgent(ctx, admin.TenantID, tenant.NewAgentForm{Email: "cara@acme.test", Name: "Cara", Role: "agent", Invite: true})
	if err != nil || token == "" || cara.HasPassword {
		t.Fatalf("invite = %+v, %q, %v", cara, token, err)
	}
	inv, err := s.LookUpInvitation(ctx, token)
	if err != nil || inv.Agent.ID != cara.ID || inv.Tenant.Name != "Acme" {
		t.Fatalf("look up = %+v, %v", inv, err)
	}
	_, err = s.AcceptInvitation(ctx, token, "short")
	fieldProblem(t, err, "password")
	if _, err := s.AcceptInvitation(ctx, token, "caras new password"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "cara@acme.test", "caras new password"); err != nil {
		t.Fatalf("invited agent cannot sign in: %v", err)
	}
	if _, err := s.AcceptInvitation(ctx, token, "another password"); !problem.Is(err, problem.NotFound) {
		t.Fatalf("second use of an invitation = %v, want not found", err)
	}

	_, token2, err := s.CreateAgent(ctx, admin.TenantID, tenant.NewAgentForm{Email: "dan@acme.test", Name: "Dan", Role: "agent", Invite: true})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(tenant.InvitationTTL + time.Second)
	if _, err := s.LookUpInvitation(ctx, token2); !problem.Is(err, problem.NotFound) {
		t.Fatalf("expired invitation = %v, want not found", err)
	}
	if n, err := s.PurgeExpired(ctx); err != nil || n != 1 {
		t.Fatalf("purge = %d, %v; want the one expired invitation gone", n, err)
	}
}

func TestGroups(t *testing.T) {
	t.Parallel()
	s, _ := newService(t)
	ctx := context.Background()
	admin := signUp(t, s, "Acme", "ada@acme.test")
	other := signUp(t, s, "Other", "olga@other.test")
	bob, _, _ := s.CreateAgent(ctx, admin.TenantID, tenant.NewAgentForm{Email: "bob@acme.test", Name: "Bob", Role: "agent", Password: "bobs password"})

	g, err := s.CreateGroup(ctx, admin.TenantID, "Billing")
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.CreateGroup(ctx, admin.TenantID, "billing")
	fieldProblem(t, err, "name")
	// Another tenant's agent id is silently not a member: it does not exist here.
	if err := s.UpdateGroup(ctx, admin.TenantID, g.ID, "Billing & invoices", []int64{bob.ID, other.ID}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Group(ctx, admin.TenantID, g.ID)
	if err != nil || got.Name != "Billing & invoices" || len(got.MemberIDs) != 1 || got.MemberIDs[0] != bob.ID {
		t.Fatalf("group = %+v, %v", got, err)
	}
	if err := s.UpdateGroup(ctx, other.TenantID, g.ID, "Stolen", nil); !problem.Is(err, problem.NotFound) {
		t.Fatalf("updating another tenant's group = %v, want not found", err)
	}
}
