package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cluster is a private Postgres cluster in a directory of its own, started by
// `make run` (./.data/postgres) and by the test harness (a temp directory)
// when DATABASE_URL is unset. As root it runs Postgres as the postgres user,
// since Postgres refuses to run as root.
type Cluster struct {
	Dir  string // data directory
	Port int
	bin  string
	cred *syscall.Credential
}

// ClusterOptions tune a cluster for its use.
type ClusterOptions struct {
	// Durable keeps fsync on; test clusters turn it off for speed.
	Durable bool
	// Database is created if missing; URL points at it.
	Database string
}

// StartCluster initialises dir if it is empty, starts Postgres on a free
// loopback port (or finds it already running) and creates the database.
func StartCluster(ctx context.Context, dir string, opts ClusterOptions) (*Cluster, error) {
	bin, err := FindPostgresBin()
	if err != nil {
		return nil, err
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, bin: bin}
	if os.Geteuid() == 0 {
		if c.cred, err = postgresUser(); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	if c.cred != nil {
		// The postgres user must be able to reach its data directory.
		if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
			return nil, fmt.Errorf("open %s to the postgres user: %w", filepath.Dir(dir), err)
		}
	}
	if err := c.chown(dir); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		if out, err := c.run("initdb", "-D", dir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"); err != nil {
			return nil, fmt.Errorf("initdb %s: %w\n%s", dir, err, out)
		}
	}
	portFile := filepath.Join(dir, "parley.port")
	if b, err := os.ReadFile(portFile); err == nil {
		c.Port, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	if _, err := c.run("pg_ctl", "-D", dir, "status"); err != nil {
		if c.Port == 0 || !portFree(c.Port) {
			if c.Port, err = freePort(); err != nil {
				return nil, err
			}
		}
		settings := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -c unix_socket_directories='' -c max_connections=300", c.Port)
		if !opts.Durable {
			settings += " -c fsync=off -c full_page_writes=off -c synchronous_commit=off"
		}
		if out, err := c.run("pg_ctl", "-D", dir, "-l", filepath.Join(dir, "server.log"), "-w", "-t", "60", "start", "-o", settings); err != nil {
			return nil, fmt.Errorf("start postgres in %s: %w\n%s", dir, err, out)
		}
		if err := os.WriteFile(portFile, []byte(strconv.Itoa(c.Port)), 0o600); err != nil {
			return nil, fmt.Errorf("write %s: %w", portFile, err)
		}
		_ = c.chown(portFile)
	}
	if opts.Database != "" {
		if err := c.createDatabase(ctx, opts.Database); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// URL is a connection URL for database db as the postgres superuser.
func (c *Cluster) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.Port, db)
}

// StopCluster stops the cluster in dir, started earlier by StartCluster.
func StopCluster(dir string) error {
	bin, err := FindPostgresBin()
	if err != nil {
		return err
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return err
	}
	c := &Cluster{Dir: dir, bin: bin}
	if os.Geteuid() == 0 {
		if c.cred, err = postgresUser(); err != nil {
			return err
		}
	}
	return c.Stop()
}

// Stop shuts the cluster down quickly.
func (c *Cluster) Stop() error {
	if out, err := c.run("pg_ctl", "-D", c.Dir, "-m", "fast", "-w", "stop"); err != nil {
		return fmt.Errorf("stop postgres: %w\n%s", err, out)
	}
	return nil
}

func (c *Cluster) createDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return fmt.Errorf("connect to new cluster: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("look up database %s: %w", name, err)
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
			return fmt.Errorf("create database %s: %w", name, err)
		}
	}
	return nil
}

func (c *Cluster) run(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(c.bin, name), args...)
	cmd.Dir = "/"
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
		cmd.Env = append(os.Environ(), "HOME=/var/lib/postgresql")
	}
	return cmd.CombinedOutput()
}

func (c *Cluster) chown(path string) error {
	if c.cred == nil {
		return nil
	}
	if err := os.Chown(path, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
		return fmt.Errorf("give %s to the postgres user: %w", path, err)
	}
	return nil
}

// FindPostgresBin finds the directory holding initdb and pg_ctl: PATH first,
// then Debian's /usr/lib/postgresql/<version>/bin (the newest).
func FindPostgresBin() (string, error) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if _, err := exec.LookPath("initdb"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("postgres binaries (initdb, pg_ctl) not found: install PostgreSQL 15+ (Debian: apt-get install postgresql) or set DATABASE_URL")
}

func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func postgresUser() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root needs the postgres user to run Postgres: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// WaitReady polls url until Postgres answers or ctx ends.
func WaitReady(ctx context.Context, url string) error {
	for {
		conn, err := pgx.Connect(ctx, url)
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("postgres not ready: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
