package sandbox

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strings"
	"testing"

	"parley/internal/channel"
)

// Every error code a simulator answers with is one Parley explains in its
// own words: a code that reached the agent as "error 63021" would say
// nothing. The codes are read from the simulators' sources, so a new one
// cannot be forgotten here.
func TestEveryCodeTheSimulatorsAnswerIsExplained(t *testing.T) {
	codes := map[string]string{} // code → constant
	fset := token.NewFileSet()
	for _, file := range []string{"twilio.go", "onemsg_api.go"} {
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			vs, ok := n.(*ast.ValueSpec)
			if !ok {
				return true
			}
			for i, name := range vs.Names {
				if i >= len(vs.Values) || !(strings.HasPrefix(name.Name, "code") || strings.HasPrefix(name.Name, "omCode")) {
					continue
				}
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.INT {
					codes[lit.Value] = name.Name
				}
			}
			return true
		})
	}
	if len(codes) < 20 {
		t.Fatalf("found only %d codes in the simulators' sources: %v", len(codes), codes)
	}
	for code, name := range codes {
		if got := channel.Explain(code, ""); strings.HasPrefix(got, "The provider refused the message") {
			t.Errorf("%s (%s) is explained as %q", code, name, got)
		}
	}
	// The texts that come without a code.
	for _, text := range []string{omMediaUploadError, omTextTooLong, omCaptionTooLong, omButtonTextTooLong, omFileTooLarge, omDownloadFailed, omEmptyBody, omWindowClosed} {
		if got := channel.Explain("", text); strings.HasPrefix(got, "The provider refused the message") {
			t.Errorf("%q is explained as %q", text, got)
		}
	}
}
