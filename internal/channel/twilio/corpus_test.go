package twilio_test

import (
	"bufio"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// replayCorpus reads the replay corpus (testdata/inbound/*.form: webhooks
// shaped like real Twilio traffic, see its README) as forms, with the
// sender and account placeholders filled in, to seed the fuzzer.
func replayCorpus(tb testing.TB) []url.Values {
	tb.Helper()
	files, err := filepath.Glob("testdata/inbound/*.form")
	if err != nil || len(files) == 0 {
		tb.Fatalf("no replay corpus in testdata/inbound: %v", err)
	}
	repl := strings.NewReplacer("${SENDER}", "+15550001111", "${ACCOUNT}", testAccount, `\n`, "\n")
	var forms []url.Values
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			tb.Fatal(err)
		}
		form := url.Values{}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := sc.Text()
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				tb.Fatalf("%s: %q is not Key=Value", name, line)
			}
			form.Add(k, repl.Replace(v))
		}
		f.Close()
		if err := sc.Err(); err != nil {
			tb.Fatal(err)
		}
		forms = append(forms, form)
	}
	return forms
}
