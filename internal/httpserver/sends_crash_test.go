package httpserver_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"parley/internal/app"
	"parley/internal/app/apptest"
	"parley/internal/config"
	"parley/internal/conversation"
	"parley/internal/postgres/pgtest"
	"parley/internal/sandbox"
)

// replicaEnv, set to a database URL, makes the test binary a Parley
// replica that works jobs until it is killed (see TestMain).
const (
	replicaEnv          = "PARLEY_TEST_REPLICA_DB"
	replicaProvidersEnv = "PARLEY_TEST_REPLICA_PROVIDERS" // the base URL serving /sandbox/…
)

// runReplica is the child process of TestSendsSurviveAKilledReplica: a
// Parley with the test apps' secret key whose provider calls go to the
// parent's simulators and whose webhook URLs are the parent's.
func runReplica(dbURL string) {
	base := os.Getenv(replicaProvidersEnv)
	dir, err := os.MkdirTemp("", "parley-replica-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "replica:", err)
		os.Exit(1)
	}
	cfg := config.Config{DatabaseURL: pgtest.AppURL(dbURL), BaseURL: base, SecretKey: []byte(apptest.SecretKey), LogFormat: "text", MediaURL: config.DirURL(dir)}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	transport := sandbox.TwilioTransport(base+"/sandbox/twilio", sandbox.OneMsgTransport(base+"/sandbox/1msg", nil))
	a, err := app.New(context.Background(), app.Params{Config: cfg, Log: log, TestOnly: true, Transport: transport})
	if err == nil {
		err = a.Start(context.Background())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "replica:", err)
		os.Exit(1)
	}
	fmt.Println("replica working")
	select {}
}

// kill -9 in the middle of replies: a replica takes the send jobs, Twilio
// accepts some of them, answers some of those too late to be heard (the
// replica dies waiting), and the replica is killed. The replica that goes
// on rescues the running jobs within its RescueAfter, looks up the sends
// whose outcome is unknown, and every reply reaches Twilio exactly once.
func TestSendsSurviveAKilledReplica(t *testing.T) {
	t.Parallel()
	const replies = 12
	ctx := context.Background()
	d := startDemo(t)
	customer := "+15557651212"
	d.customerWrites(t, customer, "Hello?")
	chat := d.liveChats(t)[0]
	// This replica serves the web and the simulators, and inserts jobs;
	// it works none.
	if err := d.env.App.Jobs.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	d.sim.SetFaults(sandbox.TwilioFaults{Latency: 150 * time.Millisecond, LostAnswerRate: 0.4, LostAnswers: []sandbox.LostAnswer{sandbox.LostHang}})

	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), replicaEnv+"="+d.env.DBURL, replicaProvidersEnv+"="+d.env.URL)
	var stderr strings.Builder
	child.Stderr = &stderr
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "replica working\n" {
		t.Fatalf("replica did not start: %q %v\n%s", line, err, stderr.String())
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()

	bodies := make([]string, replies)
	for i := range bodies {
		bodies[i] = fmt.Sprintf("Reply %d of %d", i+1, replies)
		if _, err := d.env.App.Conversations.SendReply(ctx, d.admin.TenantID, d.admin.ID, chat.ID, conversation.Reply{Body: bodies[i]}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "Twilio to take some replies", func() bool { return len(d.sim.Sent(sandbox.DemoTwilioAccountSID)) >= 4 })
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	running := d.count(t, `SELECT count(*) FROM river_job WHERE kind = 'send_message' AND state = 'running'`)
	t.Logf("killed the replica with %d of %d creates taken by Twilio, %d send jobs running", len(d.sim.Sent(sandbox.DemoTwilioAccountSID)), replies, running)
	if running == 0 {
		t.Fatal("no send job was running when the replica died: the test proves nothing")
	}

	// The replica that goes on, with a short rescue.
	apptest.Start(t, apptest.Options{DBURL: d.env.DBURL, JobTimeout: time.Second, RescueAfter: 2 * time.Second,
		Transport: sandbox.TwilioTransport(d.env.URL+"/sandbox/twilio", nil)})
	d.sim.SetFaults(sandbox.TwilioFaults{})
	deadline := time.Now().Add(90 * time.Second) // leadership passes (≤ 15 s), the rescuer looks every 30 s
	for d.count(t, `SELECT count(*) FROM messages WHERE direction = 'out' AND status = 'queued'`) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("replies still queued: %d", d.count(t, `SELECT count(*) FROM messages WHERE direction = 'out' AND status = 'queued'`))
		}
		time.Sleep(100 * time.Millisecond)
	}
	var got []string
	for _, s := range d.sim.Sent(sandbox.DemoTwilioAccountSID) {
		got = append(got, s.Params.Get("Body"))
	}
	slices.Sort(got)
	want := slices.Clone(bodies)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("Twilio received %q\nwant each reply once: %q", got, want)
	}
	if n := d.count(t, `SELECT count(*) FROM messages WHERE direction = 'out' AND status IN ('failed', 'unconfirmed')`); n != 0 {
		t.Fatalf("%d replies failed or unconfirmed", n)
	}
}
