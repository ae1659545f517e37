// Command bench runs Parley's benchmarks against a real Postgres and prints
// their figures as markdown, ready to paste into a note.
//
//	DATABASE_URL=postgres://… go run ./bench [flags] [name…]
//
// Without a name every benchmark runs. `make bench` (and `make bench
// BENCH=webhook`) starts a private Postgres cluster, points DATABASE_URL at
// an empty database in it, runs this program and stops the cluster. The
// database may be empty: the program migrates it first.
//
// The figures go to stdout; progress goes to stderr.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"parley/internal/postgres"
)

// options are the flags shared by the benchmarks.
type options struct {
	Duration  time.Duration // measured time of one round
	Warmup    time.Duration // unmeasured load before each round
	Conns     int           // concurrent connections (one worker each)
	Rounds    int           // rounds per target, alternating targets
	Customers int           // distinct WhatsApp senders in the webhook traffic
}

// benchmark is one named benchmark. It writes its markdown to out.
type benchmark struct {
	name string
	what string
	run  func(ctx context.Context, env *env) error
}

// env is what every benchmark gets: the database, the options and where to
// write. The database is migrated before any benchmark runs.
type env struct {
	DatabaseURL string // the owner's (the bench seeds past row-level security)
	AppURL      string // the serving role's, for Parley itself
	Opts        options
	Out         *bufio.Writer
	Log         *slog.Logger // Parley's own logger: warnings and errors only
}

var benchmarks = []benchmark{
	{name: "webhook", what: "Twilio inbound webhook: Parley against a bare chi handler doing one pgx insert", run: runWebhook},
	{name: "sweep", what: "Idle sweep at 1,000,000 cases: ending 50,000 idle chats, and a sweep that finds nothing", run: runSweep},
	{name: "lists", what: "Chats list and All cases pages at 1,000,000 cases and 10,000,000 messages in one tenant", run: runLists},
	{name: "rules", what: "Twilio inbound webhook with 50 enabled rules against none, and the rule jobs' queue", run: runRules},
	{name: "drain", what: "Outbound drain: 10,000 replies across 200 chats against the Twilio simulator losing 5 % of answers", run: runDrain},
	{name: "fanout", what: "200 open event streams, 50 client messages/s: webhook p99, server CPU per message, bytes per stream; RSS idle and with 1,000 streams", run: runFanout},
	{name: "realtime", what: "Webhook on one instance → SSE event on another: latency p50/p95", run: runRealtime},
	{name: "upload", what: "A 100 MB and a 1 GB file streamed over HTTP into the attachment store (directory, S3): throughput and peak RSS", run: runUpload},
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run() error {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.DurationVar(&o.Duration, "duration", 20*time.Second, "measured time of each round")
	fs.DurationVar(&o.Warmup, "warmup", 2*time.Second, "unmeasured load before each round")
	fs.IntVar(&o.Conns, "c", 16, "concurrent connections")
	fs.IntVar(&o.Rounds, "rounds", 2, "rounds per target; targets alternate (bare, parley, bare, parley, …)")
	fs.IntVar(&o.Customers, "customers", 1000, "distinct customers (WhatsApp numbers) sending the webhooks")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run (server and load generator) to this file")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: DATABASE_URL=… go run ./bench [flags] [name…]\n\nbenchmarks:")
		for _, b := range benchmarks {
			fmt.Fprintf(fs.Output(), "  %-10s %s\n", b.name, b.what)
		}
		fmt.Fprintln(fs.Output(), "\nflags:")
		fs.PrintDefaults()
	}
	// Names and flags may come in any order: `go run ./bench webhook -duration 5s`.
	var names []string
	for args := os.Args[1:]; ; {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return err
		}
		if args = fs.Args(); len(args) == 0 {
			break
		}
		names, args = append(names, args[0]), args[1:]
	}
	if o.Duration <= 0 || o.Warmup < 0 || o.Conns < 1 || o.Rounds < 1 || o.Customers < 1 {
		return errors.New("-duration, -c, -rounds and -customers must be positive, -warmup not negative")
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	selected, err := selectBenchmarks(names)
	if err != nil {
		return err
	}
	url := os.Getenv("DATABASE_URL")
	if url == "" {
		return errors.New("DATABASE_URL is required (make bench sets it)")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := &env{
		DatabaseURL: url,
		AppURL:      postgres.AppURL(url, "parley_app"),
		Opts:        o,
		Out:         bufio.NewWriter(os.Stdout),
		Log:         slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	defer e.Out.Flush()

	progress("migrating the database")
	if err := postgres.MigrateURL(ctx, url, e.Log); err != nil {
		return err
	}
	if err := postgres.Provision(ctx, url, e.AppURL, secretKey); err != nil {
		return err
	}
	if err := printMachine(ctx, e); err != nil {
		return err
	}
	for _, b := range selected {
		progress("benchmark %s", b.name)
		if err := b.run(ctx, e); err != nil {
			return fmt.Errorf("%s: %w", b.name, err)
		}
		e.Out.Flush()
	}
	return nil
}

func selectBenchmarks(names []string) ([]benchmark, error) {
	if len(names) == 0 {
		return benchmarks, nil
	}
	var out []benchmark
	for _, n := range names {
		i := slices.IndexFunc(benchmarks, func(b benchmark) bool { return b.name == n })
		if i < 0 {
			known := make([]string, len(benchmarks))
			for j, b := range benchmarks {
				known[j] = b.name
			}
			return nil, fmt.Errorf("unknown benchmark %q (known: %s)", n, strings.Join(known, ", "))
		}
		out = append(out, benchmarks[i])
	}
	return out, nil
}

// printMachine writes the facts a reader needs to weigh the figures: the
// CPUs the server, Postgres and the load generator share, and the versions
// and durability settings of Go and Postgres.
func printMachine(ctx context.Context, e *env) error {
	conn, err := pgx.Connect(ctx, e.DatabaseURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	setting := func(name string) string {
		var v string
		if err := conn.QueryRow(ctx, "SHOW "+name).Scan(&v); err != nil {
			return "?"
		}
		return v
	}
	w := e.Out
	fmt.Fprintf(w, "## Parley benchmarks, %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintln(w, "| machine | |")
	fmt.Fprintln(w, "|---|---|")
	fmt.Fprintf(w, "| CPUs | %d (GOMAXPROCS %d)%s |\n", runtime.NumCPU(), runtime.GOMAXPROCS(0), cpuModel())
	fmt.Fprintf(w, "| Go | %s %s/%s |\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(w, "| Postgres | %s (fsync %s, synchronous_commit %s, max_connections %s) |\n",
		setting("server_version"), setting("fsync"), setting("synchronous_commit"), setting("max_connections"))
	fmt.Fprintln(w, "\nServer, Postgres and load generator run on the same machine and share its CPUs.")
	fmt.Fprintln(w)
	return nil
}

// cpuModel is ", <model name>" from /proc/cpuinfo, or "" where there is none.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return ", " + strings.TrimSpace(v)
		}
	}
	return ""
}

// progress reports what the program is doing, on stderr.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
