package sandbox

import (
	"context"
	"fmt"

	"parley/internal/problem"
	"parley/internal/tenant"
)

// The demo tenant's admin, printed by `make run` and served by /sandbox/info.
const (
	DemoCompany  = "Demo Company"
	DemoName     = "Dana Demo"
	DemoEmail    = "demo@parley.test"
	DemoPassword = "parley-demo-password"
)

// SeedDemo makes sure the demo tenant and its admin exist; it is safe to run
// at every start.
func SeedDemo(ctx context.Context, tenants *tenant.Service) (tenant.Agent, error) {
	a, err := tenants.Authenticate(ctx, DemoEmail, DemoPassword)
	if err == nil {
		return a, nil
	}
	if !problem.Is(err, problem.Unauthorized) {
		return a, fmt.Errorf("look up demo admin: %w", err)
	}
	a, err = tenants.SignUp(ctx, tenant.SignUpForm{Company: DemoCompany, Name: DemoName, Email: DemoEmail, Password: DemoPassword})
	if err != nil {
		return a, fmt.Errorf("seed demo tenant: %w", err)
	}
	return a, nil
}
