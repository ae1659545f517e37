package main

import (
	"bytes"
	"context"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// fuzzTarget is one `go test -fuzz` target of the repository.
type fuzzTarget struct{ pkg, name, label string }

var fuzzTargets = []fuzzTarget{
	{"./internal/channel/twilio", "FuzzParseWebhook", "Twilio webhook"},
	{"./internal/channel/twilio", "FuzzValidSignature", "Twilio signature"},
	{"./internal/channel/onemsg", "FuzzParseWebhook", "1msg webhook"},
	{"./internal/channel", "FuzzTemplateVariables", "template variables"},
	{"./internal/phone", "FuzzNormalize", "phone"},
}

var (
	execsRE = regexp.MustCompile(`execs: (\d+)`)
	seedRE  = regexp.MustCompile(`(?m)^\s*--- (PASS|FAIL): Fuzz\w+/`)
)

// corpusOnly is R7's -fuzztime for replaying each target's seed corpus
// without fuzzing (-short: the fuzzing build alone would take minutes).
const corpusOnly = "corpus"

// R7: every fuzz target run with go test -fuzz for -fuzztime (a count of
// executions like 1000000x, or a duration; "corpus" replays the seed
// corpora only, as -short does); a failing input is written by
// go test to the package's testdata/fuzz/<target>/, from where a plain
// `go test` replays it.
func runR7(ctx context.Context, _ *world, o options, r *row) error {
	panics, failing := 0, 0
	for _, t := range fuzzTargets {
		args := []string{"test", "-run", "^$", "-fuzz", "^" + t.name + "$", "-fuzztime", o.FuzzTime, t.pkg}
		if o.FuzzTime == corpusOnly {
			args = []string{"test", "-count=1", "-v", "-run", "^" + t.name + "$", t.pkg}
		}
		progress("R7: go %s", strings.Join(args, " "))
		cmd := exec.CommandContext(ctx, "go", args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		err := cmd.Run()
		execs := len(seedRE.FindAllString(out.String(), -1))
		for _, m := range execsRE.FindAllStringSubmatch(out.String(), -1) {
			if n, _ := strconv.Atoi(m[1]); n > execs {
				execs = n
			}
		}
		r.add(t.label+" executions", thousands(execs))
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			text := out.String()
			if strings.Contains(text, "panic:") {
				panics++
			} else {
				failing++
			}
			progress("R7: %s %s failed after %s:\n%s", t.pkg, t.name, time.Since(start).Round(time.Second), tail(text, 40))
			continue
		}
		if execs == 0 {
			r.fail("%s: go test -fuzz ran no executions:\n%s", t.label, tail(out.String(), 5))
		}
	}
	r.zero("panics", panics)
	r.zero("other failing inputs", failing)
	return nil
}

func thousands(n int) string {
	s := strconv.Itoa(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
