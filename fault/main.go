// Command fault is Parley's fault and abuse suite: it starts a private
// Postgres, real `parley serve` processes and the provider simulators,
// drives load through them while it forges, duplicates, kills and
// overloads, keeps its own ledger of what Parley acknowledged, and checks
// the database and the simulators against that ledger afterwards.
//
//	go run ./fault [-short] [-run R1,R2] [-duration 3m] [-fuzztime 1000000x]
//
// It prints one markdown table row per scenario and exits 1 when a count
// that must be 0 is not (or a scenario could not run). `make fault` runs
// the full version; `make test` runs -short.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// options are the suite's flags.
type options struct {
	Short    bool
	Duration time.Duration // R3's load under kills
	FuzzTime string        // R7's -fuzztime per target
	Dir      string
}

// row is one scenario's line of the table.
type row struct {
	ID, Scenario string
	Counts       []string // "name value" pairs, in order
	Broken       []string // counts that must be 0 and are not, and errors
}

func (r *row) add(name string, v any) { r.Counts = append(r.Counts, fmt.Sprintf("%s %v", name, v)) }

// zero adds a count that must be 0.
func (r *row) zero(name string, v int) {
	r.Counts = append(r.Counts, fmt.Sprintf("%s **%d**", name, v))
	if v != 0 {
		r.Broken = append(r.Broken, fmt.Sprintf("%s = %d", name, v))
	}
}

func (r *row) fail(format string, args ...any) {
	r.Broken = append(r.Broken, fmt.Sprintf(format, args...))
}

type scenario struct {
	id, name string
	needs    bool // a running world (Postgres and replicas)
	run      func(ctx context.Context, w *world, o options, r *row) error
}

var scenarios = []scenario{
	{"R7", "fuzzing the Twilio and 1msg webhook parsers, the Twilio signature, the template variable check and the phone parser (go test -fuzz)", false, runR7},
	{"R1", "forged webhooks", true, runR1},
	{"R2", "every webhook 3× concurrently, to two replicas", true, runR2},
	{"R6", "every route with every kind of id of another tenant, GET and POST", true, runR6},
	{"R3", "kill -9 of a replica every few seconds during inbound and outbound load, restarted", true, runR3},
	{"R4", "the provider down, then slow (2 s a call), then back", true, runR4},
	{"R5", "Postgres restarted mid-load", true, runR5},
	{"R8", "limits: 30 MB upload, 5 MB webhook, 60,000 form fields, 10,000-character text, 10,000-item 1msg batch", true, runR8},
}

func main() {
	os.Exit(run())
}

func run() int {
	var o options
	fs := flag.NewFlagSet("fault", flag.ContinueOnError)
	fs.BoolVar(&o.Short, "short", false, "a few seconds per scenario (CI)")
	fs.DurationVar(&o.Duration, "duration", 3*time.Minute, "R3: how long replicas are killed under load (-short: 8s)")
	fs.StringVar(&o.FuzzTime, "fuzztime", "1000000x", "R7: -fuzztime per fuzz target, executions (Nx) or a duration (-short: corpus, the seed corpora replayed without fuzzing)")
	only := fs.String("run", "", "comma-separated scenario ids (default: all)")
	bin := fs.String("parley", "", "the parley binary (default: built from ./cmd/parley)")
	fs.StringVar(&o.Dir, "dir", "", "working directory (default: a new one under /tmp, removed when all passes)")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if o.Short {
		o.Duration = 8 * time.Second
		o.FuzzTime = corpusOnly
	}
	var selected []scenario
	for _, s := range scenarios {
		if *only == "" || slices.Contains(strings.Split(strings.ToUpper(*only), ","), s.id) {
			selected = append(selected, s)
		}
	}
	if len(selected) == 0 {
		fmt.Fprintf(os.Stderr, "fault: -run %q names no scenario (R1…R8)\n", *only)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	keep := o.Dir != ""
	if o.Dir == "" {
		d, err := os.MkdirTemp("", "parley-fault-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "fault:", err)
			return 1
		}
		o.Dir = d
	} else if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "fault:", err)
		return 1
	}
	if *bin == "" {
		*bin = filepath.Join(o.Dir, "parley")
		progress("building ./cmd/parley")
		if out, err := exec.Command("go", "build", "-o", *bin, "./cmd/parley").CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "fault: build parley: %v\n%s", err, out)
			return 1
		}
	}

	var w *world
	var rows []row
	for _, s := range selected {
		r := row{ID: s.id, Scenario: s.name}
		if s.needs && w == nil {
			var err error
			if w, err = newWorld(ctx, o.Dir, *bin, 2); err != nil {
				fmt.Fprintln(os.Stderr, "fault: start:", err)
				if w != nil {
					w.close()
				}
				return 1
			}
		}
		progress("%s: %s", s.id, s.name)
		start := time.Now()
		if err := s.run(ctx, w, o, &r); err != nil {
			r.fail("could not run: %v", err)
		}
		progress("%s done in %s", s.id, time.Since(start).Round(100*time.Millisecond))
		rows = append(rows, r)
	}
	if w != nil {
		w.close()
	}

	mode := "full"
	if o.Short {
		mode = "short"
	}
	fmt.Printf("\n### Fault suite (%s), %s\n\n", mode, time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Println("| id | scenario | counts (**must be 0**) | result |")
	fmt.Println("|---|---|---|---|")
	failed := false
	slices.SortStableFunc(rows, func(a, b row) int { return strings.Compare(a.ID, b.ID) })
	for _, r := range rows {
		result := "ok"
		if len(r.Broken) > 0 {
			result, failed = "FAIL: "+strings.Join(r.Broken, "; "), true
		}
		fmt.Printf("| %s | %s | %s | %s |\n", r.ID, r.Scenario, strings.Join(r.Counts, ", "), strings.ReplaceAll(result, "|", "\\|"))
	}
	if failed {
		fmt.Fprintf(os.Stderr, "fault: failures; replica logs and Postgres are in %s\n", o.Dir)
		return 1
	}
	if !keep {
		_ = os.RemoveAll(o.Dir)
	}
	return 0
}
